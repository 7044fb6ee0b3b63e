"""HTTP/1.1 over a plain socket: what a hostile or unlucky client sends, byte by byte, and what comes back."""

import json
import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

READ_BYTES = 65536


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def connect(url: str, timeout: float = 10.0) -> socket.socket:
    address = urlsplit(url)
    assert address.hostname is not None and address.port is not None
    return socket.create_connection((address.hostname, address.port), timeout=timeout)


def request_head(method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: soma"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_more(sock: socket.socket, buffer: bytearray, deadline: float) -> None:
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    chunk = sock.recv(READ_BYTES)
    if not chunk:
        raise ConnectionError(f"closed by the server before a whole response; got {bytes(buffer)[:200]!r}")
    buffer += chunk


def read_response(sock: socket.socket, timeout: float = 10.0) -> RawResponse:
    """One response with a Content-Length body (every answer of this server that a test reads)."""
    deadline = time.monotonic() + timeout
    buffer = bytearray()
    while b"\r\n\r\n" not in buffer:
        _read_more(sock, buffer, deadline)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = bytearray(rest)
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        _read_more(sock, body, deadline)
    return RawResponse(int(status_line.split()[1]), headers, bytes(body[:length]))


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closes the connection within ``timeout`` seconds (what it sent is dropped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(READ_BYTES):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def send_until_answered(sock: socket.socket, pieces: Iterable[bytes], interval: float = 0.0) -> bool:
    """Send ``pieces`` one by one until the server answers (or hangs up): whether it did before the last."""
    for piece in pieces:
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            return True
        try:
            sock.sendall(piece)
        except OSError:  # the server answered and closed while this piece was on its way
            return True
    return False
