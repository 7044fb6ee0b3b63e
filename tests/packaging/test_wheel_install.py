"""`pip install somafractalmemory` with no extras: `soma-operator render` works, and every command whose
extra is missing names the extra to install, with no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MINIMAL = REPO / "config" / "samples" / "minimal.yaml"
OPERATOR_EXTRA = "pip install 'somafractalmemory[operator]'"
PRODUCTION_EXTRA = "pip install 'somafractalmemory[production]'"

pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def bare_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the project's wheel and its base dependencies only: its bin directory."""
    root = tmp_path_factory.mktemp("bare-install")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(REPO)],
        check=True,
    )
    (wheel,) = wheels.glob("somafractalmemory-*.whl")
    venv.create(root / "venv", with_pip=False)
    python = root / "venv" / "bin" / "python"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    installer = (
        [uv, "pip", "install", "--quiet", "--python", str(python)]
        if uv
        else [str(python), "-m", "pip", "install", "--quiet"]
    )
    subprocess.run([*installer, str(wheel)], check=True, timeout=600)
    return python.parent


def run(bin_dir: Path, *command: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [str(bin_dir / command[0]), *command[1:]],
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_bare_install_has_no_extra(bare_install: Path) -> None:
    probe = run(
        bare_install,
        "python",
        "-c",
        "import importlib.util as u; print(u.find_spec('kopf'), u.find_spec('psycopg'))",
    )
    assert probe.stdout == "None None\n"


def test_render_works_without_the_operator_extra(bare_install: Path) -> None:
    result = run(bare_install, "soma-operator", "render", str(MINIMAL))
    assert (result.returncode, result.stderr) == (0, "")
    manifests = list(yaml.safe_load_all(result.stdout))
    system = yaml.safe_load(MINIMAL.read_text())["metadata"]["name"]
    assert ("Deployment", f"{system}-api") in {(m["kind"], m["metadata"]["name"]) for m in manifests}


def test_run_without_the_operator_extra_names_it(bare_install: Path) -> None:
    result = run(bare_install, "soma-operator", "run", "-A")
    assert result.returncode == 1
    assert result.stderr == (
        f"soma-operator run: needs the 'operator' extra (kopf is not installed): {OPERATOR_EXTRA}\n"
    )


def test_consume_without_the_production_extra_names_it(bare_install: Path) -> None:
    result = run(bare_install, "soma", "consume", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9", QDRANT_PATH="/tmp/q")
    assert (result.returncode, result.stderr) == (
        1,
        f"soma consume: error: soma consume needs the 'production' extra: {PRODUCTION_EXTRA}\n",
    )


def test_migrate_without_the_production_extra_names_it(bare_install: Path) -> None:
    result = run(bare_install, "soma", "migrate", POSTGRES_URL="postgresql://127.0.0.1:9/soma")
    assert (result.returncode, result.stderr) == (
        1,
        f"soma migrate: error: soma migrate needs the 'production' extra: {PRODUCTION_EXTRA}\n",
    )


def test_serve_on_production_backends_without_the_extra_names_it(bare_install: Path, tmp_path: Path) -> None:
    result = run(
        bare_install,
        "soma",
        "serve",
        "--data-dir",
        str(tmp_path),
        "--port",
        "9",
        REDIS_URL="redis://127.0.0.1:9",
    )
    assert (result.returncode, result.stderr) == (
        1,
        "soma serve: error: PostgreSQL, Redis, Qdrant or the event broker (POSTGRES_URL, ...) needs the "
        f"'production' extra: {PRODUCTION_EXTRA}\n",
    )


def test_a_data_command_on_production_backends_without_the_extra_names_it(
    bare_install: Path, tmp_path: Path
) -> None:
    result = run(
        bare_install,
        "soma",
        "stats",
        "--data-dir",
        str(tmp_path),
        POSTGRES_URL="postgresql://127.0.0.1:9/soma",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.endswith(f"needs the 'production' extra: {PRODUCTION_EXTRA}\n"), result.stderr
