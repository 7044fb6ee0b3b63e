"""A ``soma serve`` child process on 127.0.0.1 and a free port: for the benchmark (and the tests)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from somafractalmemory.cli.errors import CommandFailed

LOOPBACK = "127.0.0.1"
POLL_SECONDS = 0.1
STOP_SECONDS = 10.0
# Variables of the parent that would change which token the child uses.
TOKEN_VARIABLES = ("SOMA_API_TOKEN", "SOMA_API_TOKEN_FILE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """``with ServerProcess(data_dir, token="...") as server:`` serves at ``server.url`` until the block ends.

    ``token=None`` leaves the server to generate its own (as on a user's first start); ``log`` receives
    the server's stdout and stderr.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        token: str | None,
        port: int | None = None,
        environment: Mapping[str, str] | None = None,
        log: IO[bytes] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = data_dir
        self.token = token
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._environment = dict(environment or {})
        self._log = log
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def _child_environment(self) -> dict[str, str]:
        child = {name: value for name, value in os.environ.items() if name not in TOKEN_VARIABLES}
        if self.token is not None:
            child["SOMA_API_TOKEN"] = self.token
        child.update(self._environment)
        return child

    def start(self) -> None:
        command = [sys.executable, "-m", "somafractalmemory.cli", "serve"]
        command += ["--host", LOOPBACK, "--port", str(self.port), "--data-dir", str(self.data_dir)]
        output = self._log if self._log is not None else subprocess.DEVNULL
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, env=self._child_environment(), stdout=output, stderr=output
        )
        self._wait_until_healthy()

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        with httpx.Client(base_url=self.url, timeout=POLL_SECONDS * 10) as client:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    raise CommandFailed(
                        f"`soma serve` on port {self.port} exited before it answered /healthz"
                    )
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                time.sleep(POLL_SECONDS)
        self.stop()
        raise CommandFailed(
            f"`soma serve` on port {self.port} did not answer /healthz in {self._start_timeout:g} s"
        )

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def stop(self) -> None:
        """Stop gracefully (SIGTERM: the server closes its stores), then kill if it hangs."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> "ServerProcess":
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
