"""The backup format: ids, the manifest (version 2, and version 1 still read) and each refusal of it,
record checks, retention."""

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from somafractalmemory.core.backup_format import (
    BackupRefused,
    FileEntry,
    Manifest,
    NamespaceEntry,
    backup_id,
    check_digest,
    check_records,
    check_size,
    data_file_name,
    expired,
    parse_backup_id,
    parse_manifest,
    rfc3339,
)

SHA = "ab" * 32
NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def manifest() -> Manifest:
    return Manifest(
        "20261127T120000Z",
        "hashing/384",
        {
            "alpha": NamespaceEntry("namespace-00001.ndjson.gz", 3, 1, 4, {"hashing/384": 2, "unknown": 1}),
            "beta": NamespaceEntry("namespace-00002.ndjson.gz", 2, 0, 0),
        },
        {
            "namespace-00001.ndjson.gz": FileEntry(SHA, 120),
            "namespace-00002.ndjson.gz": FileEntry("cd" * 32, 80),
        },
    )


def document(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(manifest().to_json())
    value.update(changes)
    return value


def refusal(value: Any) -> str:
    with pytest.raises(BackupRefused) as refused:
        parse_manifest(json.dumps(value).encode())
    return str(refused.value)


def test_ids_are_the_utc_start_time_to_the_second() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    assert backup_id(moment) == "20260102T030405Z"
    assert backup_id(datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))) == "20260102T030405Z"
    assert parse_backup_id("20260102T030405Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert rfc3339(moment) == "2026-01-02T03:04:05Z"
    for name in ("20260102T030405", "2026010203T0405Z", "20261302T030405Z", "x20260102T030405Z", "latest"):
        assert parse_backup_id(name) is None
    assert data_file_name(1) == "namespace-00001.ndjson.gz"
    assert data_file_name(12345) == "namespace-12345.ndjson.gz"


def test_manifest_written_reads_back_equal_with_its_totals() -> None:
    written = manifest()
    text = written.to_json()
    assert json.loads(text) == {
        "format": "soma-backup",
        "schema_version": 2,
        "id": "20261127T120000Z",
        "created": "2026-11-27T12:00:00Z",
        "embedder": "hashing/384",
        "namespaces": {
            "alpha": {
                "file": "namespace-00001.ndjson.gz",
                "memories": 3,
                "links": 1,
                "versions": 4,
                "embedders": {"hashing/384": 2, "unknown": 1},
            },
            "beta": {
                "file": "namespace-00002.ndjson.gz",
                "memories": 2,
                "links": 0,
                "versions": 0,
                "embedders": {},
            },
        },
        "files": {
            "namespace-00001.ndjson.gz": {"sha256": SHA, "bytes": 120},
            "namespace-00002.ndjson.gz": {"sha256": "cd" * 32, "bytes": 80},
        },
    }
    assert parse_manifest(text) == written
    assert (written.memories, written.links, written.versions, written.total_bytes, written.created) == (
        5,
        1,
        4,
        200,
        "2026-11-27T12:00:00Z",
    )


def test_a_version_1_manifest_is_read_as_a_backup_without_versions() -> None:
    old = document(schema_version=1)
    for entry in old["namespaces"].values():
        del entry["versions"], entry["embedders"]
    read = parse_manifest(json.dumps(old).encode())
    assert read.namespaces["alpha"] == NamespaceEntry("namespace-00001.ndjson.gz", 3, 1, 0)
    assert (read.memories, read.links, read.versions) == (5, 1, 0)
    # Version 2 requires the count: a manifest without it is damaged, not read as none.
    missing = document()
    del missing["namespaces"]["alpha"]["versions"]
    assert refusal(missing) == "damaged manifest: namespaces['alpha'].'versions' is missing or not a int"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "not a soma backup: manifest.json does not name the format 'soma-backup'"),
        ({}, "not a soma backup: manifest.json does not name the format 'soma-backup'"),
        (
            document(format="tarball"),
            "not a soma backup: manifest.json does not name the format 'soma-backup'",
        ),
        (document(schema_version=3), "unsupported backup schema version 3: this soma reads versions 1 and 2"),
        (document(schema_version=0), "unsupported backup schema version 0: this soma reads versions 1 and 2"),
        (
            document(schema_version=True),
            "unsupported backup schema version True: this soma reads versions 1 and 2",
        ),
        (
            document(schema_version="2"),
            "unsupported backup schema version '2': this soma reads versions 1 and 2",
        ),
        (
            document(id="yesterday"),
            "damaged manifest: 'id' 'yesterday' is not a backup id (YYYYMMDDTHHMMSSZ)",
        ),
        (document(id=7), "damaged manifest: 'id' is missing or not a str"),
        (document(embedder=None), "damaged manifest: 'embedder' is missing or not a str"),
        (document(files=[]), "damaged manifest: 'files' is missing or not a dict"),
        (
            document(files={"../../etc/passwd": {"sha256": SHA, "bytes": 1}}),
            "damaged manifest: file name '../../etc/passwd' is not a backup file name",
        ),
        (
            document(files={"namespace-00001.ndjson.gz": {"sha256": "xyz", "bytes": 1}}),
            "damaged manifest: files['namespace-00001.ndjson.gz'].'sha256' is not a sha256 hex digest",
        ),
        (
            document(files={"namespace-00001.ndjson.gz": {"sha256": SHA, "bytes": -1}}),
            "damaged manifest: files['namespace-00001.ndjson.gz'].'bytes' is negative",
        ),
        (
            document(files={"namespace-00001.ndjson.gz": {"sha256": SHA, "bytes": True}}),
            "damaged manifest: files['namespace-00001.ndjson.gz'].'bytes' is missing or not a int",
        ),
        (
            document(
                namespaces={
                    "alpha": {"file": "namespace-00009.ndjson.gz", "memories": 1, "links": 0, "versions": 0}
                }
            ),
            "damaged manifest: namespace 'alpha' names file 'namespace-00009.ndjson.gz', which 'files' does "
            "not list",
        ),
        (
            document(
                namespaces={
                    "alpha": {"file": "namespace-00001.ndjson.gz", "memories": 1, "links": 0, "versions": 0},
                    "beta": {"file": "namespace-00001.ndjson.gz", "memories": 1, "links": 0, "versions": 0},
                }
            ),
            "damaged manifest: two namespaces name the same file",
        ),
        (
            document(namespaces={"alpha": {"file": "namespace-00001.ndjson.gz", "links": 0, "versions": 0}}),
            "damaged manifest: namespaces['alpha'].'memories' is missing or not a int",
        ),
        (
            document(
                namespaces={
                    "alpha": {"file": "namespace-00001.ndjson.gz", "memories": 1, "links": 0, "versions": -1}
                }
            ),
            "damaged manifest: namespaces['alpha'].'versions' is negative",
        ),
    ],
)
def test_a_foreign_or_damaged_manifest_is_refused(value: Any, message: str) -> None:
    assert refusal(value) == message


def test_a_manifest_that_is_no_json_is_not_a_soma_backup() -> None:
    with pytest.raises(BackupRefused) as refused:
        parse_manifest(b"PK\x03\x04 a zip file")
    assert str(refused.value) == "not a soma backup: manifest.json does not name the format 'soma-backup'"


def test_size_and_digest_checks_name_the_file_and_both_values() -> None:
    entry = FileEntry(SHA, 100)
    check_size("f.gz", 100, entry)
    check_digest("f.gz", SHA, entry)
    with pytest.raises(BackupRefused) as small:
        check_size("f.gz", 99, entry)
    assert str(small.value) == "truncated backup: f.gz holds 99 bytes, the manifest says 100"
    with pytest.raises(BackupRefused) as large:
        check_size("f.gz", 101, entry)
    assert str(large.value) == "corrupted backup: f.gz holds 101 bytes, the manifest says 100"
    with pytest.raises(BackupRefused) as digest:
        check_digest("f.gz", "cd" * 32, entry)
    assert str(digest.value) == "corrupted backup: f.gz does not match its sha256 checksum"


MEMORY = b'{"kind":"memory","coord":[1,2],"payload":{"text":"a"},"type":"episodic"}\n'
LINK = b'{"kind":"link","from":[1,2],"to":[1,2],"type":"r","weight":1}\n'
VERSION = (
    b'{"kind":"version","coord":[1,2],"number":1,"payload":{"text":"old"},"type":"episodic",'
    b'"importance":0.5,"updated_at":10.0,"replaced_at":20.0}\n'
)


def records_refusal(lines: list[bytes], memories: int = 1, links: int = 1, versions: int = 0) -> str:
    with pytest.raises(BackupRefused) as refused:
        check_records("f.gz", "ns", NamespaceEntry("f.gz", memories, links, versions), lines)
    return str(refused.value)


def test_records_must_be_memories_then_links_in_the_manifests_counts() -> None:
    check_records("f.gz", "ns", NamespaceEntry("f.gz", 2, 1), [MEMORY, MEMORY, LINK])
    check_records("f.gz", "ns", NamespaceEntry("f.gz", 0, 0), [])
    check_records("f.gz", "ns", NamespaceEntry("f.gz", 1, 1, 2), [MEMORY, LINK, VERSION, VERSION])
    check_records("f.gz", "ns", NamespaceEntry("f.gz", 1, 0, 1), [MEMORY, VERSION])
    assert records_refusal([MEMORY, LINK, LINK]) == (
        "corrupted backup: f.gz holds 1 memories, 2 links and 0 versions, the manifest says 1, 1 and 0"
    )
    assert (
        records_refusal([MEMORY])
        == "corrupted backup: f.gz holds 1 memories, 0 links and 0 versions, the manifest says 1, 1 and 0"
    )
    assert records_refusal([MEMORY, LINK, VERSION], versions=2) == (
        "corrupted backup: f.gz holds 1 memories, 1 links and 1 versions, the manifest says 1, 1 and 2"
    )
    assert records_refusal([LINK, MEMORY]) == "corrupted backup: f.gz line 2: a memory after the links"
    assert records_refusal([MEMORY, VERSION, LINK], versions=1) == (
        "corrupted backup: f.gz line 3: a link after the versions"
    )
    assert records_refusal([MEMORY, b"{not json\n"]).startswith("corrupted backup: f.gz line 2: ")
    assert records_refusal([b"[1]\n"]) == "corrupted backup: f.gz line 1: not a JSON object"
    assert (
        records_refusal([b'{"coord":[1]}\n'])
        == "corrupted backup: f.gz line 1: 'kind' must be 'memory', 'link' or 'version'"
    )
    altered = VERSION.replace(b'"number":1', b'"number":0')
    assert records_refusal([MEMORY, LINK, altered], versions=1) == (
        "corrupted backup: f.gz line 3: 'number' must be an integer from 1 to 2147483647"
    )
    assert records_refusal([MEMORY, LINK, VERSION.replace(b',"replaced_at":20.0', b"")], versions=1) == (
        "corrupted backup: f.gz line 3: 'replaced_at' is missing"
    )
    assert records_refusal([MEMORY, LINK, VERSION.replace(b'"episodic"', b'"dream"')], versions=1) == (
        "corrupted backup: f.gz line 3: 'type' must be 'episodic' or 'semantic'"
    )
    assert records_refusal([b'{"kind":"memory","coord":[1],"payload":{"text":"a"},"importance":2}\n']) == (
        "corrupted backup: f.gz line 1: 'importance' must be a number from 0 to 1"
    )
    assert records_refusal([gzip.compress(MEMORY)]).startswith("corrupted backup: f.gz line 1: ")


def ids(*days_ago: float) -> list[str]:
    return [backup_id(NOW - timedelta(days=days)) for days in days_ago]


def test_retention_by_count_keeps_the_newest() -> None:
    complete = ids(0, 1, 2, 3, 4)
    assert expired(complete, keep=2, max_age_days=None, now=NOW) == ids(4, 3, 2)
    assert expired(complete, keep=5, max_age_days=None, now=NOW) == []
    assert expired(complete, keep=0, max_age_days=None, now=NOW) == ids(4, 3, 2, 1, 0)


def test_retention_by_age_removes_only_what_is_older() -> None:
    complete = ids(0, 1, 2.5, 3, 10)
    assert expired(complete, keep=None, max_age_days=2.5, now=NOW) == ids(10, 3)
    assert expired(complete, keep=None, max_age_days=30, now=NOW) == []


def test_retention_by_count_and_age_removes_only_what_both_allow() -> None:
    complete = ids(0, 1, 2, 3, 40, 50)
    # Past the 2 newest (2, 3, 40, 50 days), and older than 7 days (40, 50): never one younger than that.
    assert expired(complete, keep=2, max_age_days=7, now=NOW) == ids(50, 40)
    # Older than 0.5 days (1 ... 50), but the 5 newest stay.
    assert expired(complete, keep=5, max_age_days=0.5, now=NOW) == ids(50)


def test_retention_without_limits_or_on_foreign_names_removes_nothing() -> None:
    assert expired(ids(0, 100), keep=None, max_age_days=None, now=NOW) == []
    assert expired(["notes", "latest", *ids(100)], keep=0, max_age_days=1, now=NOW) == ids(100)
