"""Maintenance over /v1: one pass of decay, forgetting and consolidation (the settings' policy), and the
replay and reflect lists."""

from fastapi import APIRouter, Depends

from somafractalmemory.core.maintenance import Maintenance
from somafractalmemory.core.review import Review
from somafractalmemory.http_api.audit_actor import audit_actor
from somafractalmemory.http_api.auth import require_token
from somafractalmemory.http_api.deps import NamespacePath, RunDep, RuntimeDep, ServiceDep
from somafractalmemory.http_api.errors import PROTECTED_RESPONSES
from somafractalmemory.http_api.json_body import StrictJSONRoute
from somafractalmemory.http_api.maintenance_presenter import (
    MaintainBodyV1,
    MaintenanceResponseV1,
    maintenance_resource,
)
from somafractalmemory.http_api.presenters import memory_resource
from somafractalmemory.http_api.routes.v1 import ListLimit
from somafractalmemory.http_api.schemas import MemoriesResponseV1

router = APIRouter(
    prefix="/v1",
    tags=["v1"],
    dependencies=[Depends(require_token), Depends(audit_actor)],
    route_class=StrictJSONRoute,
    responses=PROTECTED_RESPONSES,
)


async def _maintain(
    runtime: RuntimeDep, run: RunDep, namespaces: list[str] | None, body: MaintainBodyV1 | None
) -> MaintenanceResponseV1:
    maintenance = Maintenance(runtime.service, runtime.settings.maintenance_policy())
    every = namespaces if namespaces is not None else await run(maintenance.namespaces)
    dry_run = body is not None and body.dry_run
    return maintenance_resource(await run.heavy(maintenance.run, every, dry_run=dry_run))


@router.post("/namespaces/{namespace}/maintain")
async def maintain_namespace(
    namespace: NamespacePath, runtime: RuntimeDep, run: RunDep, body: MaintainBodyV1 | None = None
) -> MaintenanceResponseV1:
    """One maintenance pass over the namespace: forget, decay, consolidate; ``dry_run`` only counts.
    What a pass does comes from the server's settings (SOMA_DECAY_RULES, SOMA_FORGET_BELOW_IMPORTANCE,
    SOMA_FORGET_AFTER_SECONDS, SOMA_CONSOLIDATION_WINDOW_SECONDS, SOMA_CONSOLIDATION_MIN_MEMORIES); a
    second pass over unchanged memories changes nothing."""
    return await _maintain(runtime, run, [namespace], body)


@router.post("/maintain")
async def maintain_all(
    runtime: RuntimeDep, run: RunDep, body: MaintainBodyV1 | None = None
) -> MaintenanceResponseV1:
    """One maintenance pass, as for one namespace, over every namespace that holds memories."""
    return await _maintain(runtime, run, None, body)


async def _review(
    service: ServiceDep, run: RunDep, namespace: str, review: Review, limit: int
) -> MemoriesResponseV1:
    found = await run(service.listed, namespace, review.order, limit, review.memory_type)
    return MemoriesResponseV1(results=[memory_resource(m) for m in found])


@router.get("/namespaces/{namespace}/replay")
async def replay(
    namespace: NamespacePath, service: ServiceDep, run: RunDep, limit: ListLimit = 10
) -> MemoriesResponseV1:
    """Episodic memories to replay: the most important first, then the most recently written."""
    return await _review(service, run, namespace, Review.REPLAY, limit)


@router.get("/namespaces/{namespace}/reflect")
async def reflect(
    namespace: NamespacePath, service: ServiceDep, run: RunDep, limit: ListLimit = 10
) -> MemoriesResponseV1:
    """Semantic memories to reflect on: the most recently written first (consolidations, corrections,
    facts)."""
    return await _review(service, run, namespace, Review.REFLECT, limit)
