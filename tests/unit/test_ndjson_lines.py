"""Issue 9, finding 8: an import's line is checked against the line limit while the body arrives (a 300 MiB
line was read whole before the length check)."""

from somafractalmemory.http_api.ndjson_lines import LineLengths


def _first_too_long(chunks: list[bytes], limit: int) -> int | None:
    lines = LineLengths(limit)
    for chunk in chunks:
        if (number := lines.feed(chunk)) is not None:
            return number
    return None


def test_a_line_past_the_limit_is_named_in_the_chunk_that_shows_it() -> None:
    lines = LineLengths(10)
    assert lines.feed(b"123456789\n12") is None  # line 1: 10 bytes with its newline
    assert lines.feed(b"34") is None
    assert lines.feed(b"56789") is None  # line 2 holds 9 bytes so far
    assert lines.feed(b"01") == 2  # 11 bytes, still without its newline


def test_line_numbers_count_across_chunks_and_blank_lines() -> None:
    body = b'{"a": 1}\n\n{"b": 2}\n' + b"x" * 50 + b"\n"
    assert _first_too_long([body], 20) == 4
    assert _first_too_long([body[i : i + 3] for i in range(0, len(body), 3)], 20) == 4
    assert _first_too_long([body], 51) is None  # 50 bytes and the newline
    assert _first_too_long([body], 50) == 4


def test_a_long_line_is_found_long_before_it_ends() -> None:
    lines = LineLengths(4096)
    assert lines.feed(b'{"n": 1}\n{"text": "') is None
    found = None
    received = 0
    while found is None:
        found = lines.feed(b"x" * 65536)
        received += 65536
    assert found == 2
    assert received == 65536
