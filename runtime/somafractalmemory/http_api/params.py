"""Path and query parameters, each with the constraints the server enforces written into the schema."""

import re
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator

from somafractalmemory.core.coordinates import COORDINATE_HELP, COORDINATE_PATTERN
from somafractalmemory.core.service import MAX_TOP_K
from somafractalmemory.http_api.schemas import FILTERS_SCHEMA, QueryText, TypeFilter

MAX_NEIGHBORS = 10_000
_INTEGER = re.compile(r"-?[0-9]+")


def _integer_text(value: Any) -> Any:
    """Plain decimal digits only: pydantic alone reads '1_0' as 10 and ' 5' as 5."""
    if isinstance(value, str) and not _INTEGER.fullmatch(value):
        raise ValueError(f"{value!r} is not an integer written in decimal digits")
    return value


def coordinate_query(alias: str | None = None) -> Any:
    return Query(alias=alias, pattern=COORDINATE_PATTERN, description=COORDINATE_HELP)


CoordinatePath = Annotated[str, Path(pattern=COORDINATE_PATTERN, description=COORDINATE_HELP)]
CoordinateQuery = Annotated[str, coordinate_query()]
TypeQuery = Annotated[TypeFilter, Query(description="only memories of this type")]
TopKQuery = Annotated[int, Query(ge=1, le=MAX_TOP_K), BeforeValidator(_integer_text)]
LimitQuery = Annotated[int | None, Query(ge=1, le=MAX_NEIGHBORS), BeforeValidator(_integer_text)]
QueryTextQuery = Annotated[QueryText, Query()]
# GET /recall takes its filters as a JSON text: FastAPI reads it as a plain string (kept out of the
# schema), and the document declares it as what it is, JSON of the filters schema.
FiltersQuery = Annotated[str | None, Query(include_in_schema=False)]
FILTERS_QUERY_SCHEMA = {
    "parameters": [
        {
            "name": "filters",
            "in": "query",
            "required": False,
            "description": 'the filters as a JSON object, e.g. {"tag": "a"}',
            "content": {"application/json": {"schema": FILTERS_SCHEMA}},
        }
    ]
}
