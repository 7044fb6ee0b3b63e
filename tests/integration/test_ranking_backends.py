"""Ranking on both backends: the embedded default (SQLite FTS5 BM25 + numpy cosine) and production
(PostgreSQL full text + Qdrant) answer the same top 10 on one shared corpus, within the stated tolerance;
PostgreSQL's word index is built for rows written before its migration."""

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.postgres_schema import MIGRATIONS
from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.adapters.qdrant_index import QdrantIndex
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.models import ScoredMemory
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder
from support.servers import PostgresServer

NS = "shared"
DIMS = 384
# The tolerance: at least 8 of the 10 are the same, and each backend's first is in the other's top 3
# (BM25 on SQLite and ts_rank on PostgreSQL weigh words differently: near ties may swap).
MIN_SHARED_OF_10 = 8
FIRST_WITHIN = 3

CORPUS = [
    "Caroline went to the LGBTQ support group on Tuesday and felt welcomed",
    "Melanie painted a sunrise over the lake last weekend",
    "Caroline is researching adoption agencies for a family of her own",
    "Melanie ran a charity race for mental health awareness",
    "The team shipped item-1791 after fixing the login outage",
    "item-1763 is blocked by the database migration",
    "Jon lost his job as a banker and opened a dance studio",
    "Gina launched an online clothing store after losing her job",
    "Jon's dance studio hosted its first competition in June",
    "The quarterly budget review moved to Friday afternoon",
    "Ana fixed the cache eviction bug in the vector index",
    "Bruno benchmarked the search latency on the new cluster",
    "The security audit found two expired certificates",
    "Our biggest customer asked about the billing export format",
    "The holiday schedule was posted on the office wiki",
    "Farah reviewed the onboarding guide for new engineers",
    "A hex key 0xDEADBEEF appeared in the crash report",
    "Kofi migrated the payroll run to the new provider",
    "Lena documented the Kubernetes upgrade steps",
    "The mobile release was postponed because of a crash on startup",
    "Caroline gave a talk at the school about her transition journey",
    "Melanie took her kids camping in the mountains",
    "The recommendation model was retrained with fresh data",
    "Ivan discussed the pricing page with the design group",
    "The research lab presented results on sleep and memory",
    "Hana measured the API rate limits under load",
    "Emeka rewrote the invoice template in plain HTML",
    "The finance office approved the hiring plan",
    "Dara tested the database backup restore drill",
    "Goran cancelled the office move to next quarter",
]
QUERIES = [
    "what did Caroline research",
    "when was item-1791 shipped",
    "Jon dance studio",
    "database backup and migration",
    "Melanie painting",
    "crash report hex key",
    "who benchmarked search latency",
    "office schedule and move",
]


def _services(tmp_path: Path, url: str) -> Iterator[MemoryService]:
    embedder = HashingEmbedder(DIMS)
    postgres = PostgresStore.connect(url, evented=False)
    postgres.migrate()
    return iter(
        [
            MemoryService(
                SQLiteStore(tmp_path / "m.sqlite"), NumpyIndex(tmp_path / "v.sqlite", DIMS), embedder
            ),
            MemoryService(postgres, QdrantIndex.connect(path=":memory:", dimensions=DIMS), embedder),
        ]
    )


@pytest.fixture
def backends(tmp_path: Path, postgres_url: str) -> Iterator[tuple[MemoryService, MemoryService]]:
    embedded, production = _services(tmp_path, postgres_url)
    for service in (embedded, production):
        service.store_many(
            NS,
            [
                NewMemory((float(n),), {"text": text, "parity": "even" if n % 2 == 0 else "odd"})
                for n, text in enumerate(CORPUS)
            ],
        )
    yield embedded, production
    for service in (embedded, production):
        for backend in service.backends():
            backend.close()


def _top(found: list[ScoredMemory]) -> list[tuple[float, ...]]:
    return [scored.memory.coordinate for scored in found]


def _agree(left: list[tuple[float, ...]], right: list[tuple[float, ...]]) -> None:
    assert len(left) == len(right)
    assert left[0] in right[:FIRST_WITHIN]
    assert right[0] in left[:FIRST_WITHIN]
    assert len(set(left) & set(right)) >= min(MIN_SHARED_OF_10, len(left))


@pytest.mark.parametrize("ranking", list(Ranking))
@pytest.mark.parametrize("query", QUERIES)
def test_both_backends_answer_the_same_top_10(
    backends: tuple[MemoryService, MemoryService], query: str, ranking: Ranking
) -> None:
    embedded, production = backends
    left = _top(embedded.recall(NS, query, top_k=10, ranking=ranking))
    right = _top(production.recall(NS, query, top_k=10, ranking=ranking))
    _agree(left, right)


@pytest.mark.parametrize("query", QUERIES)
def test_both_backends_answer_the_same_hybrid_and_filtered_top_10(
    backends: tuple[MemoryService, MemoryService], query: str
) -> None:
    embedded, production = backends
    _agree(
        _top(embedded.hybrid_recall(NS, query, top_k=10)), _top(production.hybrid_recall(NS, query, top_k=10))
    )
    odd = parse_filters({"parity": "odd"})
    left = _top(embedded.recall(NS, query, top_k=10, conditions=odd))
    right = _top(production.recall(NS, query, top_k=10, conditions=odd))
    _agree(left, right)
    assert all(int(c[0]) % 2 == 1 for c in left + right)


def test_item_1791_ranks_above_item_1763_on_both(backends: tuple[MemoryService, MemoryService]) -> None:
    for service in backends:
        top = _top(service.hybrid_recall(NS, "status of item-1791", top_k=2))
        assert top[0] == (4.0,)


def test_keyword_search_ranks_by_relevance_on_postgres(store: PostgresStore) -> None:
    service = MemoryService(
        store, QdrantIndex.connect(path=":memory:", dimensions=DIMS), HashingEmbedder(DIMS)
    )
    service.store_many(
        NS,
        [
            NewMemory(
                (1.0,),
                {"text": "a long note that mentions jazz once among many other words", "importance": 0.9},
            ),
            NewMemory((2.0,), {"text": "jazz jazz", "importance": 0.1}),
            NewMemory((3.0,), {"text": "jazzy tunes", "importance": 1.0}),
        ],
    )
    ranked = service.keyword_search(NS, "jazz", exact=False)
    assert [m.coordinate for m in ranked] == [(2.0,), (1.0,), (3.0,)]
    substring = service.keyword_search(NS, "azz", exact=False)
    assert [m.coordinate for m in substring] == [(3.0,), (1.0,), (2.0,)]  # no word: importance order


def test_the_word_index_migration_covers_rows_written_before_it(
    postgres_server: PostgresServer, unique: str
) -> None:
    url = postgres_server.create_database(unique)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE soma_schema_migrations (version integer PRIMARY KEY, description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(MIGRATIONS[0].sql.encode())
        conn.execute("INSERT INTO soma_schema_migrations (version, description) VALUES (1, 'first')")
        conn.execute(
            "INSERT INTO soma_memories (namespace, coord_key, coord, dimensions, payload, memory_type,"
            " importance, created_at, updated_at, search_text, folded_text, string_values, folded_values)"
            " VALUES (%s, '1', '{1}', 1, '{\"text\": \"harbour cranes\"}', 'episodic', 0.5, 1, 1,"
            " 'harbour cranes', 'harbour cranes', '{harbour cranes}', '{harbour cranes}')",
            (NS,),
        )
    store = PostgresStore.connect(url, evented=False)
    try:
        assert store.migrate() == [migration.version for migration in MIGRATIONS[1:]]  # 2 (words) onwards
        [hit] = store.lexical_search(NS, ["crane"], memory_type=None, conditions=(), limit=5)
        assert hit.memory.payload == {"text": "harbour cranes"}
        assert hit.score > 0
    finally:
        store.close()
