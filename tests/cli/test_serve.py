"""`soma serve` as a user starts it: a generated owner-only token, data that survives a restart."""

import json
import stat
from pathlib import Path

import pytest
from cli_harness import TOKEN, Result, run_soma

from somafractalmemory.cli.server_process import ServerProcess
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.tokens import GENERATED_TOKEN_FILE


def test_first_start_generates_an_owner_only_token_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    log_path = tmp_path / "serve.log"
    with (
        log_path.open("wb") as log,
        ServerProcess(data_dir, token=None, environment={"SOMA_LOG_FORMAT": "json"}, log=log) as server,
    ):
        token_file = data_dir / GENERATED_TOKEN_FILE
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        # A client on the same machine finds the generated token through --data-dir.
        result = run_soma(["stats", "--url", server.url, "--data-dir", str(data_dir)], capsys)
        assert result.code == 0, result.err
        assert result.json == {"total_memories": 0, "episodic": 0, "semantic": 0, "embedders": {}}
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    generated = [e for e in entries if str(token_file) in e["message"]]
    assert generated
    assert generated[0]["level"] == "WARNING"
    assert token_file.read_text().strip() not in log_path.read_text()


def test_data_survives_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOMA_API_TOKEN", TOKEN)
    data_dir = tmp_path / "data"
    memories = {"1,1": "a memory about gardens", "2,2": "a memory about boats", "3,3": "a memory about kites"}

    def soma(url: str, *arguments: str) -> Result:
        return run_soma([arguments[0], "--url", url, *arguments[1:]], capsys)

    with ServerProcess(data_dir, token=TOKEN) as server:
        for coord, text in memories.items():
            assert soma(server.url, "store", coord, json.dumps({"text": text})).code == 0
        assert soma(server.url, "link", "1,1", "2,2").code == 0
        assert soma(server.url, "delete", "3,3").code == 0
    with ServerProcess(data_dir, token=TOKEN) as restarted:
        url = restarted.url
        assert soma(url, "stats").json == {
            "total_memories": 2,
            "episodic": 2,
            "semantic": 0,
            "embedders": {HashingEmbedder().identity: 2},
        }
        recalled = soma(url, "recall", "gardens", "--top-k", "1").json
        assert recalled["results"][0]["memory"]["payload"] == {"text": "a memory about gardens"}
        assert soma(url, "path", "1,1", "2,2").json == {"path": [[1.0, 1.0], [2.0, 2.0]], "found": True}
        assert soma(url, "get", "3,3").code == 1
        kites = soma(url, "recall", "kites", "--top-k", "5").json["results"]
        assert [1.0, 1.0] in [hit["memory"]["coord"] for hit in kites]
        assert [3.0, 3.0] not in [hit["memory"]["coord"] for hit in kites]
