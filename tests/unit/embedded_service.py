"""Opens the memory service on the embedded adapters in a directory (real SQLite files)."""

from pathlib import Path

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
