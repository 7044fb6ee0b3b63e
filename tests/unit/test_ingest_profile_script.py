"""bench/ingest_profile.py: store_many of the bench workload timed (and profiled) in a fresh directory."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*options: str) -> str:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "ingest_profile.py"), *options],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout


def test_it_reports_the_rate_and_cpu_time_of_the_memories_stored() -> None:
    report = json.loads(run("--memories", "250", "--batch", "100"))
    assert set(report) == {
        "memories",
        "batch",
        "seconds",
        "per_second",
        "cpu_us_per_memory",
        "load_average",
        "profiled",
    }
    assert (report["memories"], report["batch"], report["profiled"]) == (250, 100, False)
    assert report["seconds"] > 0 and report["cpu_us_per_memory"] > 0
    assert isinstance(report["per_second"], int) and report["per_second"] > 0


def test_with_profile_it_adds_the_top_functions_by_own_time() -> None:
    out = run("--memories", "100", "--batch", "50", "--profile", "5")
    first, rest = out.split("\n", 1)
    assert json.loads(first)["profiled"] is True
    assert "Ordered by: internal time" in rest
    assert "due to restriction <5>" in rest
