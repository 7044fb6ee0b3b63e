"""Pieces every pod and container shares: non-root, read-only root filesystem, resources, probes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from soma_operator.spec import Resources

# A pod template annotation that changes with the configuration the pods read, so a change rolls them.
CONFIG_CHECKSUM_ANNOTATION = "memory.soma.dev/config-checksum"


def pod_security_context(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        # Re-own a volume only when its root is not ours yet: a recursive chown of a large volume at every
        # mount delays each start (redpanda-data/helm-charts charts/redpanda/values.yaml sets the same).
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def resources(spec: Resources) -> dict[str, Any]:
    rendered = {
        "requests": spec.requests.model_dump(exclude_none=True),
        "limits": spec.limits.model_dump(exclude_none=True),
    }
    return {kind: values for kind, values in rendered.items() if values}


def empty_dir(name: str) -> dict[str, Any]:
    return {"name": name, "emptyDir": {}}


def memory_dir(name: str, size_limit: str) -> dict[str, Any]:
    """An emptyDir in RAM (tmpfs); what it holds counts against the container's memory limit."""
    return {"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": size_limit}}


def mount(name: str, path: str, *, read_only: bool = False) -> dict[str, Any]:
    volume_mount: dict[str, Any] = {"name": name, "mountPath": path}
    if read_only:
        volume_mount["readOnly"] = True
    return volume_mount


def http_probe(path: str, port: int, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def exec_probe(command: list[str], *, period: int, failures: int) -> dict[str, Any]:
    return {
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def value_env(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def checksum_annotation(config: Mapping[str, str]) -> dict[str, str]:
    digest = hashlib.sha256(json.dumps(dict(config), sort_keys=True).encode()).hexdigest()[:16]
    return {CONFIG_CHECKSUM_ANNOTATION: digest}
