"""The FastAPI application: middleware, error handlers, routers and the lifespan that owns the clients."""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from somafractalmemory import __version__
from somafractalmemory.http_api.auth import TokenCheck
from somafractalmemory.http_api.errors import install_error_handlers
from somafractalmemory.http_api.guard import RequestGuard
from somafractalmemory.http_api.metrics import ApiMetrics, MetricsMiddleware
from somafractalmemory.http_api.route_warmup import prepare_routes
from somafractalmemory.http_api.routes import compat, health, maintenance, v1
from somafractalmemory.http_api.runner import Runner
from somafractalmemory.settings import Settings
from somafractalmemory.tokens import resolve_token
from somafractalmemory.wiring import Runtime, build_runtime

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[Settings], Runtime]

DESCRIPTION = """Store, link and recall agent memories. Compatible with the reference service; \
/v1 is the resource API.

## Compatibility with the reference service

The endpoints outside /v1 answer as the reference service did, so its clients work unchanged:

- `GET /` answers `{"message": "SomaFractalMemory API is running", "metrics": "/metrics"}`.
- `/healthz`, `/readyz` and `/health` carry the reference's booleans `kv_store`, `vector_store`, \
`graph_store` and `prediction_provider` next to our own fields. `kv_store` and `graph_store` are the \
document store (it holds the graph), `vector_store` the vector index; `prediction_provider` is \
always true (embeddings are computed in-process). `/healthz` is always 200; `/readyz` and `/health` \
are 503 when a backend is down, and `/readyz` names it in `failed`.
- Every payload a recall answers (`/recall` POST and GET, `/recall_batch`, `/recall_with_scores`, \
`/hybrid_recall_with_scores`, `/keyword_search`, `/recall_with_context`) has `coordinate`, \
`memory_type`, `timestamp` and `importance_norm` folded in. `timestamp` is the payload's own \
`timestamp` when it has one (the reference kept it), else the epoch seconds at which the memory was \
first stored (its `created_at` on /v1). `importance_norm` is the memory's importance in [0, 1]: the \
payload's numeric `importance` clamped into [0, 1], 0.5 when it has none. The reference normalised \
importance against the importances its process had seen so far (min-max, then winsorised or \
logistic), in the same range; that value depended on the process and the order of stores, this one \
does not. /v1 answers payloads as stored.
- `type`: a store (`/store`, `/remember`, `/store_bulk` items) takes `semantic` as semantic and any \
other name, or null, as episodic. `/recall` and `/recall_batch` filter on `semantic`, on episodic \
for any other non-empty name, and not at all for null or an empty name. The other reads \
(`/recall_with_scores`, `/hybrid_recall_with_scores`, `/keyword_search`, `/recall_with_context`, \
`/range`) filter only on `episodic` or `semantic`; any other value is no filter.
- `top_k` of 0 or less answers 200 with no matches.
- Errors: `detail` is the reference's text where it had a fixed one: 401 `Missing bearer token`, 403 \
`Invalid token`, 413 `Request entity too large`, 429 `Rate limit exceeded`. `error.message` always \
says what went wrong, and `error.code` names the kind.

/v1 stays strict: an unknown or null `type` and a `top_k` below 1 are refused (400 or 422).
"""


def create_app(settings: Settings | None = None, runtime_factory: RuntimeFactory = build_runtime) -> FastAPI:
    """Build the app; backends are connected in the lifespan, never at import time."""
    active = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_check = TokenCheck(resolve_token(active))
        runtime = await run_in_threadpool(runtime_factory, active)
        app.state.runtime = runtime
        app.state.runner = Runner(inline=active.embedded)
        await prepare_routes(app)
        try:
            yield
        finally:
            await run_in_threadpool(runtime.close)

    app = FastAPI(
        title="Soma memory API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = active
    app.state.metrics = ApiMetrics(app.state)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(compat.router)
    app.include_router(v1.router)
    app.include_router(maintenance.router)
    app.add_middleware(RequestGuard, settings=active)
    if active.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=active.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
