"""What --url says when the API cannot be used: unreachable, no token, wrong token."""

from pathlib import Path

import pytest
from cli_harness import run_soma

from somafractalmemory.cli.server_process import ServerProcess, free_port


def test_unreachable_url_fails_with_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOMA_API_TOKEN", "some-token")
    url = f"http://127.0.0.1:{free_port()}"
    result = run_soma(["stats", "--url", url, "--timeout", "5"], capsys)
    assert result.code == 1
    assert f"cannot reach the Soma API at {url}" in result.err
    assert "Traceback" not in result.err


def test_url_without_a_token_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_soma(["stats", "--url", "http://127.0.0.1:9", "--data-dir", str(tmp_path)], capsys)
    assert result.code == 2
    assert "no API token for --url" in result.err


def test_malformed_url_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_soma(["stats", "--url", "localhost:9595"], capsys)
    assert result.code == 2
    assert "is not an http(s) URL" in result.err


def test_wrong_token_is_refused(
    served: ServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("not-the-token\n")
    result = run_soma(["stats", "--url", served.url, "--token-file", str(token_file)], capsys)
    assert result.code == 1
    assert "the API refused the token (403)" in result.err
