"""The reference service's endpoints: same paths, bodies and response shapes, on the default namespace."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BeforeValidator

from somafractalmemory.core.coordinates import parse_coordinate
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.service import MAX_TOP_K, NewMemory
from somafractalmemory.http_api import queries
from somafractalmemory.http_api.audit_actor import audit_actor
from somafractalmemory.http_api.auth import require_token
from somafractalmemory.http_api.deps import CompatNamespace, RunDep, ServiceDep
from somafractalmemory.http_api.errors import NOT_FOUND, PROTECTED_RESPONSES
from somafractalmemory.http_api.json_body import StrictJSONRoute
from somafractalmemory.http_api.params import (
    FILTERS_QUERY_SCHEMA,
    CoordinateQuery,
    FiltersQuery,
    LimitQuery,
    QueryTextQuery,
    _integer_text,
    coordinate_query,
)
from somafractalmemory.http_api.presenters import (
    coordinate_text,
    reference_neighbor,
    reference_payload,
    scored_payload,
)
from somafractalmemory.http_api.reference_reading import (
    answered,
    recall_type,
    run_top_k,
    search_type,
    stored_type,
)
from somafractalmemory.http_api.schemas import (
    BatchesResponse,
    HybridRecallRequest,
    KeywordSearchRequest,
    LinkRequest,
    MatchesResponse,
    NeighborsResponse,
    OkResponse,
    PathResponse,
    RangeResponse,
    RecallBatchRequest,
    RecallRequest,
    RecallTypeFilter,
    RecallWithContextRequest,
    RecallWithScoresRequest,
    RememberRequest,
    RememberResponse,
    ResultsResponse,
    ScoredResultsResponse,
    SearchTypeFilter,
    StatsResponse,
    StoreBulkRequest,
    StoredResponse,
    StoreRequest,
)

TopKQuery = Annotated[
    int, Query(le=MAX_TOP_K, description="0 or less asks for no results"), BeforeValidator(_integer_text)
]
RecallTypeQuery = Annotated[RecallTypeFilter, Query()]
SearchTypeQuery = Annotated[SearchTypeFilter, Query()]

router = APIRouter(
    tags=["compatibility"],
    dependencies=[Depends(require_token), Depends(audit_actor)],
    route_class=StrictJSONRoute,
    responses=PROTECTED_RESPONSES,
)


@router.post("/store")
async def store(
    body: StoreRequest, service: ServiceDep, run: RunDep, namespace: CompatNamespace
) -> OkResponse:
    await run(
        service.store_memory,
        namespace,
        NewMemory(parse_coordinate(body.coord), body.payload, stored_type(body.type)),
    )
    return OkResponse(ok=True)


@router.post("/remember")
async def remember(
    body: RememberRequest, service: ServiceDep, run: RunDep, namespace: CompatNamespace
) -> RememberResponse:
    kind = stored_type(body.type)
    if body.coord is None:
        memory = await run(service.remember, namespace, body.payload, kind)
    else:
        memory = await run(
            service.store_memory, namespace, NewMemory(parse_coordinate(body.coord), body.payload, kind)
        )
    return RememberResponse(ok=True, coord=coordinate_text(memory.coordinate))


@router.post("/store_bulk")
async def store_bulk(
    body: StoreBulkRequest, service: ServiceDep, run: RunDep, namespace: CompatNamespace
) -> StoredResponse:
    """All or nothing on this surface: one bad item rejects the request (use /v1 for per-item results).
    At most SOMA_MAX_BULK_ITEMS items (10,000 by default): beyond it 400, and nothing is stored."""

    def store_all() -> int:
        items: list[NewMemory] = []
        problems: list[str] = []
        for position, item in enumerate(body.items):
            try:
                items.append(NewMemory(parse_coordinate(item.coord), item.payload, stored_type(item.type)))
            except InvalidInput as error:
                problems.append(f"items[{position}]: {error}")
        if problems:
            raise InvalidInput("nothing was stored: " + "; ".join(problems))
        result = service.store_many(namespace, items)
        if result.stored != len(items):
            raise InvalidInput(
                "nothing was stored: "
                + "; ".join(f"items[{i.index}]: {i.error}" for i in result.items if not i.ok)
            )
        return result.stored

    return StoredResponse(stored=await run.heavy(store_all))


@router.post("/recall")
async def recall(
    body: RecallRequest, service: ServiceDep, run: RunDep, namespace: CompatNamespace
) -> MatchesResponse:
    found = await run.heavy(
        queries.recall,
        service,
        namespace,
        body.query,
        top_k=run_top_k(body.top_k),
        type_name=recall_type(body.type),
        filters=body.filters,
        hybrid=body.hybrid,
    )
    return MatchesResponse(matches=[reference_payload(s.memory) for s in answered(found, body.top_k)])


@router.get("/recall", openapi_extra=FILTERS_QUERY_SCHEMA)
async def recall_get(
    service: ServiceDep,
    run: RunDep,
    namespace: CompatNamespace,
    query: QueryTextQuery,
    top_k: TopKQuery = 5,
    type: RecallTypeQuery = None,
    hybrid: bool | None = None,
    filters: FiltersQuery = None,
) -> MatchesResponse:
    parsed = queries.filters_from_text(filters)
    found = await run.heavy(
        queries.recall,
        service,
        namespace,
        query,
        top_k=run_top_k(top_k),
        type_name=recall_type(type),
        filters=parsed,
        hybrid=hybrid,
    )
    return MatchesResponse(matches=[reference_payload(s.memory) for s in answered(found, top_k)])


@router.post("/recall_batch", response_model=BatchesResponse)
async def recall_batch(
    body: RecallBatchRequest, service: ServiceDep, run: RunDep, namespace: CompatNamespace
) -> Response:
    """At most SOMA_MAX_BATCH_RESULTS results, queries x top_k (10,000 by default): beyond it 400."""
    service.budget.check_batch(len(body.queries), run_top_k(body.top_k))

    def recall_each() -> list[list[dict[str, Any]]]:
        return [
            [
                reference_payload(s.memory)
                for s in answered(
                    queries.recall(
                        service,
                        namespace,
                        q,
                        top_k=run_top_k(body.top_k),
                        type_name=recall_type(body.type),
                        filters=body.filters,
                        hybrid=body.hybrid,
                    ),
                    body.top_k,
                )
            ]
            for q in body.queries
        ]

    return await run.heavy_json(lambda: BatchesResponse(batches=recall_each()))


@router.post("/recall_with_scores")
async def recall_with_scores(
    body: RecallWithScoresRequest, service: ServiceDep, run: RunDep, namespace: CompatNamespace
) -> ScoredResultsResponse:
    found = await run.heavy(
        queries.recall,
        service,
        namespace,
        body.query,
        top_k=run_top_k(body.top_k),
        type_name=search_type(body.type),
        hybrid=body.hybrid,
        exact=body.exact,
        case_sensitive=body.case_sensitive,
    )
    return ScoredResultsResponse(results=[scored_payload(s) for s in answered(found, body.top_k)])


@router.post("/keyword_search")
async def keyword_search(
    body: KeywordSearchRequest, service: ServiceDep, run: RunDep, namespace: CompatNamespace
) -> ResultsResponse:
    """Examines at most SOMA_MAX_SCAN_ROWS candidates (10,000 by default), most important first."""
    read = body.model_copy(update={"type": search_type(body.type), "top_k": run_top_k(body.top_k)})
    found = await run.heavy(queries.keyword_search, service, namespace, read)
    return ResultsResponse(results=[reference_payload(m) for m in answered(found, body.top_k)])


@router.post("/hybrid_recall_with_scores")
async def hybrid_recall_with_scores(
    body: HybridRecallRequest, service: ServiceDep, run: RunDep, namespace: CompatNamespace
) -> ScoredResultsResponse:
    found = await run.heavy(
        queries.recall,
        service,
        namespace,
        body.query,
        top_k=run_top_k(body.top_k),
        type_name=search_type(body.type),
        hybrid=True,
        terms=body.terms,
        boost=body.boost,
        exact=body.exact,
        case_sensitive=body.case_sensitive,
    )
    return ScoredResultsResponse(results=[scored_payload(s) for s in answered(found, body.top_k)])


@router.post("/recall_with_context")
async def recall_with_context(
    body: RecallWithContextRequest, service: ServiceDep, run: RunDep, namespace: CompatNamespace
) -> ResultsResponse:
    found = await run.heavy(
        service.recall_with_context,
        namespace,
        body.query,
        body.context,
        top_k=run_top_k(body.top_k),
        memory_type=MemoryType.parse(search_type(body.type)),
    )
    return ResultsResponse(results=[reference_payload(s.memory) for s in answered(found, body.top_k)])


@router.get("/range")
async def coordinate_range(
    service: ServiceDep,
    run: RunDep,
    namespace: CompatNamespace,
    low: Annotated[str, coordinate_query("min")],
    high: Annotated[str, coordinate_query("max")],
    type: SearchTypeQuery = None,
) -> RangeResponse:
    """The memories inside the box from min to max. min and max have the same number of components, each
    of min at most the same one of max, and at most SOMA_MAX_SCAN_ROWS memories (10,000 by default) may
    lie in the box: otherwise 400."""
    found = await run.heavy(queries.coordinate_range, service, namespace, low, high, search_type(type))
    return RangeResponse(coords=[list(c) for c in found])


@router.post("/link", responses=NOT_FOUND)
async def link(body: LinkRequest, service: ServiceDep, run: RunDep, namespace: CompatNamespace) -> OkResponse:
    await run(
        service.link,
        namespace,
        parse_coordinate(body.from_coord),
        parse_coordinate(body.to_coord),
        body.type,
        body.weight,
    )
    return OkResponse(ok=True)


@router.get("/neighbors", responses=NOT_FOUND)
async def neighbors(
    service: ServiceDep,
    run: RunDep,
    namespace: CompatNamespace,
    coord: CoordinateQuery,
    link_type: str | None = None,
    limit: LimitQuery = None,
) -> NeighborsResponse:
    found = await run.heavy(service.neighbors, namespace, parse_coordinate(coord), link_type or None, limit)
    return NeighborsResponse(neighbors=[reference_neighbor(link) for link in found])


@router.get("/shortest_path", responses=NOT_FOUND)
async def shortest_path(
    service: ServiceDep,
    run: RunDep,
    namespace: CompatNamespace,
    frm: CoordinateQuery,
    to: CoordinateQuery,
    link_type: str | None = None,
) -> PathResponse:
    """Follows at most SOMA_MAX_SCAN_ROWS links (10,000 by default): beyond it 400."""
    path = await run.heavy(
        service.shortest_path, namespace, parse_coordinate(frm), parse_coordinate(to), link_type or None
    )
    return PathResponse(path=[list(c) for c in path])


@router.get("/stats")
async def stats(service: ServiceDep, run: RunDep, namespace: CompatNamespace) -> StatsResponse:
    return await run(queries.stats, service, namespace)
