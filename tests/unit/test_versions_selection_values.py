"""Versions and selections pinned to their values (issue 14): which version numbers are accepted, what a
missing version's message lists, what a restore writes, and the refusal of a change to a whole
namespace by omission."""

import pytest
from refusals import message

from somafractalmemory.core.errors import InvalidInput, NotFound
from somafractalmemory.core.models import Memory, MemoryType, MemoryVersion
from somafractalmemory.core.selection import Selection
from somafractalmemory.core.versions import DEFAULT_MAX_VERSIONS, check_version_number, pick_version, restored


def version(number: int) -> MemoryVersion:
    return MemoryVersion(
        number, {"text": f"v{number}"}, MemoryType.SEMANTIC, 0.25 * number, 10.0 + number, 20.0
    )


def test_a_memory_keeps_ten_versions_by_default() -> None:
    assert DEFAULT_MAX_VERSIONS == 10


def test_a_version_number_is_an_integer_of_at_least_one() -> None:
    assert check_version_number(1) == 1
    assert check_version_number(17) == 17
    for wrong in (0, -3, True, False, 1.0, 1.5, "2", None):
        with pytest.raises(InvalidInput) as caught:
            check_version_number(wrong)  # type: ignore[arg-type]
        assert str(caught.value) == f"a version number is an integer of at least 1, got {wrong!r}"


def test_a_missing_version_is_named_with_the_ones_kept() -> None:
    kept = [version(3), version(2)]
    assert pick_version(kept, 2, "team", (1.0, 2.0)) is kept[1]
    with pytest.raises(NotFound) as caught:
        pick_version(kept, 5, "team", (1.0, 2.0))
    assert str(caught.value) == "memory [1.0, 2.0] in namespace 'team' has no version 5 (kept: 3, 2)"
    with pytest.raises(NotFound) as caught:
        pick_version([], 1, "team", (4.0,))
    assert str(caught.value) == "memory [4.0] in namespace 'team' has no version 1 (kept: none)"


def test_a_restore_takes_the_version_content_and_is_written_now() -> None:
    current = Memory("team", (1.0,), {"text": "now"}, MemoryType.EPISODIC, 0.9, 1.0, 5.0, 7, "hashing:x")
    back = restored(current, version(2), now=30.0)
    assert back == Memory("team", (1.0,), {"text": "v2"}, MemoryType.SEMANTIC, 0.5, 1.0, 30.0, 7, "hashing:x")


def test_a_change_to_many_needs_filters_or_a_type() -> None:
    Selection({"user": "u1"}, None).check_narrowed("delete_many")
    Selection({}, MemoryType.SEMANTIC).check_narrowed("delete_many")
    assert message(Selection({}, None).check_narrowed, "share") == (
        "share needs filters or a type: it never applies to a whole namespace by default"
    )
