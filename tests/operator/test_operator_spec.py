"""The typed spec: defaults, bounds, and the Python side of the CRD's CEL rules."""

from __future__ import annotations

import pytest

from soma_operator.quantity import storage_bytes
from soma_operator.spec import Component, MemorySystem, MemorySystemSpec, Mode, SpecError, shrink_errors


def parse(spec: dict[str, object], name: str = "memory") -> MemorySystem:
    return MemorySystem.from_body({"metadata": {"name": name, "namespace": "ns", "uid": "u"}, "spec": spec})


def test_empty_spec_gets_every_default() -> None:
    spec = parse({}).spec
    assert spec.mode is Mode.EVENTED
    assert spec.api.replicas == 2
    assert spec.postgres.storage.size == "10Gi"
    assert spec.redis.storage.size == "1Gi"
    assert spec.provisioned_data_stores() == (
        Component.POSTGRES,
        Component.REDIS,
        Component.QDRANT,
        Component.REDPANDA,
    )


def test_direct_mode_runs_no_broker_and_no_consumers() -> None:
    spec = parse({"mode": "direct"}).spec
    assert Component.REDPANDA not in spec.provisioned_data_stores()
    assert set(spec.workload_replicas()) == {
        Component.POSTGRES,
        Component.REDIS,
        Component.QDRANT,
        Component.API,
    }


def test_external_component_is_not_provisioned() -> None:
    spec = parse({"postgres": {"external": {"secretRef": {"name": "pg"}}}}).spec
    assert Component.POSTGRES not in spec.provisioned_data_stores()
    assert Component.POSTGRES in spec.used_data_stores()
    assert spec.postgres.external is not None
    assert spec.postgres.external.secret_ref.key == "url"


@pytest.mark.parametrize(
    ("component", "provisioned"),
    [
        ("postgres", {"storage": {"size": "1Gi"}}),
        ("redis", {"appendOnly": False}),
        ("qdrant", {"replicas": 3}),
        ("redpanda", {"partitions": 3, "resources": {"limits": {"memory": "1Gi"}}}),
    ],
)
def test_external_and_provisioned_settings_are_exclusive(
    component: str, provisioned: dict[str, object]
) -> None:
    with pytest.raises(SpecError, match=f"spec.{component}: external and provisioned settings are exclusive"):
        parse({component: {"external": {"secretRef": {"name": "x"}}, **provisioned}})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"api": {"replicas": 0}}, "spec.api.replicas"),
        ({"mode": "sideways"}, "spec.mode"),
        ({"postgres": {"storage": {"size": "ten gigs"}}}, "spec.postgres.storage.size"),
        ({"storagePolicy": {"onDelete": "Shred"}}, "spec.storagePolicy.onDelete"),
        ({"unknownField": 1}, "spec.unknownField"),
    ],
)
def test_invalid_specs_name_the_field(spec: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse(spec)


def test_a_name_too_long_for_child_names_is_refused() -> None:
    with pytest.raises(SpecError, match=r"metadata\.name"):
        parse({}, name="x" * 41)


def test_storage_may_grow() -> None:
    spec = MemorySystemSpec.model_validate({"postgres": {"storage": {"size": "20Gi"}}})
    assert shrink_errors({Component.POSTGRES: "10Gi"}, spec) == []


def test_storage_may_not_shrink_and_the_reason_says_how_to_fix_it() -> None:
    spec = MemorySystemSpec.model_validate({"postgres": {"storage": {"size": "5Gi"}}})
    [error] = shrink_errors({Component.POSTGRES: "10Gi"}, spec)
    assert "postgres: storage cannot shrink from 10Gi to 5Gi" in error
    assert "at least 10Gi" in error


def test_equal_sizes_in_other_units_are_not_a_shrink() -> None:
    spec = MemorySystemSpec.model_validate({"redis": {"storage": {"size": "1024Mi"}}})
    assert shrink_errors({Component.REDIS: "1Gi"}, spec) == []


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("1Gi", 2**30), ("500M", 500 * 10**6), ("1.5Gi", 3 * 2**29), ("1024", 1024), ("2Ti", 2 * 2**40)],
)
def test_storage_quantities(quantity: str, expected: int) -> None:
    assert storage_bytes(quantity) == expected


def test_a_cpu_quantity_is_not_a_storage_quantity() -> None:
    with pytest.raises(ValueError, match="not a storage quantity"):
        storage_bytes("500m")
