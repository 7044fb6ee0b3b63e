"""`soma reindex` and core/reindex.py on the embedded default: real SQLite store, real vector index."""

import dataclasses
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from cli_harness import run_soma

from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.indexing import vector_points
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.core.reindex import namespaces_to_reindex, reindex_namespace
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_index

TEXTS = {
    (1.0,): "the lighthouse keeper painted the stairs red",
    (2.0,): "a recipe for lemon cake with poppy seeds",
    (3.0,): "train timetable between Lyon and Geneva",
    (4.0,): "notes on repotting an orchid in spring",
    (5.0,): "the chess club meets on thursday evenings",
}


def memory(namespace: str, coordinate: tuple[float, ...], text: str) -> Memory:
    return Memory(namespace, coordinate, {"text": text}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)


def best(index: NumpyIndex, embedder: HashingEmbedder, namespace: str, text: str) -> list[tuple[float, ...]]:
    hits = index.search(namespace, embedder.embed([text])[0], top_k=10, memory_type=None, conditions=())
    return [hit.coordinate for hit in hits]


def test_reindex_rewrites_every_vector_with_the_new_embedder(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")
    store.put_many([memory("a", c, t) for c, t in TEXTS.items()] + [memory("b", (9.0,), "other")])
    old, new = HashingEmbedder(64), HashingEmbedder(128)
    index = NumpyIndex(tmp_path / "vectors.sqlite", 128)
    seen: list[int] = []
    assert reindex_namespace(store, index, new, "a", batch_size=2, progress=seen.append) == 5
    assert seen == [1, 1, 1, 1, 1]  # every memory read
    for coordinate, text in TEXTS.items():
        assert best(index, new, "a", text)[0] == coordinate
    assert best(index, new, "b", "other") == []  # only the namespace asked for
    assert old.dimensions != index.dimensions
    assert store.embedder_counts("a") == {new.identity: 5}
    assert store.embedder_counts("b") == {None: 1}
    store.close()
    index.close()


def test_a_write_racing_a_batch_leaves_the_index_with_the_store_content(tmp_path: Path) -> None:
    """The stream has read memories 3 to 5 already when the first batch's progress deletes 3 and
    replaces 4 in the store only (as the API does between its store and index writes)."""
    store = SQLiteStore(tmp_path / "memories.sqlite")
    store.put_many([memory("a", c, t) for c, t in TEXTS.items()])
    embedder = HashingEmbedder(128)
    index = NumpyIndex(tmp_path / "vectors.sqlite", 128)
    replaced = memory("a", (4.0,), "a ferry crossing to the islands at dawn")

    def racing_writer(_count: int) -> None:  # the stream has read every row at its first memory
        if store.get("a", (3.0,)) is not None:
            store.delete("a", (3.0,))
            store.put_many([replaced])

    assert reindex_namespace(store, index, embedder, "a", batch_size=2, progress=racing_writer) == 5
    assert (3.0,) not in best(index, embedder, "a", TEXTS[(3.0,)])
    hit = index.search(
        "a", embedder.embed([replaced.payload["text"]])[0], top_k=1, memory_type=None, conditions=()
    )
    assert hit[0].coordinate == (4.0,)
    assert hit[0].score == pytest.approx(1.0, abs=1e-5)
    store.close()
    index.close()


def test_reindex_is_idempotent(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")
    store.put_many([memory("a", c, t) for c, t in TEXTS.items()])
    embedder = HashingEmbedder(128)
    index = NumpyIndex(tmp_path / "vectors.sqlite", 128)
    index.upsert(vector_points(embedder, [memory("a", c, t) for c, t in TEXTS.items()]))
    before = {c: best(index, embedder, "a", t) for c, t in TEXTS.items()}
    assert reindex_namespace(store, index, embedder, "a") == 5  # written with no embedder: unknown
    assert reindex_namespace(store, index, embedder, "a") == 0  # every one is this embedder's now
    assert reindex_namespace(store, index, embedder, "a", every=True) == 5
    assert {c: best(index, embedder, "a", t) for c, t in TEXTS.items()} == before
    store.close()
    index.close()


def test_namespaces_default_to_every_namespace_with_memories(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")
    store.put_many([memory("zeta", (1.0,), "z"), memory("alpha", (1.0,), "a")])
    assert namespaces_to_reindex(store, []) == ["alpha", "zeta"]
    assert namespaces_to_reindex(store, ["zeta", "x", "zeta"]) == ["zeta", "x"]
    store.close()


def index_dimensions(data_dir: Path) -> int:
    """The dimensions the embedded vector index of ``data_dir`` opens with (it refuses the others)."""
    for dimensions in (256, 384):
        try:
            build_index(Settings(data_dir=data_dir), dimensions).close()
        except ValueError:
            continue
        return dimensions
    raise AssertionError("the index opens with neither")


def test_soma_reindex_after_a_change_of_dimensions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    where = ["--data-dir", str(data_dir)]
    monkeypatch.setenv("SOMA_EMBEDDING_DIMENSIONS", "256")
    monkeypatch.setenv("SOMA_RECALL_LEXICAL_WEIGHT", "0")  # dense only: the vectors alone rank
    for namespace in ("a", "b"):
        for (x,), text in TEXTS.items():
            stored = run_soma(
                ["store", *where, "--namespace", namespace, f"{x:g}", json.dumps({"text": text})], capsys
            )
            assert stored.code == 0, stored.err
    assert index_dimensions(data_dir) == 256

    monkeypatch.setenv("SOMA_EMBEDDING_DIMENSIONS", "384")
    partial = run_soma(["reindex", *where, "--namespace", "a", "-q"], capsys)
    assert partial.code == 2
    assert partial.err == (
        "soma reindex: error: the index holds 256-dimensional vectors but 384 are configured; use a new "
        "data directory or the matching dimension: reindex every namespace (no --namespace) to rebuild "
        "the vector index\n"
    )
    assert index_dimensions(data_dir) == 256  # nothing written

    done = run_soma(["reindex", *where, "-q", "--batch-size", "3"], capsys)
    assert done.code == 0, done.err
    summary = json.loads(done.out)
    assert {
        k: summary[k] for k in ("embedder", "embedder_id", "all", "dimensions", "namespaces", "memories")
    } == {
        "embedder": "hashing",
        "embedder_id": "hashing:rules-1b13d4b8:384",
        "all": True,  # a new index: every memory goes into it
        "dimensions": 384,
        "namespaces": {"a": 5, "b": 5},
        "memories": 10,
    }
    assert index_dimensions(data_dir) == 384
    assert not (data_dir / "reindex-scratch").exists()
    recalled = run_soma(["recall", *where, "--namespace", "b", "-k", "1", "orchid repotting"], capsys)
    assert recalled.code == 0, recalled.err
    assert json.loads(recalled.out)["results"][0]["memory"]["coord"] == [4.0]

    again = run_soma(["reindex", *where, "--namespace", "b", "-q"], capsys)
    assert again.code == 0, again.err
    assert json.loads(again.out)["namespaces"] == {"b": 0}
    every = run_soma(["reindex", *where, "--namespace", "b", "--all", "-q"], capsys)
    assert every.code == 0, every.err
    assert {k: json.loads(every.out)[k] for k in ("namespaces", "all")} == {
        "namespaces": {"b": 5},
        "all": True,
    }


def test_from_hashing_to_minilm_by_models_fetch_and_reindex(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole chain with a real model: MiniLM exported to ONNX (as the hub publishes it), fetched from a
    local directory, then every memory re-embedded; recall then finds by meaning, with no word shared."""
    from unit.minilm_onnx import export_onnx  # torch: imported only by this test

    data_dir, model_dir = tmp_path / "data", tmp_path / "models" / "minilm"
    where = ["--data-dir", str(data_dir)]
    monkeypatch.setenv("SOMA_EMBEDDING_DIMENSIONS", "256")
    monkeypatch.setenv("SOMA_RECALL_LEXICAL_WEIGHT", "0")
    for (x,), text in TEXTS.items():
        assert run_soma(["store", *where, f"{x:g}", json.dumps({"text": text})], capsys).code == 0

    lexical = run_soma(["recall", *where, "-k", "1", "houseplant care"], capsys)
    assert json.loads(lexical.out)["results"][0]["memory"]["coord"] != [4.0]  # hashing: trigrams, no meaning

    exported = export_onnx(tmp_path / "export")
    fetched = run_soma(
        [
            "models",
            "fetch",
            "--model",
            "sentence-transformers/all-MiniLM-L6-v2",
            "--to",
            str(model_dir),
            "--from",
            str(exported),
            "-q",
        ],
        capsys,
    )
    assert fetched.code == 0, fetched.err
    monkeypatch.setenv("SOMA_EMBEDDING_PROVIDER", "onnx")
    monkeypatch.setenv("SOMA_EMBEDDING_MODEL_DIR", str(model_dir))
    done = run_soma(["reindex", *where, "-q"], capsys)
    assert done.code == 0, done.err
    assert json.loads(done.out)["dimensions"] == 384
    assert index_dimensions(data_dir) == 384
    for query, coordinate in (("houseplant care", 4.0), ("board game evening", 5.0), ("baking dessert", 2.0)):
        recalled = run_soma(["recall", *where, "-k", "1", query], capsys)
        assert recalled.code == 0, recalled.err
        assert json.loads(recalled.out)["results"][0]["memory"]["coord"] == [coordinate], query


def test_a_change_of_embedder_reembeds_exactly_the_stale_memories(tmp_path: Path) -> None:
    """Memories another embedder made, or an unknown one, are embedded again; this embedder's are not."""
    store = SQLiteStore(tmp_path / "memories.sqlite")
    old, new = HashingEmbedder(128), HashingEmbedder(256)
    texts = list(TEXTS.items())
    store.put_many([dataclasses.replace(memory("a", c, t), embedder=old.identity) for c, t in texts[:2]])
    store.put_many([dataclasses.replace(memory("a", c, t), embedder=new.identity) for c, t in texts[2:4]])
    store.put_many([memory("a", c, t) for c, t in texts[4:]])  # unknown
    assert store.embedder_counts("a") == {
        "hashing:rules-1b13d4b8:128": 2,
        "hashing:rules-1b13d4b8:256": 2,
        None: 1,
    }
    index = NumpyIndex(tmp_path / "vectors.sqlite", 256)
    assert reindex_namespace(store, index, new, "a") == 3
    assert {c for c, _ in texts[:2]} | {texts[4][0]} == {
        hit for c, t in texts for hit in best(index, new, "a", t)
    }  # only the stale three went into the index
    assert store.embedder_counts("a") == {"hashing:rules-1b13d4b8:256": 5}
    assert store.get("a", (1.0,)) == dataclasses.replace(
        memory("a", (1.0,), TEXTS[(1.0,)]), embedder=new.identity
    )
    assert reindex_namespace(store, index, new, "a") == 0
    store.close()
    index.close()


def test_a_file_made_before_memories_recorded_their_embedder_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "memories.sqlite"
    SQLiteStore(path).close()
    with closing(sqlite3.connect(path)) as db:  # as an older release made it
        db.execute("ALTER TABLE memories DROP COLUMN embedder")
        db.execute(
            "INSERT INTO memories (namespace, coord_key, dims, c0, memory_type, payload, text, importance,"
            " created_at, updated_at) VALUES ('a', '1.0', 1, 1.0, 'episodic', ?, 'x', 0.5, 1, 1)",
            (json.dumps({"text": "x"}),),
        )
        db.commit()
    store = SQLiteStore(path)
    assert store.get("a", (1.0,)) == memory("a", (1.0,), "x")  # embedder None: unknown
    assert store.embedder_counts("a") == {None: 1}
    store.put_many([dataclasses.replace(memory("a", (2.0,), "y"), embedder="hashing:rules-1b13d4b8:128")])
    assert store.embedder_counts("a") == {None: 1, "hashing:rules-1b13d4b8:128": 1}
    store.close()
