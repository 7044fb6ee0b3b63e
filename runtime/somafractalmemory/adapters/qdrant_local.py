"""qdrant-client's local mode, shared per storage folder within a process.

Local mode allows one client per folder (a second one fails on the folder's lock) and is not thread-safe,
so every index of one process that opens the same folder gets the same client and the same lock; the client
is closed when the last of them closes. ``":memory:"`` storages are never shared.
"""

import threading
from dataclasses import dataclass, field

from qdrant_client import QdrantClient

IN_MEMORY = ":memory:"


@dataclass
class LocalStorage:
    path: str
    client: QdrantClient
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 1


_open: dict[str, LocalStorage] = {}
_registry_lock = threading.Lock()


def open_storage(path: str) -> LocalStorage:
    if path == IN_MEMORY:
        return LocalStorage(path, QdrantClient(location=IN_MEMORY, force_disable_check_same_thread=True))
    with _registry_lock:
        storage = _open.get(path)
        if storage is not None:
            storage.users += 1
            return storage
        client = QdrantClient(path=path, force_disable_check_same_thread=True)
        storage = _open[path] = LocalStorage(path, client)
        return storage


def release_storage(storage: LocalStorage) -> None:
    with _registry_lock:
        storage.users -= 1
        if storage.users > 0:
            return
        _open.pop(storage.path, None)
    storage.client.close()
