"""``soma migrate``: apply the PostgreSQL schema migrations (also applied at start-up; idempotent)."""

import argparse

from somafractalmemory.cli.errors import UsageError
from somafractalmemory.cli.extras import PRODUCTION, require
from somafractalmemory.cli.options import Subparsers, add_command, logging_options, settings_from
from somafractalmemory.cli.output import write_json


def migrate(args: argparse.Namespace) -> int:
    require(PRODUCTION, "soma migrate")
    from somafractalmemory.adapters.postgres_schema import MIGRATIONS
    from somafractalmemory.adapters.postgres_store import PostgresStore
    from somafractalmemory.production_wiring import wait_for

    settings = settings_from(args)
    if settings.postgres_url is None:
        raise UsageError("soma migrate needs POSTGRES_URL (the embedded SQLite store migrates itself)")
    store = PostgresStore.connect(settings.postgres_url.get_secret_value(), evented=False, max_size=1)
    try:
        wait_for(store, settings.backend_wait_seconds)
        applied = store.migrate()
    finally:
        store.close()
    write_json({"applied": applied, "schema_version": MIGRATIONS[-1].version})
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = add_command(
        subparsers,
        "migrate",
        "Apply the PostgreSQL schema migrations of POSTGRES_URL not applied yet (idempotent; the API and "
        "the consumer also apply them at start-up). Prints the versions applied.",
        [logging_options()],
    )
    parser.set_defaults(func=migrate)
