"""bench/crash_drill.py: a real `soma serve` SIGKILLed during bulk writes, restarted and checked; and its
comparisons, which would report a lost memory or an index out of line with the store."""

import importlib.util
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "crash_drill.py"


def drill_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_drill", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


drill = drill_module()


def test_two_kills_during_the_ingest_lose_nothing_and_leave_the_index_in_line() -> None:
    options = ["--memories", "3000", "--batch", "250", "--kills", "2", "--ann-threshold", "500"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *options, "--sample", "200"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,  # the report and the log on failure say more than the exit code
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    assert report["lost"] == 0 and report["lost_after_restarts"] == 0 and report["sample_missing"] == 0
    assert report["half_written"] == 0
    assert report["consistent"] is True and report["passed"] is True
    assert len(report["restart_seconds"]) == 2 and all(s > 0 for s in report["restart_seconds"])
    assert report["index_points"] == report["store_rows"] == report["stored"] == 3000
    assert report["ivf_points"] == 3000  # past the threshold: the saved IVF index holds every point
    assert report["acknowledged"] <= report["stored"]
    # What landed of an interrupted batch was never acknowledged; everything else was.
    assert report["acknowledged"] + report["landed_unacknowledged"] == report["stored"]
    assert report["unexpected_stored"] == 0 and report["sample_mismatched"] == 0
    assert [kill["mode"] for kill in report["kills"]] == ["committed", "timed"]
    assert all(kill["landed"] in ("all", "none") for kill in report["kills"])
    assert all(kill["index_consistent"] for kill in report["kills"])
    assert report["recall"]["sample"] > 0 and report["recall"]["hit_rate"] >= 0.99
    assert report["ingest_seconds"] > 0


def test_a_missing_acknowledged_coordinate_is_counted_lost() -> None:
    acknowledged = ["1.0,2.0", "2.0,2.0", "3.0,2.0"]
    stored = ["1.0,2.0", "3.0,2.0", "4.0,2.0"]  # 2 lost; 4 stored but never acknowledged
    difference = drill.sorted_difference(acknowledged, stored)
    assert (difference.common, difference.missing, difference.extra) == (2, 1, 1)
    assert difference.missing_examples == ("2.0,2.0",) and difference.extra_examples == ("4.0,2.0",)
    assert not difference.same
    assert drill.sorted_difference(stored, stored).same


def test_the_comparison_refuses_streams_that_are_not_ascending() -> None:
    with pytest.raises(ValueError, match="not strictly ascending"):
        drill.sorted_difference(["2.0", "1.0"], ["1.0", "2.0"])


def _files(data_dir: Path, memories: list[str], points: list[str]) -> None:
    """The two tables the drill reads, as the server's files have them (the columns it reads)."""
    for name, table, keys in (
        ("memories.sqlite", "memories", memories),
        ("vectors.sqlite", "points", points),
    ):
        with closing(sqlite3.connect(data_dir / name)) as db, db:
            db.execute(
                f"CREATE TABLE {table} (namespace TEXT, coord_key TEXT, UNIQUE (namespace, coord_key))"
            )
            db.executemany(f"INSERT INTO {table} VALUES (?, ?)", [("bench", key) for key in keys])
            db.execute(f"INSERT INTO {table} VALUES ('other', '9.0')")  # another namespace: not counted


def test_the_file_check_reports_a_lost_memory_and_a_point_the_store_lacks(tmp_path: Path) -> None:
    _files(tmp_path, memories=["1.0", "3.0"], points=["1.0", "3.0", "5.0"])
    check = drill.check_files(tmp_path, {"1.0", "2.0", "3.0"})
    assert (check.store_rows, check.index_points) == (2, 3)
    assert check.acknowledged_vs_store.missing == 1 and check.acknowledged_vs_store.missing_examples == (
        "2.0",
    )
    assert check.store_vs_index.extra_examples == ("5.0",)
    assert check.consistent is False


def test_the_file_check_passes_files_in_line(tmp_path: Path) -> None:
    _files(tmp_path, memories=["1.0", "2.0"], points=["1.0", "2.0"])
    check = drill.check_files(tmp_path, {"1.0", "2.0"})
    assert check.consistent is True and check.acknowledged_vs_store.missing == 0
