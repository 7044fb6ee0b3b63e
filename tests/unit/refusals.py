"""The message an input check refuses with, for tests that pin it word for word."""

import pytest

from somafractalmemory.core.errors import InvalidInput


def message(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(InvalidInput) as raised:
        call(*args, **kwargs)  # type: ignore[operator]
    return str(raised.value)
