"""The images' hashed locks (requirements/*.txt) match pyproject.toml, and the operator's holds only what
the operator imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from lockfiles import REPO, lock_script, pins

# The base requirements only the runtime uses: the operator image must not carry them.
RUNTIME_ONLY = {"fastapi", "uvicorn", "numpy", "prometheus-client", "httpx", "tqdm", "starlette"}


def test_every_lock_matches_pyproject() -> None:
    check = subprocess.run(
        [sys.executable, "scripts/lock.py", "--check"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert (check.returncode, check.stderr) == (0, "")


def test_a_requirement_added_to_pyproject_makes_the_lock_stale(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        (REPO / "pyproject.toml")
        .read_text()
        .replace('    "tqdm>=4.66",\n', '    "tqdm>=4.66",\n    "iso8601",\n')
    )
    runtime = next(lock for lock in lock_script.locks(pyproject) if lock.name == "runtime")
    problem = lock_script.stale(runtime)
    assert problem is not None and problem.startswith("runtime.txt: needs ['iso8601=="), problem
    assert problem.endswith("has no use for []")


def test_a_requirement_tightened_past_its_pin_makes_the_lock_stale(tmp_path: Path) -> None:
    locked = pins("operator")["kopf"]
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text((REPO / "pyproject.toml").read_text().replace('"kopf>=1.37"', f'"kopf>{locked}"'))
    operator = next(lock for lock in lock_script.locks(pyproject) if lock.name == "operator")
    assert lock_script.stale(operator) == (
        "operator.txt: pyproject.toml's requirements no longer resolve within the lock"
    )


def imported_distributions(package: Path) -> set[str]:
    """The installed distributions whose top-level modules the package's code imports."""
    modules: set[str] = set()
    for source in package.rglob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        # Imports under `if TYPE_CHECKING:` are for the type checker only (stubs), never at run time.
        for_typing = {
            id(inner)
            for block in ast.walk(tree)
            if isinstance(block, ast.If)
            and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
            for inner in ast.walk(block)
        }
        for node in ast.walk(tree):
            if id(node) in for_typing:
                continue
            if isinstance(node, ast.Import):
                modules.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.partition(".")[0])
    owners = packages_distributions()
    third_party = modules - set(sys.stdlib_module_names) - {package.name}
    # A module of no installed distribution (an uninstalled optional extra) stands for itself.
    return {lock_script.normalize(owners.get(module, [module])[0]) for module in third_party}


def test_the_operator_lock_holds_every_distribution_the_operator_imports() -> None:
    imported = imported_distributions(REPO / "operator" / "soma_operator")
    assert {"kopf", "pydantic", "pyyaml"} <= imported
    assert imported - set(pins("operator")) == set()


def test_the_operator_lock_holds_none_of_the_runtimes_dependencies() -> None:
    assert RUNTIME_ONLY & set(pins("operator")) == set()
    assert set(pins("runtime")) >= RUNTIME_ONLY


def test_the_runtime_lock_holds_every_distribution_the_runtime_imports_except_optional_embedders() -> None:
    imported = imported_distributions(REPO / "runtime" / "somafractalmemory")
    assert imported - set(pins("runtime")) == {"sentence-transformers"}
