"""What `soma backup` and `soma restore` work on, from the settings and the command line: the store's
snapshot, the configured embedder's id, and the destination (a directory or s3://bucket/prefix)."""

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
from somafractalmemory.embedding.hashing import HashingEmbedder
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
    """The id of the embedder the settings select, in the format memories record
    (``hashing:rules-<digest>:384``), without loading a model (a backup Job need not mount the
    model volume): a neural provider's id then stops before its dimensions
    (``onnx:all-MiniLM-L6-v2``), which only loading the model tells."""
    if settings.embedding_provider == "hashing":
        return HashingEmbedder(settings.embedding_dimensions).identity
    if settings.embedding_provider == "onnx":
        from somafractalmemory.embedding.onnx_embedder import model_name

        model = (
            model_name(settings.embedding_model_dir)
            if settings.embedding_model_dir
            else settings.embedding_model
        )
        return f"onnx:{model}"
    from somafractalmemory.embedding.sentence_transformer import model_name as named

    # A model directory is named by its name, mounted or not.
    directory = settings.embedding_model_dir
    return f"{settings.embedding_provider}:{directory.name if directory else named(settings.embedding_model)}"
