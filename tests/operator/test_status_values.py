"""Every status condition in every state, pinned to the exact type, status, reason and message users read
(`kubectl get msys -o yaml`, `kubectl wait --for=condition=Ready`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from soma_operator.spec import Component, MemorySystemSpec
from soma_operator.status import (
    Condition,
    Reason,
    StorageProgress,
    component_conditions,
    failed_status,
    observed_status,
    paused_status,
    render_conditions,
    summarize,
    workload_condition,
)

NOW = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
STAMP = "2026-03-01T08:30:00Z"
BEFORE = "2026-02-01T00:00:00Z"


def rendered(type_: str, status: str, reason: str, message: str, generation: int = 7) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": STAMP,
    }


# --- one workload -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("live", "expected"),
    [
        (None, Condition("PostgresReady", False, Reason.NOT_CREATED, "postgres is not created yet")),
        (
            {"metadata": {"generation": 2}, "status": {"observedGeneration": 1}},
            Condition(
                "PostgresReady", False, Reason.ROLLING_OUT, "postgres: the latest spec is not observed yet"
            ),
        ),
        # A status without counters counts none: no replica is updated, none is ready.
        (
            {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "readyReplicas": 2}},
            Condition("PostgresReady", False, Reason.ROLLING_OUT, "postgres: 0/2 replicas updated"),
        ),
        (
            {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "updatedReplicas": 2}},
            Condition("PostgresReady", False, Reason.NOT_READY, "postgres: 0/2 replicas ready"),
        ),
        (
            {
                "metadata": {"generation": 1},
                "status": {"observedGeneration": 1, "updatedReplicas": 2, "readyReplicas": 1},
            },
            Condition("PostgresReady", False, Reason.NOT_READY, "postgres: 1/2 replicas ready"),
        ),
        # Fresh objects carry neither generation nor observedGeneration: both count as 0, and 0 is observed.
        (
            {"status": {"updatedReplicas": 2, "readyReplicas": 2}},
            Condition("PostgresReady", True, Reason.READY, "postgres: 2/2 replicas ready"),
        ),
        (
            {"metadata": {}, "status": {"updatedReplicas": 2, "readyReplicas": 2}},
            Condition("PostgresReady", True, Reason.READY, "postgres: 2/2 replicas ready"),
        ),
        # No status at all: created, but nothing rolled out.
        (
            {"metadata": {"generation": 0}},
            Condition("PostgresReady", False, Reason.ROLLING_OUT, "postgres: 0/2 replicas updated"),
        ),
    ],
)
def test_workload_condition(live: dict[str, Any] | None, expected: Condition) -> None:
    assert workload_condition(Component.POSTGRES, live, 2) == expected


def test_a_workload_with_a_newer_generation_than_observed_is_rolling_out_whatever_its_counters() -> None:
    live = {"metadata": {"generation": 1}, "status": {"updatedReplicas": 3, "readyReplicas": 3}}
    assert workload_condition(Component.API, live, 3) == Condition(
        "ApiReady", False, Reason.ROLLING_OUT, "api: the latest spec is not observed yet"
    )


# --- every component -----------------------------------------------------------------------------


def test_external_stores_and_direct_mode_are_ready_by_definition() -> None:
    spec = MemorySystemSpec.model_validate(
        {"mode": "direct", "postgres": {"external": {"secretRef": {"name": "pg-url", "key": "url"}}}}
    )
    found = {c.type: c for c in component_conditions(spec, {})}
    assert found["PostgresReady"] == Condition(
        "PostgresReady", True, Reason.EXTERNAL, "connects through Secret pg-url"
    )
    assert found["RedpandaReady"] == Condition(
        "RedpandaReady", True, Reason.NOT_REQUIRED, "direct mode runs no redpanda"
    )
    assert found["ConsumersReady"] == Condition(
        "ConsumersReady", True, Reason.NOT_REQUIRED, "direct mode runs no consumers"
    )
    assert found["RedisReady"] == Condition(
        "RedisReady", False, Reason.NOT_CREATED, "redis is not created yet"
    )
    assert [c.type for c in component_conditions(spec, {})] == [
        "PostgresReady",
        "RedisReady",
        "QdrantReady",
        "RedpandaReady",
        "ApiReady",
        "ConsumersReady",
    ]


# --- phase and the three summary conditions ------------------------------------------------------

READY_API = Condition("ApiReady", True, Reason.READY, "api: 2/2 replicas ready")
NOT_READY_API = Condition("ApiReady", False, Reason.NOT_READY, "api: 1/2 replicas ready")
NOT_READY_REDIS = Condition("RedisReady", False, Reason.NOT_READY, "redis: 0/1 replicas ready")
ROLLING_API = Condition("ApiReady", False, Reason.ROLLING_OUT, "api: 1/2 replicas updated")
MISSING_API = Condition("ApiReady", False, Reason.NOT_CREATED, "api is not created yet")
SETTLED = Condition("Progressing", False, Reason.SETTLED, "the spec is rolled out")
NOT_DEGRADED = Condition("Degraded", False, Reason.READY, "no component lost readiness")
ALL_READY = Condition("Ready", True, Reason.READY, "all components are ready")


def test_all_ready_from_the_start_is_ready_and_settled() -> None:
    assert summarize([READY_API], [], None, None) == ("Ready", [ALL_READY, SETTLED, NOT_DEGRADED])


def test_nothing_created_is_pending_and_progressing() -> None:
    phase, summary = summarize([MISSING_API], [], None, None)
    assert phase == "Pending"
    assert summary == [
        Condition("Ready", False, Reason.COMPONENTS_NOT_READY, "api is not created yet"),
        Condition("Progressing", True, Reason.ROLLING_OUT, "api is not created yet"),
        NOT_DEGRADED,
    ]


def test_first_rollout_names_every_waiting_component_in_order() -> None:
    phase, summary = summarize([NOT_READY_REDIS, NOT_READY_API], [], None, "Provisioning")
    assert phase == "Provisioning"
    joined = "redis: 0/1 replicas ready; api: 1/2 replicas ready"
    assert summary == [
        Condition("Ready", False, Reason.COMPONENTS_NOT_READY, joined),
        Condition("Progressing", True, Reason.ROLLING_OUT, joined),
        NOT_DEGRADED,
    ]


@pytest.mark.parametrize("previous", ["Ready", "Degraded"])
def test_losing_readiness_after_ready_is_degraded_not_provisioning(previous: str) -> None:
    phase, summary = summarize([NOT_READY_REDIS, READY_API], [], None, previous)
    assert phase == "Degraded"
    assert summary == [
        Condition("Ready", False, Reason.COMPONENTS_NOT_READY, "redis: 0/1 replicas ready"),
        SETTLED,
        Condition("Degraded", True, Reason.NOT_READY, "redis: 0/1 replicas ready"),
    ]


def test_a_rollout_after_ready_is_progressing_and_not_degraded() -> None:
    phase, summary = summarize([ROLLING_API], [], None, "Ready")
    assert phase == "Provisioning"
    assert summary[1] == Condition("Progressing", True, Reason.ROLLING_OUT, "api: 1/2 replicas updated")
    assert summary[2] == NOT_DEGRADED


def test_a_refused_shrink_stops_progressing_with_the_refusal() -> None:
    refusal = "postgres: storage 10Gi is smaller than the claims' 20Gi"
    phase, summary = summarize([READY_API], [], refusal, "Ready")
    assert phase == "Ready"
    assert summary[1] == Condition("Progressing", False, Reason.STORAGE_SHRINK_REFUSED, refusal)


def test_storage_resizing_lists_each_store_still_growing() -> None:
    storage = [
        StorageProgress(Component.POSTGRES, "20Gi", claims=1, resized=0),
        StorageProgress(Component.REDIS, "2Gi", claims=1, resized=1),  # done: not listed
        StorageProgress(Component.QDRANT, "30Gi", claims=3, resized=1),
    ]
    _, summary = summarize([READY_API], storage, None, "Ready")
    assert summary[1] == Condition(
        "Progressing",
        True,
        Reason.STORAGE_RESIZING,
        "postgres: 0/1 claims at 20Gi; qdrant: 1/3 claims at 30Gi",
    )


def test_storage_whose_claims_all_reached_the_size_is_settled() -> None:
    storage = [StorageProgress(Component.POSTGRES, "20Gi", claims=2, resized=2)]
    assert summarize([READY_API], storage, None, "Ready")[1][1] == SETTLED


# --- rendering -----------------------------------------------------------------------------------


def test_rendered_conditions_carry_every_field_and_keep_unspoken_ones() -> None:
    old = [
        {"type": "Ready", "status": "True", "lastTransitionTime": BEFORE, "reason": "Ready", "message": "x"},
        {"type": "Custom", "status": "True", "lastTransitionTime": BEFORE},
    ]
    conditions = [
        Condition("Ready", True, Reason.READY, "all components are ready"),
        Condition("Degraded", False, Reason.READY, "no component lost readiness"),
    ]
    assert render_conditions(conditions, old, 7, NOW) == [
        # Unchanged status: the transition time stays.
        {**rendered("Ready", "True", "Ready", "all components are ready"), "lastTransitionTime": BEFORE},
        rendered("Degraded", "False", "Ready", "no component lost readiness"),
        {"type": "Custom", "status": "True", "lastTransitionTime": BEFORE},
    ]


def test_a_retired_condition_is_dropped_and_the_others_kept() -> None:
    old = [
        {"type": "SecretsFound", "status": "False", "lastTransitionTime": BEFORE},
        {"type": "Custom", "status": "True", "lastTransitionTime": BEFORE},
    ]
    ready = Condition("Ready", True, Reason.READY, "ok")
    assert render_conditions([ready], old, 7, NOW, retired=["SecretsFound"]) == [
        rendered("Ready", "True", "Ready", "ok"),
        {"type": "Custom", "status": "True", "lastTransitionTime": BEFORE},
    ]


def test_a_flipped_condition_gets_a_new_transition_time() -> None:
    old = [{"type": "Ready", "status": "False", "lastTransitionTime": BEFORE}]
    [ready] = render_conditions([Condition("Ready", True, Reason.READY, "ok")], old, 7, NOW)
    assert ready["lastTransitionTime"] == STAMP


def test_failed_status_is_exact() -> None:
    old = {"conditions": [{"type": "ApiReady", "status": "True", "lastTransitionTime": BEFORE}]}
    assert failed_status("spec.mode: unknown", old, 7, NOW) == {
        "phase": "Failed",
        "observedGeneration": 7,
        "conditions": [
            rendered("Ready", "False", "InvalidSpec", "spec.mode: unknown"),
            rendered("Progressing", "False", "InvalidSpec", "spec.mode: unknown"),
            {"type": "ApiReady", "status": "True", "lastTransitionTime": BEFORE},
        ],
    }


def test_paused_status_is_exact_and_keeps_the_phase_and_other_conditions() -> None:
    old = {
        "phase": "Ready",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": BEFORE}],
    }
    assert paused_status(old, 7, NOW) == {
        "observedGeneration": 7,
        "conditions": [
            rendered("Progressing", "False", "Paused", "spec.paused is true: no change is applied"),
            {"type": "Ready", "status": "True", "lastTransitionTime": BEFORE},
        ],
    }


def test_observed_status_is_exact() -> None:
    spec = MemorySystemSpec.model_validate({"mode": "direct", "api": {"replicas": 1}})
    ready = {
        "metadata": {"generation": 1},
        "status": {"observedGeneration": 1, "updatedReplicas": 1, "readyReplicas": 1},
    }
    workloads = {c: ready for c in spec.workload_replicas()}
    old = {
        "phase": "Provisioning",
        "conditions": [{"type": "Custom", "status": "False", "lastTransitionTime": BEFORE}],
    }
    result = observed_status(
        spec=spec,
        workloads=workloads,
        storage=[],
        refusal=None,
        old_status=old,
        generation=7,
        endpoint="http://m-api.ns.svc:9595",
        now=NOW,
    )
    assert result == {
        "phase": "Ready",
        "observedGeneration": 7,
        "endpoint": "http://m-api.ns.svc:9595",
        "conditions": [
            rendered("Ready", "True", "Ready", "all components are ready"),
            rendered("Progressing", "False", "Settled", "the spec is rolled out"),
            rendered("Degraded", "False", "Ready", "no component lost readiness"),
            rendered("PostgresReady", "True", "Ready", "postgres: 1/1 replicas ready"),
            rendered("RedisReady", "True", "Ready", "redis: 1/1 replicas ready"),
            rendered("QdrantReady", "True", "Ready", "qdrant: 1/1 replicas ready"),
            rendered("RedpandaReady", "True", "NotRequired", "direct mode runs no redpanda"),
            rendered("ApiReady", "True", "Ready", "api: 1/1 replicas ready"),
            rendered("ConsumersReady", "True", "NotRequired", "direct mode runs no consumers"),
            {"type": "Custom", "status": "False", "lastTransitionTime": BEFORE},
        ],
    }


def test_degraded_names_every_component_that_lost_readiness() -> None:
    broken_api = Condition("ApiReady", False, Reason.NOT_READY, "api: 1/2 replicas ready")
    _, summary = summarize([NOT_READY_REDIS, broken_api], [], None, "Ready")
    assert summary[2] == Condition(
        "Degraded", True, Reason.NOT_READY, "redis: 0/1 replicas ready; api: 1/2 replicas ready"
    )
