from collections.abc import Iterator
from pathlib import Path

import pytest
from embedded_service import close_service, open_service

from somafractalmemory.core.service import MemoryService


@pytest.fixture
def service(tmp_path: Path) -> Iterator[MemoryService]:
    opened = open_service(tmp_path)
    yield opened
    close_service(opened)
