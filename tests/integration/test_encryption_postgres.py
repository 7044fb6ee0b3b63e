"""Encryption at rest on PostgreSQL: the rows (payload, the keyword columns, the tsvector of the lexical
leg) and the kept versions never hold an encrypted field's clear value nor its token; a rotation rewrites
memories and versions in place; `soma encryption rotate` and `soma backup` on POSTGRES_URL; the HTTP suite
of tests/api/test_encryption.py with PostgreSQL, Redis and Qdrant behind the app."""

import gzip
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import psycopg
import pytest

from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.cli.main import main
from somafractalmemory.core.envelope import ENVELOPE_KEY
from somafractalmemory.core.field_encryption import FieldEncryption, new_key, parse_keys
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.key_rotation import Rotation, rotate_namespace
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder
from support.servers import PostgresServer, RedisServer
from support.stack import STACK_VARIABLE, StackAddresses

NS = "vault"
SECRET = "zanzibarquokka"
OLD, NEW = new_key(), new_key()
TESTS = Path(__file__).resolve().parents[1]


def service(store: PostgresStore, tmp_path: Path, *keys: str) -> MemoryService:
    encryption = FieldEncryption(frozenset({"secret"}), tuple(parse_keys(list(keys))))
    index = NumpyIndex(tmp_path / f"vectors-{len(list(tmp_path.iterdir()))}.sqlite", 384)
    return MemoryService(store, index, HashingEmbedder(384), encryption=encryption, max_versions=5)


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def vault(store: PostgresStore, tmp_path: Path) -> Iterator[MemoryService]:
    opened = service(store, tmp_path, OLD)
    yield opened
    opened.index.close()


def test_rows_and_versions_hold_neither_the_clear_value_nor_the_token(
    vault: MemoryService, postgres_url: str
) -> None:
    vault.store_memory(NS, NewMemory((1.0,), {"text": "first draft", "secret": SECRET}))
    vault.store_memory(NS, NewMemory((1.0,), {"text": "door code", "secret": SECRET}))
    (payload, search_text, folded_text, values, words) = rows(
        postgres_url,
        "SELECT payload, search_text, folded_text, string_values::text, search_words::text"
        " FROM soma_memories",
    )[0]
    token = payload["secret"][ENVELOPE_KEY]  # type: ignore[index]
    assert (search_text, folded_text, values) == ("door code", "door code", '{"door code"}')
    assert words == "'code':2 'door':1"
    versions = rows(postgres_url, "SELECT payload::text FROM soma_memory_versions")
    for text in [str(payload), str(versions), str(words)]:
        assert SECRET not in text
    assert token not in f"{search_text} {folded_text} {values} {words}"
    assert vault.recall(NS, SECRET, ranking=Ranking.LEXICAL) == []
    assert vault.keyword_search(NS, SECRET, exact=False) == []
    assert vault.keyword_search(NS, token, exact=True) == []
    assert vault.get(NS, (1.0,)).payload == {"text": "door code", "secret": SECRET}
    assert [v.payload for v in vault.versions(NS, (1.0,))] == [{"text": "first draft", "secret": SECRET}]


def test_in_evented_mode_the_outbox_carries_the_envelope_and_a_rotation_reaches_it(
    evented_store: PostgresStore, postgres_url: str, tmp_path: Path
) -> None:
    evented = service(evented_store, tmp_path, OLD)
    evented.index_inline = False
    evented.store_memory(NS, NewMemory((1.0,), {"text": "door", "secret": SECRET}))
    events = rows(postgres_url, "SELECT event FROM soma_outbox ORDER BY id")
    assert len(events) == 1
    assert SECRET.encode() not in bytes(events[0][0])  # type: ignore[arg-type]
    assert ENVELOPE_KEY.encode() in bytes(events[0][0])  # type: ignore[arg-type]
    both = service(evented_store, tmp_path, NEW, OLD)
    both.index_inline = False
    assert rotate_namespace(both, NS) == Rotation(1, 1, 0, 0)
    assert len(rows(postgres_url, "SELECT event FROM soma_outbox")) == 2  # the consumers follow
    for opened in (evented, both):
        opened.index.close()


def test_rotation_rewrites_memories_and_versions_in_place(
    vault: MemoryService, store: PostgresStore, postgres_url: str, tmp_path: Path
) -> None:
    vault.store_memory(NS, NewMemory((1.0,), {"text": "a", "secret": "one"}))
    vault.store_memory(NS, NewMemory((1.0,), {"text": "b", "secret": SECRET}))
    audit = rows(postgres_url, "SELECT count(*) FROM soma_audit_log")
    stamps = rows(postgres_url, "SELECT created_at, updated_at FROM soma_memories")
    both = service(store, tmp_path, NEW, OLD)
    assert rotate_namespace(both, NS) == Rotation(1, 1, 1, 1)
    assert rotate_namespace(both, NS) == Rotation(1, 0, 1, 0)
    both.index.close()
    assert rows(postgres_url, "SELECT count(*) FROM soma_audit_log") == audit
    assert rows(postgres_url, "SELECT created_at, updated_at FROM soma_memories") == stamps
    alone = service(store, tmp_path, NEW)
    assert alone.get(NS, (1.0,)).payload == {"text": "b", "secret": SECRET}
    assert [(v.number, v.payload) for v in alone.versions(NS, (1.0,))] == [
        (1, {"text": "a", "secret": "one"})
    ]
    alone.index.close()


def soma(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_the_cli_rotates_and_backs_up_postgresql(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("SOMA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SOMA_ENCRYPTED_FIELDS", "secret")
    monkeypatch.setenv("SOMA_ENCRYPTION_KEYS", OLD)
    assert soma("store", "--namespace", NS, "1,2", json.dumps({"text": "t", "secret": SECRET}))[0] == 0
    assert soma("backup", "--to", str(tmp_path / "backups"), "--quiet")[0] == 0
    backed_up = b"".join(gzip.decompress(p.read_bytes()) for p in (tmp_path / "backups").rglob("*.gz"))
    assert b"$encrypted" in backed_up
    assert SECRET.encode() not in backed_up
    monkeypatch.setenv("SOMA_ENCRYPTION_KEYS", f"{NEW},{OLD}")
    code, out, err = soma("encryption", "rotate", "--namespace", NS)
    counts = {
        "memories": 1,
        "memories_rotated": 1,
        "versions": 0,
        "versions_rotated": 0,
        "retried": 0,
        "skipped": 0,
    }
    assert (code, json.loads(out), err) == (
        0,
        {"dry_run": False, "namespaces": {NS: counts}, **counts},
        f"{NS}: 1 of 1 memories and 0 of 0 versions rotated\n",
    )
    monkeypatch.setenv("SOMA_ENCRYPTION_KEYS", NEW)
    code, out, _ = soma("get", "--namespace", NS, "1,2")
    assert (code, json.loads(out)["payload"]) == (0, {"text": "t", "secret": SECRET})


def test_the_http_suite_on_postgresql_redis_and_qdrant(
    postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        STACK_VARIABLE: StackAddresses.of(postgres_server, redis_server, None).to_json(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "pytest", str(TESTS / "api" / "test_encryption.py"), "-q"]
    result = subprocess.run(
        [*command, "-p", "no:cacheprovider", "--basetemp", str(tmp_path)],
        env=env, cwd=TESTS.parent, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "5 passed" in result.stdout
