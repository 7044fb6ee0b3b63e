"""Writes the images' hashed locks (requirements/*.txt) from pyproject.toml, or checks they still match it.

    python scripts/lock.py          # re-resolve and write every lock
    python scripts/lock.py --check  # exit 1 when a lock no longer matches pyproject.toml's requirements

Each image installs its lock with ``pip install --require-hashes --no-deps``, so a commit always builds
the same image. The operator image's lock holds only what the operator imports: the operator extra plus
the few base requirements its code uses, not the runtime's web server, numpy and friends.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCKS = REPO / "requirements"
PYTHON_VERSION = "3.11"
# The images' base is Debian bookworm (glibc 2.36) on x86_64.
PYTHON_PLATFORM = "x86_64-manylinux_2_36"
# Base requirements the operator package imports (the rest of the base serves the runtime only).
OPERATOR_BASE_REQUIREMENTS = ("pydantic", "pydantic-settings", "pyyaml")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class Lock:
    name: str
    requirements: tuple[str, ...]

    @property
    def path(self) -> Path:
        return LOCKS / f"{self.name}.txt"


def requirement_name(requirement: str) -> str:
    return normalize(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locks(pyproject: Path = REPO / "pyproject.toml") -> list[Lock]:
    """What each lock must resolve, read from pyproject.toml."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    base: list[str] = data["project"]["dependencies"]
    extras: dict[str, list[str]] = data["project"]["optional-dependencies"]
    operator_base = [r for r in base if requirement_name(r) in OPERATOR_BASE_REQUIREMENTS]
    return [
        Lock("runtime", (*base, *extras["production"])),
        Lock("operator", (*operator_base, *extras["operator"])),
        Lock("build", tuple(data["build-system"]["requires"])),
    ]


def uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        raise SystemExit("uv is not installed: pip install uv")
    return found


def compile_lock(lock: Lock, output: Path, constraints: Path | None = None) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".in") as source:
        source.write("\n".join(lock.requirements) + "\n")
        source.flush()
        command = [
            uv(),
            "pip",
            "compile",
            "--quiet",
            "--generate-hashes",
            "--python-version",
            PYTHON_VERSION,
            "--python-platform",
            PYTHON_PLATFORM,
            "--custom-compile-command",
            "python scripts/lock.py",
            "--no-annotate",
            "--output-file",
            str(output),
            source.name,
        ]
        if lock.name == "build":
            command.insert(-1, "--allow-unsafe")  # setuptools is the point of this lock
        if constraints is not None:
            command[-1:-1] = ["--constraint", str(constraints)]
        subprocess.run(command, check=True)  # noqa: S603  uv with arguments built here


def pins(text: str) -> dict[str, str]:
    return {normalize(name): version for name, version in PIN.findall(text)}


def stale(lock: Lock) -> str | None:
    """Why the lock no longer matches pyproject.toml, or None.

    Re-resolves the requirements constrained to the locked versions: a requirement added, removed or
    tightened past its pin changes the set of pins (or fails to resolve).
    """
    if not lock.path.exists():
        return f"{lock.path.name} is missing"
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / lock.path.name
        try:
            compile_lock(lock, fresh, constraints=lock.path)
        except subprocess.CalledProcessError:
            return f"{lock.path.name}: pyproject.toml's requirements no longer resolve within the lock"
        expected, locked = pins(fresh.read_text()), pins(lock.path.read_text())
    if expected != locked:
        added = sorted(f"{n}=={v}" for n, v in expected.items() if locked.get(n) != v)
        removed = sorted(f"{n}=={v}" for n, v in locked.items() if expected.get(n) != v)
        return f"{lock.path.name}: needs {added}, has no use for {removed}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check; change nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = [problem for lock in locks() if (problem := stale(lock)) is not None]
        for problem in problems:
            sys.stderr.write(f"{problem}; run: python scripts/lock.py\n")
        return 1 if problems else 0
    LOCKS.mkdir(exist_ok=True)
    for lock in locks():
        compile_lock(lock, lock.path)
        sys.stderr.write(f"wrote {lock.path.relative_to(REPO)}: {len(pins(lock.path.read_text()))} pins\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
