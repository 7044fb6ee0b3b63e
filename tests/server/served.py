"""A real ``soma serve`` child process with the settings a test gives, and the OS process behind it."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from somafractalmemory.cli.server_process import ServerProcess

TOKEN = "server-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass(frozen=True)
class Served:
    server: ServerProcess
    process: psutil.Process

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def peak_rss(self) -> int:
        """The most resident memory the server has held (VmHWM), in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM in /proc/PID/status")


def settings_environment(values: dict[str, object]) -> dict[str, str]:
    """Settings as ``soma serve`` reads them; the rate limit is off unless a test sets it."""
    environment = {"SOMA_RATE_LIMIT_PER_MINUTE": "0"}
    for name, value in values.items():
        environment[f"SOMA_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return environment


def child_serving(port: int) -> psutil.Process:
    (child,) = [c for c in psutil.Process().children() if str(port) in c.cmdline()]
    return child


ServeFactory = Callable[..., Served]
