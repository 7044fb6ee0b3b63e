"""Throughput and peak memory of `soma backup` and `soma restore` on the embedded default.

    python -m somafractalmemory.cli.bench_backup --memories 100000

Fills a temporary data directory through the service (in a process of its own; one memory in
REWRITTEN is written twice, so it keeps a version), then runs `soma backup`
and `soma restore` (into a fresh data directory) each as its own process, as an operator's Job would: the
wall time gives memories per second, the process's peak resident memory (its maximum RSS) the memory
bound. Prints one JSON object.
"""

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from somafractalmemory.cli.options import positive_int
from somafractalmemory.cli.output import note, write_json
from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.service import NewMemory
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime

WORDS = ("river", "lamp", "orbit", "cedar", "signal", "harvest", "copper", "meadow", "echo", "quartz")
FILL_BATCH = 1000
REWRITTEN = 4  # every 4th memory is written again: it keeps one version
KIB = 1024
MIB = 1024 * 1024


def bench_memory(index: int, draft: bool = False) -> NewMemory:
    text = " ".join(WORDS[(index * k) % len(WORDS)] for k in range(1, 12)) + f" #{index}"
    return NewMemory(
        (float(index), float(index % 97), float(index % 13)),
        {"text": ("draft: " if draft else "") + text, "importance": (index % 10) / 10},
        MemoryType.EPISODIC,
    )


def versions_of(memories: int) -> int:
    return len(range(0, memories, REWRITTEN))


def fill(data_dir: Path, memories: int, namespaces: int) -> None:
    runtime = build_runtime(Settings(data_dir=data_dir))
    try:
        for start in range(0, memories, FILL_BATCH):
            indexes = range(start, min(start + FILL_BATCH, memories))
            namespace = f"bench-{start // FILL_BATCH % namespaces}"
            runtime.service.store_many(namespace, [bench_memory(i, draft=True) for i in indexes[::REWRITTEN]])
            runtime.service.store_many(namespace, [bench_memory(i) for i in indexes])
    finally:
        runtime.close()


def measured(arguments: list[str], memories: int) -> dict[str, Any]:
    """One `soma` command as a child process: its seconds, memories a second and peak RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603  this interpreter, arguments built here
        [sys.executable, "-m", "somafractalmemory.cli", *arguments, "--quiet"],
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"soma {arguments[0]} exited with status {child.returncode}")
    return {
        "seconds": round(seconds, 2),
        "memories_per_second": round(memories / seconds),
        "peak_rss_mib": round(usage.ru_maxrss * KIB / MIB, 1),  # ru_maxrss is in KiB on Linux
    }


def run(memories: int, namespaces: int, workdir: Path) -> dict[str, Any]:
    source, dest, target = workdir / "source", workdir / "backups", workdir / "target"
    started = time.perf_counter()
    # In a process of its own: a child of a parent holding 100k memories would count the parent's
    # pages in its peak RSS (fork copies the page tables before exec).
    filler = multiprocessing.get_context("spawn").Process(target=fill, args=(source, memories, namespaces))
    filler.start()
    filler.join()
    if filler.exitcode != 0:
        raise SystemExit(f"filling the data directory failed with status {filler.exitcode}")
    note(f"filled {memories} memories in {time.perf_counter() - started:.1f}s")
    backup = measured(["backup", "--data-dir", str(source), "--to", str(dest)], memories)
    (folder,) = dest.iterdir()
    backup["bytes"] = sum(path.stat().st_size for path in folder.iterdir())
    restore = measured(["restore", "--data-dir", str(target), "--from", str(dest)], memories)
    return {
        "memories": memories,
        "versions": versions_of(memories),
        "namespaces": namespaces,
        "backup": backup,
        "restore": restore,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m somafractalmemory.cli.bench_backup",
        description="Measure soma backup and soma restore on the embedded default.",
    )
    parser.add_argument("--memories", type=positive_int, default=100_000)
    parser.add_argument("--namespaces", type=positive_int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="soma-bench-backup-") as workdir:
        write_json(run(args.memories, args.namespaces, Path(workdir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
