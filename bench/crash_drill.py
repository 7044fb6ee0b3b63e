"""Crash drill: a real `soma serve` SIGKILLed during bulk writes loses nothing it acknowledged, and its
vector index stays in line with its store.

    .venv/bin/python bench/crash_drill.py --memories 1000000
    .venv/bin/python bench/crash_drill.py --memories 3000 --batch 250 --kills 2 --ann-threshold 500

A fresh `soma serve` on 127.0.0.1 and a free port (a temporary data directory unless ``--data-dir``; a
generated token; rate limit off) takes ``--memories`` bench-workload memories over HTTP
(``POST /v1/namespaces/bench/bulk``, ``--batch`` a request) from one client thread that keeps posting;
every item a 200 answer lists as ok is acknowledged. At ``--kills`` seeded points of the ingest the
server is SIGKILLed while a bulk request is in flight (sent, not answered): alternately the moment its
transaction is visible in the store's file (``memories.sqlite``, read from outside), and at a seeded
fraction of a request's time after it was sent. The server is started again, timed to a ready
``/readyz`` (which waits for the index recovery), and checked: the in-flight batch is all there or
not at all (a bulk is one transaction), every acknowledged memory is in the store, the vector index's
file holds exactly the store's memories, a sample is served by GET and found by dense recall. The
ingest then goes on: the in-flight batch is sent again unless it landed.

At the end the server is stopped cleanly (it saves its IVF index) and the files are compared: the
store's ``memories`` rows of the namespace, the vector file's (``vectors.sqlite``) ``points`` rows, and
the labels of the saved IVF index with the points' labels. One JSON report goes to stdout, progress to
stderr. Exit code 1 when an acknowledged memory is lost, a batch is half written, the index is not in
line with the store or the recall sample misses; 0 otherwise.
"""

import argparse
import json
import logging
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx
import numpy as np

from somafractalmemory.adapters.ann_index import FOLDER_SUFFIX, index_file_name
from somafractalmemory.adapters.ivf_lists import IvfLists
from somafractalmemory.cli.bench_workload import Workload
from somafractalmemory.cli.server_process import ServerProcess
from somafractalmemory.core.coordinates import coordinate_key
from somafractalmemory.core.text import payload_text
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import DOCUMENT_FILE, VECTOR_FILE

NAMESPACE = "bench"
BULK_PATH = f"/v1/namespaces/{NAMESPACE}/bulk"
IVF_FOLDER = VECTOR_FILE + FOLDER_SUFFIX  # holds <file generation>/<index_file_name(namespace)>
READY_POLL_SECONDS = 0.05
COMMIT_POLL_SECONDS = 0.001
PROGRESS_SECONDS = 10.0
REQUEST_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
TOP_K = 10
SELF_SCORE = 1.0 - 1e-6  # a text's own vector: cosine 1 (to float32 rounding)
MISSES_BEFORE_IMMEDIATE = 3  # kill attempts whose request was answered first before killing at once
IMMEDIATE_FRACTION = 0.05  # of a request's time: sent, and surely not answered
EXAMPLES = 5

log = logging.getLogger("crash_drill")


# --- comparing coordinates ---------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """Two ascending streams of coordinate keys compared: ``missing`` are in the first only, ``extra``
    in the second only."""

    common: int
    missing: int
    extra: int
    missing_examples: tuple[str, ...] = ()
    extra_examples: tuple[str, ...] = ()

    @property
    def same(self) -> bool:
        return self.missing == 0 and self.extra == 0


def _ascending(keys: Iterable[str], name: str) -> Iterator[str]:
    previous: str | None = None
    for key in keys:
        if previous is not None and key <= previous:
            raise ValueError(f"{name} is not strictly ascending at {key!r} (after {previous!r})")
        previous = key
        yield key


class _Side:
    """What one side alone holds: a count and the first few."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def add(self, key: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(key)


def sorted_difference(expected: Iterable[str], found: Iterable[str]) -> Difference:
    """Compare two strictly ascending streams in one pass, holding neither in memory: what
    ``expected`` has and ``found`` lacks is missing, the converse extra. The drill's two comparisons:
    the acknowledged coordinates against the store's rows (missing: lost), the store's rows against the
    vector file's points (either: the index out of line)."""
    left, right = _ascending(expected, "expected"), _ascending(found, "found")
    common = 0
    missing, extra = _Side(), _Side()
    a, b = next(left, None), next(right, None)
    while a is not None and b is not None:
        if a < b:
            missing.add(a)
            a = next(left, None)
        elif b < a:
            extra.add(b)
            b = next(right, None)
        else:
            common += 1
            a, b = next(left, None), next(right, None)
    while a is not None:
        missing.add(a)
        a = next(left, None)
    while b is not None:
        extra.add(b)
        b = next(right, None)
    return Difference(common, missing.count, extra.count, tuple(missing.examples), tuple(extra.examples))


# --- the data directory's files, read from outside ------------------------------------------------


def read_only(path: Path) -> sqlite3.Connection:
    """The server's SQLite file, read-only (its WAL lets a reader in while it writes)."""
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    db.execute("PRAGMA query_only = 1")
    return db


def ordered_keys(db: sqlite3.Connection, table: str) -> Iterator[str]:
    """The namespace's coordinate keys, ascending: the (namespace, coord_key) unique index's order."""
    cursor = db.execute(
        f"SELECT coord_key FROM {table} WHERE namespace = ? ORDER BY coord_key",
        (NAMESPACE,),
    )
    for (key,) in cursor:
        yield str(key)


def count_rows(db: sqlite3.Connection, table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table} WHERE namespace = ?", (NAMESPACE,)).fetchone()
    return int(row[0])


@dataclass(frozen=True)
class FileCheck:
    """The store's rows and the vector file's points of the namespace, and the acknowledged set against
    the store."""

    store_rows: int
    index_points: int
    store_vs_index: Difference
    acknowledged_vs_store: Difference

    @property
    def consistent(self) -> bool:
        return self.store_rows == self.index_points and self.store_vs_index.same


def check_files(data_dir: Path, acknowledged: set[str]) -> FileCheck:
    with (
        closing(read_only(data_dir / DOCUMENT_FILE)) as store,
        closing(read_only(data_dir / VECTOR_FILE)) as vectors,
    ):
        store_rows, index_points = count_rows(store, "memories"), count_rows(vectors, "points")
        index = sorted_difference(ordered_keys(store, "memories"), ordered_keys(vectors, "points"))
        lost = sorted_difference(sorted(acknowledged), ordered_keys(store, "memories"))
    return FileCheck(store_rows, index_points, index, lost)


@dataclass(frozen=True)
class IvfCheck:
    """The saved IVF index's labels against the vector file's points' labels (after a clean stop, the
    index the server held: it saves on close). ``None`` fields: no IVF index (the namespace is at or
    below the threshold, where an exact scan answers)."""

    ivf_points: int | None
    missing: int  # points of the file the IVF index lacks
    extra: int  # labels of the IVF index no point has (or held twice)
    expected: bool  # the namespace is past the threshold: there must be one

    @property
    def consistent(self) -> bool:
        if self.ivf_points is None:
            return not self.expected
        return self.missing == 0 and self.extra == 0


def check_ivf(data_dir: Path, threshold: int) -> IvfCheck:
    with closing(read_only(data_dir / VECTOR_FILE)) as vectors:
        generation = str(vectors.execute("SELECT generation FROM ann_meta").fetchone()[0])
        labels = np.fromiter(
            (row[0] for row in vectors.execute("SELECT label FROM points WHERE namespace = ?", (NAMESPACE,))),
            dtype=np.int64,
        )
    path = data_dir / IVF_FOLDER / generation / index_file_name(NAMESPACE)
    expected = len(labels) > threshold
    if not path.exists():
        return IvfCheck(None, len(labels) if expected else 0, 0, expected)
    held = IvfLists.load(path).labels()
    unique = np.unique(held)
    missing = int(np.setdiff1d(labels, unique, assume_unique=True).size)
    extra = int(np.setdiff1d(unique, labels, assume_unique=True).size) + (len(held) - len(unique))
    return IvfCheck(len(held), missing, extra, expected)


# --- the drill ---------------------------------------------------------------------------------------


@dataclass
class Flight:
    """A bulk request the client sent: answered once its post returned (an answer or a transport error)."""

    batch: int
    keys: list[str]
    sent_at: float
    answered: bool = False
    acknowledged: bool = False  # a 200 listing every item ok


@dataclass
class Recall:
    sample: int = 0
    hit_at_1: int = 0
    hit_at_10: int = 0
    tied: int = 0  # not in the top 10, which all score as its own text does (identical texts)

    @property
    def hit_rate(self) -> float:
        return (self.hit_at_10 + self.tied) / self.sample if self.sample else 1.0

    def report(self) -> dict[str, Any]:
        share = 1.0 / self.sample if self.sample else 0.0
        return {
            "sample": self.sample,
            "hit_at_1": round(self.hit_at_1 * share, 4),
            "hit_at_10": round(self.hit_at_10 * share, 4),
            "tied": self.tied,
            "hit_rate": round(self.hit_rate, 4),
        }


@dataclass
class Kill:
    number: int
    mode: str  # committed | timed | immediate | idle
    batch: int | None = None
    acknowledged_before: int = 0
    in_flight: bool = False  # the request got no answer: the kill interrupted it
    landed: str = "-"  # all | none | partial (of the in-flight batch)
    landed_items: int = 0
    restart_seconds: float = 0.0
    stored: int = 0
    store_rows: int = 0
    index_points: int = 0
    index_consistent: bool = False
    lost: int = 0
    sample_missing: int = 0
    recall_hit_rate: float = 0.0


@dataclass
class Sampled:
    key: str
    payload: dict[str, Any]
    query: str


class ServerLog:
    """The server's output, kept across restarts."""

    def __init__(self, path: Path) -> None:
        self.file: IO[bytes] = path.open("ab")

    def __enter__(self) -> "ServerLog":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.file.close()


class DrillFailed(RuntimeError):
    pass


class Drill:
    def __init__(self, args: argparse.Namespace, data_dir: Path, server_log: ServerLog) -> None:
        self.args = args
        self.memories: int = args.memories
        self.batch_size: int = args.batch
        self.batches = -(-self.memories // self.batch_size)
        self.data_dir = data_dir
        self.token = os.urandom(24).hex()
        environment = {"SOMA_RATE_LIMIT_PER_MINUTE": "0"}
        if args.ann_threshold is not None:
            environment["SOMA_ANN_THRESHOLD"] = str(args.ann_threshold)
        self.server = ServerProcess(
            data_dir,
            token=self.token,
            environment=environment,
            log=server_log.file,
            start_timeout=args.ready_timeout,
        )
        self.headers = {"Authorization": f"Bearer {self.token}"}
        rng = random.Random(args.seed)
        self.rng = rng
        self.sample_indices = set(rng.sample(range(1, self.memories + 1), min(args.sample, self.memories)))
        self.sampled: dict[int, Sampled] = {}
        self.acknowledged: set[str] = set()
        self.landed_unacknowledged: set[str] = set()
        self.half_written = 0
        self.kills: list[Kill] = []
        # shared with the client thread
        self.state = threading.Condition()
        self.flight: Flight | None = None
        self.running = threading.Event()
        self.running.set()
        self.resend = False
        self.kill_pending = False
        self.epoch = 0  # server starts after the first
        self.paused_seconds = 0.0  # of the ingest: restarts and their checks
        self.done = False
        self.failure: BaseException | None = None
        self.latency = 0.1  # seconds a bulk takes (moving average)
        self.workload = Workload(args.seed)
        self.generated = 0

    # --- the client thread ---------------------------------------------------------------------

    def _generate(self, batch: int) -> list[dict[str, Any]]:
        assert self.generated == batch * self.batch_size
        items = []
        for _ in range(min(self.batch_size, self.memories - self.generated)):
            memory = self.workload.memory()
            self.generated += 1
            key = coordinate_key(memory.coordinate)
            items.append({"coord": key, "payload": memory.payload, "type": memory.memory_type.value})
            if self.generated in self.sample_indices:
                with self.state:  # the controller reads the sample while the client may generate
                    self.sampled[self.generated] = Sampled(key, memory.payload, payload_text(memory.payload))
        return items

    def _client(self) -> None:
        try:
            self._ingest()
        except BaseException as error:
            self.failure = error
        finally:
            with self.state:
                self.done = True
                self.state.notify_all()

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers=self.headers, timeout=REQUEST_TIMEOUT)

    def _ingest(self) -> None:
        started = last_progress = time.perf_counter()
        http, epoch = self._http(), self.epoch
        batch, items = 0, self._generate(0)
        try:
            while batch < self.batches:
                self.running.wait()
                if epoch != self.epoch:  # the server was restarted: no connection of the old one is kept
                    http.close()
                    http, epoch = self._http(), self.epoch
                flight = Flight(batch, [item["coord"] for item in items], time.perf_counter())
                with self.state:
                    self.flight = flight
                    self.state.notify_all()
                answer: httpx.Response | None = None
                with suppress(httpx.TransportError):  # the kill's: the controller knows
                    answer = http.post(BULK_PATH, json={"items": items})
                with self.state:
                    flight.answered = True
                    interrupted = self.kill_pending
                    if answer is not None and answer.status_code == 200:
                        self._acknowledge(flight, answer.json())
                    self.state.notify_all()
                if answer is None or answer.status_code != 200:
                    if not interrupted:
                        detail = (
                            "no answer" if answer is None else f"{answer.status_code} {answer.text[:500]}"
                        )
                        raise DrillFailed(f"bulk of batch {batch} failed with no kill: {detail}")
                    self.running.wait()  # the controller restarts the server and decides
                    if self.resend:
                        continue
                else:
                    self.latency = 0.8 * self.latency + 0.2 * (time.perf_counter() - flight.sent_at)
                batch += 1
                if batch < self.batches:
                    items = self._generate(batch)
                now = time.perf_counter()
                if now - last_progress >= PROGRESS_SECONDS:
                    last_progress = now
                    log.info(
                        "ingested %s of %s acknowledged (%.0f /s)",
                        f"{len(self.acknowledged):,}",
                        f"{self.memories:,}",
                        len(self.acknowledged) / (now - started),
                    )
        finally:
            http.close()

    def _acknowledge(self, flight: Flight, body: dict[str, Any]) -> None:
        results = body["results"]
        if body["failed"] or len(results) != len(flight.keys):
            raise DrillFailed(f"batch {flight.batch}: {body['failed']} items refused: {results[:3]}")
        for result, key in zip(results, flight.keys, strict=True):
            if not result["ok"] or coordinate_key(result["coord"]) != key:
                raise DrillFailed(f"batch {flight.batch}: unexpected item result {result} for {key}")
            self.acknowledged.add(key)
        flight.acknowledged = True

    # --- the controller ------------------------------------------------------------------------

    def _check_client(self) -> None:
        if self.failure is not None:
            raise DrillFailed(f"the client thread failed: {self.failure!r}") from self.failure

    def _plan(self) -> list[int]:
        """The batches to kill in: at seeded fractions of the ingest, ascending, one batch apart."""
        fractions = sorted(self.rng.uniform(0.1, 0.9) for _ in range(self.args.kills))
        plan: list[int] = []
        for fraction in fractions:
            target = max(1, int(fraction * self.batches))
            plan.append(max(target, plan[-1] + 1) if plan else target)
        return plan

    def _start(self) -> float:
        """Start the server; the seconds from launch to a ready /readyz."""
        started = time.perf_counter()
        self.server.start()
        deadline = started + self.args.ready_timeout
        with httpx.Client(base_url=self.server.url, timeout=10) as http:
            while True:
                try:
                    if http.get("/readyz").status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                if time.perf_counter() > deadline:
                    raise DrillFailed(f"the server was not ready in {self.args.ready_timeout:g} s")
                time.sleep(READY_POLL_SECONDS)

    def _wait_for_flight(self, target: int) -> Flight | None:
        """The first unanswered request of batch ``target`` or later; None once the client is done."""
        with self.state:
            while True:
                self._check_client()
                flight = self.flight
                if flight is not None and flight.batch >= target and not flight.answered:
                    return flight
                if self.done:
                    return None
                self.state.wait(1.0)

    def _committed(self, db: sqlite3.Connection, flight: Flight) -> bool:
        """Wait until the flight's transaction is visible in the store's file (True), or its answer
        came first (False)."""
        query = "SELECT 1 FROM memories WHERE namespace = ? AND coord_key = ?"
        while not flight.answered:
            if db.execute(query, (NAMESPACE, flight.keys[0])).fetchone() is not None:
                return True
            time.sleep(COMMIT_POLL_SECONDS)
        return False

    def _kill_now(self, flight: Flight | None) -> bool:
        """SIGKILL the server if ``flight`` is still unanswered (or, None, whatever it is doing)."""
        with self.state:
            if flight is not None and flight.answered:
                return False
            self.running.clear()  # the client posts nothing more until the controller says
            self.kill_pending = True
            os.kill(self.server.pid, signal.SIGKILL)
            return True

    def _kill(self, number: int, target: int) -> tuple[Kill, Flight | None]:
        mode = "committed" if number % 2 == 1 else "timed"
        misses = 0
        with closing(read_only(self.data_dir / DOCUMENT_FILE)) as db:
            while True:
                flight = self._wait_for_flight(target)
                if flight is None:  # the ingest ended first: kill the idle server
                    kill = Kill(number, "idle", acknowledged_before=len(self.acknowledged))
                    self._kill_now(None)
                    break
                kill = Kill(number, mode, flight.batch, len(self.acknowledged))
                if mode == "committed":
                    ready = self._committed(db, flight)
                else:
                    fraction = IMMEDIATE_FRACTION if mode == "immediate" else self.rng.uniform(0.05, 0.9)
                    wake = flight.sent_at + fraction * self.latency
                    while not flight.answered and time.perf_counter() < wake:
                        time.sleep(COMMIT_POLL_SECONDS)
                    ready = not flight.answered
                if ready and self._kill_now(flight):
                    break
                misses += 1
                target = flight.batch + 1
                if misses >= MISSES_BEFORE_IMMEDIATE:
                    mode = "immediate"
                elif mode != "committed":  # a commit seen too late is looked for in the next request
                    mode = "timed"
        self.server.stop()  # reaps the killed process
        if flight is not None:
            with self.state:
                self.state.wait_for(lambda: flight.answered or self.done)
        return kill, flight

    def _present(self, http: httpx.Client, keys: list[str]) -> list[str]:
        """Those of ``keys`` the API serves."""
        found = []
        for key in keys:
            answer = http.get(f"/v1/namespaces/{NAMESPACE}/memories/{key}")
            if answer.status_code == 200:
                found.append(key)
            elif answer.status_code != 404:
                raise DrillFailed(f"GET {key}: {answer.status_code} {answer.text[:300]}")
        return found

    def _stored(self, http: httpx.Client) -> int:
        answer = http.get(f"/v1/namespaces/{NAMESPACE}/stats")
        answer.raise_for_status()
        return int(answer.json()["total_memories"])

    def _sample(self, limit: int) -> list[Sampled]:
        """Up to ``limit`` of the seeded sample that are acknowledged, in memory order."""
        with self.state:
            chosen = [s for _, s in sorted(self.sampled.items()) if s.key in self.acknowledged]
        return chosen[:limit]

    def _check_sample(self, http: httpx.Client, sample: list[Sampled]) -> tuple[set[str], int]:
        """GET each: (the keys answered 404, how many came back with another payload)."""
        missing: set[str] = set()
        mismatched = 0
        for memory in sample:
            answer = http.get(f"/v1/namespaces/{NAMESPACE}/memories/{memory.key}")
            if answer.status_code == 404:
                missing.add(memory.key)
            elif answer.status_code != 200:
                raise DrillFailed(f"GET {memory.key}: {answer.status_code} {answer.text[:300]}")
            elif answer.json()["payload"] != memory.payload:
                mismatched += 1
        return missing, mismatched

    def _recall(self, http: httpx.Client, sample: list[Sampled]) -> Recall:
        """Dense recall of each memory's own text (what the service embedded: its payload's strings)."""
        tally = Recall()
        for memory in sample:
            body = {"query": memory.query, "top_k": TOP_K, "ranking": "dense"}
            answer = http.post(f"/v1/namespaces/{NAMESPACE}/recall", json=body)
            if answer.status_code != 200 or answer.json()["ranking"] != "dense":
                raise DrillFailed(f"dense recall: {answer.status_code} {answer.text[:300]}")
            results = answer.json()["results"]
            keys = [coordinate_key(hit["memory"]["coord"]) for hit in results]
            tally.sample += 1
            if keys[:1] == [memory.key]:
                tally.hit_at_1 += 1
            if memory.key in keys:
                tally.hit_at_10 += 1
            elif len(results) == TOP_K and min(hit["score"] for hit in results) >= SELF_SCORE:
                tally.tied += 1
        return tally

    def _after_restart(self, kill: Kill, flight: Flight | None) -> None:
        with self._http() as http:
            self.resend = False
            if flight is not None:
                kill.in_flight = not flight.acknowledged
                present = self._present(http, flight.keys)
                kill.landed_items = len(present)
                kill.landed = (
                    "all" if len(present) == len(flight.keys) else "none" if not present else "partial"
                )
                if kill.landed == "partial":
                    self.half_written += 1
                if kill.in_flight:
                    if kill.landed == "all":
                        self.landed_unacknowledged.update(flight.keys)
                    else:
                        self.resend = True  # a partial batch is sent whole again after it is counted
            kill.stored = self._stored(http)
            missing, _ = self._check_sample(http, self._sample(self.args.sample))
            kill.sample_missing = len(missing)
            kill.recall_hit_rate = self._recall(http, self._sample(self.args.restart_recall)).hit_rate
        files = check_files(self.data_dir, self.acknowledged)
        kill.store_rows, kill.index_points = files.store_rows, files.index_points
        kill.index_consistent = files.consistent and kill.stored == files.store_rows
        kill.lost = files.acknowledged_vs_store.missing

    def run(self) -> dict[str, Any]:
        plan = self._plan()
        log.info(
            "crash drill: %s memories in %d batches of %d, kills before batches %s; data in %s",
            f"{self.memories:,}",
            self.batches,
            self.batch_size,
            plan,
            self.data_dir,
        )
        first_start = self._start()
        log.info("server ready in %.2f s at %s", first_start, self.server.url)
        client = threading.Thread(target=self._client, name="bulk client", daemon=True)
        started = time.perf_counter()
        client.start()
        try:
            for number, target in enumerate(plan, 1):
                kill, flight = self._kill(number, target)
                paused_at = time.perf_counter()
                where = "idle" if flight is None else f"batch {flight.batch}"
                log.info(
                    "kill %d (%s) at %s, %s acknowledged: SIGKILL sent",
                    number,
                    kill.mode,
                    where,
                    f"{kill.acknowledged_before:,}",
                )
                kill.restart_seconds = self._start()
                self._after_restart(kill, flight)
                self.kills.append(kill)
                log.info(
                    "restart %d ready in %.2f s; in flight: %s, landed: %s (%d items); stored %s, "
                    "index points %s, lost %d, index consistent %s, recall %.3f",
                    number,
                    kill.restart_seconds,
                    kill.in_flight,
                    kill.landed,
                    kill.landed_items,
                    f"{kill.stored:,}",
                    f"{kill.index_points:,}",
                    kill.lost,
                    kill.index_consistent,
                    kill.recall_hit_rate,
                )
                self.paused_seconds += time.perf_counter() - paused_at
                with self.state:
                    self.kill_pending = False
                    self.epoch += 1
                    self.running.set()
            client.join()
            self._check_client()
            ingest_seconds = time.perf_counter() - started
            log.info("ingest done in %.1f s: %s acknowledged", ingest_seconds, f"{len(self.acknowledged):,}")
            return self._final(ingest_seconds, first_start)
        finally:
            self.server.stop()

    def _final(self, ingest_seconds: float, first_start: float) -> dict[str, Any]:
        with self._http() as http:
            stored = self._stored(http)
            sample = self._sample(self.args.sample)
            sample_missing, sample_mismatched = self._check_sample(http, sample)
            log.info("checked %d acknowledged memories by GET; dense recall of their texts", len(sample))
            recall = self._recall(http, sample)
        self.server.stop()  # SIGTERM: the server saves its IVF index
        log.info("server stopped cleanly; comparing the files")
        files = check_files(self.data_dir, self.acknowledged)
        threshold = (
            self.args.ann_threshold if self.args.ann_threshold is not None else Settings().ann_threshold
        )
        ivf = check_ivf(self.data_dir, threshold)
        unexpected = files.acknowledged_vs_store.extra - len(self.landed_unacknowledged)
        lost = files.acknowledged_vs_store.missing
        consistent = (
            files.consistent
            and ivf.consistent
            and stored == files.store_rows
            and unexpected == 0
            and all(kill.index_consistent for kill in self.kills)
        )
        lowest = min([recall.hit_rate, *(kill.recall_hit_rate for kill in self.kills)])
        recall_ok = lowest >= self.args.min_hit_rate  # at the end and after every restart
        mid_run_lost = sum(kill.lost + kill.sample_missing for kill in self.kills)
        passed = (
            lost == 0
            and not sample_missing
            and sample_mismatched == 0
            and mid_run_lost == 0
            and self.half_written == 0
            and consistent
            and recall_ok
        )
        return {
            "memories": self.memories,
            "batch": self.batch_size,
            "seed": self.args.seed,
            "ann_threshold": threshold,
            "acknowledged": len(self.acknowledged),
            "stored": stored,
            "lost": lost,
            "lost_examples": list(files.acknowledged_vs_store.missing_examples),
            "lost_after_restarts": mid_run_lost,
            "sample_checked": len(sample),
            "sample_missing": len(sample_missing),
            "half_written": self.half_written,
            "landed_unacknowledged": len(self.landed_unacknowledged),
            "unexpected_stored": unexpected,
            "sample_mismatched": sample_mismatched,
            "store_rows": files.store_rows,
            "index_points": files.index_points,
            "ivf_points": ivf.ivf_points,
            "store_vs_index": asdict(files.store_vs_index),
            "ivf_vs_index": {"missing": ivf.missing, "extra": ivf.extra},
            "consistent": consistent,
            "restart_seconds": [round(kill.restart_seconds, 3) for kill in self.kills],
            "first_start_seconds": round(first_start, 3),
            "kills": [asdict(kill) for kill in self.kills],
            "recall": recall.report(),
            "recall_ok": recall_ok,
            "ingest_seconds": round(ingest_seconds, 3),
            "paused_seconds": round(self.paused_seconds, 3),
            "ingest_per_second": round(self.memories / max(ingest_seconds - self.paused_seconds, 1e-9)),
            "load_average": round(os.getloadavg()[0], 2),
            "passed": passed,
        }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memories", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000, help="memories per bulk request")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs during the ingest")
    parser.add_argument("--seed", type=int, default=7, help="the workload's and the kill points'")
    parser.add_argument("--data-dir", type=Path, help="an empty or new directory (default: a temporary one)")
    parser.add_argument("--ann-threshold", type=int, help="SOMA_ANN_THRESHOLD for the server")
    parser.add_argument("--sample", type=int, default=1_000, help="memories checked by GET and recall")
    parser.add_argument(
        "--restart-recall", type=int, default=200, help="of the sample, recalled after each restart"
    )
    parser.add_argument(
        "--min-hit-rate", type=float, default=0.99, help="of the recall sample at the end, to pass"
    )
    parser.add_argument("--ready-timeout", type=float, default=900.0, help="seconds a start may take")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and the log")
    args = parser.parse_args(argv)
    if args.memories < 1 or args.batch < 1 or args.kills < 0 or args.sample < 0:
        parser.error("--memories and --batch must be positive, --kills and --sample not negative")
    if -(-args.memories // args.batch) <= args.kills + 1:
        parser.error("the ingest needs more batches than --kills + 1")
    return args


def embedded_default(batch: int) -> None:
    """The drill reads the embedded default's files: refuse an environment that configures others (the
    server inherits this process's environment), or a bulk budget below ``--batch``."""
    settings = Settings()
    if settings.postgres_url or settings.qdrant_url or settings.qdrant_path or settings.eventing_enabled:
        raise SystemExit("crash_drill: unset POSTGRES_URL, QDRANT_URL, QDRANT_PATH and EVENTING_ENABLED")
    if settings.max_bulk_items < batch:
        raise SystemExit(
            f"crash_drill: --batch {batch} is over SOMA_MAX_BULK_ITEMS ({settings.max_bulk_items})"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    embedded_default(args.batch)
    workdir = Path(tempfile.mkdtemp(prefix="soma-crash-drill-"))
    data_dir: Path = args.data_dir or workdir / "data"
    if data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit(f"crash_drill: {data_dir} is not empty")
    passed = False
    try:
        with ServerLog(workdir / "serve.log") as server_log:
            report = Drill(args, data_dir, server_log).run()
        passed = bool(report["passed"])
        sys.stdout.write(json.dumps(report) + "\n")
    finally:
        if passed and not args.keep:
            shutil.rmtree(workdir)
        else:
            log.info("kept %s (the server's log is serve.log)", workdir)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
