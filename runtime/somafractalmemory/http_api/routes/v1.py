"""The resource API: namespaces in the path, get/put/delete by coordinate, per-item bulk results,
filtered recall, graph queries and NDJSON export/import streams."""

import tempfile
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from somafractalmemory.core.audit import MAX_AUDIT_PAGE
from somafractalmemory.core.coordinates import parse_coordinate, parse_coordinate_value
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.importance import MemoryOrder
from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.records import parse_ndjson, record_line
from somafractalmemory.core.service import MAX_TOP_K, NewMemory
from somafractalmemory.http_api import queries
from somafractalmemory.http_api.audit_actor import audit_actor
from somafractalmemory.http_api.audit_presenter import audit_resource
from somafractalmemory.http_api.auth import require_token
from somafractalmemory.http_api.batch_presenter import batch_resource, selection_of
from somafractalmemory.http_api.bulk_items import bulk_answer, bulk_item
from somafractalmemory.http_api.deps import NamespacePath, RunDep, RuntimeDep, ServiceDep
from somafractalmemory.http_api.errors import NOT_FOUND, PROTECTED_RESPONSES
from somafractalmemory.http_api.json_body import StrictJSONRoute
from somafractalmemory.http_api.params import CoordinatePath, LimitQuery, TypeQuery, coordinate_query
from somafractalmemory.http_api.presenters import (
    import_resource,
    link_resource,
    memory_resource,
    scored_resource,
)
from somafractalmemory.http_api.queries import stored_type
from somafractalmemory.http_api.schemas import (
    AuditResponseV1,
    BatchResponseV1,
    BulkRequestV1,
    BulkResponseV1,
    ImportanceBodyV1,
    ImportResponseV1,
    LinkBodyV1,
    LinkResource,
    LinksResponseV1,
    MemoriesResponseV1,
    MemoryBody,
    MemoryResource,
    NamespaceStatsResponse,
    NewMemoryBody,
    OutcomeBodyV1,
    OutcomeResponseV1,
    PathResponseV1,
    RangeResponse,
    RecallRequestV1,
    RecallResponseV1,
    SearchRequestV1,
    SelectionBodyV1,
    ShareBodyV1,
    VersionsResponseV1,
)
from somafractalmemory.http_api.version_presenter import versions_resource

router = APIRouter(
    prefix="/v1/namespaces/{namespace}",
    tags=["v1"],
    dependencies=[Depends(require_token), Depends(audit_actor)],
    route_class=StrictJSONRoute,
    responses=PROTECTED_RESPONSES,
)

SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024


@router.put("/memories/{coord}")
async def put_memory(
    namespace: NamespacePath, coord: CoordinatePath, body: MemoryBody, service: ServiceDep, run: RunDep
) -> MemoryResource:
    memory = await run(
        service.store_memory,
        namespace,
        NewMemory(parse_coordinate(coord), body.payload, stored_type(body.type)),
    )
    return memory_resource(memory)


@router.post("/memories", status_code=201)
async def create_memory(
    namespace: NamespacePath, body: NewMemoryBody, service: ServiceDep, run: RunDep
) -> MemoryResource:
    if body.coord is None:
        return memory_resource(await run(service.remember, namespace, body.payload, stored_type(body.type)))
    item = NewMemory(parse_coordinate_value(body.coord), body.payload, stored_type(body.type))
    return memory_resource(await run(service.store_memory, namespace, item))


@router.get("/memories/{coord}", responses=NOT_FOUND)
async def get_memory(
    namespace: NamespacePath, coord: CoordinatePath, service: ServiceDep, run: RunDep
) -> MemoryResource:
    return memory_resource(await run(service.get, namespace, parse_coordinate(coord)))


@router.delete("/memories/{coord}", status_code=204, responses=NOT_FOUND)
async def delete_memory(
    namespace: NamespacePath, coord: CoordinatePath, service: ServiceDep, run: RunDep
) -> Response:
    coordinate = parse_coordinate(coord)
    if not await run(service.delete, namespace, coordinate):
        await run(service.get, namespace, coordinate)  # raises the 404 with its message
    return Response(status_code=204)


VersionNumber = Annotated[int, Path(ge=1, description="a version's number, as the history lists it")]


@router.get("/memories/{coord}/versions", responses=NOT_FOUND)
async def memory_versions(
    namespace: NamespacePath, coord: CoordinatePath, service: ServiceDep, run: RunDep
) -> VersionsResponseV1:
    """The memory's earlier contents, newest first: each replace keeps the one it overwrote, and at most
    SOMA_MAX_VERSIONS (10 by default) are kept per memory, the oldest dropped."""
    coordinate = parse_coordinate(coord)
    return versions_resource(namespace, coordinate, await run(service.versions, namespace, coordinate))


@router.post("/memories/{coord}/versions/{number}/restore", responses=NOT_FOUND)
async def restore_version(
    namespace: NamespacePath, coord: CoordinatePath, number: VersionNumber, service: ServiceDep, run: RunDep
) -> MemoryResource:
    """The version becomes the current content; the content it replaces is kept as the newest version."""
    memory = await run(service.restore_version, namespace, parse_coordinate(coord), number)
    return memory_resource(memory)


@router.put("/memories/{coord}/importance", responses=NOT_FOUND)
async def set_importance(
    namespace: NamespacePath, coord: CoordinatePath, body: ImportanceBodyV1, service: ServiceDep, run: RunDep
) -> MemoryResource:
    """Set the memory's importance (0 to 1): a write, so the memory before it is kept as a version."""
    memory = await run(service.set_importance, namespace, parse_coordinate(coord), body.importance)
    return memory_resource(memory)


@router.post("/memories/{coord}/outcome", responses=NOT_FOUND)
async def report_outcome(
    namespace: NamespacePath, coord: CoordinatePath, body: OutcomeBodyV1, service: ServiceDep, run: RunDep
) -> OutcomeResponseV1:
    """Record what happened in the memory's payload (``reported_outcome``). When the memory predicted
    something else (``predicted_outcome``), its importance drops by 0.1 and a corrective semantic memory,
    linked from it, records the mismatch."""
    report = await run(service.report_outcome, namespace, parse_coordinate(coord), body.outcome)
    corrective = None if report.corrective is None else memory_resource(report.corrective)
    return OutcomeResponseV1(
        memory=memory_resource(report.memory), mispredicted=report.mispredicted, corrective=corrective
    )


ListLimit = Annotated[int, Query(ge=1, le=MAX_TOP_K, description="at most this many memories")]


async def _listed(
    service: ServiceDep, run: RunDep, namespace: str, order: MemoryOrder, limit: int, type: str | None
) -> MemoriesResponseV1:
    found = await run(service.listed, namespace, order, limit, MemoryType.parse(type))
    return MemoriesResponseV1(results=[memory_resource(m) for m in found])


@router.get("/recent")
async def recent(
    namespace: NamespacePath, service: ServiceDep, run: RunDep, limit: ListLimit = 10, type: TypeQuery = None
) -> MemoriesResponseV1:
    """The most recently written memories, last written first."""
    return await _listed(service, run, namespace, MemoryOrder.RECENT, limit, type)


@router.get("/important")
async def important(
    namespace: NamespacePath, service: ServiceDep, run: RunDep, limit: ListLimit = 10, type: TypeQuery = None
) -> MemoriesResponseV1:
    """The most important memories, most important first (then last written)."""
    return await _listed(service, run, namespace, MemoryOrder.IMPORTANT, limit, type)


@router.get("/audit")
async def audit_log(
    namespace: NamespacePath,
    service: ServiceDep,
    run: RunDep,
    coord: Annotated[str | None, coordinate_query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE, description="at most this many entries")] = 100,
    before: Annotated[int | None, Query(ge=1, description="only entries older than this one")] = None,
) -> AuditResponseV1:
    """Who did what to the namespace's memories (or to the memory at ``coord``), newest first: every
    store, import, delete, eviction, version restore, importance change, outcome report and share. The log
    keeps the newest SOMA_AUDIT_RETENTION entries (100,000 by default) over all namespaces."""
    coordinate = None if coord is None else parse_coordinate(coord)
    found = await run(service.audit, namespace, coordinate, limit, before)
    return audit_resource(found, limit)


@router.post("/delete_many")
async def delete_many(
    namespace: NamespacePath, body: SelectionBodyV1, service: ServiceDep, run: RunDep
) -> BatchResponseV1:
    """Delete every memory of the type that passes the filters (filters or a type are required), each
    with its versions and links, each in the audit log; ``dry_run`` only says which. More than
    SOMA_MAX_SCAN_ROWS (10,000) matching is refused (400) before anything is deleted."""
    selection = selection_of(body.filters, body.type)
    outcome = await run.heavy(service.delete_matching, namespace, selection, dry_run=body.dry_run)
    return batch_resource(outcome, body.dry_run)


@router.post("/share")
async def share(
    namespace: NamespacePath, body: ShareBodyV1, service: ServiceDep, run: RunDep
) -> BatchResponseV1:
    """Copy every memory of the type that passes the filters (filters or a type are required) into the
    namespace ``to``, at the same coordinates, in one write (a memory there is replaced and kept as a
    version); ``dry_run`` only says which. At most SOMA_MAX_SCAN_ROWS (10,000) may match."""
    selection = selection_of(body.filters, body.type)
    outcome = await run.heavy(service.share, namespace, body.to, selection, dry_run=body.dry_run)
    return batch_resource(outcome, body.dry_run)


@router.post("/bulk", response_model=BulkResponseV1)
async def bulk_store(
    namespace: NamespacePath, body: BulkRequestV1, service: ServiceDep, run: RunDep
) -> Response:
    """Valid items are stored together in one write; each invalid one is reported by its index.
    At most SOMA_MAX_BULK_ITEMS items (10,000 by default): beyond it 400, and nothing is stored."""

    def store_items() -> Response:
        result = service.store_many(namespace, [bulk_item(raw) for raw in body.items])
        return Response(bulk_answer(result), media_type="application/json")

    return await run.heavy(store_items)


@router.post("/recall")
async def recall(
    namespace: NamespacePath, body: RecallRequestV1, service: ServiceDep, run: RunDep
) -> RecallResponseV1:
    """Ranked by ``ranking`` (fused by default: reciprocal rank fusion of the dense and lexical legs);
    hybrid recall is always fused. The answer says which ranking it used."""
    found = await run.heavy(
        queries.recall,
        service,
        namespace,
        body.query,
        top_k=body.top_k,
        type_name=body.type,
        filters=body.filters,
        hybrid=body.hybrid,
        terms=body.terms,
        boost=body.boost,
        exact=body.exact,
        case_sensitive=body.case_sensitive,
        ranking=Ranking(body.ranking),
    )
    return RecallResponseV1(results=[scored_resource(s) for s in found], ranking=body.ranking)


@router.post("/search")
async def keyword_search(
    namespace: NamespacePath, body: SearchRequestV1, service: ServiceDep, run: RunDep
) -> MemoriesResponseV1:
    """Examines at most SOMA_MAX_SCAN_ROWS candidates (10,000 by default), most important first."""
    found = await run.heavy(queries.keyword_search, service, namespace, body)
    return MemoriesResponseV1(results=[memory_resource(m) for m in found])


@router.get("/range")
async def coordinate_range(
    namespace: NamespacePath,
    service: ServiceDep,
    run: RunDep,
    low: Annotated[str, coordinate_query("min")],
    high: Annotated[str, coordinate_query("max")],
    type: TypeQuery = None,
) -> RangeResponse:
    """The memories inside the box from min to max. min and max have the same number of components, each
    of min at most the same one of max, and at most SOMA_MAX_SCAN_ROWS memories (10,000 by default) may
    lie in the box: otherwise 400."""
    found = await run.heavy(queries.coordinate_range, service, namespace, low, high, type)
    return RangeResponse(coords=[list(c) for c in found])


@router.put("/links", responses=NOT_FOUND)
async def put_link(
    namespace: NamespacePath, body: LinkBodyV1, service: ServiceDep, run: RunDep
) -> LinkResource:
    link = await run(
        service.link,
        namespace,
        parse_coordinate_value(body.from_coord),
        parse_coordinate_value(body.to_coord),
        body.type,
        body.weight,
    )
    return link_resource(link)


@router.get("/memories/{coord}/links", response_model_by_alias=True, responses=NOT_FOUND)
async def neighbors(
    namespace: NamespacePath,
    coord: CoordinatePath,
    service: ServiceDep,
    run: RunDep,
    link_type: str | None = None,
    limit: LimitQuery = None,
) -> LinksResponseV1:
    found = await run.heavy(service.neighbors, namespace, parse_coordinate(coord), link_type or None, limit)
    return LinksResponseV1(links=[link_resource(link) for link in found])


@router.get("/path", responses=NOT_FOUND)
async def shortest_path(
    namespace: NamespacePath,
    service: ServiceDep,
    run: RunDep,
    source: Annotated[str, coordinate_query("from")],
    target: Annotated[str, coordinate_query("to")],
    link_type: str | None = None,
) -> PathResponseV1:
    """Follows at most SOMA_MAX_SCAN_ROWS links (10,000 by default): beyond it 400."""
    path = await run.heavy(
        service.shortest_path,
        namespace,
        parse_coordinate(source),
        parse_coordinate(target),
        link_type or None,
    )
    return PathResponseV1(path=[list(c) for c in path], found=bool(path))


@router.get("/stats")
async def stats(namespace: NamespacePath, service: ServiceDep, run: RunDep) -> NamespaceStatsResponse:
    return await run(queries.namespace_stats, service, namespace)


@router.get(
    "/export", response_class=StreamingResponse, responses={200: {"content": {"application/x-ndjson": {}}}}
)
def export(namespace: NamespacePath, service: ServiceDep) -> StreamingResponse:
    """Every memory, then every link, one JSON object a line."""

    def lines() -> Iterator[bytes]:
        for record in service.export_records(namespace):
            yield record_line(record)

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.post(
    "/import",
    openapi_extra={"requestBody": {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
async def import_stream(
    namespace: NamespacePath, request: Request, runtime: RuntimeDep, run: RunDep
) -> ImportResponseV1:
    """An NDJSON stream as export writes it; the body is spooled, then imported line by line."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        records = parse_ndjson(spool, max_line_length=runtime.settings.max_body_bytes)
        report = await run.heavy(runtime.service.import_records, namespace, records)
    return import_resource(report)
