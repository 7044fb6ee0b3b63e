"""What `soma backup` and `soma restore` work on, from the settings and the command line: the store's
snapshot, the embedder's id, and the destination (a directory or s3://bucket/prefix)."""

import os
from contextlib import AbstractContextManager
from pathlib import Path

from somafractalmemory.adapters.backup_destinations import (
    S3_SCHEME,
    Destination,
    LocalDestination,
    S3Destination,
)
from somafractalmemory.cli.errors import UsageError
from somafractalmemory.core.snapshot import StoreSnapshot
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import DOCUMENT_FILE

ENDPOINT_VARIABLE = "SOMA_BACKUP_S3_ENDPOINT"
REGION_VARIABLE = "AWS_REGION"
DEFAULT_REGION = "us-east-1"


def destination(text: str) -> Destination:
    if not text.startswith(S3_SCHEME):
        return LocalDestination(Path(text))
    bucket = text.removeprefix(S3_SCHEME).partition("/")[0]
    if not bucket:
        raise UsageError(f"{text!r} names no bucket: use s3://BUCKET/PREFIX")
    return S3Destination.connect(
        text,
        endpoint=os.environ.get(ENDPOINT_VARIABLE) or None,
        region=os.environ.get(REGION_VARIABLE) or DEFAULT_REGION,
    )


def store_snapshot(settings: Settings) -> AbstractContextManager[StoreSnapshot]:
    """One snapshot of the store ``soma serve`` would use with these settings."""
    if settings.postgres_url is not None:
        from somafractalmemory.adapters.postgres_snapshot import postgres_snapshot

        return postgres_snapshot(settings.postgres_url.get_secret_value())
    from somafractalmemory.adapters.sqlite_snapshot import sqlite_snapshot

    return sqlite_snapshot(settings.data_dir / DOCUMENT_FILE)


def embedder_id(settings: Settings) -> str:
    """The embedder whose vectors the memories had: a restore re-embeds with its own one."""
    if settings.embedding_provider == "hashing":
        return f"hashing/{settings.embedding_dimensions}"
    # A neural model is named by its directory when it has one (the operator's model volume).
    model = settings.embedding_model_dir.name if settings.embedding_model_dir else settings.embedding_model
    return f"{settings.embedding_provider}/{model}"
