"""``soma`` commands as child processes with the environment a deployment would give them."""

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from support.servers import wait_until

# Settings that the reference service names without the SOMA_ prefix.
UNPREFIXED = {
    "postgres_url",
    "redis_url",
    "qdrant_url",
    "qdrant_path",
    "kafka_bootstrap_servers",
    "eventing_enabled",
}


def environment(values: dict[str, Any]) -> dict[str, str]:
    """Settings values as the environment variables ``Settings`` reads."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SOMA_")}
    for name, value in values.items():
        variable = name.upper() if name in UNPREFIXED else f"SOMA_{name.upper()}"
        env[variable] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


class SomaProcess:
    def __init__(self, arguments: list[str], values: dict[str, Any], log_path: Path) -> None:
        self._command = [sys.executable, "-m", "somafractalmemory.cli", *arguments]
        self._env = environment(values)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self._command, env=self._env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last commit."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        return self._process.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def wait_http_ok(url: str, timeout: float, process: SomaProcess) -> None:
    def answers() -> bool:
        if not process.running:
            raise RuntimeError(f"process exited; log:\n{process.log()}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout, url)
