"""The production vector index: Qdrant through qdrant-client (a server by URL, or local mode by path).

One collection per embedding dimension and distance (``soma_384_cosine``), created when missing, with
``namespace`` and ``memory_type`` as indexed payload fields. Point ids are UUIDv5 of namespace + canonical
coordinate key, so a re-upsert replaces the point and a delete removes it.
"""

import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from somafractalmemory.adapters.index_events import event_key
from somafractalmemory.adapters.qdrant_filters import query_filter
from somafractalmemory.adapters.qdrant_local import open_storage, release_storage
from somafractalmemory.core.coordinates import Coordinate, coordinate_from_floats
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.core.filters import MemoryFilter, matches
from somafractalmemory.core.models import MemoryType, VectorHit, VectorPoint
from somafractalmemory.core.ports import Vectors

logger = logging.getLogger(__name__)

BACKEND = "qdrant"
POINT_ID_NAMESPACE = uuid.UUID("6f1d3c1e-5b0a-4c36-9a57-0c1f4e2b9d11")
DISTANCES = {"cosine": models.Distance.COSINE, "dot": models.Distance.DOT, "euclid": models.Distance.EUCLID}
UPSERT_BATCH = 512


def point_id(namespace: str, coordinate: Coordinate) -> str:
    return str(uuid.uuid5(POINT_ID_NAMESPACE, event_key(namespace, coordinate)))


def as_list(vector: Vectors) -> list[float]:
    """A plain list of floats (what qdrant-client sends), converted in one C call."""
    values: list[float] = np.asarray(vector, dtype=np.float32).tolist()
    return values


def collection_name(dimensions: int, distance: str) -> str:
    return f"soma_{dimensions}_{distance}"


@dataclass(frozen=True)
class Replication:
    """Copies of each shard, and how many must apply a write. Qdrant's own default is one copy (qdrant
    config/config.yaml storage.collection.replication_factor 1), so more pods alone give no redundancy;
    the operator sets both from the Qdrant replica count."""

    factor: int = 1
    write_consistency_factor: int = 1
    # Shards of a new collection; None leaves Qdrant's default (one per peer in a cluster).
    shard_number: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.write_consistency_factor <= self.factor:
            raise ValueError(
                f"write consistency factor {self.write_consistency_factor} must be between 1 and the "
                f"replication factor {self.factor}"
            )


def collection_settings(dimensions: int, distance: str, replication: Replication) -> dict[str, Any]:
    """What ``create_collection`` is given for a new collection."""
    settings: dict[str, Any] = {
        "vectors_config": models.VectorParams(size=dimensions, distance=DISTANCES[distance]),
        "replication_factor": replication.factor,
        "write_consistency_factor": replication.write_consistency_factor,
    }
    if replication.shard_number is not None:
        settings["shard_number"] = replication.shard_number
    return settings


class QdrantIndex:
    """VectorIndex on Qdrant. Local mode is not thread-safe, so its calls are serialised."""

    def __init__(
        self,
        client: QdrantClient,
        *,
        dimensions: int,
        distance: str = "cosine",
        local: bool,
        replication: Replication | None = None,
    ) -> None:
        if distance not in DISTANCES:
            raise ValueError(f"distance must be one of {sorted(DISTANCES)}, got {distance!r}")
        self._client = client
        self.dimensions = dimensions
        self._settings = collection_settings(dimensions, distance, replication or Replication())
        self._local = local
        self._lock: AbstractContextManager[Any] = threading.Lock() if local else nullcontext()
        self._release: Callable[[], None] = client.close
        self._collection_ready = False
        self.collection = collection_name(dimensions, distance)

    @classmethod
    def connect(
        cls,
        *,
        url: str | None = None,
        path: str | None = None,
        api_key: str | None = None,
        dimensions: int,
        distance: str = "cosine",
        timeout: int = 5,
        replication_factor: int = 1,
        write_consistency_factor: int = 1,
        shard_number: int | None = None,
    ) -> "QdrantIndex":
        """A server at ``url``, or local mode at ``path`` (``":memory:"`` for a throw-away index); indexes of
        one process on the same local path share its client."""
        if (url is None) == (path is None):
            raise ValueError("give exactly one of a Qdrant URL and a local path")
        replication = Replication(replication_factor, write_consistency_factor, shard_number)
        if path is not None:  # local mode accepts the replication settings and has one copy
            storage = open_storage(path)
            index = cls(
                storage.client, dimensions=dimensions, distance=distance, local=True, replication=replication
            )
            index._lock = storage.lock
            index._release = lambda: release_storage(storage)
            return index
        client = QdrantClient(url=url, api_key=api_key, timeout=timeout)
        return cls(client, dimensions=dimensions, distance=distance, local=False, replication=replication)

    @property
    def name(self) -> str:
        return BACKEND

    @contextmanager
    def _call(self) -> Iterator[None]:
        try:
            with self._lock:
                if not self._collection_ready:
                    self._ensure_collection()
                yield
        except (ResponseHandlingException, httpx.TransportError) as error:
            raise BackendUnavailable(BACKEND, str(error) or type(error).__name__) from error
        except UnexpectedResponse as error:
            if error.status_code is not None and error.status_code < 500:
                raise
            raise BackendUnavailable(BACKEND, f"HTTP {error.status_code}: {error.reason_phrase}") from error

    def _ensure_collection(self) -> None:
        if not self._client.collection_exists(self.collection):
            self._client.create_collection(self.collection, **self._settings)
            logger.info(
                "created Qdrant collection %s: replication factor %d, write consistency factor %d, shards %s",
                self.collection,
                self._settings["replication_factor"],
                self._settings["write_consistency_factor"],
                self._settings.get("shard_number", "default"),
            )
        if not self._local:  # local mode has no payload indexes
            for field in ("namespace", "memory_type"):
                self._client.create_payload_index(self.collection, field, models.PayloadSchemaType.KEYWORD)
        self._collection_ready = True

    def ping(self) -> None:
        with self._call():
            self._client.get_collection(self.collection)

    def close(self) -> None:
        self._release()

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        structs = [
            models.PointStruct(
                id=point_id(point.namespace, point.coordinate),
                vector=as_list(point.vector),
                payload={
                    "namespace": point.namespace,
                    "memory_type": point.memory_type.value,
                    "coord": list(point.coordinate),
                    "payload": point.payload,
                },
            )
            for point in points
        ]
        with self._call():
            for start in range(0, len(structs), UPSERT_BATCH):
                self._client.upsert(self.collection, structs[start : start + UPSERT_BATCH], wait=True)

    def delete(self, namespace: str, coordinates: Sequence[Coordinate]) -> None:
        if not coordinates:
            return
        ids: list[models.ExtendedPointId] = [point_id(namespace, coord) for coord in coordinates]
        with self._call():
            self._client.delete(self.collection, models.PointIdsList(points=ids), wait=True)

    def search(
        self,
        namespace: str,
        vector: Vectors,
        *,
        top_k: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
    ) -> list[VectorHit]:
        """Qdrant filters inside the query; the core's evaluator confirms each hit, paging on if needed."""
        narrowed = query_filter(namespace, memory_type.value if memory_type else None, conditions)
        query = as_list(vector)
        hits: list[VectorHit] = []
        offset, page = 0, top_k
        with self._call():
            while len(hits) < top_k:
                found = self._client.query_points(
                    self.collection, query=query, query_filter=narrowed, limit=page, offset=offset,
                    with_payload=True,
                ).points  # fmt: skip
                for point in found:
                    payload = point.payload or {}
                    if matches(payload.get("payload", {}), conditions):
                        hits.append(VectorHit(coordinate_from_floats(payload["coord"]), float(point.score)))
                if len(found) < page:
                    break
                offset, page = offset + page, page * 2
        return hits[:top_k]

    def settle(self) -> None:
        """Writes are made in the caller's thread: there is nothing to wait for."""

    def vectors(self, namespace: str, coordinates: Sequence[Coordinate]) -> Vectors:
        """The vectors held for those of ``coordinates`` the namespace has, in that order."""
        ids: list[models.ExtendedPointId] = [point_id(namespace, c) for c in coordinates]
        with self._call():
            found = self._client.retrieve(self.collection, ids, with_payload=False, with_vectors=True)
        by_id = {str(point.id): point.vector for point in found}
        held = [by_id[str(i)] for i in ids if str(i) in by_id]
        return np.asarray(held, dtype=np.float32).reshape(len(held), self.dimensions)

    def count(self, namespace: str) -> int:
        """How many points the namespace has (exact)."""
        namespace_filter = query_filter(namespace, None, ())
        with self._call():
            return self._client.count(self.collection, count_filter=namespace_filter, exact=True).count
