"""A rotated encryption key reaches the pods on a real control plane: the operator (under the Role
config/rbac ships, which now lets it list and watch Secrets) sees an edit of the key Secret, generated or
named by keysSecretRef, puts the new digest on the API's pod template, and the real Deployment controller
rolls a new ReplicaSet. A named Secret that does not exist is reported until it does.

No kubelet runs here: the test makes the stores' and the API's pods ready itself."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from soma_operator.builders.labels import COMPONENT_LABEL, instance_labels
from soma_operator.builders.secret_digests import ENCRYPTION_KEYS_ANNOTATION
from support.control_plane import ControlPlane, KubeApi, mark_pods_ready
from support.operator_cluster import MS_API, OperatorProcess, memory_system
from support.servers import wait_until

NAME = "rotated"
# A bound on waiting, not a timing.
SETTLE_SECONDS = 120
RUNNING_COMPONENTS = ("postgres", "redis", "qdrant", "api")
OLD_KEY = base64.urlsafe_b64encode(b"o" * 32).decode()
NEW_KEY = base64.urlsafe_b64encode(b"n" * 32).decode()
# sha256 of the keys file, first 16 hex characters: "OLD\n" and then "NEW\nOLD\n".
OLD_DIGEST = "cb2e6dc33f7ec1c9"
ROTATED_DIGEST = "ee64b9d3a073ffea"
MISSING = (
    "Secret my-keys named by spec.encryption.keysSecretRef does not exist "
    "(the runtime pods cannot start without it)"
)


def spec(**encryption: Any) -> dict[str, Any]:
    return {"mode": "direct", "api": {"replicas": 1}, "encryption": {"fields": ["email"], **encryption}}


def wait_for(check: Callable[[], Any], what: str, operator: OperatorProcess) -> None:
    try:
        wait_until(lambda: bool(check()), timeout=SETTLE_SECONDS, what=what, interval=0.5)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n--- operator log (tail) ---\n{operator.log()[-6000:]}") from None


def keys_data(*keys: str) -> dict[str, str]:
    return {"keys": base64.b64encode("".join(f"{key}\n" for key in keys).encode()).decode()}


def api_digest(api: KubeApi, namespace: str) -> str | None:
    deployment = api.get("apps/v1", "Deployment", f"{NAME}-api", namespace) or {}
    annotations = deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
    digest: str | None = annotations.get(ENCRYPTION_KEYS_ANNOTATION)
    return digest


def api_replica_sets(api: KubeApi, namespace: str) -> dict[str, str]:
    """The API's ReplicaSets, by the keys digest of their pod template."""
    labels = {**instance_labels(NAME), COMPONENT_LABEL: "api"}
    return {
        rs["spec"]["template"]["metadata"]["annotations"].get(ENCRYPTION_KEYS_ANNOTATION, ""): rs["metadata"][
            "name"
        ]
        for rs in api.list("apps/v1", "ReplicaSet", namespace, labels)
    }


def secrets_found(api: KubeApi, namespace: str) -> dict[str, Any]:
    live = api.get(MS_API, "MemorySystem", NAME, namespace) or {}
    conditions = (live.get("status") or {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == "SecretsFound"), {})


def bring_up(api: KubeApi, namespace: str, operator: OperatorProcess) -> None:
    def ready() -> bool:
        for component in RUNNING_COMPONENTS:
            mark_pods_ready(api, namespace, {**instance_labels(NAME), COMPONENT_LABEL: component})
        live = api.get(MS_API, "MemorySystem", NAME, namespace) or {}
        return (live.get("status") or {}).get("phase") == "Ready"

    wait_for(ready, "the MemorySystem Ready", operator)


def rotate(
    api: KubeApi, namespace: str, secret: str, operator: OperatorProcess, cluster: ControlPlane
) -> None:
    """The user's rotation: the new key first, the old one kept; the API rolls to the new digest."""
    api.merge_patch("v1", "Secret", secret, {"data": keys_data(NEW_KEY, OLD_KEY)}, namespace=namespace)
    wait_for(lambda: api_digest(api, namespace) == ROTATED_DIGEST, "the new digest on the template", operator)
    if cluster.has_controller_manager:
        wait_for(
            lambda: {OLD_DIGEST, ROTATED_DIGEST} <= api_replica_sets(api, namespace).keys(),
            "a new ReplicaSet of the API for the new key",
            operator,
        )


def test_editing_the_generated_key_secret_rolls_the_api(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    # The generated Secret, as the operator would have left it, with a known key.
    api.apply(memory_system(NAME, namespace, spec()))
    wait_for(lambda: api.get("v1", "Secret", f"{NAME}-encryption", namespace), "the key Secret", operator)
    api.merge_patch("v1", "Secret", f"{NAME}-encryption", {"data": keys_data(OLD_KEY)}, namespace=namespace)
    wait_for(lambda: api_digest(api, namespace) == OLD_DIGEST, "the known key's digest", operator)
    bring_up(api, namespace, operator)

    rotate(api, namespace, f"{NAME}-encryption", operator, control_plane)
    stored = api.get("v1", "Secret", f"{NAME}-encryption", namespace) or {}
    assert stored["data"] == keys_data(NEW_KEY, OLD_KEY)  # the operator kept the user's edit


def test_a_keys_secret_ref_is_watched_and_reported_missing(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    api.apply(memory_system(NAME, namespace, spec(keysSecretRef={"name": "my-keys"})))
    wait_for(lambda: secrets_found(api, namespace).get("status") == "False", "SecretsFound False", operator)
    found = secrets_found(api, namespace)
    assert (found["reason"], found["message"]) == ("SecretMissing", MISSING)
    assert api_digest(api, namespace) is None

    api.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "my-keys", "namespace": namespace},
            "data": keys_data(OLD_KEY),
        }
    )
    wait_for(lambda: api_digest(api, namespace) == OLD_DIGEST, "the digest once the Secret exists", operator)
    bring_up(api, namespace, operator)
    assert secrets_found(api, namespace)["status"] == "True"

    rotate(api, namespace, "my-keys", operator, control_plane)
