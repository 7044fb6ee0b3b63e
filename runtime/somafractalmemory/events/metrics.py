"""Prometheus metrics of the event pipeline (in the default registry: the API's /metrics shows them too)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter("soma_relay_published_total", "Outbox events the broker acknowledged")
RELAY_FAILURES = Counter(
    "soma_relay_failures_total", "Outbox events the broker did not acknowledge (retried)"
)
OUTBOX_BACKLOG = Gauge("soma_outbox_backlog", "Outbox events waiting to be published (upper bound)")

EVENTS_CONSUMED = Counter("soma_consumer_consumed_total", "Events applied to the vector index")
EVENTS_FAILED = Counter("soma_consumer_failed_total", "Events sent to the dead-letter topic")
CONSUMER_LAG = Gauge("soma_consumer_lag", "Events in the topic not yet committed by the group", ["partition"])
INDEX_LATENCY = Histogram(
    "soma_consumer_latency_seconds",
    "From the write that emitted an event to its vector being indexed",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
