"""One error body for every failure: ``{"detail": message, "error": {"code", "message"}}``.

``detail`` keeps clients of the reference service working; ``error`` is the stable shape of /v1.
"""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from somafractalmemory.core.errors import BackendUnavailable, InvalidInput, NotFound

log = logging.getLogger(__name__)

BACKEND_RETRY_SECONDS = 5
STATUS_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal",
    503: "backend_unavailable",
}


def error_response(
    status: int, message: str, *, detail: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {
        "detail": message if detail is None else detail,
        "error": {"code": STATUS_CODES.get(status, "error"), "message": message},
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _location(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"


def _jsonable(errors: Any) -> list[dict[str, Any]]:
    """Validation errors can carry the offending input (bytes, exceptions): keep only what JSON can hold."""
    return [{key: value for key, value in e.items() if key in ("type", "loc", "msg")} for e in errors]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidInput)
    async def invalid_input(_: Request, error: InvalidInput) -> JSONResponse:
        return error_response(400, str(error))

    @app.exception_handler(NotFound)
    async def not_found(_: Request, error: NotFound) -> JSONResponse:
        return error_response(404, str(error))

    @app.exception_handler(BackendUnavailable)
    async def backend_unavailable(_: Request, error: BackendUnavailable) -> JSONResponse:
        log.warning("request failed, backend down: %s", error)
        return error_response(503, str(error), headers={"Retry-After": str(BACKEND_RETRY_SECONDS)})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            "request body is not valid JSON"
            if e.get("type") == "json_invalid"
            else f"{_location(e)}: {e.get('msg')}"
            for e in error.errors()
        ]
        return error_response(422, "; ".join(problems), detail=_jsonable(error.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail), headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return error_response(500, "internal error; the server log has the details")
