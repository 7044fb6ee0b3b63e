"""Prometheus metrics of one app: requests and latency by route, memories by type (and namespace, if set)."""

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from somafractalmemory.http_api.guard import ASGIApp, Message, Receive, Scope, Send
from somafractalmemory.wiring import Runtime

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
UNMATCHED_ROUTE = "unmatched"


class MemoryCounts(Collector):
    """Read at scrape time from the store's counters, so every replica reports the same numbers.

    Namespace names are tenants' names: they are labels only when SOMA_METRICS_NAMESPACES says so,
    otherwise the counts are summed over namespaces."""

    def __init__(self, app_state: Any) -> None:
        self._state = app_state
        self._by_namespace: bool = app_state.settings.metrics_namespaces

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["namespace", "type"] if self._by_namespace else ["type"]
        family = GaugeMetricFamily("soma_memories", "Memories stored, by type", labels=labels)
        runtime: Runtime | None = getattr(self._state, "runtime", None)
        if runtime is None:
            yield family
            return
        all_stats = runtime.service.store.all_stats()
        if self._by_namespace:
            for namespace, stats in all_stats.items():
                family.add_metric([namespace, "episodic"], stats.episodic)
                family.add_metric([namespace, "semantic"], stats.semantic)
        else:
            family.add_metric(["episodic"], sum(stats.episodic for stats in all_stats.values()))
            family.add_metric(["semantic"], sum(stats.semantic for stats in all_stats.values()))
        yield family


class ApiMetrics:
    def __init__(self, app_state: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "soma_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "soma_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(MemoryCounts(app_state))


class MetricsMiddleware:
    """Times every request and labels it with its route template (never the raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            method = scope["method"]
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(method, route, str(status)).inc()
