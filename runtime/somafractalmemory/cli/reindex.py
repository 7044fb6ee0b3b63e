"""`soma reindex`: embed the memories of namespaces again with the configured embedder and rewrite
their vectors (after a change of embedder, or of its dimensions): those another embedder made (or an
unknown one), or every one with ``--all`` or when the embedded index is rebuilt."""

import argparse
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from somafractalmemory.adapters.sqlite_file import SQLITE_COMPANIONS
from somafractalmemory.cli.errors import UsageError
from somafractalmemory.cli.options import (
    QUIET_LOG_LEVEL,
    Subparsers,
    data_dir_option,
    logging_options,
    positive_int,
    quiet_option,
    settings_from,
)
from somafractalmemory.cli.output import note, progress, write_json
from somafractalmemory.core.ports import DocumentStore, Embedder, VectorIndex
from somafractalmemory.core.reindex import DEFAULT_BATCH, namespaces_to_reindex, reindex_namespace
from somafractalmemory.datadir import private_directory
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_embedder, build_index, build_store

log = logging.getLogger(__name__)

REBUILD_DIRECTORY = "reindex-scratch"


def embedded_index(settings: Settings) -> bool:
    return settings.qdrant_url is None and settings.qdrant_path is None


def move_into(scratch: Path, folder: Path) -> None:
    """Each entry of ``scratch`` in place of the entry of that name in ``folder`` (with the SQLite
    companions of a replaced file, which belong to the old content)."""
    for entry in sorted(scratch.iterdir()):
        target = folder / entry.name
        for companion in SQLITE_COMPANIONS:
            target.with_name(target.name + companion).unlink(missing_ok=True)
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(entry, target)
    scratch.rmdir()


@contextmanager
def rebuilt_index(settings: Settings, dimensions: int) -> Iterator[VectorIndex]:
    """A new embedded vector index of ``dimensions``, built in a scratch directory beside the data and
    put in place of the old one only once complete (one index cannot mix dimensions)."""
    folder = private_directory(settings.data_dir)
    scratch = folder / REBUILD_DIRECTORY
    shutil.rmtree(scratch, ignore_errors=True)  # a rebuild that stopped half-way
    index = build_index(settings.model_copy(update={"data_dir": scratch}), dimensions)
    try:
        yield index
    except BaseException:
        index.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    index.close()
    move_into(scratch, folder)


@contextmanager
def vector_index(
    settings: Settings, dimensions: int, every_namespace: bool
) -> Iterator[tuple[VectorIndex, bool]]:
    """The index to write, and whether it is a new one (which every memory must go into)."""
    mismatch = None
    try:
        index = build_index(settings, dimensions)
    except ValueError as error:  # the embedded index holds vectors of other dimensions
        if not embedded_index(settings):
            raise
        mismatch = str(error)
    if mismatch is not None:  # out of the except block: the failed index's file is closed by now
        if not every_namespace:
            raise UsageError(
                f"{mismatch}: reindex every namespace (no --namespace) to rebuild the vector index"
            )
        log.warning("%s: the vector index is rebuilt with %d dimensions", mismatch, dimensions)
        with rebuilt_index(settings, dimensions) as rebuilt:
            yield rebuilt, True
        return
    try:
        yield index, False
    finally:
        index.close()


def reindex(
    store: DocumentStore,
    index: VectorIndex,
    embedder: Embedder,
    namespaces: list[str],
    *,
    every: bool,
    batch: int,
    quiet: bool,
) -> dict[str, int]:
    """The number of memories embedded per namespace (the progress bar counts the memories read)."""
    total = sum(store.stats(namespace).total_memories for namespace in namespaces)
    counts: dict[str, int] = {}
    with progress(total=total, unit="memory", description="reindex", quiet=quiet) as bar:
        for namespace in namespaces:
            counts[namespace] = reindex_namespace(
                store, index, embedder, namespace, every=every, batch_size=batch, progress=bar.update
            )
    return counts


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    started = time.perf_counter()
    embedder = build_embedder(settings)
    store = build_store(settings)
    try:
        namespaces = namespaces_to_reindex(store, args.namespaces or [])
        with vector_index(settings, embedder.dimensions, not args.namespaces) as (index, new):
            every = args.all or new
            counts = reindex(
                store, index, embedder, namespaces, every=every, batch=args.batch_size, quiet=args.quiet
            )
    finally:
        store.close()
    result: dict[str, Any] = {
        "embedder": settings.embedding_provider,
        "embedder_id": embedder.identity,
        "all": every,
        "dimensions": embedder.dimensions,
        "namespaces": counts,
        "memories": sum(counts.values()),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if not args.quiet:
        note(f"embedded {result['memories']} memories of {len(counts)} namespaces again")
    write_json(result)
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    summary = (
        "Embed the memories of the namespaces again with the configured embedder ($SOMA_EMBEDDING_PROVIDER) "
        "and rewrite their vectors: after a change of embedder or of its dimensions. Only memories another "
        "embedder (or an unknown one) embedded, unless --all. Reads the store in batches; safe while the API "
        "serves; running it again embeds nothing. Prints a JSON summary."
    )
    parser = subparsers.add_parser("reindex", parents=[logging_options()], help=summary, description=summary)
    data_dir_option(parser)
    parser.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        metavar="NAME",
        help="a namespace to reindex (repeat for several; default: every namespace that holds memories)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"memories embedded and written at a time (default: {DEFAULT_BATCH})",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="embed every memory again, also those the configured embedder already embedded",
    )
    quiet_option(parser)
    parser.set_defaults(func=run, default_log_level=QUIET_LOG_LEVEL)
