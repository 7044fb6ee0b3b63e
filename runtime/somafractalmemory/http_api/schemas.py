"""Request and response bodies. Compatibility bodies keep the reference service's names and defaults."""

from typing import Any

from pydantic import BaseModel, Field

from somafractalmemory.core.service import MAX_TOP_K

TopK = Field(5, ge=1, le=MAX_TOP_K)
MAX_BATCH_QUERIES = 100


# --- compatibility surface --------------------------------------------------------------------


class StoreRequest(BaseModel):
    coord: str = Field(description="comma-separated numbers, e.g. '1,2,3'")
    payload: dict[str, Any]
    type: str = "episodic"


class RememberRequest(BaseModel):
    payload: dict[str, Any]
    coord: str | None = Field(None, description="omit to have one assigned")
    type: str = "episodic"


class BulkItem(BaseModel):
    coord: str
    payload: dict[str, Any]
    type: str = "episodic"


class StoreBulkRequest(BaseModel):
    items: list[BulkItem]


class RecallRequest(BaseModel):
    query: str
    top_k: int = TopK
    type: str | None = None
    filters: dict[str, Any] | None = None
    hybrid: bool | None = None


class RecallBatchRequest(BaseModel):
    queries: list[str] = Field(min_length=1, max_length=MAX_BATCH_QUERIES)
    top_k: int = TopK
    type: str | None = None
    filters: dict[str, Any] | None = None
    hybrid: bool | None = None


class RecallWithScoresRequest(BaseModel):
    query: str
    top_k: int = TopK
    type: str | None = None
    hybrid: bool | None = None
    exact: bool = True
    case_sensitive: bool = False


class KeywordQuery(BaseModel):
    """A keyword search; the two surfaces differ only in the default of ``exact``."""

    term: str
    exact: bool
    case_sensitive: bool = False
    top_k: int = Field(50, ge=1, le=MAX_TOP_K)
    type: str | None = None


class KeywordSearchRequest(KeywordQuery):
    exact: bool = True


class HybridRecallRequest(BaseModel):
    query: str
    terms: list[str] | None = None
    boost: float = 2.0
    top_k: int = TopK
    exact: bool = True
    case_sensitive: bool = False
    type: str | None = None


class RecallWithContextRequest(BaseModel):
    query: str
    context: dict[str, Any]
    top_k: int = TopK
    type: str | None = None


class LinkRequest(BaseModel):
    from_coord: str
    to_coord: str
    type: str = "related"
    weight: float = 1.0


class OkResponse(BaseModel):
    ok: bool


class RememberResponse(BaseModel):
    ok: bool
    coord: str


class StoredResponse(BaseModel):
    stored: int


class MatchesResponse(BaseModel):
    matches: list[dict[str, Any]]


class BatchesResponse(BaseModel):
    batches: list[list[dict[str, Any]]]


class ScoredPayload(BaseModel):
    payload: dict[str, Any]
    score: float


class ScoredResultsResponse(BaseModel):
    results: list[ScoredPayload]


class ResultsResponse(BaseModel):
    results: list[dict[str, Any]]


class RangeResponse(BaseModel):
    coords: list[list[float]]


class NeighborsResponse(BaseModel):
    neighbors: list[list[Any]] = Field(description="[[neighbor coordinate, {to, type, timestamp, weight}]]")


class PathResponse(BaseModel):
    path: list[list[float]]


class StatsResponse(BaseModel):
    total_memories: int
    episodic: int
    semantic: int


# --- /v1 --------------------------------------------------------------------------------------


class MemoryBody(BaseModel):
    payload: dict[str, Any]
    type: str = "episodic"


class NewMemoryBody(MemoryBody):
    coord: list[float] | str | None = Field(None, description="omit to have one assigned")


class BulkItemV1(BaseModel):
    coord: list[float] | str
    payload: dict[str, Any]
    type: str = "episodic"


class BulkRequestV1(BaseModel):
    items: list[dict[str, Any]] = Field(
        description="items of {coord, payload, type}; each is checked on its own"
    )


class MemoryResource(BaseModel):
    namespace: str
    coord: list[float]
    payload: dict[str, Any]
    type: str
    importance: float
    created_at: float
    updated_at: float
    access_count: int


class ItemOutcome(BaseModel):
    index: int
    ok: bool
    coord: list[float] | None = None
    error: str | None = None


class BulkResponseV1(BaseModel):
    stored: int
    failed: int
    results: list[ItemOutcome]


class RecallRequestV1(BaseModel):
    query: str
    top_k: int = TopK
    type: str | None = None
    filters: dict[str, Any] | None = Field(
        None,
        description="field: value, field: [any of], or field: {$eq,$ne,$in,$nin,$gt,$gte,$lt,$lte,$exists}",
    )
    hybrid: bool = False
    terms: list[str] | None = None
    boost: float = 2.0
    exact: bool = False
    case_sensitive: bool = False


class ScoredMemoryResource(BaseModel):
    memory: MemoryResource
    score: float


class RecallResponseV1(BaseModel):
    results: list[ScoredMemoryResource]


class SearchRequestV1(KeywordQuery):
    exact: bool = False


class MemoriesResponseV1(BaseModel):
    results: list[MemoryResource]


class LinkBodyV1(BaseModel):
    from_coord: list[float] | str = Field(alias="from")
    to_coord: list[float] | str = Field(alias="to")
    type: str = "related"
    weight: float = 1.0


class LinkResource(BaseModel):
    from_coord: list[float] = Field(serialization_alias="from")
    to_coord: list[float] = Field(serialization_alias="to")
    type: str
    weight: float
    created_at: float


class LinksResponseV1(BaseModel):
    links: list[LinkResource]


class PathResponseV1(BaseModel):
    path: list[list[float]]
    found: bool


class ImportResponseV1(BaseModel):
    memories: int
    links: int
    errors: list[str]
