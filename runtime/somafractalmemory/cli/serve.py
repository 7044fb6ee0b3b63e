"""``soma serve``: the HTTP API on the embedded default, with no set-up."""

import argparse
import logging

from somafractalmemory.cli.extras import require_backends
from somafractalmemory.cli.options import (
    Subparsers,
    add_command,
    data_dir_option,
    logging_options,
    settings_from,
)
from somafractalmemory.encryption_config import field_encryption
from somafractalmemory.settings import DEFAULT_PORT, Settings
from somafractalmemory.tokens import GENERATED_TOKEN_FILE, resolve_token

log = logging.getLogger(__name__)

DEFAULT_HOST = Settings.model_fields["host"].default


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from somafractalmemory.http_api.application import create_app
    from somafractalmemory.http_api.connection_limits import ConnectionLimits, limited_protocol

    settings = settings_from(args)
    require_backends(settings)
    token_file = settings.data_dir / GENERATED_TOKEN_FILE
    if settings.api_token is None and settings.api_token_file is None and token_file.exists():
        log.info("the API token is in %s", token_file)
    resolve_token(settings)  # a bad token setting fails here, before the port opens; a new one is logged
    field_encryption(settings)  # and so does a bad encryption key setting
    log.info("memories are kept in %s", settings.data_dir)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,  # uvicorn's records go through the handler of --log-format
        access_log=not args.no_access_log,
        http=limited_protocol(ConnectionLimits.of(settings)),
        ws="none",
        timeout_keep_alive=settings.keepalive_timeout_seconds,
        proxy_headers=False,  # forwarded headers are believed only from SOMA_TRUSTED_PROXIES, by the guard
    )
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = add_command(
        subparsers,
        "serve",
        "Run the memory API (HTTP, OpenAPI at /docs): on the embedded store of a data directory, or on the "
        "backends the environment names (POSTGRES_URL, QDRANT_URL, ...). With no token configured, one is "
        "generated on first start in the data directory, readable by its owner only.",
        [logging_options()],
    )
    parser.add_argument(
        "--host",
        help=f"address to listen on (default: $SOMA_HOST, else {DEFAULT_HOST}; 0.0.0.0 for every one)",
    )
    parser.add_argument(
        "--port", type=int, help=f"port to listen on (default: $SOMA_PORT, else {DEFAULT_PORT})"
    )
    data_dir_option(parser)
    parser.add_argument(
        "--consume",
        dest="consume_in_process",
        action="store_const",
        const=True,
        help="in evented mode (EVENTING_ENABLED, KAFKA_BOOTSTRAP_SERVERS), also run the indexing consumer "
        "inside the API process instead of a separate `soma consume` (default: $SOMA_CONSUME_IN_PROCESS)",
    )
    parser.add_argument("--no-access-log", action="store_true", help="do not log a line for every request")
    parser.set_defaults(func=serve)
