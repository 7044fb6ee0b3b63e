"""One error body for every failure: ``{"detail": ..., "error": {"code", "message"}}``.

``detail`` keeps clients of the reference service working: where the reference answered a status with a fixed
text, ``detail`` is that text; otherwise it is the message. ``error`` is the stable shape of /v1, and its
``message`` always says what went wrong.
"""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from somafractalmemory.core.coordinates import COORDINATE_PATTERN, parse_coordinate
from somafractalmemory.core.errors import BackendUnavailable, InvalidInput, NotFound
from somafractalmemory.core.field_encryption import UndecryptableField
from somafractalmemory.core.payloads import NON_BLANK_PATTERN
from somafractalmemory.http_api.schemas import ErrorBody

log = logging.getLogger(__name__)

BACKEND_RETRY_SECONDS = 5
STATUS_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    422: "invalid_request",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal",
    503: "backend_unavailable",
}

# The reference service's fixed detail for these statuses (its token check, body limit and rate limiter).
REFERENCE_DETAILS = {
    401: "Missing bearer token",
    403: "Invalid token",
    413: "Request entity too large",
    429: "Rate limit exceeded",
}

_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}
_WHEN = {
    400: ("input the server refuses: a malformed value, a body that is not UTF-8 JSON or repeats a key",),
    401: ("no bearer token", {"WWW-Authenticate": {"schema": {"type": "string"}}}),
    403: ("a wrong bearer token",),
    404: ("no such memory or graph node",),
    413: ("the request body is larger than SOMA_MAX_BODY_BYTES",),
    422: ("the request does not match the schema (or its body is not JSON)",),
    429: ("the client's rate limit is spent", _RETRY_AFTER),
    503: ("a backend is down; nothing was acknowledged", _RETRY_AFTER),
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses, each with the error body's schema."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, *headers = _WHEN[status]
        responses[status] = {"model": ErrorBody, "description": description}
        if headers:
            responses[status]["headers"] = headers[0]
    return responses


# What every route behind the token can answer; routes that look a memory up add NOT_FOUND.
PROTECTED_RESPONSES = error_responses(400, 401, 403, 413, 422, 429, 503)
NOT_FOUND = error_responses(404)


def error_response(
    status: int, message: str, *, detail: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {
        "detail": REFERENCE_DETAILS.get(status, message) if detail is None else detail,
        "error": {"code": STATUS_CODES.get(status, "error"), "message": message},
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _location(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"


def _pattern_message(error: dict[str, Any]) -> str:
    """A pattern says what is allowed, not what is wrong: say that instead of quoting the regex."""
    pattern = error.get("ctx", {}).get("pattern")
    if pattern == COORDINATE_PATTERN:
        try:
            parse_coordinate(error.get("input", ""))
        except InvalidInput as problem:
            return str(problem)
    if pattern == NON_BLANK_PATTERN:
        return "must not be blank"
    return str(error.get("msg"))


def _readable(errors: Any) -> list[dict[str, Any]]:
    """Validation errors can carry the offending input (bytes, exceptions): keep only what JSON can hold."""
    return [
        {
            "type": e["type"],
            "loc": e.get("loc", ()),
            "msg": _pattern_message(e) if e["type"] == "string_pattern_mismatch" else e.get("msg"),
        }
        for e in errors
    ]


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's own 405 names only the first route's)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


def _summary(readable: list[dict[str, Any]]) -> str:
    return "; ".join(
        "request body is not valid JSON" if e["type"] == "json_invalid" else f"{_location(e)}: {e['msg']}"
        for e in readable
    )


def validation_message(errors: Any) -> str:
    """One line naming every problem of a pydantic validation, e.g. "coord: ...; top_k: ..."."""
    return _summary(_readable(errors))


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

    @app.exception_handler(UndecryptableField)
    async def undecryptable(_: Request, error: UndecryptableField) -> JSONResponse:
        log.error("a stored field cannot be decrypted: %s", error)  # the server's keys, not the request
        return error_response(500, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        readable = _readable(error.errors())
        return error_response(422, _summary(readable), detail=readable)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        headers = error.headers
        if error.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return error_response(error.status_code, str(error.detail), headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return error_response(500, "internal error; the server log has the details")
