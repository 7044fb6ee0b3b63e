"""A backup counts its memories per embedder id (as they recorded it), and a restore names the
embedders other than its own whose memories it embeds again; manifests without the counts still read."""

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from embedded_service import close_service, open_service

from somafractalmemory.cli.main import main
from somafractalmemory.core.backup_format import (
    BackupRefused,
    FileEntry,
    Manifest,
    NamespaceEntry,
    commonest_embedder,
    made_by,
    parse_manifest,
)
from somafractalmemory.embedding.hashing import HashingEmbedder
from support.backup_data import seed

HASHING = HashingEmbedder(384).identity
MINILM = "onnx:all-MiniLM-L6-v2:384"
SHA = "ab" * 32


def entry(position: int, memories: int, embedders: dict[str, int]) -> NamespaceEntry:
    return NamespaceEntry(f"namespace-{position:05d}.ndjson.gz", memories, 0, 0, embedders)


def manifest(embedder: str, *entries: NamespaceEntry) -> Manifest:
    return Manifest(
        "20261127T120000Z",
        embedder,
        {f"ns{number}": value for number, value in enumerate(entries, start=1)},
        {value.file: FileEntry(SHA, 10) for value in entries},
    )


def test_the_manifest_embedder_is_the_commonest_the_memories_recorded() -> None:
    namespaces = [entry(1, 3, {MINILM: 2, HASHING: 1}), entry(2, 4, {HASHING: 1, "unknown": 3})]
    assert commonest_embedder(namespaces, "fallback") == HASHING  # a tie, 2 and 2: the first by name
    assert commonest_embedder([entry(1, 3, {MINILM: 3, HASHING: 1})], "fallback") == MINILM
    # Memories that recorded none, or none at all: the configured embedder.
    assert commonest_embedder([entry(1, 2, {"unknown": 2})], "fallback") == "fallback"
    assert commonest_embedder([], "fallback") == "fallback"


def test_a_configured_id_without_dimensions_matches_the_model_at_any_dimensions() -> None:
    assert made_by(HASHING, HASHING)
    assert made_by(MINILM, "onnx:all-MiniLM-L6-v2")
    assert not made_by(MINILM, "onnx:all-MiniLM-L12-v2")
    assert not made_by(MINILM, "sentence-transformers:all-MiniLM-L6-v2")
    assert not made_by(HashingEmbedder(256).identity, HASHING)
    assert not made_by("hashing/384", HASHING)  # the id format of older backups
    assert not made_by("unknown", HASHING)


def test_the_counts_per_embedder_of_the_namespaces_asked() -> None:
    written = manifest(HASHING, entry(1, 3, {MINILM: 2, HASHING: 1}), entry(2, 4, {HASHING: 4}))
    assert written.embedders(["ns1", "ns2"]) == {HASHING: 5, MINILM: 2}
    assert written.embedders(["ns2"]) == {HASHING: 4}
    assert parse_manifest(written.to_json()) == written


def test_a_manifest_without_the_counts_gives_each_namespace_its_one_embedder() -> None:
    document = json.loads(manifest("hashing/384", entry(1, 3, {}), entry(2, 0, {})).to_json())
    for value in document["namespaces"].values():
        del value["embedders"]
    read = parse_manifest(json.dumps(document).encode())
    assert read.namespaces["ns1"].embedders == {}
    assert read.embedders(["ns1", "ns2"]) == {"hashing/384": 3}


@pytest.mark.parametrize(
    ("embedders", "message"),
    [
        ([], "damaged manifest: namespaces['ns1'].'embedders' is not an object"),
        ({HASHING: -1}, f"damaged manifest: namespaces['ns1'].'embedders'[{HASHING!r}] is not a count"),
        ({HASHING: True}, f"damaged manifest: namespaces['ns1'].'embedders'[{HASHING!r}] is not a count"),
        ({HASHING: "3"}, f"damaged manifest: namespaces['ns1'].'embedders'[{HASHING!r}] is not a count"),
        (
            {HASHING: 2},
            "damaged manifest: namespaces['ns1'].'embedders' counts 2 memories, 'memories' says 3",
        ),
    ],
)
def test_damaged_counts_are_refused(embedders: Any, message: str) -> None:
    document = json.loads(manifest(HASHING, entry(1, 3, {HASHING: 3})).to_json())
    document["namespaces"]["ns1"]["embedders"] = embedders
    with pytest.raises(BackupRefused) as refused:
        parse_manifest(json.dumps(document).encode())
    assert str(refused.value) == message


# --- through soma backup and soma restore -------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("SOMA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def backup(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    """A backup of seeded namespaces; answers its manifest's path."""
    source, dest = tmp_path / "source", tmp_path / "backups"
    source.mkdir()
    service = open_service(source)
    seed(service)
    close_service(service)
    assert main(["backup", "--data-dir", str(source), "--to", str(dest), "--quiet"]) == 0
    identifier = json.loads(capsys.readouterr().out)["id"]
    return dest / identifier / "manifest.json"


def restored(capsys: pytest.CaptureFixture[str], path: Path, change: dict[str, Any]) -> str:
    """The warning the restore of the backup logs (on stderr, after the time), its manifest changed
    (the embedder, or a namespace's fields: None removes one)."""
    document = json.loads(path.read_text())
    for name, fields in change.items():
        if name == "embedder":
            document["embedder"] = fields
            continue
        document["namespaces"][name].update(fields)
        for key, value in fields.items():
            if value is None:
                del document["namespaces"][name][key]
    path.write_text(json.dumps(document))
    target = path.parent.parent.parent / "target"
    code = main(["restore", "--data-dir", str(target), "--from", str(path.parent.parent), "--quiet"])
    assert code == 0
    err = capsys.readouterr().err
    assert err.count("\n") <= 1
    return err.partition(" WARNING somafractalmemory.cli.restore: ")[2]


def test_a_restore_with_the_embedder_of_every_memory_warns_of_nothing(
    capsys: pytest.CaptureFixture[str], backup: Path
) -> None:
    document = json.loads(backup.read_text())
    assert document["embedder"] == HASHING
    assert {name: value["embedders"] for name, value in document["namespaces"].items()} == {
        "alpha": {HASHING: 60},
        "beta": {HASHING: 60},
        "gamma/with slash": {HASHING: 60},
    }
    assert restored(capsys, backup, {}) == ""


def test_a_restore_names_the_other_embedders_and_their_memories(
    capsys: pytest.CaptureFixture[str], backup: Path
) -> None:
    err = restored(capsys, backup, {"alpha": {"embedders": {MINILM: 50, "unknown": 10}}})
    identifier = backup.parent.name
    assert err == (
        f"backup {identifier} holds memories another embedder made (onnx:all-MiniLM-L6-v2:384: 50, "
        f"unknown: 10); they are embedded again with {HASHING}\n"
    )


def test_an_older_manifest_names_its_embedder_in_the_older_format(
    capsys: pytest.CaptureFixture[str], backup: Path
) -> None:
    removed = {"embedders": None}
    err = restored(
        capsys,
        backup,
        {"embedder": "hashing/384", "alpha": removed, "beta": removed, "gamma/with slash": removed},
    )
    assert err == (
        f"backup {backup.parent.name} holds memories another embedder made (hashing/384: 180); "
        f"they are embedded again with {HASHING}\n"
    )
