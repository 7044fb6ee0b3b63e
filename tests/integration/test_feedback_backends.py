"""Dense pseudo-relevance feedback lives in the service: PostgreSQL with Qdrant ranks with it as the
embedded default does (the same corpus, the same fused order and scores), Qdrant giving back the vectors
it holds."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.adapters.qdrant_index import QdrantIndex
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.feedback import NO_FEEDBACK, Feedback
from somafractalmemory.core.fusion import FusionWeights
from somafractalmemory.core.models import MemoryType, VectorPoint
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder

DIMS = 384
CORPUS = [
    "apple orchard harvest",
    "orchard harvest festival tickets",
    "applesauce recipe",
    "quarterly budget review",
    "kubernetes upgrade steps",
]
FED_BACK = [
    ("apple orchard harvest", round(2 / 11, 6)),
    ("orchard harvest festival tickets", round(1 / 12, 6)),
    ("applesauce recipe", round(1 / 13, 6)),
]


@pytest.fixture(params=["sqlite", "postgres"])
def services(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> Iterator[tuple[MemoryService, MemoryService]]:
    def opened(feedback: Feedback, name: str) -> MemoryService:
        embedder = HashingEmbedder(DIMS)
        fusion = FusionWeights(1.0, 1.0, 10)
        if request.param == "sqlite":
            store = SQLiteStore(tmp_path / f"{name}.sqlite")
            index: NumpyIndex | QdrantIndex = NumpyIndex(tmp_path / f"{name}-vectors.sqlite", DIMS)
        else:
            store = PostgresStore.connect(postgres_url, evented=False)
            store.migrate()
            index = QdrantIndex.connect(path=":memory:", dimensions=DIMS)
        service = MemoryService(store, index, embedder, fusion=fusion, feedback=feedback)
        service.store_many(name, [NewMemory((float(n),), {"text": t}) for n, t in enumerate(CORPUS)])
        return service

    pair = (opened(NO_FEEDBACK, "plain"), opened(Feedback(depth=1, weight=1.0), "fed"))
    yield pair
    for service in pair:
        for backend in service.backends():
            backend.close()


def test_feedback_ranks_alike_on_both_backends(services: tuple[MemoryService, MemoryService]) -> None:
    plain, fed = services
    before = [(h.memory.payload["text"], round(h.score, 6)) for h in plain.recall("plain", "apple", top_k=3)]
    after = [(h.memory.payload["text"], round(h.score, 6)) for h in fed.recall("fed", "apple", top_k=3)]
    assert before[1][0] == "applesauce recipe"
    assert after == FED_BACK


def test_qdrant_gives_back_the_vectors_it_holds() -> None:
    rows = np.eye(3, DIMS, dtype=np.float32)
    index = QdrantIndex.connect(path=":memory:", dimensions=DIMS)
    index.upsert([VectorPoint("ns", (float(n),), rows[n], MemoryType.EPISODIC, {"n": n}) for n in range(3)])
    index.delete("ns", [(1.0,)])
    found = index.vectors("ns", [(2.0,), (1.0,), (9.0,), (0.0,)])  # 1 deleted, 9 never held: left out
    assert found.dtype == np.float32
    assert np.allclose(found, rows[[2, 0]])
    assert index.vectors("elsewhere", [(0.0,)]).shape == (0, DIMS)
    index.close()
