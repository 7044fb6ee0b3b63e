"""A memory's versions into their response shape (the API's and the CLI's)."""

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.models import MemoryVersion
from somafractalmemory.http_api.schemas import VersionResource, VersionsResponseV1


def versions_resource(
    namespace: str, coordinate: Coordinate, versions: list[MemoryVersion]
) -> VersionsResponseV1:
    return VersionsResponseV1(
        namespace=namespace,
        coord=list(coordinate),
        versions=[
            VersionResource(
                number=v.number,
                payload=v.payload,
                type=v.memory_type.value,
                importance=v.importance,
                updated_at=v.updated_at,
                replaced_at=v.replaced_at,
            )
            for v in versions
        ],
    )
