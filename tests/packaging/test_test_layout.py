"""pytest imports test modules by basename (rootdir-relative, no packages): two test files of one name in
different folders stop the whole run at collection, though each folder passes on its own."""

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_file_name_is_unique_across_folders() -> None:
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
