"""Open endpoints: the root greeting, liveness, readiness per backend, the reference /health, and Prometheus
metrics."""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.core.ports import Backend
from somafractalmemory.http_api.deps import RuntimeDep
from somafractalmemory.http_api.schemas import (
    HealthResponse,
    LivenessResponse,
    ReadinessResponse,
    RootResponse,
)
from somafractalmemory.wiring import Runtime

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

PIPELINE = "event-pipeline"
RECOVERY = "index-recovery"
PING_WAIT_SECONDS = 2.0  # under the kubelet's probe timeout (3 s, soma_operator.builders.pods)


def ping(backend: Backend) -> dict[str, Any]:
    """One backend's state; a failure is reported with its reason, never raised."""
    try:
        backend.ping()
    except BackendUnavailable as error:
        return {"ok": False, "error": error.detail}
    except Exception as error:  # a client library's own failure (a closed client): still a failed ping
        log.warning("%s ping failed", backend.name, exc_info=error)
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    return {"ok": True}


async def ping_within(backend: Backend, seconds: float) -> dict[str, Any]:
    """A backend that has not answered within ``seconds`` is down for this probe (its ping ends in the
    background, bounded by the backend's own timeout): a probe answers inside the kubelet's timeout."""
    try:
        return await asyncio.wait_for(run_in_threadpool(ping, backend), seconds)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {seconds:g} s"}


async def probe(runtime: Runtime, seconds: float = PING_WAIT_SECONDS) -> dict[str, dict[str, Any]]:
    """Ping every backend at once (and, in evented mode, check the relay and consumer threads; after an
    unclean stop, the index recovery)."""
    backends = runtime.backends
    states = await asyncio.gather(*(ping_within(backend, seconds) for backend in backends))
    report = {backend.name: state for backend, state in zip(backends, states, strict=True)}
    if runtime.pipeline is not None:
        report[PIPELINE] = (
            {"ok": True}
            if runtime.pipeline.healthy()
            else {"ok": False, "error": "relay or consumer stopped or stalled"}
        )
    if runtime.recovery is not None:
        status = runtime.recovery.status
        report[RECOVERY] = {"ok": True} if status.ready else {"ok": False, "error": status.describe()}
    return report


# /healthz is liveness: it never waits on a backend (a ping may queue behind a heavy write for the
# store's lock). It answers the booleans of the latest probe, refreshed in the background when older.
LIVENESS_REFRESH_SECONDS = 5.0


@dataclass
class LatestProbe:
    """The latest probe's report, shared by the probes of one app."""

    report: dict[str, dict[str, Any]] | None = None
    taken_at: float = 0.0
    refreshing: "asyncio.Task[dict[str, dict[str, Any]]] | None" = None

    async def take(self, runtime: Runtime) -> dict[str, dict[str, Any]]:
        report = await probe(runtime)
        self.report, self.taken_at = report, time.monotonic()
        return report

    async def latest(self, runtime: Runtime) -> dict[str, dict[str, Any]]:
        """The latest report without waiting, except for the very first one; a stale one is refreshed
        in the background."""
        if self.report is None:
            return await self.take(runtime)
        stale = time.monotonic() - self.taken_at >= LIVENESS_REFRESH_SECONDS
        if stale and (self.refreshing is None or self.refreshing.done()):
            self.refreshing = asyncio.create_task(self.take(runtime))
        return self.report


def latest_probe(request: Request) -> LatestProbe:
    found: LatestProbe | None = getattr(request.app.state, "latest_probe", None)
    if found is None:
        found = request.app.state.latest_probe = LatestProbe()
    return found


def reference_booleans(runtime: Runtime, backends: dict[str, dict[str, Any]]) -> dict[str, bool]:
    """The reference service's four booleans from a probe's report."""
    store_ok = bool(backends[runtime.service.store.name]["ok"])
    return {
        "kv_store": store_ok,
        "vector_store": bool(backends[runtime.service.index.name]["ok"]),
        "graph_store": store_ok,
        "prediction_provider": True,
    }


@router.get("/", summary="Root")
async def root() -> RootResponse:
    """The reference service's greeting, pointing at the metrics."""
    return RootResponse(message="SomaFractalMemory API is running", metrics="/metrics")


@router.get("/healthz")
async def healthz(request: Request, runtime: RuntimeDep) -> LivenessResponse:
    """The process is alive and serving: always 200, at once. The booleans are those of the latest
    probe (by /readyz, /health, or this one in the background when the latest is older than
    5 s), so a backend busy with a heavy write never slows liveness."""
    backends = await latest_probe(request).latest(runtime)
    return LivenessResponse(status="ok", **reference_booleans(runtime, backends))


@router.get(
    "/readyz",
    response_model=ReadinessResponse,
    responses={503: {"model": ReadinessResponse, "description": "a backend is down; the body names it"}},
)
async def readyz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    backends = await latest_probe(request).take(runtime)
    failed = sorted(name for name, state in backends.items() if not state["ok"])
    body = {
        "status": "unavailable" if failed else "ready",
        "failed": failed,
        "backends": backends,
        **reference_booleans(runtime, backends),
    }
    return JSONResponse(body, status_code=503 if failed else 200)


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "a backend is down"}},
)
async def health(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """The reference service's per-backend booleans, and every backend's own."""
    backends = await latest_probe(request).take(runtime)
    body = {
        **reference_booleans(runtime, backends),
        "backends": {name: state["ok"] for name, state in backends.items()},
    }
    return JSONResponse(body, status_code=200 if all(s["ok"] for s in backends.values()) else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
