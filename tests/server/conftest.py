"""The server tier: ``soma serve`` as its own process, driven through real sockets (often raw ones)."""

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from served import TOKEN, Served, ServeFactory, child_serving, settings_environment

from somafractalmemory.cli.server_process import ServerProcess


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFactory]:
    """``serve(max_connections=4, ...)`` starts a server with those settings; all stop after the test.
    ``token=None`` leaves the server to read (or generate) the token file of its data directory."""
    with ExitStack() as stack:

        def start(data_dir: Path | None = None, token: str | None = TOKEN, **values: object) -> Served:
            number = len(list(tmp_path.glob("serve-*.log")))
            log = stack.enter_context((tmp_path / f"serve-{number}.log").open("wb"))
            server = ServerProcess(
                data_dir or tmp_path / f"data-{number}",
                token=token,
                environment=settings_environment(values),
                log=log,
            )
            stack.enter_context(server)
            return Served(server, child_serving(server.port))

        yield start


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    """Raw connections a test opens: closed after it."""
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()
