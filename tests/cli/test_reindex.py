"""`soma reindex` and core/reindex.py on the embedded default: real SQLite store, real vector index."""

import json
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
    assert seen == [2, 2, 1]
    for coordinate, text in TEXTS.items():
        assert best(index, new, "a", text)[0] == coordinate
    assert best(index, new, "b", "other") == []  # only the namespace asked for
    assert old.dimensions != index.dimensions
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

    def racing_writer(count: int) -> None:
        if count == 2 and store.get("a", (3.0,)) is not None:
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
    assert reindex_namespace(store, index, embedder, "a") == 5
    assert reindex_namespace(store, index, embedder, "a") == 5
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
    assert {k: summary[k] for k in ("embedder", "dimensions", "namespaces", "memories")} == {
        "embedder": "hashing",
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
    assert json.loads(again.out)["namespaces"] == {"b": 5}


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
