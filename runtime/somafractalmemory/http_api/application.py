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
from somafractalmemory.http_api.routes import compat, health, v1
from somafractalmemory.http_api.runner import Runner
from somafractalmemory.settings import Settings
from somafractalmemory.tokens import resolve_token
from somafractalmemory.wiring import Runtime, build_runtime

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[Settings], Runtime]


def create_app(settings: Settings | None = None, runtime_factory: RuntimeFactory = build_runtime) -> FastAPI:
    """Build the app; backends are connected in the lifespan, never at import time."""
    active = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_check = TokenCheck(resolve_token(active))
        runtime = await run_in_threadpool(runtime_factory, active)
        app.state.runtime = runtime
        app.state.runner = Runner(inline=active.embedded)
        try:
            yield
        finally:
            await run_in_threadpool(runtime.close)

    app = FastAPI(
        title="Soma memory API",
        version=__version__,
        description="Store, link and recall agent memories. "
        "Compatible with the reference service; /v1 is the resource API.",
        lifespan=lifespan,
    )
    app.state.settings = active
    app.state.metrics = ApiMetrics(app.state)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(compat.router)
    app.include_router(v1.router)
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
