"""The CLI tests: ``soma`` in-process on a temporary data directory, and against a real ``soma serve``."""

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import TOKEN, Soma

from somafractalmemory.cli.server_process import ServerProcess

SOMA_VARIABLES = (
    "SOMA_API_TOKEN",
    "SOMA_API_TOKEN_FILE",
    "SOMA_URL",
    "SOMA_DATA_DIR",
    "SOMA_NAMESPACE",
    "SOMA_LOG_FORMAT",
    "SOMA_LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No setting of the developer's environment leaks in; the root logger is restored afterwards
    (``soma`` configures logging, which would otherwise remove pytest's own handlers)."""
    for name in SOMA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One `soma serve` for the session, with a known token; each test uses its own namespace."""
    data_dir = tmp_path_factory.mktemp("served")
    with (
        (data_dir.parent / "served.log").open("wb") as log,
        ServerProcess(
            data_dir, token=TOKEN, environment={"SOMA_RATE_LIMIT_PER_MINUTE": "0"}, log=log
        ) as server,
    ):
        yield server


@pytest.fixture(params=["embedded", "http"])
def soma(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Soma:
    """The CLI on a fresh namespace: in the embedded store of a temporary directory, or over --url."""
    where = ["--namespace", f"ns-{uuid.uuid4().hex[:12]}"]
    if request.param == "http":
        server: ServerProcess = request.getfixturevalue("served")
        monkeypatch.setenv("SOMA_API_TOKEN", TOKEN)
        where += ["--url", server.url]
    else:
        where += ["--data-dir", str(tmp_path / "data")]
    return Soma(request.param, where, capsys)
