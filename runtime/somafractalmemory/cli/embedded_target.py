"""The memories of one namespace in the embedded store of a data directory, through the service."""

import getpass
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from somafractalmemory.cli.target import JSONObject, RecallQuery
from somafractalmemory.core.audit import set_actor
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.importance import MemoryOrder
from somafractalmemory.core.maintenance import Maintenance, Progress
from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.records import parse_ndjson, record_line
from somafractalmemory.core.review import Review
from somafractalmemory.core.service import NewMemory
from somafractalmemory.http_api.audit_presenter import audit_resource
from somafractalmemory.http_api.batch_presenter import batch_resource, selection_of
from somafractalmemory.http_api.maintenance_presenter import maintenance_resource
from somafractalmemory.http_api.presenters import (
    import_resource,
    link_resource,
    memory_resource,
    scored_resource,
)
from somafractalmemory.http_api.queries import namespace_stats
from somafractalmemory.http_api.schemas import OutcomeResponseV1
from somafractalmemory.http_api.version_presenter import versions_resource
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import Runtime, build_runtime

LOCAL_ACTOR_PREFIX = "local:"


def _local_actor() -> str:
    try:
        return LOCAL_ACTOR_PREFIX + getpass.getuser()
    except (OSError, KeyError):  # no login name and no entry in the password database (a container)
        return LOCAL_ACTOR_PREFIX + "unknown"


def _kind(name: str) -> MemoryType:
    return MemoryType.parse(name) or MemoryType.EPISODIC


class EmbeddedTarget:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._service = runtime.service
        self.namespace = runtime.settings.namespace

    @classmethod
    def open(cls, settings: Settings) -> "EmbeddedTarget":
        runtime = build_runtime(settings)
        set_actor(_local_actor())  # what this process changes, the audit log attributes to its user
        if runtime.recovery is not None:
            runtime.recovery.wait()  # a command answers from an index in step with the store
        return cls(runtime)

    def store(self, coordinate: Coordinate, payload: JSONObject, memory_type: str) -> JSONObject:
        memory = self._service.store_memory(
            self.namespace, NewMemory(coordinate, payload, _kind(memory_type))
        )
        return memory_resource(memory).model_dump(mode="json")

    def store_many(self, items: Sequence[NewMemory]) -> int:
        return self._service.store_many(self.namespace, items).stored

    def remember(self, payload: JSONObject, memory_type: str) -> JSONObject:
        memory = self._service.remember(self.namespace, payload, _kind(memory_type))
        return memory_resource(memory).model_dump(mode="json")

    def get(self, coordinate: Coordinate) -> JSONObject:
        return memory_resource(self._service.get(self.namespace, coordinate)).model_dump(mode="json")

    def delete(self, coordinate: Coordinate) -> bool:
        return self._service.delete(self.namespace, coordinate)

    def recall(self, query: RecallQuery) -> JSONObject:
        memory_type = MemoryType.parse(query.memory_type)
        conditions = parse_filters(query.filters)
        if query.hybrid:
            found = self._service.hybrid_recall(
                self.namespace,
                query.query,
                terms=query.terms,
                top_k=query.top_k,
                exact=False,
                memory_type=memory_type,
                conditions=conditions,
            )
        else:
            found = self._service.recall(
                self.namespace, query.query, top_k=query.top_k, memory_type=memory_type, conditions=conditions
            )
        return {"results": [scored_resource(scored).model_dump(mode="json") for scored in found]}

    def coordinate_range(self, low: Coordinate, high: Coordinate, memory_type: str | None) -> JSONObject:
        found = self._service.coordinate_range(self.namespace, low, high, MemoryType.parse(memory_type))
        return {"coords": [list(coordinate) for coordinate in found]}

    def stats(self) -> JSONObject:
        return namespace_stats(self._service, self.namespace).model_dump(mode="json")

    def link(self, source: Coordinate, target: Coordinate, link_type: str, weight: float) -> JSONObject:
        link = self._service.link(self.namespace, source, target, link_type, weight)
        return link_resource(link).model_dump(mode="json", by_alias=True)

    def neighbors(self, coordinate: Coordinate, link_type: str | None, limit: int | None) -> JSONObject:
        links = self._service.neighbors(self.namespace, coordinate, link_type, limit)
        return {"links": [link_resource(link).model_dump(mode="json", by_alias=True) for link in links]}

    def path(self, source: Coordinate, target: Coordinate, link_type: str | None) -> JSONObject:
        path = self._service.shortest_path(self.namespace, source, target, link_type)
        return {"path": [list(coordinate) for coordinate in path], "found": bool(path)}

    def versions(self, coordinate: Coordinate) -> JSONObject:
        found = self._service.versions(self.namespace, coordinate)
        return versions_resource(self.namespace, coordinate, found).model_dump(mode="json")

    def restore_version(self, coordinate: Coordinate, number: int) -> JSONObject:
        memory = self._service.restore_version(self.namespace, coordinate, number)
        return memory_resource(memory).model_dump(mode="json")

    def audit(self, coordinate: Coordinate | None, limit: int, before: int | None) -> JSONObject:
        found = self._service.audit(self.namespace, coordinate, limit, before)
        return audit_resource(found, limit).model_dump(mode="json")

    def delete_many(self, filters: JSONObject | None, memory_type: str | None, dry_run: bool) -> JSONObject:
        selection = selection_of(filters, memory_type)
        outcome = self._service.delete_matching(self.namespace, selection, dry_run=dry_run)
        return batch_resource(outcome, dry_run).model_dump(mode="json")

    def share(
        self, to: str, filters: JSONObject | None, memory_type: str | None, dry_run: bool
    ) -> JSONObject:
        outcome = self._service.share(self.namespace, to, selection_of(filters, memory_type), dry_run=dry_run)
        return batch_resource(outcome, dry_run).model_dump(mode="json")

    def set_importance(self, coordinate: Coordinate, importance: float) -> JSONObject:
        memory = self._service.set_importance(self.namespace, coordinate, importance)
        return memory_resource(memory).model_dump(mode="json")

    def report_outcome(self, coordinate: Coordinate, outcome: Any) -> JSONObject:
        report = self._service.report_outcome(self.namespace, coordinate, outcome)
        corrective = None if report.corrective is None else memory_resource(report.corrective)
        answer = OutcomeResponseV1(
            memory=memory_resource(report.memory), mispredicted=report.mispredicted, corrective=corrective
        )
        return answer.model_dump(mode="json")

    def listed(self, order: MemoryOrder, limit: int, memory_type: str | None) -> JSONObject:
        found = self._service.listed(self.namespace, order, limit, MemoryType.parse(memory_type))
        return {"results": [memory_resource(memory).model_dump(mode="json") for memory in found]}

    def maintain(self, every_namespace: bool, dry_run: bool, progress: Progress | None) -> JSONObject:
        maintenance = Maintenance(self._service, self._runtime.settings.maintenance_policy())
        namespaces = maintenance.namespaces() if every_namespace else [self.namespace]
        summary = maintenance.run(namespaces, dry_run=dry_run, progress=progress)
        return maintenance_resource(summary).model_dump(mode="json")

    def review(self, review: Review, limit: int) -> JSONObject:
        found = self._service.listed(self.namespace, review.order, limit, review.memory_type)
        return {"results": [memory_resource(memory).model_dump(mode="json") for memory in found]}

    def export_lines(self) -> Iterator[bytes]:
        for record in self._service.export_records(self.namespace):
            yield record_line(record)

    def import_lines(self, lines: Iterable[bytes]) -> JSONObject:
        records = parse_ndjson(lines, max_line_length=self._runtime.settings.max_body_bytes)
        report = self._service.import_records(self.namespace, records)
        return import_resource(report).model_dump()

    def close(self) -> None:
        self._runtime.close()
