"""bench/ingest_profile.py: store_many of the bench workload timed (and profiled) in a fresh directory."""

import importlib.util
import itertools
import json
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from somafractalmemory.core.service import NewMemory
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import DOCUMENT_FILE, build_runtime

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
        "after",
        "held",
        "batch",
        "seconds",
        "per_second",
        "cpu_us_per_memory",
        "cpu_us_per_memory_by_thread",
        "load_average",
        "profiled",
        "without",
    }
    assert (report["memories"], report["after"], report["held"]) == (250, 0, 250)
    assert (report["batch"], report["profiled"]) == (100, False)
    assert report["seconds"] > 0 and report["cpu_us_per_memory"] > 0
    assert isinstance(report["per_second"], int) and report["per_second"] > 0
    threads = report["cpu_us_per_memory_by_thread"]
    assert {"MainThread", "index writer", "embed_0"} <= set(threads)  # 250 in batches of 100: threaded
    assert all(spent >= 0 for spent in threads.values())


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("ingest_profile", REPO / "bench" / "ingest_profile.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="threads' CPU time is read from /proc")
def test_cpu_by_thread_counts_each_threads_own_time_under_its_name() -> None:
    script = load_script()
    before = script.cpu_by_thread()
    measured: dict[str, float] = {}

    def burn_then_measure() -> None:
        started = time.thread_time()
        while time.thread_time() - started < 0.3:
            pass
        measured.update(script.cpu_by_thread())

    thread = threading.Thread(target=burn_then_measure, name="burner")
    thread.start()
    thread.join()
    assert "burner" not in before and 0.25 <= measured["burner"] <= 0.5
    assert measured["MainThread"] < before["MainThread"] + 0.25  # the main thread only waited


def test_with_profile_it_adds_the_top_functions_by_own_time() -> None:
    out = run("--memories", "100", "--batch", "50", "--profile", "5")
    first, rest = out.split("\n", 1)
    assert json.loads(first)["profiled"] is True
    assert "Ordered by: internal time" in rest
    assert "due to restriction <5>" in rest


def test_after_stores_memories_first_and_times_only_the_rest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_script()
    clock = itertools.count()  # each reading a second after the one before
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(clock)))
    assert script.main(["--after", "150", "--memories", "100", "--batch", "50"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["memories"], report["after"], report["held"]) == (100, 150, 250)
    # timed: the two batches of the 100, and the wait for the index; none of the 150 stored before
    assert (report["seconds"], report["per_second"]) == (3.0, 33)


def test_without_text_indexes_new_rows_reach_neither_full_text_index(tmp_path: Path) -> None:
    script = load_script()
    runtime = build_runtime(Settings(data_dir=tmp_path, namespace="n"), start_recovery=False)
    try:
        runtime.service.store_memory("n", NewMemory((1.0, 2.0, 3.0), {"text": "aardvark before"}))
        script.drop_text_indexing(tmp_path)
        runtime.service.store_memory("n", NewMemory((4.0, 5.0, 6.0), {"text": "zebra after"}))
        assert runtime.service.stats("n").total_memories == 2  # the rows go in
    finally:
        runtime.close()
    with closing(sqlite3.connect(tmp_path / DOCUMENT_FILE)) as db:
        # the trigram index answers a LIKE from its terms alone (no phrase queries at detail='none')
        for query, word in [
            ("SELECT count(*) FROM memory_text WHERE text LIKE ?", "%{}%"),
            ("SELECT count(*) FROM memory_words WHERE memory_words MATCH ?", "{}"),
        ]:
            assert db.execute(query, (word.format("aardvark"),)).fetchone() == (1,)  # before the drop
            assert db.execute(query, (word.format("zebra"),)).fetchone() == (0,)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="threads' CPU time is read from /proc")
def test_without_the_vector_index_nothing_is_embedded() -> None:
    report = json.loads(run("--memories", "250", "--batch", "100", "--without", "vector-index"))
    assert report["without"] == ["vector-index"]
    assert report["held"] == 250
    assert "embed_0" not in report["cpu_us_per_memory_by_thread"]  # the embedding thread never started


def test_without_each_part_is_reported_and_the_text_indexes_dropped_in_the_bench_directory(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_script()
    dropped: list[Path] = []
    drop = script.drop_text_indexing
    monkeypatch.setattr(script, "drop_text_indexing", lambda path: (dropped.append(path), drop(path)))
    options = ["--memories", "100", "--batch", "50", "--without", "text-indexes", "--without", "vector-index"]
    assert script.main(options) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["without"] == ["text-indexes", "vector-index"]
    assert report["held"] == 100
    assert len(dropped) == 1 and not dropped[0].exists()  # the bench's own directory, removed since
    assert json.loads(run("--memories", "50", "--batch", "50"))["without"] == []
