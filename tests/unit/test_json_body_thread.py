"""Large request bodies are decoded on a worker thread, small ones on the event loop."""

import asyncio
import json
from typing import Any

import pytest

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.json_text import decode_json
from somafractalmemory.http_api import json_body


def body_of(size: int) -> bytes:
    """A JSON document of exactly ``size`` bytes."""
    padding = size - len(b'{"text":""}')
    return json.dumps({"text": "x" * padding}, separators=(",", ":")).encode()


@pytest.fixture
def decoded_on_loop(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    seen: list[bool] = []

    def recording_decode(data: bytes) -> Any:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return decode_json(data)

    monkeypatch.setattr(json_body, "decode_json", recording_decode)
    return seen


@pytest.mark.parametrize(
    ("size", "on_loop"),
    [(1024, True), (json_body.THREAD_DECODE_BYTES, True), (json_body.THREAD_DECODE_BYTES + 1, False)],
)
async def test_bodies_above_the_threshold_leave_the_event_loop(
    decoded_on_loop: list[bool], size: int, on_loop: bool
) -> None:
    body = body_of(size)
    assert len(body) == size
    assert await json_body.decode_body(body) == {"text": "x" * (size - 11)}
    assert decoded_on_loop == [on_loop]


def test_the_threshold_is_64_kib() -> None:
    assert json_body.THREAD_DECODE_BYTES == 65536


async def test_a_refusal_from_the_worker_thread_is_the_same_refusal() -> None:
    body = b'{"a": 1, "a": 2, "pad": "' + b"x" * json_body.THREAD_DECODE_BYTES + b'"}'
    with pytest.raises(InvalidInput, match=r"^duplicate key 'a' in a JSON object$"):
        await json_body.decode_body(body)
