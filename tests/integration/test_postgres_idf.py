"""PostgreSQL's lexical leg weighs each term a text holds by its inverse document frequency in the namespace
(BM25's ln(1 + (N - n + 0.5) / (n + 0.5))), then orders by ts_rank: a rare name outranks a common word."""

import math

from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.core.models import Memory, MemoryType


def memory(x: float, text: str, namespace: str = "idf") -> Memory:
    return Memory(namespace, (x,), {"text": text}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)


def bm25_idf(total: int, holding: int) -> float:
    return math.log(1 + (total - holding + 0.5) / (holding + 0.5))


def test_a_rare_term_outranks_a_common_one(store: PostgresStore) -> None:
    texts = ["common"] * 8 + ["common and more words around it", "a zebra among many other longer words here"]
    store.put_many([memory(float(x), text) for x, text in enumerate(texts)])
    store.put_many([memory(1.0, "zebra", namespace="elsewhere")])  # another namespace counts for nothing
    found = store.lexical_search("idf", ["common", "zebra"], memory_type=None, conditions=(), limit=10)
    assert found[0].memory.coordinate == (9.0,)  # ts_rank alone ranks the short "common" texts first
    assert 0 < found[0].score - bm25_idf(10, 1) < 1  # its weight, then ts_rank in [0, 1)
    assert all(0 < s.score - bm25_idf(10, 9) < 1 for s in found[1:])
    assert len(found) == 10


def test_a_text_holding_every_term_comes_first(store: PostgresStore) -> None:
    texts = ["apple", "apple", "apple pear", "pear", "quince"]
    store.put_many([memory(float(x), text) for x, text in enumerate(texts)])
    found = store.lexical_search("idf", ["apple", "pear"], memory_type=None, conditions=(), limit=10)
    assert [s.memory.coordinate for s in found][:2] == [(2.0,), (3.0,)]  # both, then the rarer pear
    assert 0 < found[0].score - bm25_idf(5, 3) - bm25_idf(5, 2) < 1
