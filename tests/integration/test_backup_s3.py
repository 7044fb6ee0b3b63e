"""`soma backup` to and `soma restore` from S3, against a real S3-compatible server on 127.0.0.1."""

import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from somafractalmemory.cli.main import main
from somafractalmemory.core.backup_format import backup_id
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import Runtime, build_runtime
from support.backup_data import NAMESPACES, contents, coordinate, seed, top_coordinates
from support.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

BUCKET = "soma-backups"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def s3(s3_server: S3Server) -> "S3Client":
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    if BUCKET not in [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, s3_server: S3Server) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("SOMA_", "AWS_")) or name in ("POSTGRES_URL", "QDRANT_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def runtime(data_dir: Path) -> Runtime:
    return build_runtime(Settings(data_dir=data_dir))


def soma(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def keys(s3: "S3Client", prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/")
    return sorted(item["Key"].removeprefix(f"{prefix}/") for item in listed.get("Contents", []))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    seeded = runtime(tmp_path / "source")
    seed(seeded.service)
    seeded.close()
    return tmp_path / "source"


def test_round_trip_through_s3(
    s3: "S3Client", source: Path, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = f"s3://{BUCKET}/{unique}/nightly"
    code, summary, err = soma(capsys, "backup", "--data-dir", str(source), "--to", dest, "-q")
    assert (code, err, summary["result"], summary["memories"], summary["namespaces"]) == (
        0,
        "",
        "Succeeded",
        180,
        3,
    )
    identifier = summary["id"]
    assert keys(s3, f"{unique}/nightly") == [
        f"{identifier}/manifest.json",
        f"{identifier}/namespace-00001.ndjson.gz",
        f"{identifier}/namespace-00002.ndjson.gz",
        f"{identifier}/namespace-00003.ndjson.gz",
    ]
    sizes = sum(
        s3.head_object(Bucket=BUCKET, Key=f"{unique}/nightly/{identifier}/namespace-0000{n}.ndjson.gz")[
            "ContentLength"
        ]
        for n in (1, 2, 3)
    )
    assert summary["bytes"] == sizes

    code, restored_summary, err = soma(
        capsys, "restore", "--data-dir", str(tmp_path / "target"), "--from", dest, "-q"
    )
    assert (code, err, restored_summary) == (0, "", summary)
    original, restored = runtime(source), runtime(tmp_path / "target")
    try:
        for namespace in NAMESPACES:
            assert contents(restored.service, namespace) == contents(original.service, namespace)
            assert top_coordinates(restored.service, namespace) == top_coordinates(
                original.service, namespace
            )
    finally:
        original.close()
        restored.close()


def put_backup(s3: "S3Client", prefix: str, days_ago: float, complete: bool = True) -> str:
    identifier = backup_id(datetime.now(UTC) - timedelta(days=days_ago))
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{identifier}/namespace-00001.ndjson.gz", Body=b"old")
    if complete:
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{identifier}/manifest.json", Body=b"{}")
    return identifier


def test_retention_on_s3_removes_only_old_complete_backups(
    s3: "S3Client", source: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    old = [put_backup(s3, unique, days) for days in (1, 2, 3, 10, 40)]
    unfinished = put_backup(s3, unique, 50, complete=False)
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/README", Body=b"not a backup")
    s3.put_object(Bucket=BUCKET, Key=f"{unique}-other/{old[4]}/manifest.json", Body=b"{}")
    code, summary, _ = soma(
        capsys,
        "backup",
        "--data-dir",
        str(source),
        "--to",
        f"s3://{BUCKET}/{unique}",
        "--keep",
        "3",
        "--max-age-days",
        "5",
        "-q",
    )
    assert code == 0
    # Beyond the 3 newest (the new one, 1 and 2 days old) AND older than 5 days: 10 and 40 days old.
    # The 3-days-old one is beyond the 3 newest but younger than 5 days; the unfinished one is never touched.
    remaining = {key.split("/")[0] for key in keys(s3, unique)}
    assert remaining == {summary["id"], old[0], old[1], old[2], unfinished, "README"}
    assert keys(s3, f"{unique}/{unfinished}") == ["namespace-00001.ndjson.gz"]
    assert keys(s3, f"{unique}-other") == [f"{old[4]}/manifest.json"]


def test_a_flipped_byte_in_s3_is_refused_and_nothing_written(
    s3: "S3Client", source: Path, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = f"s3://{BUCKET}/{unique}"
    code, summary, _ = soma(capsys, "backup", "--data-dir", str(source), "--to", dest, "-q")
    key = f"{unique}/{summary['id']}/namespace-00002.ndjson.gz"
    data = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    data[10] ^= 0x80
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    code, failed, err = soma(capsys, "restore", "--data-dir", str(tmp_path / "target"), "--from", dest, "-q")
    message = "corrupted backup: namespace-00002.ndjson.gz does not match its sha256 checksum"
    assert (code, failed["result"], failed["message"], err) == (
        1,
        "Failed",
        message,
        f"soma restore: error: {message}\n",
    )
    assert not (tmp_path / "target").exists()


def test_a_backup_to_a_missing_bucket_fails_with_a_failed_summary(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary_file = tmp_path / "termination-log"
    code, summary, err = soma(
        capsys,
        "backup",
        "--data-dir",
        str(source),
        "--to",
        "s3://no-such-bucket/x",
        "--summary-file",
        str(summary_file),
    )
    message = (
        "s3 is unavailable: An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: "
        "The specified bucket does not exist"
    )
    assert (code, summary["result"], summary["message"], err) == (
        1,
        "Failed",
        message,
        f"soma backup: error: {message}\n",
    )
    assert json.loads(summary_file.read_text()) == summary


def test_two_backups_in_a_row_restore_the_latest(
    s3: "S3Client", source: Path, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = f"s3://{BUCKET}/{unique}"
    _, first, _ = soma(capsys, "backup", "--data-dir", str(source), "--to", dest, "-q")
    seeded = runtime(source)
    assert seeded.service.delete("alpha", coordinate(1))
    seeded.close()
    time.sleep(1.0 - datetime.now(UTC).microsecond / 1e6)  # a backup's id is its start second
    _, second, _ = soma(capsys, "backup", "--data-dir", str(source), "--to", dest, "--keep", "2", "-q")
    assert (first["memories"], second["memories"]) == (180, 179)
    _, restored, _ = soma(capsys, "restore", "--data-dir", str(tmp_path / "target"), "--from", dest, "-q")
    assert (restored["id"], restored["memories"]) == (second["id"], 179)
    _, restored, _ = soma(
        capsys,
        "restore",
        "--data-dir",
        str(tmp_path / "target"),
        "--from",
        dest,
        "--backup",
        first["id"],
        "-q",
    )
    assert (restored["id"], restored["memories"]) == (first["id"], 180)
