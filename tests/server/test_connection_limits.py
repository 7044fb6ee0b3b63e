"""Finding 9 of issue 9: limits on connections, header size and read timeouts, against a real `soma serve`.

Each timeout is set to one second here; a test waits several times longer before it calls a connection held.
"""

import socket

import pytest
from raw_http import closed_by_server, connect, read_response, request_head, send_until_answered
from served import AUTH, Served, ServeFactory

from support.servers import wait_until

TIMEOUT = 1
PATIENCE = 8.0  # far beyond every one-second timeout, far below forever


@pytest.fixture
def limited(serve: ServeFactory) -> Served:
    return serve(
        max_header_bytes=4096,
        header_timeout_seconds=TIMEOUT,
        body_timeout_seconds=TIMEOUT,
        keepalive_timeout_seconds=TIMEOUT,
    )


def test_connections_beyond_the_limit_are_answered_503_and_closed(
    serve: ServeFactory, sockets: list[socket.socket]
) -> None:
    served = serve(max_connections=4)
    sockets += [connect(served.url) for _ in range(4)]
    sockets[0].sendall(request_head("GET", "/healthz"))
    assert read_response(sockets[0]).status == 200  # all four are being served

    extra = connect(served.url)
    sockets.append(extra)
    refused = read_response(extra)
    assert refused.status == 503
    assert refused.headers["connection"] == "close"
    assert refused.json()["detail"] == "the server already has 4 connections open (SOMA_MAX_CONNECTIONS)"
    assert refused.json()["error"]["code"] == "backend_unavailable"
    assert closed_by_server(extra, PATIENCE)

    sockets[1].close()

    def admitted() -> bool:
        with connect(served.url) as again:
            again.sendall(request_head("GET", "/healthz"))
            return read_response(again).status == 200

    wait_until(admitted, PATIENCE, "a connection to be admitted once one closed")


def test_a_silent_connection_is_closed_after_the_header_timeout(
    limited: Served, sockets: list[socket.socket]
) -> None:
    sockets.append(silent := connect(limited.url))
    assert closed_by_server(silent, PATIENCE)


def test_a_head_sent_slowly_is_answered_408_at_the_header_timeout(
    limited: Served, sockets: list[socket.socket]
) -> None:
    """Slowloris: a header line every 0.2 s keeps bytes arriving, but the head must be whole in time."""
    sockets.append(slow := connect(limited.url))
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: soma\r\n")
    drip = (f"X-Drip-{number}: 1\r\n".encode() for number in range(int(PATIENCE / 0.2)))
    assert send_until_answered(slow, drip, interval=0.2)
    response = read_response(slow)
    assert response.status == 408
    assert response.json()["detail"] == "the request line and headers did not arrive within 1 s"
    assert response.json()["error"]["code"] == "request_timeout"


def test_an_unfinished_head_past_the_size_limit_is_refused_431_before_it_ends(
    limited: Served, sockets: list[socket.socket]
) -> None:
    """A header that never ends (the finding's 200 MiB header): refused once past the limit, not buffered."""
    sockets.append(big := connect(limited.url))
    big.sendall(b"GET /healthz HTTP/1.1\r\nHost: soma\r\nX-Big: ")
    assert send_until_answered(big, (b"a" * 65536 for _ in range(200)))  # 12.5 MiB, 64 KiB at a time
    response = read_response(big)
    assert response.status == 431
    assert response.json()["detail"] == "the request line and headers are larger than 4096 bytes"
    assert response.json()["error"]["code"] == "headers_too_large"


def test_a_whole_head_past_the_size_limit_is_refused_431(
    limited: Served, sockets: list[socket.socket]
) -> None:
    sockets.append(big := connect(limited.url))
    big.sendall(request_head("GET", "/healthz", {f"X-Pad-{n}": "p" * 100 for n in range(50)}))
    response = read_response(big)
    assert response.status == 431
    assert closed_by_server(big, PATIENCE)
    sockets.append(fine := connect(limited.url))
    fine.sendall(request_head("GET", "/healthz", {f"X-Pad-{n}": "p" * 100 for n in range(30)}))
    assert read_response(fine).status == 200


def test_an_idle_keep_alive_connection_is_closed(limited: Served, sockets: list[socket.socket]) -> None:
    sockets.append(idle := connect(limited.url))
    idle.sendall(request_head("GET", "/healthz"))
    assert read_response(idle).status == 200
    assert closed_by_server(idle, 4.0)  # the one-second setting, not uvicorn's 5 s default


def test_a_stalled_body_is_answered_408_at_the_body_timeout(
    limited: Served, sockets: list[socket.socket]
) -> None:
    sockets.append(stalled := connect(limited.url))
    head = {**AUTH, "Content-Type": "application/json", "Content-Length": "1000"}
    stalled.sendall(request_head("POST", "/store", head) + b'{"coord": "1,2", ')
    response = read_response(stalled, timeout=PATIENCE)
    assert response.status == 408
    assert response.headers["connection"] == "close"
    assert response.json()["detail"] == "the request body stalled: nothing arrived for 1 s"
    assert closed_by_server(stalled, PATIENCE)


def test_a_body_that_keeps_arriving_is_not_cut_off(limited: Served, sockets: list[socket.socket]) -> None:
    """The body timeout is the longest pause, not a deadline: a body sent over three seconds is fine."""
    body = b'{"coord": "3,4", "payload": {"text": "' + b"s" * 60 + b'"}}'
    sockets.append(steady := connect(limited.url))
    head = {**AUTH, "Content-Type": "application/json", "Content-Length": str(len(body))}
    steady.sendall(request_head("POST", "/store", head))
    pieces = [body[i : i + 10] for i in range(0, len(body), 10)]
    assert not send_until_answered(steady, pieces, interval=0.4)
    assert read_response(steady).json() == {"ok": True}
