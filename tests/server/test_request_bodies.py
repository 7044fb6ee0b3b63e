"""Findings 7 and 8 of issue 9, against a real `soma serve`: the body of a request is read only after its
token is checked, within a limit on every path, and an import is limited in total and line by line."""

import socket
from collections.abc import Iterator

import httpx
import pytest
from raw_http import connect, read_response, request_head, send_until_answered
from served import AUTH, ServeFactory

MIB = 1024 * 1024
STALLED_CLIENTS = 40
ALMOST_THE_LIMIT = 5 * MIB - 100 * 1024  # under the default 5 MiB body limit


@pytest.mark.parametrize(
    ("method", "path", "authorization", "status"),
    [
        ("POST", "/store", None, 401),
        ("PUT", "/v1/namespaces/x/memories/import", "Bearer wrong", 403),  # a coordinate named 'import'
        ("POST", "/v1/namespaces/x/import", "Bearer wrong", 403),
    ],
)
def test_a_refused_token_is_answered_before_any_body_is_sent(
    serve: ServeFactory, sockets: list[socket.socket], method: str, path: str, authorization: str, status: int
) -> None:
    served = serve()
    headers = {"Content-Type": "application/json", "Content-Length": str(200 * MIB)}
    if authorization:
        headers["Authorization"] = authorization
    sockets.append(sock := connect(served.url))
    sock.sendall(request_head(method, path, headers))
    response = read_response(sock)
    assert response.status == status
    assert response.headers["connection"] == "close"


def test_stalled_unauthenticated_bodies_do_not_grow_the_server(
    serve: ServeFactory, sockets: list[socket.socket]
) -> None:
    """Forty clients each send most of a 5 MiB body with no token, then stall (the finding: 100 of them
    grew the server by 491 MiB). Each is answered 401 at its head; the server never holds their bodies."""
    served = serve()
    before = served.peak_rss()
    head = request_head("POST", "/store", {"Content-Type": "application/json", "Content-Length": "5000000"})
    for _ in range(STALLED_CLIENTS):
        sockets.append(sock := connect(served.url))
        sock.sendall(head)
        pieces = (b"x" * 65536 for _ in range(ALMOST_THE_LIMIT // 65536))
        assert send_until_answered(sock, pieces), "the server waited for the body"
        assert read_response(sock).status == 401
    assert served.peak_rss() - before < 32 * MIB


def _memory_lines(count: int, start: int = 0) -> Iterator[bytes]:
    for number in range(start, start + count):
        yield b'{"kind": "memory", "coord": [%d, 1], "payload": {"text": "%s"}}\n' % (number, b"m" * 200)


def test_an_import_past_its_total_limit_is_refused_413_and_stores_nothing(serve: ServeFactory) -> None:
    served = serve(max_import_bytes=MIB)
    with httpx.Client(base_url=served.url, headers=AUTH, timeout=60) as client:
        small = client.post("/v1/namespaces/n/import", content=_memory_lines(10))
        assert small.json() == {"memories": 10, "links": 0, "versions": 0, "errors": []}
        refused = client.post("/v1/namespaces/n/import", content=_memory_lines(8000, start=10))  # ~2 MiB
        assert refused.status_code == 413
        assert refused.json()["error"]["message"] == f"request body is larger than {MIB} bytes"
        assert client.get("/v1/namespaces/n/stats").json()["total_memories"] == 10


def test_a_long_import_line_is_refused_413_while_it_arrives(serve: ServeFactory) -> None:
    """A 64 MiB line among good ones (the finding: a 300 MiB line was read whole before the length check)."""
    served = serve(max_body_bytes=65536)
    before = served.peak_rss()
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield from _memory_lines(1)
        yield b'{"kind": "memory", "coord": [7, 7], "payload": {"text": "'
        for _ in range(64):
            sent += 1
            yield b"z" * MIB
        yield b'"}}\n'
        yield from _memory_lines(1, start=1)

    with httpx.Client(base_url=served.url, headers=AUTH, timeout=120) as client:
        refused = client.post("/v1/namespaces/n/import", content=body())
        assert refused.status_code == 413
        assert refused.json()["error"]["message"] == "line 2 is longer than 65536 bytes"
        assert client.get("/v1/namespaces/n/stats").json()["total_memories"] == 0
    assert sent < 64, "the server read the whole line before refusing it"
    assert served.peak_rss() - before < 32 * MIB
