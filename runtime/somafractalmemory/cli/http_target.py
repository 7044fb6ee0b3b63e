"""The memories of one namespace behind a running API, through its /v1 endpoints (keep-alive client)."""

from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from somafractalmemory import __version__
from somafractalmemory.cli.errors import CommandFailed
from somafractalmemory.cli.target import JSONObject, RecallQuery
from somafractalmemory.core.coordinates import Coordinate, coordinate_key
from somafractalmemory.core.errors import InvalidInput, NotFound
from somafractalmemory.core.importance import MemoryOrder
from somafractalmemory.core.maintenance import Progress
from somafractalmemory.core.review import Review
from somafractalmemory.core.service import NewMemory

BAD_INPUT_STATUSES = frozenset({400, 413, 422})
AUTH_STATUSES = frozenset({401, 403})
NDJSON = "application/x-ndjson"


def _message(response: httpx.Response) -> str:
    """The API's error message (``{"error": {"message"}}``), else whatever the body says."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(message := error.get("message"), str):
        return message
    return str(body)[:500]


def raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    status = response.status_code
    message = _message(response)
    if status in BAD_INPUT_STATUSES:
        raise InvalidInput(message)
    if status == 404:
        raise NotFound(message)
    if status in AUTH_STATUSES:
        raise CommandFailed(
            f"the API refused the token ({status}): {message}. Use the server's token "
            "(SOMA_API_TOKEN, SOMA_API_TOKEN_FILE or --token-file)"
        )
    retry = response.headers.get("Retry-After")
    later = f"; retry after {retry} s" if retry else ""
    raise CommandFailed(f"the API answered {status} {response.reason_phrase}: {message}{later}")


class HttpTarget:
    def __init__(self, url: str, token: str, namespace: str, timeout: float) -> None:
        self.url = url
        self.namespace = namespace
        self._client = httpx.Client(
            base_url=f"{url}/v1/namespaces/{quote(namespace, safe='')}",
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"soma-cli/{__version__}"},
            timeout=timeout,
        )
        # Streams (export, import) may run long: only the connection has a deadline.
        self._stream_timeout = httpx.Timeout(timeout, read=None, write=None)

    def _unreachable(self, error: httpx.TransportError) -> CommandFailed:
        return CommandFailed(
            f"cannot reach the Soma API at {self.url}: {error}. Is `soma serve` running there?"
        )

    def _call(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **options)
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        raise_for_status(response)
        return response

    def _json(self, method: str, path: str, **options: Any) -> JSONObject:
        body: JSONObject = self._call(method, path, **options).json()
        return body

    @staticmethod
    def _memory_path(coordinate: Coordinate) -> str:
        return f"/memories/{coordinate_key(coordinate)}"

    def store(self, coordinate: Coordinate, payload: JSONObject, memory_type: str) -> JSONObject:
        body = {"payload": payload, "type": memory_type}
        return self._json("PUT", self._memory_path(coordinate), json=body)

    def store_many(self, items: Sequence[NewMemory]) -> int:
        body = {
            "items": [
                {"coord": list(item.coordinate), "payload": item.payload, "type": item.memory_type.value}
                for item in items
            ]
        }
        stored: int = self._json("POST", "/bulk", json=body)["stored"]
        return stored

    def remember(self, payload: JSONObject, memory_type: str) -> JSONObject:
        return self._json("POST", "/memories", json={"payload": payload, "type": memory_type})

    def get(self, coordinate: Coordinate) -> JSONObject:
        return self._json("GET", self._memory_path(coordinate))

    def delete(self, coordinate: Coordinate) -> bool:
        try:
            self._call("DELETE", self._memory_path(coordinate))
        except NotFound:
            return False
        return True

    def recall(self, query: RecallQuery) -> JSONObject:
        body = {
            "query": query.query,
            "top_k": query.top_k,
            "type": query.memory_type,
            "filters": query.filters,
            "hybrid": query.hybrid,
            "terms": query.terms,
        }
        return self._json("POST", "/recall", json=body)

    def coordinate_range(self, low: Coordinate, high: Coordinate, memory_type: str | None) -> JSONObject:
        params = {"min": coordinate_key(low), "max": coordinate_key(high)}
        if memory_type:
            params["type"] = memory_type
        return self._json("GET", "/range", params=params)

    def stats(self) -> JSONObject:
        return self._json("GET", "/stats")

    def link(self, source: Coordinate, target: Coordinate, link_type: str, weight: float) -> JSONObject:
        body = {"from": list(source), "to": list(target), "type": link_type, "weight": weight}
        return self._json("PUT", "/links", json=body)

    def neighbors(self, coordinate: Coordinate, link_type: str | None, limit: int | None) -> JSONObject:
        params = {"link_type": link_type, "limit": limit}
        return self._json(
            "GET",
            f"{self._memory_path(coordinate)}/links",
            params={k: v for k, v in params.items() if v is not None},
        )

    def path(self, source: Coordinate, target: Coordinate, link_type: str | None) -> JSONObject:
        params = {"from": coordinate_key(source), "to": coordinate_key(target)}
        if link_type:
            params["link_type"] = link_type
        return self._json("GET", "/path", params=params)

    def versions(self, coordinate: Coordinate) -> JSONObject:
        return self._json("GET", f"{self._memory_path(coordinate)}/versions")

    def restore_version(self, coordinate: Coordinate, number: int) -> JSONObject:
        return self._json("POST", f"{self._memory_path(coordinate)}/versions/{number}/restore")

    def audit(self, coordinate: Coordinate | None, limit: int, before: int | None) -> JSONObject:
        params: dict[str, Any] = {"limit": limit}
        if coordinate is not None:
            params["coord"] = coordinate_key(coordinate)
        if before is not None:
            params["before"] = before
        return self._json("GET", "/audit", params=params)

    def delete_many(self, filters: JSONObject | None, memory_type: str | None, dry_run: bool) -> JSONObject:
        body = {"filters": filters, "type": memory_type, "dry_run": dry_run}
        return self._json("POST", "/delete_many", json=body)

    def share(
        self, to: str, filters: JSONObject | None, memory_type: str | None, dry_run: bool
    ) -> JSONObject:
        body = {"to": to, "filters": filters, "type": memory_type, "dry_run": dry_run}
        return self._json("POST", "/share", json=body)

    def set_importance(self, coordinate: Coordinate, importance: float) -> JSONObject:
        body = {"importance": importance}
        return self._json("PUT", f"{self._memory_path(coordinate)}/importance", json=body)

    def report_outcome(self, coordinate: Coordinate, outcome: Any) -> JSONObject:
        return self._json("POST", f"{self._memory_path(coordinate)}/outcome", json={"outcome": outcome})

    def listed(self, order: MemoryOrder, limit: int, memory_type: str | None) -> JSONObject:
        params: dict[str, Any] = {"limit": limit}
        if memory_type is not None:
            params["type"] = memory_type
        return self._json("GET", f"/{order.value}", params=params)

    def maintain(self, every_namespace: bool, dry_run: bool, progress: Progress | None) -> JSONObject:
        """The pass runs on the server (``progress`` is not told of it); --timeout bounds the wait."""
        del progress
        path = f"{self.url}/v1/maintain" if every_namespace else "/maintain"
        return self._json("POST", path, json={"dry_run": dry_run})

    def review(self, review: Review, limit: int) -> JSONObject:
        return self._json("GET", f"/{review.value}", params={"limit": limit})

    def export_lines(self) -> Iterator[bytes]:
        try:
            with self._client.stream("GET", "/export", timeout=self._stream_timeout) as response:
                if not response.is_success:
                    response.read()
                    raise_for_status(response)
                for line in response.iter_lines():
                    yield line.encode() + b"\n"
        except httpx.TransportError as error:
            raise self._unreachable(error) from error

    def import_lines(self, lines: Iterable[bytes]) -> JSONObject:
        return self._json(
            "POST",
            "/import",
            content=iter(lines),
            headers={"Content-Type": NDJSON},
            timeout=self._stream_timeout,
        )

    def close(self) -> None:
        self._client.close()
