"""`soma bench --quick --json` runs end to end and reports every metric as a number (never timed here)."""

import math

import pytest
from cli_harness import run_soma

EVERY_METRIC = {
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
    recall = {f"recall_{p}_ms_at_{size}" for p in ("p50", "p95") for size in (100, 300)}
    assert EVERY_METRIC | recall <= set(metrics)
    for metric in metrics.values():
        assert isinstance(metric["value"], float | int)
        assert math.isfinite(metric["value"])
        assert metric["value"] > 0
    assert metrics["http_store_p50_ms"]["target"] == "< 2 ms"
    assert isinstance(metrics["http_store_p50_ms"]["met"], bool)
