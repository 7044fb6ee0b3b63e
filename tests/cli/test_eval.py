"""``soma eval``: the dataset's memories stored, its queries recalled and scored, embedded and over --url."""

import json
from pathlib import Path

import pytest
from cli_harness import Soma, run_soma

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "bench" / "eval" / "sample.jsonl"

MEMORIES = [
    {"type": "memory", "id": "a", "text": "the lighthouse keeper feeds his three goats at dawn"},
    {"type": "memory", "id": "b", "text": "quarterly invoices are exported to the accounting system"},
    {"type": "memory", "id": "c", "text": "a violin concerto was rehearsed in the old chapel"},
]
# Each query is the text of a memory, which any ranking puts first; the second also names c as relevant,
# which k=1 leaves no room for: recall 1/2, but its first answer is relevant (MRR 1) and nDCG@1 is ideal.
QUERIES = [
    {"type": "query", "query": MEMORIES[0]["text"], "relevant": ["a"]},
    {"type": "query", "query": MEMORIES[1]["text"], "relevant": ["b", "c"]},
]


def write_dataset(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("hybrid", [False, True])
def test_eval_scores_the_dataset(soma: Soma, tmp_path: Path, hybrid: bool) -> None:
    dataset = write_dataset(tmp_path / "tiny.jsonl", [*MEMORIES, *QUERIES])
    result = soma.ok("eval", str(dataset), "-k", "1", "-q", *(["--hybrid"] if hybrid else []))
    where = (
        {"target": "embedded", "embedder": "hashing"}
        if soma.mode == "embedded"
        else {"target": soma.where[soma.where.index("--url") + 1]}
    )
    assert {key: value for key, value in result.items() if not key.endswith("_seconds")} == {
        "dataset": "tiny.jsonl",
        **where,
        "namespace": soma.where[1],
        "memories": 3,
        "queries": 2,
        "k": 1,
        "ranking": "hybrid" if hybrid else "recall",
        "recall_at_1": 0.75,
        "mrr": 1.0,
        "ndcg_at_1": 1.0,
    }
    assert result["store_seconds"] >= 0
    assert result["recall_seconds"] >= 0


def test_the_shipped_sample_runs(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_soma(["eval", str(SAMPLE), "-q"], capsys)
    assert result.code == 0, result.err
    scores = result.json
    assert (scores["memories"], scores["queries"], scores["k"]) == (20, 14, 10)
    assert (scores["target"], scores["embedder"]) == ("embedded", "hashing")
    assert scores["namespace"].startswith("eval-") and len(scores["namespace"]) == 13
    assert 0.5 <= scores["recall_at_10"] <= 1.0
    assert 0.0 < scores["mrr"] <= scores["recall_at_10"]


def test_url_without_namespace_gets_a_fresh_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], served: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli_harness import TOKEN

    monkeypatch.setenv("SOMA_API_TOKEN", TOKEN)
    dataset = write_dataset(tmp_path / "tiny.jsonl", [*MEMORIES, *QUERIES])
    first = run_soma(["eval", str(dataset), "--url", served.url, "-q"], capsys)  # type: ignore[attr-defined]
    second = run_soma(["eval", str(dataset), "--url", served.url, "-q"], capsys)  # type: ignore[attr-defined]
    assert first.code == second.code == 0, first.err + second.err
    names = first.json["namespace"], second.json["namespace"]
    assert all(name.startswith("eval-") and len(name) == 13 for name in names)
    assert names[0] != names[1]
    assert first.json["memories"] == second.json["memories"] == 3  # each run stored only its own


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        (
            ["{"],
            "line 1: not valid JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1))",
        ),
        (['{"type": "fact"}'], 'line 1: expected an object with "type": "memory" or "query"'),
        (["[1]"], 'line 1: expected an object with "type": "memory" or "query"'),
        (['{"type": "memory", "id": "a"}'], "line 1: 'text' must be a non-empty string"),
        (['{"type": "memory", "id": "", "text": "x"}'], "line 1: 'id' must be a non-empty string"),
        (
            ['{"type": "memory", "id": "a", "text": "x"}', "", '{"type": "memory", "id": "a", "text": "y"}'],
            "line 3: memory id 'a' appears twice",
        ),
        (
            ['{"type": "query", "query": "x", "relevant": []}'],
            "line 1: 'relevant' must be a non-empty list of memory ids",
        ),
        (
            ['{"type": "query", "query": "x", "relevant": [1]}'],
            "line 1: 'relevant' must be a non-empty list of memory ids",
        ),
        (
            ['{"type": "query", "query": " ", "relevant": ["a"]}'],
            "line 1: 'query' must be a non-empty string",
        ),
        (
            [
                '{"type": "query", "query": "x", "relevant": ["zz"]}',
                '{"type": "memory", "id": "a", "text": "x"}',
            ],
            "line 1: relevant id 'zz' is no memory of the dataset",
        ),
        (
            ['{"type": "memory", "id": "a", "text": "x"}'],
            "the dataset needs at least one memory and one query",
        ),
    ],
)
def test_a_bad_dataset_is_refused_before_anything_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], error: str
) -> None:
    dataset = tmp_path / "bad.jsonl"
    dataset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_soma(["eval", str(dataset), "-q"], capsys)
    assert (result.code, result.out, result.err) == (2, "", f"soma eval: error: {error}\n")


def test_unreadable_datasets_are_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = run_soma(["eval", str(tmp_path / "none.jsonl")], capsys)
    assert (missing.code, missing.out) == (2, "")
    assert missing.err.startswith("soma eval: error: cannot read the dataset: [Errno 2] No such file")
    (tmp_path / "latin1.jsonl").write_bytes(b'{"type": "memory", "id": "\xe9"}\n')
    latin = run_soma(["eval", str(tmp_path / "latin1.jsonl")], capsys)
    assert (latin.code, latin.out) == (2, "")
    assert latin.err.startswith("soma eval: error: the dataset is not UTF-8 text: ")
