from collections.abc import Iterator
from pathlib import Path

import pytest

from somafractalmemory.adapters.memory_cache import MemoryCache
from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.service import MemoryService
from somafractalmemory.embedding.hashing import HashingEmbedder


def open_service(directory: Path, **options: object) -> MemoryService:
    return MemoryService(
        SQLiteStore(directory / "memories.sqlite"),
        NumpyIndex(directory / "vectors.sqlite", 384),
        HashingEmbedder(384),
        MemoryCache(),
        **options,  # type: ignore[arg-type]
    )


def close_service(service: MemoryService) -> None:
    for backend in service.backends():
        backend.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[MemoryService]:
    opened = open_service(tmp_path)
    yield opened
    close_service(opened)
