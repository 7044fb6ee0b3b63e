"""Dependency aliases the routes share (``async def``: they do no I/O, so no thread-pool hop)."""

from typing import Annotated

from fastapi import Depends, Path, Request

from somafractalmemory.core.service import MemoryService
from somafractalmemory.http_api.runner import Runner
from somafractalmemory.wiring import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_service(request: Request) -> MemoryService:
    service: MemoryService = request.app.state.runtime.service
    return service


async def get_default_namespace(request: Request) -> str:
    namespace: str = request.app.state.runtime.settings.namespace
    return namespace


async def get_runner(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
RunDep = Annotated[Runner, Depends(get_runner)]
ServiceDep = Annotated[MemoryService, Depends(get_service)]
CompatNamespace = Annotated[str, Depends(get_default_namespace)]
NamespacePath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="namespace: letters, digits, '_', '.', '-'",
    ),
]
