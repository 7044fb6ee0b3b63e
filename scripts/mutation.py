"""Mutation testing (mutmut) of the modules whose values matter most, with the fast tests that cover them.

    python scripts/mutation.py                 # every group: core, operator
    python scripts/mutation.py operator        # one group
    python scripts/mutation.py --threshold 80  # exit 1 when a module scores below this (default 80)
    python scripts/mutation.py operator --only status.py   # one module, e.g. while writing its tests
    python scripts/mutation.py core --only versions.py,reindex.py   # several
    python scripts/mutation.py core --only index_writer.py --tests tests/unit/test_index_writer.py

mutmut 3 imports the code it mutates from a `src/` layout, so each group is staged under `.mutation/GROUP/`
(source roots copied into `src/`, the tests and the files they read beside them), afresh each run unless
--keep. Prints a score per module: killed / (killed + survived), where a mutant no test runs counts as
survived.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = REPO / ".mutation"
# Files the tests read at run time, relative to the repository.
TEST_DATA = ("config", "crds", "helm", "docs", "bench")


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


KILLED = {"killed", "timeout", "caught by type check", "segfault"}
SURVIVED = {"survived", "no tests", "suspicious"}


@dataclass(frozen=True)
class Group:
    source_root: str  # the folder that holds the package
    package: str
    modules: tuple[str, ...]  # globs relative to the package
    tests: tuple[str, ...]
    unmutated: tuple[str, ...] = ()  # modules that only declare (nothing in them runs), relative too


GROUPS = {
    "core": Group(
        "runtime",
        "somafractalmemory",
        ("core/*.py",),
        # The unit tests, and the API and CLI tests that run in this process (not the schema fuzz, which is
        # slow, nor the tests of a served child process, which never imports the mutated code).
        (
            "tests/unit",
            "tests/api/test_audit.py",
            "tests/api/test_compat.py",
            "tests/api/test_encryption.py",
            "tests/api/test_errors.py",
            "tests/api/test_hostile_input.py",
            "tests/api/test_import_export.py",
            "tests/api/test_import_versions.py",
            "tests/api/test_importance.py",
            "tests/api/test_lifecycle.py",
            "tests/api/test_maintenance.py",
            "tests/api/test_v1.py",
            "tests/api/test_versions.py",
            "tests/cli/test_cli_importance.py",
            "tests/cli/test_cli_maintain.py",
            "tests/cli/test_cli_versions.py",
            "tests/cli/test_memories.py",
            "tests/cli/test_reindex.py",
            "tests/cli/test_transfer.py",
        ),
        # The ports are Protocols: a default value in a method's signature there is never run, so a
        # mutant of it always survives and says nothing.
        unmutated=("core/ports.py",),
    ),
    "operator": Group(
        "operator",
        "soma_operator",
        (
            "builders/*.py",
            "status.py",
            "backup_status.py",
            "maintenance_status.py",
            "cron.py",
            "secret_refs.py",
        ),
        (
            "tests/operator/test_operator_builders.py",
            "tests/operator/test_datastores_upstream.py",
            "tests/operator/test_embedding_builders.py",
            "tests/operator/test_operator_status.py",
            "tests/operator/test_status_values.py",
            "tests/operator/test_high_availability.py",
            "tests/operator/test_context_values.py",
            "tests/operator/test_operator_spec.py",
            "tests/operator/test_operator_cli.py",
            "tests/operator/test_backup_builders.py",
            "tests/operator/test_backup_status.py",
            "tests/operator/test_maintenance_builders.py",
            "tests/operator/test_maintenance_status.py",
            "tests/operator/test_secret_digest_builders.py",
        ),
    ),
}


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def stage(name: str, group: Group, only: str | None, keep: bool) -> Path:
    """Refresh the group's stage from the working tree. mutmut's results are dropped unless kept: it
    re-tests what changed in the code, not what changed in the tests."""
    root = STAGES / name
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    for package_root in ("runtime", "operator"):
        for package in (REPO / package_root).iterdir():
            if package.is_dir() and (package / "__init__.py").exists():
                shutil.rmtree(src / package.name, ignore_errors=True)
                shutil.copytree(package, src / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("tests", *TEST_DATA):
        shutil.rmtree(root / folder, ignore_errors=True)
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    package_dir = f"src/{group.package}"
    only = sorted(
        str(path.relative_to(root))
        for pattern in group.modules
        for path in (root / package_dir).glob(pattern)
        if path.name != "__init__.py"
        and str(path.relative_to(root / package_dir)) not in group.unmutated
        and (only is None or any(path.match(glob) for glob in only.split(",")))
    )
    settings = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    settings += (
        "\n[tool.mutmut]\n"
        f'source_paths = ["src/{group.package}"]\n'
        f"only_mutate = {_toml_list(only)}\n"
        f"also_copy = {_toml_list(list(TEST_DATA))}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(list(group.tests))}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
    )
    (root / "pyproject.toml").write_text(settings, encoding="utf-8")
    return root


def run_mutmut(root: Path) -> None:
    mutmut = Path(sys.executable).with_name("mutmut")
    done = subprocess.run([str(mutmut), "run"], cwd=root, check=False)  # noqa: S603  mutmut beside this Python
    if done.returncode not in (0, 1):  # 1: some mutants survived, which the table reports
        raise SystemExit(f"mutmut failed with exit code {done.returncode} (stage: {root})")


def scores(root: Path, package: str) -> dict[str, Counter[str]]:
    """Mutant outcomes per module, read from mutmut's result files."""
    from mutmut.stats import status_by_exit_code

    outcomes: dict[str, Counter[str]] = {}
    for meta in sorted((root / "mutants" / "src" / package).rglob("*.py.meta")):
        module = str(meta.relative_to(root / "mutants" / "src")).removesuffix(".meta")
        exit_codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        outcomes[module] = Counter(status_by_exit_code[code] for code in exit_codes.values())
    return outcomes


def report(name: str, outcomes: dict[str, Counter[str]], threshold: float) -> list[str]:
    """Print the table; return the modules below the threshold."""
    below = []
    say(f"\n{name}: module, mutants, killed, survived (no test ran it), score")
    for module, counts in outcomes.items():
        killed = sum(counts[s] for s in KILLED)
        survived = sum(counts[s] for s in SURVIVED)
        if killed + survived == 0:
            continue
        score = 100 * killed / (killed + survived)
        counted = f"{killed + survived:>5} {killed:>6} {survived:>5} ({counts['no tests']})"
        say(f"  {module:<52} {counted} {score:5.1f} %")
        if score < threshold:
            below.append(module)
    return below


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("groups", nargs="*", help=f"groups to test: {', '.join(GROUPS)} (default: all)")
    parser.add_argument("--threshold", type=float, default=80.0, help="minimum score of a module, in percent")
    parser.add_argument(
        "--only", metavar="GLOB[,GLOB]", help="mutate only the modules matching one of these, e.g. status.py"
    )
    parser.add_argument("--keep", action="store_true", help="keep mutmut's results of the last run")
    parser.add_argument(
        "--tests",
        metavar="PATH[,PATH]",
        help="run these tests instead of the group's, e.g. the unit tests of the modules given to --only",
    )
    arguments = parser.parse_args()
    unknown = set(arguments.groups) - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s) {', '.join(sorted(unknown))}: choose from {', '.join(GROUPS)}")
    below = []
    for name in arguments.groups or list(GROUPS):
        group = GROUPS[name]
        if arguments.tests:
            group = dataclasses.replace(group, tests=tuple(arguments.tests.split(",")))
        say(f"mutation testing {name}: {', '.join(group.modules)}, with {', '.join(group.tests)}")
        root = stage(name, group, arguments.only, arguments.keep)
        run_mutmut(root)
        below += report(name, scores(root, group.package), arguments.threshold)
    if below:
        say(f"\nbelow {arguments.threshold:.0f} %: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
