"""Encryption at rest over HTTP: listed fields are served in clear and stored and indexed never in clear;
filters on them are refused; a token no key decrypts answers a clear 500; a rotation keeps everything
readable under the new key alone. Run on the embedded default here, and on PostgreSQL, Redis and Qdrant by
the production-stack suite (test_api_on_production_stack)."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from api_settings import AUTH, SettingsFactory
from fastapi.testclient import TestClient
from pydantic import SecretStr

from somafractalmemory.core.field_encryption import new_key
from somafractalmemory.core.key_rotation import Rotation, rotate_namespace
from somafractalmemory.http_api import create_app
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime

NS = "vault"
BASE = f"/v1/namespaces/{NS}"
MEMORY = f"{BASE}/memories/1,2"
SECRET = "zanzibarquokka"
OLD, NEW = new_key(), new_key()
FILTER_REFUSED = (
    "cannot filter on 'secret': the field 'secret' is encrypted at rest (SOMA_ENCRYPTED_FIELDS), so the "
    "store cannot compare its value"
)


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(encrypted_fields="secret", encryption_keys=OLD, namespace=NS)


@contextmanager
def serving(settings: Settings, keys: str | None = None) -> Iterator[TestClient]:
    chosen = settings if keys is None else settings.model_copy(update={"encryption_keys": SecretStr(keys)})
    with TestClient(create_app(chosen)) as client:
        client.headers.update(AUTH)
        yield client


def stored_text(settings: Settings) -> str:
    """Everything the backends hold, as text: the data directory's files (SQLite with its full-text
    indexes, the vector index) and, on PostgreSQL, every row of the memories and their versions."""
    files = [path for path in Path(settings.data_dir).rglob("*") if path.is_file()]
    text = "\n".join(path.read_bytes().decode("latin-1") for path in files)
    if settings.postgres_url is not None:
        import psycopg

        with psycopg.connect(settings.postgres_url.get_secret_value()) as conn:
            for table in ("soma_memories", "soma_memory_versions"):
                rows = conn.execute(f"SELECT t::text FROM {table} t").fetchall()
                text += "\n".join(row[0] for row in rows)
    return text


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_listed_field_is_served_in_clear_and_stored_and_indexed_never(settings: Settings) -> None:
    with serving(settings) as client:
        ok(client.put(MEMORY, json={"payload": {"text": "first draft", "secret": SECRET}}))
        ok(client.put(MEMORY, json={"payload": {"text": "door code", "secret": {"pin": [4, 7, 1, 1]}}}))
        ok(client.post("/store", json={"coord": "3,4", "payload": {"text": "other", "secret": SECRET}}))
        assert ok(client.get(MEMORY))["payload"] == {"text": "door code", "secret": {"pin": [4, 7, 1, 1]}}
        versions = ok(client.get(f"{MEMORY}/versions"))["versions"]
        assert [v["payload"] for v in versions] == [{"text": "first draft", "secret": SECRET}]
        lexical = ok(client.post(f"{BASE}/recall", json={"query": SECRET, "ranking": "lexical"}))
        assert lexical["results"] == []
        assert ok(client.post("/keyword_search", json={"term": SECRET, "exact": False}))["results"] == []
        fused = ok(client.post("/recall", json={"query": "other", "top_k": 1}))["matches"]
        assert [(m["text"], m["secret"]) for m in fused] == [("other", SECRET)]
        recent = ok(client.get(f"{BASE}/recent"))["results"]
        assert {m["coord"][0]: m["payload"]["secret"] for m in recent} == {
            1.0: {"pin": [4, 7, 1, 1]},
            3.0: SECRET,
        }
        exported = [json.loads(line) for line in client.get(f"{BASE}/export").text.splitlines()]
        assert {r["payload"]["text"]: r["payload"]["secret"] for r in exported} == {
            "door code": {"pin": [4, 7, 1, 1]},
            "other": SECRET,
        }
    stored = stored_text(settings)
    assert SECRET not in stored
    assert "door code" in stored  # the other fields are stored (and indexed) as before


def test_a_filter_on_an_encrypted_field_is_refused(settings: Settings) -> None:
    with serving(settings) as client:
        ok(client.put(MEMORY, json={"payload": {"text": "t", "secret": SECRET}}))
        for path, body in [
            (f"{BASE}/recall", {"query": "t", "filters": {"secret": SECRET}}),
            (f"{BASE}/delete_many", {"filters": {"secret": SECRET}}),
            (f"{BASE}/share", {"filters": {"secret": {"$exists": True}}, "to": "elsewhere"}),
            ("/recall", {"query": "t", "filters": {"secret": SECRET}}),
        ]:
            answer = ok(client.post(path, json=body), 400)
            assert answer["error"] == {"code": "invalid_input", "message": FILTER_REFUSED}, path
        assert ok(client.get(MEMORY))["payload"]["secret"] == SECRET  # nothing was deleted


def test_a_client_cannot_store_an_envelope_of_its_own(settings: Settings) -> None:
    with serving(settings) as client:
        answer = ok(client.put(MEMORY, json={"payload": {"note": {"$encrypted": "forged"}}}), 400)
    assert answer["error"]["message"] == (
        "payload field 'note' is an object whose only key is '$encrypted': that form is reserved for "
        "encrypted fields"
    )


def test_a_token_no_key_decrypts_answers_a_clear_500(settings: Settings) -> None:
    with serving(settings) as client:
        ok(client.put(MEMORY, json={"payload": {"text": "t", "secret": SECRET}}))
        ok(client.get(MEMORY))  # cached as stored, where there is a shared cache
    message = (
        "field 'secret' of the memory at [1.0, 2.0] in namespace 'vault' cannot be decrypted with any of "
        "the 1 configured encryption keys: the key that encrypted it was removed (put it back in "
        "SOMA_ENCRYPTION_KEYS after the first key, run `soma encryption rotate`, then remove it)"
    )
    with serving(settings, keys=NEW) as client:
        for answer in (client.get(MEMORY), client.post(f"{BASE}/recall", json={"query": "t"})):
            assert answer.status_code == 500
            assert answer.json() == {"detail": message, "error": {"code": "internal", "message": message}}
        assert SECRET not in client.get(MEMORY).text


def test_rotation_then_the_new_key_alone_reads_memories_and_versions(settings: Settings) -> None:
    with serving(settings) as client:
        ok(client.put(MEMORY, json={"payload": {"text": "v1", "secret": "quetzalfirst"}}))
        ok(client.put(MEMORY, json={"payload": {"text": "v2", "secret": SECRET}}))
        before = ok(client.get(MEMORY))
    runtime = build_runtime(
        settings.model_copy(update={"encryption_keys": SecretStr(f"{NEW},{OLD}")}), start_recovery=False
    )
    try:
        assert rotate_namespace(runtime.service, NS) == Rotation(1, 1, 1, 1)
        assert rotate_namespace(runtime.service, NS) == Rotation(1, 0, 1, 0)
    finally:
        runtime.close()
    with serving(settings, keys=NEW) as client:
        after = ok(client.get(MEMORY))
        assert after["payload"] == {"text": "v2", "secret": SECRET}
        assert (after["created_at"], after["updated_at"]) == (before["created_at"], before["updated_at"])
        versions = ok(client.get(f"{MEMORY}/versions"))["versions"]
        assert [(v["number"], v["payload"]) for v in versions] == [
            (1, {"text": "v1", "secret": "quetzalfirst"})
        ]
        restored = ok(client.post(f"{MEMORY}/versions/1/restore"))
        assert restored["payload"] == {"text": "v1", "secret": "quetzalfirst"}
    assert "quetzalfirst" not in stored_text(settings)
