"""Maintenance's request and answer shapes (the API's and the CLI's)."""

from pydantic import BaseModel, Field

from somafractalmemory.core.maintenance import MaintenanceSummary
from somafractalmemory.http_api.schemas import Body


class MaintainBodyV1(Body):
    dry_run: bool = Field(False, description="only count what a pass would change")


class MaintenanceResponseV1(BaseModel):
    namespaces: int = Field(description="namespaces the pass went over")
    decayed: int = Field(description="memories that lost payload keys by age")
    forgotten: int = Field(description="memories deleted: old and below the importance floor")
    consolidated: int = Field(description="episodic memories consolidated")
    created: int = Field(description="semantic memories created by consolidation")
    dry_run: bool
    retried: int = Field(description="changes decided again: another client wrote their memories meanwhile")
    skipped: int = Field(
        description="memories left as other clients kept writing them (a later pass retries)"
    )


def maintenance_resource(summary: MaintenanceSummary) -> MaintenanceResponseV1:
    return MaintenanceResponseV1(
        namespaces=summary.namespaces,
        decayed=summary.decayed,
        forgotten=summary.forgotten,
        consolidated=summary.consolidated,
        created=summary.created,
        dry_run=summary.dry_run,
        retried=summary.retried,
        skipped=summary.skipped,
    )
