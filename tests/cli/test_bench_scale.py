"""`soma bench --scale` runs end to end at a small size and reports every issue-15 measurement with its
goal: recall latency and recall@10 against exact, ingest through the service and over HTTP, the store
cost at the largest size against 1,000 memories, start-up and resident memory of `soma serve` (values
never timed here)."""

import math

import pytest
from cli_harness import run_soma

from somafractalmemory.cli import bench_scale

TARGETS = {
    "scale_dense_p95_ms_1000": "< 25 ms",
    "scale_default_p95_ms_1000": "< 25 ms",
    "scale_recall_at_10_1000": ">= 0.95",
    "scale_ingest_per_s": ">= 20,000 /s",
    "scale_store_cost_ratio": "<= 1.3",
    "scale_http_ingest_per_s": ">= 20,000 /s",
    "serve_start_s": "<= 5 s",
    "serve_rss_mib": "<= 1,024 MiB",
    "serve_rss_after_ingest_mib": "<= 1,024 MiB",
}


def test_quick_scale_bench_reports_every_goal(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_soma(["bench", "--scale", "--quick", "--json", "--quiet", "--sizes", "1000"], capsys)
    assert result.code == 0, result.err
    assert "from source" not in result.err  # `make install` cached the bytecode
    metrics = {metric["name"]: metric for metric in result.json["metrics"]}
    assert {name: metrics[name]["target"] for name in TARGETS} == TARGETS
    assert {"scale_dense_p50_ms_1000", "scale_default_p50_ms_1000", "load_average"} <= set(metrics)
    assert metrics["scale_recall_at_10_1000"]["value"] == 1.0  # below the threshold the scan is exact
    # single stores timed at the quick plan's smallest cost size (200) and at the largest size
    small, large = metrics["scale_store_p50_ms_200"], metrics["scale_store_p50_ms_1000"]
    assert small["label"] == "store p50 at 200 (service, single stores)"
    assert metrics["scale_store_cost_ratio"]["label"] == "store cost 1,000 / 200"
    assert metrics["scale_store_cost_ratio"]["value"] == pytest.approx(large["value"] / small["value"])
    # 200 in bulk, 30 single stores (10 of warm-up), 770 more in bulk to 1,000, 30 more single stores
    assert metrics["scale_ingest_per_s"]["label"] == "bulk ingest of 970 to 1,030 (service store_many)"
    assert metrics["serve_rss_after_ingest_mib"]["label"] == (
        "soma serve resident memory after the HTTP bulk, 1,330"  # + the quick plan's 300 over HTTP
    )
    for metric in metrics.values():
        assert isinstance(metric["value"], float | int)
        assert math.isfinite(metric["value"])
        assert metric["value"] >= 0


def test_a_first_size_at_or_below_the_cost_size_is_the_baseline_and_is_reached_exactly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As where PYTHONDONTWRITEBYTECODE is set on an install that cached no bytecode: said even when quiet.
    monkeypatch.setattr(bench_scale, "compiled_at_every_start", lambda: ["fastapi", "uvicorn"])
    result = run_soma(["bench", "--scale", "--quick", "--json", "--quiet", "--sizes", "100,400"], capsys)
    assert result.code == 0, result.err
    assert "soma serve compiles fastapi, uvicorn from source as it starts" in result.err
    metrics = {metric["name"]: metric for metric in result.json["metrics"]}
    assert {name for name in metrics if name.startswith("scale_store_p50_ms_")} == {
        "scale_store_p50_ms_100",
        "scale_store_p50_ms_400",
    }
    assert metrics["scale_store_cost_ratio"]["label"] == "store cost 400 / 100"
    # 100 in bulk (recalls at exactly 100), 30 single stores, 270 more in bulk to 400, 30 more
    assert metrics["scale_ingest_per_s"]["label"] == "bulk ingest of 370 to 430 (service store_many)"
