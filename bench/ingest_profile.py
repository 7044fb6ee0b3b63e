"""Bulk ingest of the embedded default through the service, timed and optionally profiled (issue 15).

    .venv/bin/python bench/ingest_profile.py --memories 50000 --batch 1000
    .venv/bin/python bench/ingest_profile.py --memories 10000 --profile 25   # cProfile, top 25 by own time
    .venv/bin/python bench/ingest_profile.py --after 100000 --memories 50000  # the rate past 100,000
    .venv/bin/python bench/ingest_profile.py --without text-indexes             # what a part costs

A fresh data directory (removed afterwards) and the default settings, as ``soma serve`` runs them; the
bench workload of ``soma bench`` (the same seed gives the same memories); only the ``store_many`` calls
are timed, and the wait until the vector index (written behind the store) holds every memory; with
``--after N``, N memories are stored first, untimed (the index trained, the tables grown). Prints
the rate, the CPU time of the process (all its threads) per memory, that time per thread name (from
``/proc``, where there is one: which thread a cut has to come from) and the load average as JSON; with
``--profile`` the cProfile table too.

``--without`` leaves a part of every write out, to measure what it costs the rest (the directory is
thrown away, so what it lacks is never read): ``text-indexes``, the store's two full-text indexes (their
insert triggers dropped: rows go in, no terms); ``vector-index``, the embedding and the vector index (the
service told the index is written elsewhere, as with eventing on). Either, or both (given twice).
"""

import argparse
import cProfile
import json
import os
import pstats
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from somafractalmemory.cli.bench_workload import Workload
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import DOCUMENT_FILE, build_runtime

NAMESPACE = "bench"
TASKS = Path("/proc/self/task")
TEXT_INDEX_TRIGGERS = ("memories_text_insert", "memories_words_insert")
PARTS = ("text-indexes", "vector-index")


def drop_text_indexing(data_dir: Path) -> None:
    """New rows of the store in ``data_dir`` (opened, so its schema is there) reach no full-text index."""
    db = sqlite3.connect(data_dir / DOCUMENT_FILE, isolation_level=None)
    try:
        for trigger in TEXT_INDEX_TRIGGERS:
            db.execute(f"DROP TRIGGER {trigger}")
    finally:
        db.close()


def cpu_by_thread() -> dict[str, float]:
    """Seconds of CPU time of each live thread of this process, summed by name (``MainThread``,
    ``embed_0``, ``index writer``...; threads of native libraries, such as a BLAS pool, as ``native``);
    empty where there is no ``/proc``."""
    if not TASKS.is_dir():
        return {}
    ticks = os.sysconf("SC_CLK_TCK")
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    seconds: dict[str, float] = {}
    for task in TASKS.iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # the thread ended in between
            continue
        name = names.get(int(task.name), "native")
        spent = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime: fields 14 and 15 of stat
        seconds[name] = seconds.get(name, 0.0) + spent
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--after", type=int, default=0, help="memories stored first, untimed")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions by own time")
    parser.add_argument(
        "--without", action="append", choices=PARTS, default=[], help="leave this part of a write out"
    )
    args = parser.parse_args(argv)
    workload = Workload(args.seed)
    batches = [
        workload.memories(min(args.batch, args.memories - start))
        for start in range(0, args.memories, args.batch)
    ]
    profiler = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory() as workdir:
        runtime = build_runtime(Settings(data_dir=Path(workdir), namespace=NAMESPACE), start_recovery=False)
        try:
            if "text-indexes" in args.without:
                drop_text_indexing(Path(workdir))
            if "vector-index" in args.without:
                runtime.service.index_inline = False
            for start in range(0, args.after, args.batch):
                runtime.service.store_many(NAMESPACE, workload.memories(min(args.batch, args.after - start)))
            runtime.service.index.settle()
            spent = busy = 0.0
            threads_before = cpu_by_thread()
            for items in batches:
                started, cpu = time.perf_counter(), time.process_time()
                if profiler is not None:
                    profiler.enable()
                runtime.service.store_many(NAMESPACE, items)
                if profiler is not None:
                    profiler.disable()
                spent += time.perf_counter() - started
                busy += time.process_time() - cpu
            started, cpu = time.perf_counter(), time.process_time()
            runtime.service.index.settle()  # the index writes behind the store: counted until it holds all
            spent += time.perf_counter() - started
            busy += time.process_time() - cpu
            threads = cpu_by_thread()  # before close ends the threads
            held = runtime.service.stats(NAMESPACE).total_memories
            for name, seconds in threads_before.items():
                threads[name] = threads.get(name, seconds) - seconds
        finally:
            runtime.close()
    result = {
        "memories": args.memories,
        "after": args.after,
        "held": held,  # memories in the namespace at the end: ``after`` and ``memories``
        "batch": args.batch,
        "seconds": round(spent, 3),
        "per_second": round(args.memories / spent),
        "cpu_us_per_memory": round(busy / args.memories * 1e6, 1),
        "cpu_us_per_memory_by_thread": {
            name: round(seconds / args.memories * 1e6, 1) for name, seconds in sorted(threads.items())
        },
        "load_average": round(os.getloadavg()[0], 2),
        "profiled": profiler is not None,
        "without": sorted(set(args.without)),
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
