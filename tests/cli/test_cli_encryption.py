"""soma encryption new-key and rotate, and the encrypted fields through the other commands: embedded, and
over --url against a `soma serve` that encrypts. PostgreSQL: tests/integration/test_encryption_postgres.py."""

import gzip
import json
from pathlib import Path

import pytest
from cli_harness import TOKEN, run_soma
from cryptography.fernet import Fernet

from somafractalmemory.cli.server_process import ServerProcess
from somafractalmemory.core.field_encryption import new_key

SECRET = "zanzibarquokka"
OLD, NEW = new_key(), new_key()
UNDECRYPTABLE = (
    "soma get: error: field 'secret' of the memory at [1.0, 2.0] in namespace 'default' cannot be decrypted "
    "with any of the 1 configured encryption keys: the key that encrypted it was removed (put it back in "
    "SOMA_ENCRYPTION_KEYS after the first key, run `soma encryption rotate`, then remove it)\n"
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOMA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SOMA_ENCRYPTED_FIELDS", "secret")
    monkeypatch.setenv("SOMA_ENCRYPTION_KEYS", OLD)
    return tmp_path / "data"


def soma_ok(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    result = run_soma(list(argv), capsys)
    assert result.code == 0, result.err
    return result.json


def test_new_key_prints_a_fernet_key(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_soma(["encryption", "new-key"], capsys)
    assert result.code == 0
    key = result.out.strip()
    assert result.out == key + "\n"
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


def test_a_malformed_key_stops_the_command_naming_its_position(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOMA_ENCRYPTION_KEYS", f"{OLD},{OLD[:-2]}")
    result = run_soma(["get", "1,2"], capsys)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "soma get: error: encryption key 2 of 2 is not a Fernet key (the URL-safe base64 of 32 bytes, as "
        "`soma encryption new-key` prints)\n"
    )


def test_rotate_without_keys_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run_soma(["encryption", "rotate", "--data-dir", str(tmp_path)], capsys)
    assert result.code == 2
    assert result.err == (
        "soma encryption: error: no encryption key is configured: set SOMA_ENCRYPTION_KEYS or "
        "SOMA_ENCRYPTION_KEYS_FILE\n"
    )


def test_store_backup_rotate_and_read_with_the_new_key_alone(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    soma_ok(capsys, "store", "1,2", json.dumps({"text": "v1", "secret": "quetzal"}))
    soma_ok(capsys, "store", "1,2", json.dumps({"text": "v2", "secret": SECRET}))
    assert soma_ok(capsys, "get", "1,2")["payload"] == {"text": "v2", "secret": SECRET}  # type: ignore[index]
    assert SECRET.encode() not in (data_dir / "memories.sqlite").read_bytes()

    soma_ok(capsys, "backup", "--to", str(tmp_path / "backups"))
    files = list((tmp_path / "backups").rglob("*.ndjson.gz"))
    assert files
    backed_up = b"".join(gzip.decompress(path.read_bytes()) for path in files)
    assert b"$encrypted" in backed_up
    assert SECRET.encode() not in backed_up
    assert b"quetzal" not in backed_up

    monkeypatch.setenv("SOMA_ENCRYPTION_KEYS", f"{NEW},{OLD}")
    counts = {
        "memories": 1,
        "memories_rotated": 1,
        "versions": 1,
        "versions_rotated": 1,
        "retried": 0,
        "skipped": 0,
    }
    dry = run_soma(["encryption", "rotate", "--dry-run"], capsys)
    assert dry.json == {"dry_run": True, "namespaces": {"default": counts}, **counts}
    assert dry.err == "default: 1 of 1 memories and 1 of 1 versions to rotate\n"
    rotated = run_soma(["encryption", "rotate", "--namespace", "default"], capsys)
    assert rotated.json == {"dry_run": False, "namespaces": {"default": counts}, **counts}
    assert rotated.err == "default: 1 of 1 memories and 1 of 1 versions rotated\n"
    again = soma_ok(capsys, "encryption", "rotate", "--quiet")
    assert again == {
        "dry_run": False,
        "namespaces": {"default": {**counts, "memories_rotated": 0, "versions_rotated": 0}},
        **counts,
        "memories_rotated": 0,
        "versions_rotated": 0,
    }

    monkeypatch.setenv("SOMA_ENCRYPTION_KEYS", NEW)
    assert soma_ok(capsys, "get", "1,2")["payload"] == {"text": "v2", "secret": SECRET}  # type: ignore[index]
    history = soma_ok(capsys, "versions", "1,2")["versions"]  # type: ignore[index]
    assert [v["payload"] for v in history] == [{"text": "v1", "secret": "quetzal"}]

    monkeypatch.setenv("SOMA_ENCRYPTION_KEYS", OLD)
    removed_too_early = run_soma(["get", "1,2"], capsys)
    assert (removed_too_early.code, removed_too_early.out, removed_too_early.err) == (1, "", UNDECRYPTABLE)


def test_the_commands_over_url_get_the_field_in_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = {
        "SOMA_ENCRYPTED_FIELDS": "secret",
        "SOMA_ENCRYPTION_KEYS": OLD,
        "SOMA_RATE_LIMIT_PER_MINUTE": "0",
    }
    data_dir = tmp_path / "served"
    with ServerProcess(data_dir, token=TOKEN, environment=environment) as server:
        monkeypatch.setenv("SOMA_API_TOKEN", TOKEN)
        url = ["--url", server.url]
        soma_ok(capsys, "store", *url, "1,2", json.dumps({"text": "door", "secret": SECRET}))
        assert soma_ok(capsys, "get", *url, "1,2")["payload"] == {"text": "door", "secret": SECRET}  # type: ignore[index]
        filtered = run_soma(["recall", *url, "door", "--filter", json.dumps({"secret": SECRET})], capsys)
        assert filtered.code == 2
        assert filtered.err == (
            "soma recall: error: cannot filter on 'secret': the field 'secret' is encrypted at rest "
            "(SOMA_ENCRYPTED_FIELDS), so the store cannot compare its value\n"
        )
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())


def test_serve_refuses_fields_without_a_key_before_the_port_opens(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SOMA_ENCRYPTION_KEYS")
    result = run_soma(["serve", "--port", "19599"], capsys)
    assert (result.code, result.out) == (2, "")
    assert result.err.endswith(
        "soma serve: error: SOMA_ENCRYPTED_FIELDS is set but no key is: set SOMA_ENCRYPTION_KEYS or "
        "SOMA_ENCRYPTION_KEYS_FILE (`soma encryption new-key` prints one)\n"
    )
