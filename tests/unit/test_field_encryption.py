"""Encryption at rest of chosen payload fields: the keys the settings give, the envelope, what is never
indexed, rotation. The HTTP and CLI behaviour on both backends: tests/api/test_encryption.py,
tests/cli/test_cli_encryption.py, tests/integration/test_encryption_postgres.py."""

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from embedded_service import close_service, open_service

from somafractalmemory.core.envelope import ENVELOPE_KEY
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.field_encryption import (
    FieldEncryption,
    UndecryptableField,
    new_key,
    parse_keys,
)
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.key_rotation import Rotation, rotate_namespace
from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.selection import Selection
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.core.text import payload_text
from somafractalmemory.encryption_config import field_encryption, key_lines
from somafractalmemory.settings import Settings

NS = "vault"
SECRET = "zanzibarquokka"
OLD, NEW = new_key(), new_key()


def encryption(*keys: str, fields: tuple[str, ...] = ("secret",)) -> FieldEncryption:
    return FieldEncryption(frozenset(fields), tuple(parse_keys(list(keys))))


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path, **values)


# --- the keys -------------------------------------------------------------------------------------


def test_a_new_key_is_a_fernet_key() -> None:
    key = new_key()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert new_key() != key


def test_a_malformed_key_is_named_by_position_never_by_content(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        field_encryption(settings(tmp_path, encrypted_fields="secret", encryption_keys=f"{OLD},not-a-key"))
    assert str(caught.value) == (
        "encryption key 2 of 2 is not a Fernet key (the URL-safe base64 of 32 bytes, as "
        "`soma encryption new-key` prints)"
    )
    assert "not-a-key" not in str(caught.value)
    assert OLD not in str(caught.value)


def test_fields_without_keys_and_both_key_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^SOMA_ENCRYPTED_FIELDS is set but no key is: set"):
        field_encryption(settings(tmp_path, encrypted_fields="secret"))
    keys = tmp_path / "keys"
    keys.write_text(OLD)
    with pytest.raises(
        InvalidInput, match=r"^set SOMA_ENCRYPTION_KEYS or SOMA_ENCRYPTION_KEYS_FILE, not both$"
    ):
        field_encryption(settings(tmp_path, encryption_keys=OLD, encryption_keys_file=keys))


def test_the_keys_file_keeps_order_and_skips_blanks_and_comments(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# rotated in May\n{NEW}\n\n  {OLD}  \n")
    assert key_lines(keys.read_text()) == [NEW, OLD]
    configured = field_encryption(
        settings(tmp_path, encrypted_fields="secret,pin", encryption_keys_file=keys)
    )
    assert configured.fields == frozenset({"secret", "pin"})
    token = configured.seal({"secret": "s"})["secret"][ENVELOPE_KEY]
    assert Fernet(NEW.encode()).decrypt(token.encode()) == b'"s"'  # the first key encrypts


def test_an_unreadable_or_empty_keys_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"cannot be read: No such file or directory$"):
        field_encryption(settings(tmp_path, encryption_keys_file=tmp_path / "missing"))
    (tmp_path / "empty").write_text("# nothing yet\n")
    with pytest.raises(InvalidInput, match=r"holds no key$"):
        field_encryption(settings(tmp_path, encryption_keys_file=tmp_path / "empty"))


def test_no_settings_is_off(tmp_path: Path) -> None:
    off = field_encryption(settings(tmp_path))
    assert not off.enabled
    assert off.seal({"secret": 1}) == {"secret": 1}


# --- the envelope ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["text", 42, 1.5, True, None, [1, "a"], {"n": {"m": [None]}}, "ünï"])
def test_any_json_value_round_trips(value: Any) -> None:
    cipher = encryption(OLD)
    sealed = cipher.seal({"secret": value, "text": "clear"})
    assert sealed["text"] == "clear"
    assert list(sealed["secret"]) == [ENVELOPE_KEY]
    assert cipher.open(sealed, "here") == {"secret": value, "text": "clear"}


def test_sealing_twice_keeps_the_first_envelope() -> None:
    cipher = encryption(OLD)
    sealed = cipher.seal({"secret": "s"})
    assert cipher.seal(sealed) == sealed


def test_an_envelope_is_not_text_of_the_payload() -> None:
    sealed = encryption(OLD).seal({"secret": SECRET, "text": "hello"})
    assert payload_text(sealed) == "hello"
    assert payload_text({"nested": {ENVELOPE_KEY: "token", "other": "kept"}}) == "token\nkept"


def test_a_token_no_key_decrypts_is_a_clear_error() -> None:
    sealed = encryption(OLD).seal({"secret": "s"})
    with pytest.raises(UndecryptableField) as caught:
        encryption(NEW).open(sealed, "the memory at [1.0]")
    assert str(caught.value) == (
        "field 'secret' of the memory at [1.0] cannot be decrypted with any of the 1 configured encryption "
        "keys: the key that encrypted it was removed (put it back in SOMA_ENCRYPTION_KEYS after the first "
        "key, run `soma encryption rotate`, then remove it)"
    )


def test_rotated_answers_none_once_everything_is_under_the_first_key() -> None:
    sealed = encryption(OLD).seal({"secret": "s", "text": "t"})
    both = encryption(NEW, OLD)
    rotated = both.rotated(sealed, "here")
    assert rotated is not None
    assert encryption(NEW).open(rotated, "here") == {"secret": "s", "text": "t"}
    assert both.rotated(rotated, "here") is None
    assert both.rotated({"secret": "clear"}, "here") is not None  # stored before it was listed


# --- through the service, on the SQLite store -----------------------------------------------------


@pytest.fixture
def vault(tmp_path: Path) -> MemoryService:
    opened = open_service(tmp_path, encryption=encryption(OLD), max_versions=5)
    yield opened  # type: ignore[misc]
    close_service(opened)


def raw_rows(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "memories.sqlite") as db:
        return db.execute(sql).fetchall()


def test_the_clear_value_is_neither_stored_nor_indexed(vault: MemoryService, tmp_path: Path) -> None:
    vault.store_memory(NS, NewMemory((1.0,), {"text": "hello world", "secret": SECRET}))
    vault.store_memory(NS, NewMemory((1.0,), {"text": "hello again", "secret": SECRET}))
    assert vault.get(NS, (1.0,)).payload == {"text": "hello again", "secret": SECRET}
    assert [v.payload for v in vault.versions(NS, (1.0,))] == [{"text": "hello world", "secret": SECRET}]
    dump = "\n".join(str(row) for row in raw_rows(tmp_path, "SELECT payload, text FROM memories"))
    dump += "\n".join(str(row) for row in raw_rows(tmp_path, "SELECT payload FROM memory_versions"))
    assert SECRET not in dump
    assert raw_rows(tmp_path, "SELECT text FROM memories") == [("hello again",)]
    words = "SELECT rowid FROM memory_words WHERE memory_words MATCH '{}'"  # the lexical leg's index
    assert raw_rows(tmp_path, words.format(SECRET)) == []
    assert raw_rows(tmp_path, words.format("again")) == [(1,)]
    substrings = "SELECT rowid FROM memory_text WHERE text LIKE '%{}%'"  # keyword search's trigram index
    assert raw_rows(tmp_path, substrings.format(SECRET[:6])) == []
    assert raw_rows(tmp_path, substrings.format("again")) == [(1,)]
    assert vault.recall(NS, SECRET, ranking=Ranking.LEXICAL) == []
    assert vault.keyword_search(NS, SECRET, exact=False) == []
    assert [r.memory.payload["secret"] for r in vault.recall(NS, "hello again", ranking=Ranking.DENSE)] == [
        SECRET
    ]


def test_a_filter_on_an_encrypted_field_is_refused(vault: MemoryService) -> None:
    message = (
        "cannot filter on 'secret.inner': the field 'secret' is encrypted at rest (SOMA_ENCRYPTED_FIELDS), "
        "so the store cannot compare its value"
    )
    conditions = parse_filters({"secret.inner": "x"})
    with pytest.raises(InvalidInput) as caught:
        vault.recall(NS, "q", conditions=conditions)
    assert str(caught.value) == message
    with pytest.raises(InvalidInput, match=r"^cannot filter on 'secret\.inner'"):
        vault.delete_matching(NS, Selection(conditions, None), dry_run=True)
    vault.recall(NS, "q", conditions=parse_filters({"text": "x"}))  # other fields filter as before


def test_a_caller_cannot_hand_in_an_envelope(vault: MemoryService) -> None:
    with pytest.raises(InvalidInput) as caught:
        vault.store_memory(NS, NewMemory((1.0,), {"note": {ENVELOPE_KEY: "forged"}}))
    assert str(caught.value) == (
        "payload field 'note' is an object whose only key is '$encrypted': that form is reserved for "
        "encrypted fields"
    )


def test_rotation_re_encrypts_memories_and_versions_once(tmp_path: Path) -> None:
    first = open_service(tmp_path, encryption=encryption(OLD, fields=()), max_versions=5)
    first.store_memory(NS, NewMemory((1.0,), {"text": "a", "secret": "clear before listing"}))
    close_service(first)
    second = open_service(tmp_path, encryption=encryption(OLD), max_versions=5)
    second.store_memory(NS, NewMemory((1.0,), {"text": "b", "secret": SECRET}))
    close_service(second)
    assert "clear before listing" in str(raw_rows(tmp_path, "SELECT payload FROM memory_versions"))
    before = raw_rows(tmp_path, "SELECT created_at, updated_at FROM memories")

    rotating = open_service(tmp_path, encryption=encryption(NEW, OLD), max_versions=5)
    assert rotate_namespace(rotating, NS, dry_run=True) == Rotation(1, 1, 1, 1)
    assert rotate_namespace(rotating, NS) == Rotation(1, 1, 1, 1)
    assert rotate_namespace(rotating, NS) == Rotation(1, 0, 1, 0)
    close_service(rotating)

    assert raw_rows(tmp_path, "SELECT created_at, updated_at FROM memories") == before
    assert "clear before listing" not in str(raw_rows(tmp_path, "SELECT payload FROM memory_versions"))
    after = open_service(tmp_path, encryption=encryption(NEW), max_versions=5)
    assert after.get(NS, (1.0,)).payload == {"text": "b", "secret": SECRET}
    assert [v.payload for v in after.versions(NS, (1.0,))] == [
        {"text": "a", "secret": "clear before listing"}
    ]
    assert len(after.versions(NS, (1.0,))) == 1  # the rotation kept no version of its own
    close_service(after)


def test_an_import_keeps_envelopes_a_key_decrypts_and_refuses_others(vault: MemoryService) -> None:
    sealed = encryption(OLD).seal({"secret": SECRET})
    foreign = encryption(NEW).seal({"secret": "other"})
    lines = [
        (1, {"kind": "memory", "coord": [1.0], "payload": sealed, "type": "episodic"}),
        (2, {"kind": "memory", "coord": [2.0], "payload": foreign, "type": "episodic"}),
    ]
    report = vault.import_records(NS, lines)
    assert report.memories == 1
    assert report.errors == [
        "line 2: field 'secret' of the record at [2.0] cannot be decrypted with any of the 1 configured "
        "encryption keys: the key that encrypted it was removed (put it back in SOMA_ENCRYPTION_KEYS after "
        "the first key, run `soma encryption rotate`, then remove it)"
    ]
    assert vault.get(NS, (1.0,)).payload == {"secret": SECRET}


def test_an_imported_version_is_stored_encrypted(vault: MemoryService, tmp_path: Path) -> None:
    version = {"number": 3, "type": "episodic", "importance": 0.5, "updated_at": 1.0, "replaced_at": 2.0}
    lines = [
        (1, {"kind": "memory", "coord": [1.0], "payload": {"text": "now"}, "type": "episodic"}),
        (2, {"kind": "version", "coord": [1.0], "payload": {"text": "then", "secret": SECRET}, **version}),
    ]
    report = vault.import_records(NS, lines)
    assert (report.memories, report.versions, report.errors) == (1, 1, [])
    assert SECRET not in str(raw_rows(tmp_path, "SELECT payload FROM memory_versions"))
    assert [v.payload for v in vault.versions(NS, (1.0,))] == [{"text": "then", "secret": SECRET}]


def test_rotation_encrypts_a_field_stored_before_it_was_listed_and_indexes_it_again(tmp_path: Path) -> None:
    clear = open_service(tmp_path, encryption=encryption(OLD, fields=()))
    clear.store_memory(NS, NewMemory((1.0,), {"text": "door", "secret": SECRET}))
    assert [r.memory.coordinate for r in clear.recall(NS, SECRET, ranking=Ranking.LEXICAL)] == [(1.0,)]
    before = clear.recall(NS, SECRET, ranking=Ranking.DENSE)[0].score
    close_service(clear)
    listed = open_service(tmp_path, encryption=encryption(OLD))
    assert rotate_namespace(listed, NS) == Rotation(1, 1, 0, 0)
    assert SECRET not in str(raw_rows(tmp_path, "SELECT payload, text FROM memories"))
    assert listed.recall(NS, SECRET, ranking=Ranking.LEXICAL) == []
    assert listed.keyword_search(NS, SECRET, exact=False) == []
    after = listed.recall(NS, SECRET, ranking=Ranking.DENSE)
    assert after[0].memory.payload == {"text": "door", "secret": SECRET}
    assert before > 0.5  # the clear value was embedded; once encrypted, the memory is embedded again
    assert round(after[0].score, 2) == 0.0
    assert listed.keyword_search(NS, "door")[0].payload == {"text": "door", "secret": SECRET}
    close_service(listed)


def test_hybrid_recall_refuses_a_filter_on_an_encrypted_field(vault: MemoryService) -> None:
    with pytest.raises(InvalidInput, match=r"^cannot filter on 'secret'"):
        vault.hybrid_recall(NS, "q", conditions=parse_filters({"secret": 1}))


def test_the_key_file_the_operator_generates_is_read_as_it_writes_it(tmp_path: Path) -> None:
    from soma_operator.builders.encryption import KEYS_FILE, fernet_key

    assert KEYS_FILE == "/etc/soma/encryption/keys"
    keys = tmp_path / "keys"
    keys.write_text(f"{fernet_key()}\n")  # the Secret's content, one key and a newline
    assert field_encryption(settings(tmp_path, encrypted_fields="secret", encryption_keys_file=keys)).enabled


def test_share_importance_and_outcome_writes_keep_the_field_encrypted(
    vault: MemoryService, tmp_path: Path
) -> None:
    vault.store_memory(NS, NewMemory((1.0,), {"text": "t", "secret": SECRET}))
    vault.set_importance(NS, (1.0,), 0.9)
    vault.report_outcome(NS, (1.0,), "worked")
    shared = vault.share(NS, "elsewhere", Selection((), MemoryType.EPISODIC), dry_run=False)
    assert shared.applied == 1
    for namespace in (NS, "elsewhere"):
        assert vault.get(namespace, (1.0,)).payload["secret"] == SECRET
    assert SECRET not in str(raw_rows(tmp_path, "SELECT payload FROM memories"))
    assert SECRET not in str(raw_rows(tmp_path, "SELECT payload FROM memory_versions"))
