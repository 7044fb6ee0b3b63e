"""Open endpoints: the root greeting, liveness, readiness per backend, the reference /health, and Prometheus
metrics."""

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from somafractalmemory.core.errors import BackendUnavailable
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


def probe(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """Ping every backend (and, in evented mode, check the relay and consumer threads; after an unclean
    stop, the index recovery); a failure is reported with its reason, never raised."""
    report: dict[str, dict[str, Any]] = {}
    for backend in runtime.backends:
        try:
            backend.ping()
        except BackendUnavailable as error:
            report[backend.name] = {"ok": False, "error": error.detail}
        except Exception as error:  # a client library's own failure (a closed client): still a failed ping
            log.warning("%s ping failed", backend.name, exc_info=error)
            report[backend.name] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        else:
            report[backend.name] = {"ok": True}
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
async def healthz(runtime: RuntimeDep) -> LivenessResponse:
    """The process is alive and serving: always 200; the booleans say which backends answer."""
    backends = await run_in_threadpool(probe, runtime)
    return LivenessResponse(status="ok", **reference_booleans(runtime, backends))


@router.get(
    "/readyz",
    response_model=ReadinessResponse,
    responses={503: {"model": ReadinessResponse, "description": "a backend is down; the body names it"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    backends = await run_in_threadpool(probe, runtime)
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
async def health(runtime: RuntimeDep) -> JSONResponse:
    """The reference service's per-backend booleans, and every backend's own."""
    backends = await run_in_threadpool(probe, runtime)
    body = {
        **reference_booleans(runtime, backends),
        "backends": {name: state["ok"] for name, state in backends.items()},
    }
    return JSONResponse(body, status_code=200 if all(s["ok"] for s in backends.values()) else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
