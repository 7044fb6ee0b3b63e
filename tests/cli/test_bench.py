"""`soma bench --quick --json` runs end to end and reports every metric as a number (never timed here)."""

import math

import pytest
from cli_harness import run_soma

EVERY_METRIC = {
    "http_healthz_p50_ms",
    "store_to_healthz_ratio",
    "probe_max_ms_under_heaviest",
    "http_store_p50_ms",
    "http_store_p95_ms",
    "http_bulk_ingest_per_s",
    "bulk_ingest_per_s",
    "store_cost_ratio",
}


def test_quick_bench_reports_every_metric(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_soma(["bench", "--quick", "--json", "--quiet", "--sizes", "100,300"], capsys)
    assert result.code == 0, result.err
    metrics = {metric["name"]: metric for metric in result.json["metrics"]}
    recall = {
        f"{kind}_{p}_ms_at_{size}"
        for kind in ("recall", "hybrid")
        for p in ("p50", "p95")
        for size in (100, 300)
    }
    assert EVERY_METRIC | recall <= set(metrics)
    for metric in metrics.values():
        assert isinstance(metric["value"], float | int)
        assert math.isfinite(metric["value"])
        assert metric["value"] > 0
    assert metrics["http_store_p50_ms"]["target"] == "< 2 ms"
    assert isinstance(metrics["http_store_p50_ms"]["met"], bool)


def test_quick_soak_reports_errors_latencies_and_memory_growth(capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["bench", "--soak", "--clients", "4", "--soak-seconds", "3", "--json", "--quiet"]
    result = run_soma(arguments, capsys)
    assert result.code == 0, result.err
    metrics = {metric["name"]: metric for metric in result.json["metrics"]}
    assert metrics["soak_errors"]["value"] == 0
    assert metrics["soak_errors"]["met"] is True
    assert metrics["soak_requests"]["value"] > 0
    assert (
        metrics["soak_p50_ms"]["value"] <= metrics["soak_p95_ms"]["value"] <= metrics["soak_p99_ms"]["value"]
    )
    assert metrics["soak_rss_growth_percent"]["target"] == "< 10 %"
