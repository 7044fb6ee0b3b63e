"""Dense pseudo-relevance feedback: the moved query vector to exact numbers, the defaults per provider and
their settings, and a fused recall whose ranking it changes as meant (embedded store, hashing embedder)."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from embedded_service import close_service, open_service
from pydantic import ValidationError

from somafractalmemory.adapters.ann_index import AnnIndex
from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.core.feedback import NO_FEEDBACK, Feedback, feedback_for, moved_query
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.fusion import FusionWeights, Ranking
from somafractalmemory.core.models import MemoryType, VectorPoint
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime

NS = "feedback"
# "apple" is in the first text only; the second shares no word with it but two with the first; the third
# shares the character trigrams of "apple" (the hashing embedder's features), not its word.
CORPUS = [
    "apple orchard harvest",
    "orchard harvest festival tickets",
    "applesauce recipe",
    "quarterly budget review",
    "kubernetes upgrade steps",
    "sleep research results",
]
NEURAL_FUSION = FusionWeights(dense=1.0, lexical=1.0, k=10)


def test_the_query_moves_towards_the_mean_of_the_fed_back_vectors() -> None:
    query = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    relevant = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    moved = moved_query(query, relevant, 0.5)
    # [1, 0, 0] + 0.5 x [0, 0.5, 0.5] = [1, 0.25, 0.25], of length sqrt(1.125)
    assert moved.dtype == np.float32
    assert moved == pytest.approx([1 / 1.125**0.5, 0.25 / 1.125**0.5, 0.25 / 1.125**0.5], abs=1e-7)
    assert moved == pytest.approx([0.9428090, 0.2357023, 0.2357023], abs=1e-7)
    assert moved_query(query, relevant, 2.0) == pytest.approx([1 / 3**0.5] * 3, abs=1e-7)


def test_no_row_or_a_sum_of_length_zero_keeps_the_query() -> None:
    query = np.array([1.0, 0.0], dtype=np.float32)
    assert moved_query(query, np.zeros((0, 2), dtype=np.float32), 0.5) is query
    assert moved_query(query, np.array([[-1.0, 0.0]], dtype=np.float32), 1.0) is query


def test_feedback_is_on_only_with_a_depth_and_a_weight() -> None:
    assert Feedback(2, 0.5).enabled
    assert not Feedback(0, 0.5).enabled
    assert not Feedback(2, 0.0).enabled
    assert not NO_FEEDBACK.enabled
    with pytest.raises(ValueError, match="the feedback depth must not be negative"):
        Feedback(-1, 0.5)
    with pytest.raises(ValueError, match="the feedback weight must not be negative"):
        Feedback(2, -0.5)


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("hashing", Feedback(0, 0.0)),
        ("onnx", Feedback(2, 0.5)),
        ("sentence-transformers", Feedback(2, 0.5)),
        ("unknown", Feedback(0, 0.0)),
    ],
)
def test_each_provider_has_its_measured_feedback(provider: str, expected: Feedback) -> None:
    assert feedback_for(provider) == expected


def test_a_feedback_setting_given_replaces_only_its_default() -> None:
    assert feedback_for("onnx", depth=0) == Feedback(0, 0.5)
    assert feedback_for("onnx", weight=1.5) == Feedback(2, 1.5)
    assert feedback_for("hashing", 3, 0.25) == Feedback(3, 0.25)


def test_the_runtime_reads_the_feedback_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path / "a"))
    assert runtime.service.feedback == NO_FEEDBACK
    runtime.close()
    monkeypatch.setenv("SOMA_RECALL_FEEDBACK_DEPTH", "3")
    monkeypatch.setenv("SOMA_RECALL_FEEDBACK_WEIGHT", "0.25")
    runtime = build_runtime(Settings(data_dir=tmp_path / "b"))
    assert runtime.service.feedback == Feedback(3, 0.25)
    runtime.close()
    monkeypatch.setenv("SOMA_RECALL_FEEDBACK_DEPTH", "-1")
    with pytest.raises(ValidationError, match="recall_feedback_depth"):
        Settings()
    monkeypatch.setenv("SOMA_RECALL_FEEDBACK_DEPTH", "2")
    monkeypatch.setenv("SOMA_RECALL_FEEDBACK_WEIGHT", "-0.5")
    with pytest.raises(ValidationError, match="recall_feedback_weight"):
        Settings()


def _opened(directory: Path, feedback: Feedback) -> MemoryService:
    service = open_service(directory, fusion=NEURAL_FUSION, feedback=feedback)
    service.store_many(
        NS,
        [
            NewMemory((float(n),), {"text": text, "kind": "fruit" if n < 3 else "other"})
            for n, text in enumerate(CORPUS)
        ],
    )
    return service


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[MemoryService]:
    service = _opened(tmp_path / "plain", NO_FEEDBACK)
    yield service
    close_service(service)


@pytest.fixture
def fed_back(tmp_path: Path) -> Iterator[MemoryService]:
    service = _opened(tmp_path / "fed", Feedback(depth=1, weight=1.0))
    yield service
    close_service(service)


def _ranked(service: MemoryService, **options: object) -> list[tuple[str, float]]:
    found = service.recall(NS, "apple", top_k=3, **options)  # type: ignore[arg-type]
    return [(hit.memory.payload["text"], round(hit.score, 6)) for hit in found]


def test_without_feedback_the_trigram_neighbour_comes_second(plain: MemoryService) -> None:
    assert _ranked(plain) == [
        ("apple orchard harvest", round(2 / 11, 6)),
        ("applesauce recipe", round(1 / 12, 6)),
        ("orchard harvest festival tickets", round(1 / 13, 6)),
    ]


def test_feedback_brings_the_first_results_neighbour_up(fed_back: MemoryService) -> None:
    # The query moved towards "apple orchard harvest": the text sharing its other words is now the dense
    # leg's second; the lexical leg (only the first text holds "apple") is unchanged.
    assert _ranked(fed_back) == [
        ("apple orchard harvest", round(2 / 11, 6)),
        ("orchard harvest festival tickets", round(1 / 12, 6)),
        ("applesauce recipe", round(1 / 13, 6)),
    ]


def test_feedback_changes_only_fused_recall(plain: MemoryService, fed_back: MemoryService) -> None:
    for ranking in (Ranking.DENSE, Ranking.LEXICAL):
        assert _ranked(fed_back, ranking=ranking) == _ranked(plain, ranking=ranking)
    hybrid = [hit.memory.coordinate for hit in fed_back.hybrid_recall(NS, "apple", top_k=3)]
    assert hybrid == [hit.memory.coordinate for hit in plain.hybrid_recall(NS, "apple", top_k=3)]


def test_the_second_dense_search_keeps_the_filters(fed_back: MemoryService) -> None:
    found = _ranked(fed_back, conditions=parse_filters({"kind": "fruit"}))
    assert [text for text, _ in found] == [
        "apple orchard harvest",
        "orchard harvest festival tickets",
        "applesauce recipe",
    ]
    others = _ranked(fed_back, conditions=parse_filters({"kind": "other"}))
    assert {text for text, _ in others} <= set(CORPUS[3:])


@pytest.mark.parametrize("which", ["numpy", "ann in memory", "ann past its threshold"])
def test_the_embedded_indexes_give_back_the_vectors_they_hold(tmp_path: Path, which: str) -> None:
    rows = np.eye(4, 384, dtype=np.float32)
    if which == "numpy":
        index: NumpyIndex | AnnIndex = NumpyIndex(tmp_path / "v.sqlite", 384)
    else:
        index = AnnIndex(tmp_path / "v.sqlite", 384, threshold=10**6 if which == "ann in memory" else 2)
    index.upsert([VectorPoint(NS, (float(n),), rows[n], MemoryType.EPISODIC, {"n": n}) for n in range(4)])
    index.delete(NS, [(1.0,)])
    found = index.vectors(NS, [(3.0,), (1.0,), (9.0,), (0.0,)])  # 1 deleted, 9 never held: left out
    assert found.dtype == np.float32
    assert np.array_equal(found, rows[[3, 0]])
    assert index.vectors("elsewhere", [(0.0,)]).shape == (0, 384)
    assert index.vectors(NS, []).shape == (0, 384)
    index.close()


def test_a_feedback_deeper_than_top_k_feeds_back_its_whole_depth(tmp_path: Path) -> None:
    service = _opened(tmp_path / "deep", Feedback(depth=2, weight=1.0))
    asked: list[list[tuple[float, ...]]] = []
    vectors = service.index.vectors

    def recorded(namespace: str, coordinates: list[tuple[float, ...]]) -> np.ndarray:
        asked.append(list(coordinates))
        return vectors(namespace, coordinates)

    service.index.vectors = recorded  # type: ignore[method-assign]
    try:
        [hit] = service.recall(NS, "apple", top_k=1)
        assert hit.memory.payload["text"] == "apple orchard harvest"
        assert asked == [[(0.0,), (2.0,)]]  # the first fused ranking's two best, though one is asked for
    finally:
        close_service(service)
