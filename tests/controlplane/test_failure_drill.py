"""Failure drill on a real control plane (issue 12): a data-store pod is lost after the system was Ready.

The real StatefulSet controller recreates the pod under the same name on the same claim, the status turns
Degraded (it was Ready) and names the store, and once the new pod is ready (the test plays the kubelet) the
system is Ready again. The operator's status refresh runs every 2 s here (SOMA_STATUS_REFRESH_SECONDS;
production: 60 s), so nothing but that refresh reports the loss."""

from __future__ import annotations

from typing import Any

import pytest
from test_operator_lifecycle import become_ready, conditions, get_system, wait_for

from soma_operator.builders.labels import instance_labels
from support.control_plane import ControlPlane, KubeApi, mark_pods_ready
from support.operator_cluster import OperatorProcess, memory_system


def pod(api: KubeApi, namespace: str, name: str) -> dict[str, Any] | None:
    return api.get("v1", "Pod", name, namespace)


def claim_of(found: dict[str, Any]) -> str:
    [volume] = [v for v in found["spec"]["volumes"] if "persistentVolumeClaim" in v]
    name: str = volume["persistentVolumeClaim"]["claimName"]
    return name


def lose_and_recover(
    api: KubeApi, namespace: str, store: str, condition: str, operator: OperatorProcess
) -> None:
    name = f"drill-{store}-0"
    before = pod(api, namespace, name)
    assert before is not None
    assert claim_of(before) == f"data-{name}"
    assert api.delete("v1", "Pod", name, namespace)

    def recreated() -> bool:
        found = pod(api, namespace, name)
        return found is not None and found["metadata"]["uid"] != before["metadata"]["uid"]

    wait_for(recreated, f"{name} recreated by the StatefulSet controller", operator)
    after = pod(api, namespace, name)
    assert after is not None
    assert claim_of(after) == f"data-{name}"

    def phase() -> str | None:
        found: str | None = (get_system(api, namespace, "drill").get("status") or {}).get("phase")
        return found

    wait_for(lambda: phase() == "Degraded", f"Degraded after losing {name}", operator)
    found = conditions(get_system(api, namespace, "drill"))
    assert found[condition] == ("False", "NotReady")
    assert found["Degraded"] == ("True", "NotReady")
    assert found["Ready"] == ("False", "ComponentsNotReady")

    def ready_again() -> bool:
        mark_pods_ready(api, namespace, instance_labels("drill"))
        return phase() == "Ready"

    wait_for(ready_again, f"Ready again once {name} is", operator)
    assert conditions(get_system(api, namespace, "drill"))["Degraded"] == ("False", "Ready")


@pytest.mark.parametrize("operator", [{"status_refresh_seconds": 2}], indirect=True)
def test_a_lost_data_store_pod_comes_back_on_its_claim_and_the_status_follows(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    api.apply(memory_system("drill", namespace, {"mode": "evented"}))
    become_ready(api, namespace, "drill", operator)
    stores = (
        ("postgres", "PostgresReady"),
        ("redis", "RedisReady"),
        ("qdrant", "QdrantReady"),
        ("redpanda", "RedpandaReady"),
    )
    for store, condition in stores:
        lose_and_recover(api, namespace, store, condition, operator)
