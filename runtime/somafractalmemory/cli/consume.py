"""``soma consume``: the indexing consumer as its own process, with /healthz and /metrics on port 9596.

It reads the memory events topic as a member of the consumer group, embeds and writes the vector index, and
commits only after the index write. With POSTGRES_URL set it also relays the outbox (one relay at a time
across all processes, so running it next to the API's relay is safe).
"""

import argparse
import logging
import signal
import threading
from types import FrameType

from somafractalmemory.cli.errors import UsageError
from somafractalmemory.cli.extras import PRODUCTION, require, require_backends
from somafractalmemory.cli.options import Subparsers, add_command, logging_options, settings_from
from somafractalmemory.settings import Settings

log = logging.getLogger(__name__)


def _check(settings: Settings) -> None:
    if settings.kafka_bootstrap_servers is None:
        raise UsageError("soma consume needs KAFKA_BOOTSTRAP_SERVERS (the broker to read events from)")
    if settings.qdrant_url is None and settings.qdrant_path is None:
        raise UsageError("soma consume needs QDRANT_URL or QDRANT_PATH (the vector index to write)")


def consume(args: argparse.Namespace) -> int:
    require(PRODUCTION, "soma consume")
    from somafractalmemory import production_wiring
    from somafractalmemory.events.health_server import HealthServer
    from somafractalmemory.events.pipeline import EventPipeline
    from somafractalmemory.wiring import build_embedder, build_index, build_store

    settings = settings_from(args)
    _check(settings)
    require_backends(settings)
    host = args.metrics_host or settings.consumer_metrics_host
    port = settings.consumer_metrics_port if args.metrics_port is None else args.metrics_port
    embedder = build_embedder(settings)
    index = build_index(settings, embedder.dimensions)
    store = build_store(settings) if settings.postgres_url is not None else None
    relay = production_wiring.outbox_relay(settings, store) if store is not None else None
    pipeline = EventPipeline(relay, production_wiring.indexing_consumer(settings, index, embedder))
    health = HealthServer(host, port, pipeline.healthy)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    health.start()
    pipeline.start()
    try:
        stopping.wait()
    finally:
        pipeline.stop()
        health.stop()
        index.close()
        if store is not None:
            store.close()
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = add_command(
        subparsers,
        "consume",
        "Index memory events from the broker (KAFKA_BOOTSTRAP_SERVERS) into the vector index (QDRANT_URL or "
        "QDRANT_PATH) as a consumer group member; relays the outbox too when POSTGRES_URL is set. Serves "
        "/healthz and /metrics.",
        [logging_options()],
    )
    parser.add_argument(
        "--metrics-host",
        help="address of /healthz and /metrics (default: $SOMA_CONSUMER_METRICS_HOST, else 127.0.0.1)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="port of /healthz and /metrics (default: $SOMA_CONSUMER_METRICS_PORT, else 9596)",
    )
    parser.set_defaults(func=consume)
