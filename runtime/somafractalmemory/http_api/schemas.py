"""Request and response bodies. Compatibility bodies keep the reference service's names and defaults.

Every constraint the server enforces on a field is declared here, so the published OpenAPI document says
what is accepted. Request bodies are strict: ``true`` is no integer, ``"1"`` no number.
"""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

from somafractalmemory.core.coordinates import COORDINATE_HELP, COORDINATE_PATTERN, MAX_DIMENSIONS
from somafractalmemory.core.payloads import MAX_PAYLOAD_DEPTH, NON_BLANK_PATTERN
from somafractalmemory.core.service import MAX_QUERY_LENGTH, MAX_TOP_K

MAX_BATCH_QUERIES = 100

# Constraints the core enforces (with the messages the CLI shows too) are declared here with
# WithJsonSchema and left to the core; the rest pydantic checks.
TYPE_NAMES = ["episodic", "semantic"]
TypeName = Annotated[str, WithJsonSchema({"type": "string", "enum": TYPE_NAMES})]
TypeFilter = Annotated[
    str | None,
    WithJsonSchema({"anyOf": [{"type": "string", "enum": TYPE_NAMES}, {"type": "null"}]}),
]
CoordinateText = Annotated[str, Field(pattern=COORDINATE_PATTERN, description=COORDINATE_HELP)]
CoordinateArray = Annotated[
    list[float], Field(min_length=1, max_length=MAX_DIMENSIONS, description="1 to 64 numbers")
]


def _coordinate_form(value: Any) -> str | None:
    return "array" if isinstance(value, list) else "string" if isinstance(value, str) else None


# Tagged by the input's JSON type, so an error names the one form that was sent.
Coordinate = Annotated[
    Annotated[CoordinateArray, Tag("array")] | Annotated[CoordinateText, Tag("string")],
    Discriminator(
        _coordinate_form,
        custom_error_type="coordinate_type",
        custom_error_message="a coordinate is a string like '1,2,3' or an array of numbers",
    ),
]
QUERY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_QUERY_LENGTH,
    "pattern": NON_BLANK_PATTERN,
    "description": f"text, not blank, at most {MAX_QUERY_LENGTH} characters",
}
QueryText = Annotated[str, WithJsonSchema(QUERY_SCHEMA)]
LinkType = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "minLength": 1, "pattern": NON_BLANK_PATTERN, "description": "not blank"}
    ),
]


def _integral(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (as JSON Schema says); 3.5 and true are no integers."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


TopK = Annotated[int, Field(ge=1, le=MAX_TOP_K), BeforeValidator(_integral)]
Weight = Annotated[
    float,
    WithJsonSchema(
        {
            "type": "number",
            "minimum": 0,
            "description": "the cost of the edge in shortest paths, not negative",
        }
    ),
]
Payload = Annotated[
    dict[str, Any],
    Field(
        description=f"any JSON object: objects and arrays nest at most {MAX_PAYLOAD_DEPTH} levels "
        "(the payload itself is level 1); strings are Unicode text (no lone surrogates, no NUL)"
    ),
]

_SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean", "null"]}
_OPERATORS: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        "$eq": _SCALAR,
        "$ne": _SCALAR,
        "$in": {"type": "array", "items": _SCALAR},
        "$nin": {"type": "array", "items": _SCALAR},
        "$gt": {"type": "number"},
        "$gte": {"type": "number"},
        "$lt": {"type": "number"},
        "$lte": {"type": "number"},
        "$exists": {"type": "boolean"},
    },
}
FILTERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "payload field (dotted names reach into objects): a value (equal to), an array "
    "(any of), or operators {$eq,$ne,$in,$nin,$gt,$gte,$lt,$lte,$exists}",
    "propertyNames": {"minLength": 1},
    "additionalProperties": {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}, _OPERATORS]},
}
Filters = Annotated[dict[str, Any], WithJsonSchema(FILTERS_SCHEMA)]


class Body(BaseModel):
    """A request body: strict types, unknown fields ignored (as the reference service did)."""

    model_config = ConfigDict(strict=True)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ValidationProblem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ErrorBody(BaseModel):
    """Every error answer: ``detail`` as the reference service had it (for 422, the list of problems),
    ``error`` the stable shape."""

    detail: str | list[ValidationProblem]
    error: ErrorDetail


# --- compatibility surface --------------------------------------------------------------------

# The reference service read type and top_k leniently (see reference_reading): the schema says so.
StoredTypeName = Annotated[
    str | None,
    Field(description="'semantic'; any other name, or null, stores an episodic memory"),
]
RecallTypeFilter = Annotated[
    str | None,
    Field(description="'semantic', or any other non-empty name for episodic; null or empty: no filter"),
]
SearchTypeFilter = Annotated[
    str | None, Field(description="'episodic' or 'semantic'; any other value: no filter")
]
Boost = Annotated[
    float,
    WithJsonSchema({"type": "number", "minimum": 0, "description": "the weight of the terms, not negative"}),
]
# /v1 refuses a negative boost by its schema even when it goes unused (no hybrid), as the document says.
BoostV1 = Annotated[float, Field(ge=0, description="the weight of the terms, not negative")]
CompatTopK = Annotated[
    int, Field(le=MAX_TOP_K, description="0 or less asks for no results"), BeforeValidator(_integral)
]
RecalledPayload = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "description": "the stored payload with these fields folded in",
            "required": ["coordinate", "memory_type", "timestamp", "importance_norm"],
            "properties": {
                "coordinate": {"type": "array", "items": {"type": "number"}},
                "memory_type": {"type": "string", "enum": TYPE_NAMES},
                "timestamp": {
                    "description": "the payload's own timestamp when it had one, else the epoch seconds "
                    "at which the memory was first stored"
                },
                "importance_norm": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "description": "the memory's importance in [0, 1]",
                },
            },
        }
    ),
]


class StoreRequest(Body):
    coord: CoordinateText
    payload: Payload
    type: StoredTypeName = "episodic"


class RememberRequest(Body):
    payload: Payload
    coord: Annotated[CoordinateText | None, Field(description="omit to have one assigned")] = None
    type: StoredTypeName = "episodic"


class BulkItem(Body):
    coord: CoordinateText
    payload: Payload
    type: StoredTypeName = "episodic"


class StoreBulkRequest(Body):
    items: list[BulkItem]


class RecallRequest(Body):
    query: QueryText
    top_k: CompatTopK = 5
    type: RecallTypeFilter = None
    filters: Filters | None = None
    hybrid: bool | None = None


class RecallBatchRequest(Body):
    queries: list[QueryText] = Field(min_length=1, max_length=MAX_BATCH_QUERIES)
    top_k: CompatTopK = 5
    type: RecallTypeFilter = None
    filters: Filters | None = None
    hybrid: bool | None = None


class RecallWithScoresRequest(Body):
    query: QueryText
    top_k: CompatTopK = 5
    type: SearchTypeFilter = None
    hybrid: bool | None = None
    exact: bool = True
    case_sensitive: bool = False


class KeywordQuery(Body):
    """A keyword search; the two surfaces differ only in the default of ``exact``."""

    term: QueryText
    exact: bool
    case_sensitive: bool = False
    top_k: TopK = 50
    type: TypeFilter = None


class KeywordSearchRequest(KeywordQuery):
    exact: bool = True
    top_k: CompatTopK = 50
    type: SearchTypeFilter = None


class HybridRecallRequest(Body):
    query: QueryText
    terms: list[str] | None = None
    boost: Boost = 2.0
    top_k: CompatTopK = 5
    exact: bool = True
    case_sensitive: bool = False
    type: SearchTypeFilter = None


class RecallWithContextRequest(Body):
    query: QueryText
    context: Annotated[
        dict[str, Any],
        Field(description=f"a JSON object (at most {MAX_PAYLOAD_DEPTH} levels) whose strings join the query"),
    ]
    top_k: CompatTopK = 5
    type: SearchTypeFilter = None


class LinkRequest(Body):
    from_coord: CoordinateText
    to_coord: CoordinateText
    type: LinkType = "related"
    weight: Weight = 1.0


class OkResponse(BaseModel):
    ok: bool


class RememberResponse(BaseModel):
    ok: bool
    coord: str


class StoredResponse(BaseModel):
    stored: int


class MatchesResponse(BaseModel):
    matches: list[RecalledPayload]


class BatchesResponse(BaseModel):
    batches: list[list[RecalledPayload]]


class ScoredPayload(BaseModel):
    payload: RecalledPayload
    score: float


class ScoredResultsResponse(BaseModel):
    results: list[ScoredPayload]


class ResultsResponse(BaseModel):
    results: list[RecalledPayload]


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


class NamespaceStatsResponse(StatsResponse):
    embedders: dict[str, int] = Field(
        description="memories per embedder id ('unknown': written before memories recorded it)"
    )


class RootResponse(BaseModel):
    message: str
    metrics: str


class BackendBooleans(BaseModel):
    """The reference service's per-backend booleans (the graph lives in the document store)."""

    kv_store: bool = Field(description="the document store answers")
    vector_store: bool = Field(description="the vector index answers")
    graph_store: bool = Field(description="the document store answers (it holds the graph)")
    prediction_provider: bool = Field(
        description="always true: embeddings are computed in-process, there is no provider to lose"
    )


class BackendState(BaseModel):
    ok: bool
    error: str | None = Field(default=None, description="why the backend failed (only when it did)")


class LivenessResponse(BackendBooleans):
    status: str = Field(description="'ok': the process is alive and serving")


class ReadinessResponse(BackendBooleans):
    status: str = Field(description="'ready', or 'unavailable' when a backend failed")
    failed: list[str] = Field(description="the names of the failed backends")
    backends: dict[str, BackendState]


class HealthResponse(BackendBooleans):
    backends: dict[str, bool]


# --- /v1 --------------------------------------------------------------------------------------


class MemoryBody(Body):
    payload: Payload
    type: TypeName = "episodic"


class NewMemoryBody(MemoryBody):
    coord: Annotated[Coordinate | None, Field(description="omit to have one assigned")] = None


class BulkItemV1(Body):
    coord: Coordinate
    payload: Payload
    type: TypeName = "episodic"


class BulkRequestV1(Body):
    items: list[dict[str, Any]] = Field(
        description="items of {coord, payload, type}; each is checked on its own and a bad one is "
        "reported in its result, so any object is taken here"
    )


class MemoryResource(BaseModel):
    namespace: str
    coord: list[float]
    payload: dict[str, Any]
    type: TypeName
    importance: float
    created_at: float
    updated_at: float
    access_count: int
    embedder: str | None = Field(
        description="the embedder that made its vector (provider:model:dimensions); null: unknown"
    )


class ItemOutcome(BaseModel):
    index: int
    ok: bool
    coord: list[float] | None = None
    error: str | None = None


class BulkResponseV1(BaseModel):
    stored: int
    failed: int
    results: list[ItemOutcome]


RankingName = Annotated[
    Literal["fused", "dense", "lexical"],
    Field(description="fused: the dense and lexical legs by reciprocal rank; dense: cosine; lexical: words"),
]


class RecallRequestV1(Body):
    query: QueryText
    top_k: TopK = 5
    type: TypeFilter = None
    filters: Filters | None = None
    hybrid: bool = False
    terms: list[str] | None = None
    boost: BoostV1 = 2.0
    exact: bool = False
    case_sensitive: bool = False
    ranking: RankingName = "fused"


class ScoredMemoryResource(BaseModel):
    memory: MemoryResource
    score: float


class RecallResponseV1(BaseModel):
    results: list[ScoredMemoryResource]
    ranking: RankingName


class SearchRequestV1(KeywordQuery):
    exact: bool = False


class MemoriesResponseV1(BaseModel):
    results: list[MemoryResource]


class LinkBodyV1(Body):
    from_coord: Coordinate = Field(alias="from")
    to_coord: Coordinate = Field(alias="to")
    type: LinkType = "related"
    weight: Weight = 1.0


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
    versions: int
    errors: list[str]


class VersionResource(BaseModel):
    number: int
    payload: dict[str, Any]
    type: TypeName
    importance: float
    updated_at: float = Field(description="when this content was written")
    replaced_at: float = Field(description="when a later write replaced it")


class VersionsResponseV1(BaseModel):
    namespace: str
    coord: list[float]
    versions: list[VersionResource] = Field(description="newest first, at most SOMA_MAX_VERSIONS")


class ImportanceBodyV1(Body):
    importance: Annotated[
        float,
        WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1, "description": "from 0 to 1"}),
    ]


class OutcomeBodyV1(Body):
    outcome: Annotated[Any, Field(description="any JSON value: what happened")]


class OutcomeResponseV1(BaseModel):
    memory: MemoryResource
    mispredicted: bool = Field(description="the memory's predicted_outcome differs from the outcome")
    corrective: MemoryResource | None = Field(
        description="the semantic memory recording the mismatch, linked from the memory (type 'corrective')"
    )


class AuditEntryResource(BaseModel):
    entry: int = Field(description="the entry's number in the log; numbers only grow")
    at: float
    actor: str = Field(description="'token:' and the id of the caller's token, 'local:USER' or 'system'")
    action: str
    coord: list[float] = Field(description="the memory changed; for a link, the memory it starts from")
    to: list[float] | None = Field(
        default=None, description="for a link, the memory it points to; null for a change to one memory"
    )


class AuditResponseV1(BaseModel):
    entries: list[AuditEntryResource] = Field(description="newest first")
    next_before: int | None = Field(
        description="pass as 'before' for the next, older page; null when this page is the last"
    )


NARROWED = "give filters or a type: a change to many memories never applies to a whole namespace by default"


class SelectionBodyV1(Body):
    """The memories a change to many applies to: those of ``type`` that pass ``filters`` (one of the two
    is required)."""

    model_config = ConfigDict(
        strict=True,
        json_schema_extra={
            "anyOf": [
                {"required": ["filters"], "properties": {"filters": {"type": "object", "minProperties": 1}}},
                {"required": ["type"], "properties": {"type": {"type": "string"}}},
            ]
        },
    )

    filters: Filters | None = None
    type: TypeFilter = None
    dry_run: bool = Field(False, description="only say which memories match; change nothing")

    @model_validator(mode="after")
    def _narrowed(self) -> "SelectionBodyV1":
        if not self.filters and self.type is None:
            raise ValueError(NARROWED)
        return self


class ShareBodyV1(SelectionBodyV1):
    to: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
            description="the namespace to copy into",
        ),
    ]


class BatchResponseV1(BaseModel):
    matched: int
    coords: list[list[float]] = Field(description="the coordinates of the matched memories")
    applied: int = Field(description="memories deleted or copied (0 on a dry run)")
    dry_run: bool
