"""Request fields into service calls, shared by the compatibility surface and /v1: the two differ in the
shapes of their answers, not in what a request means. Plain functions: routes run them through the runner."""

from typing import Any

from somafractalmemory.core.coordinates import Coordinate, parse_coordinate
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.json_text import decode_json
from somafractalmemory.core.models import Memory, MemoryType, ScoredMemory
from somafractalmemory.core.service import MemoryService
from somafractalmemory.http_api.schemas import KeywordQuery, NamespaceStatsResponse, StatsResponse

UNKNOWN_EMBEDDER = "unknown"


def stored_type(name: str) -> MemoryType:
    """The type a memory is stored with: a name is required, unknown names are an input error."""
    return MemoryType.parse(name) or MemoryType.EPISODIC


def filters_from_text(text: str | None) -> dict[str, Any] | None:
    """Filters sent as a JSON text (GET /recall): a JSON object, or nothing when empty."""
    if not text:
        return None
    try:
        parsed = decode_json(text)
    except ValueError as error:
        raise InvalidInput(f"filters is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("filters must be a JSON object")
    return parsed


def recall(
    service: MemoryService,
    namespace: str,
    query: str,
    *,
    top_k: int,
    type_name: str | None,
    filters: dict[str, Any] | None = None,
    hybrid: bool | None = False,
    terms: list[str] | None = None,
    boost: float = 2.0,
    exact: bool = False,
    case_sensitive: bool = False,
    ranking: Ranking = Ranking.FUSED,
) -> list[ScoredMemory]:
    """Recall ranked by ``ranking``, or hybrid recall (always fused; exact and case_sensitive apply to
    its terms only)."""
    conditions = parse_filters(filters)
    memory_type = MemoryType.parse(type_name)
    if hybrid:
        if ranking is not Ranking.FUSED:
            raise InvalidInput(
                f"hybrid recall always fuses its two legs: ranking {ranking.value!r} needs hybrid off"
            )
        return service.hybrid_recall(
            namespace,
            query,
            terms=terms,
            boost=boost,
            top_k=top_k,
            exact=exact,
            case_sensitive=case_sensitive,
            memory_type=memory_type,
            conditions=conditions,
        )
    return service.recall(
        namespace, query, top_k=top_k, memory_type=memory_type, conditions=conditions, ranking=ranking
    )


def keyword_search(service: MemoryService, namespace: str, body: KeywordQuery) -> list[Memory]:
    return service.keyword_search(
        namespace,
        body.term,
        exact=body.exact,
        case_sensitive=body.case_sensitive,
        top_k=body.top_k,
        memory_type=MemoryType.parse(body.type),
    )


def coordinate_range(
    service: MemoryService, namespace: str, low: str, high: str, type_name: str | None
) -> list[Coordinate]:
    return service.coordinate_range(
        namespace, parse_coordinate(low), parse_coordinate(high), MemoryType.parse(type_name)
    )


def stats(service: MemoryService, namespace: str) -> StatsResponse:
    counts = service.stats(namespace)
    return StatsResponse(
        total_memories=counts.total_memories, episodic=counts.episodic, semantic=counts.semantic
    )


def namespace_stats(service: MemoryService, namespace: str) -> NamespaceStatsResponse:
    """The counts by type and by embedder (null, memories written before ids: 'unknown')."""
    counts = service.embedder_counts(namespace)
    embedders = {name or UNKNOWN_EMBEDDER: count for name, count in counts.items()}
    return NamespaceStatsResponse(**stats(service, namespace).model_dump(), embedders=embedders)
