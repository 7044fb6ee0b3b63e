"""The few Kubernetes API calls the operator makes, over kopf's own API client.

kopf's client brings the credentials of the operator's login (and re-authenticates on 401), its
timeouts and its retries with backoff for transient errors. It lives in a private kopf module, so
this is the only place that imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import kopf
from kopf._cogs.clients import api, errors

from soma_operator.constants import API_VERSION, FIELD_MANAGER, KIND, PLURAL

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    api_version: str
    plural: str

    def url(self, namespace: str, name: str | None = None, **query: str) -> str:
        root = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        url = f"{root}/namespaces/{namespace}/{self.plural}"
        if name is not None:
            url += f"/{name}"
        return f"{url}?{urlencode(query)}" if query else url


KINDS: Mapping[str, Kind] = {
    KIND: Kind(API_VERSION, PLURAL),
    "Secret": Kind("v1", "secrets"),
    "ConfigMap": Kind("v1", "configmaps"),
    "ServiceAccount": Kind("v1", "serviceaccounts"),
    "Service": Kind("v1", "services"),
    "PersistentVolumeClaim": Kind("v1", "persistentvolumeclaims"),
    "StatefulSet": Kind("apps/v1", "statefulsets"),
    "Deployment": Kind("apps/v1", "deployments"),
    "PodDisruptionBudget": Kind("policy/v1", "poddisruptionbudgets"),
    "NetworkPolicy": Kind("networking.k8s.io/v1", "networkpolicies"),
    "HorizontalPodAutoscaler": Kind("autoscaling/v2", "horizontalpodautoscalers"),
    "CronJob": Kind("batch/v1", "cronjobs"),
    "Job": Kind("batch/v1", "jobs"),
    "Pod": Kind("v1", "pods"),
    # Kinds of operators that may run beside ours; used only where discovery found them.
    "Cluster": Kind("postgresql.cnpg.io/v1", "clusters"),
    "ScaledObject": Kind("keda.sh/v1alpha1", "scaledobjects"),
}


@dataclass(frozen=True)
class KubeClient:
    settings: kopf.OperatorSettings

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            body: dict[str, Any] = await api.get(
                KINDS[kind].url(namespace, name), settings=self.settings, logger=logger
            )
        except errors.APINotFoundError:
            return None
        return body

    async def list(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        selector = ",".join(f"{key}={value}" for key, value in labels.items())
        listing = await api.get(
            KINDS[kind].url(namespace, labelSelector=selector), settings=self.settings, logger=logger
        )
        items: list[dict[str, Any]] = listing.get("items") or []
        return items

    async def serves(self, group_version: str, plural: str) -> bool:
        """Whether the API server serves this resource: API discovery, which every authenticated user may
        read (the system:discovery ClusterRole), so it needs no RBAC of ours, unlike reading CRDs."""
        try:
            listing = await api.get(f"/apis/{group_version}", settings=self.settings, logger=logger)
        except errors.APINotFoundError:
            return False
        return any(entry.get("name") == plural for entry in listing.get("resources") or [])

    async def apply(self, manifest: Mapping[str, Any], field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
        """Server-side apply under the operator's one field manager; creates the object if absent."""
        metadata = manifest["metadata"]
        url = KINDS[manifest["kind"]].url(
            metadata["namespace"], metadata["name"], fieldManager=field_manager, force="true"
        )
        # JSON is YAML, so the apply patch goes as JSON under the apply content type.
        body: dict[str, Any] = await api.patch(
            url,
            payload=manifest,
            headers={"Content-Type": "application/apply-patch+yaml"},
            settings=self.settings,
            logger=logger,
        )
        return body

    async def merge_patch(
        self, kind: str, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        body: dict[str, Any] = await api.patch(
            KINDS[kind].url(namespace, name, fieldManager=FIELD_MANAGER),
            payload=patch,
            headers={"Content-Type": "application/merge-patch+json"},
            settings=self.settings,
            logger=logger,
        )
        return body

    async def delete(self, kind: str, namespace: str, name: str, *, propagation: str | None = None) -> bool:
        """Delete the object; False if it was already gone. ``propagation`` (e.g. Background) also deletes
        its dependents, which a Job's deletion otherwise orphans."""
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        try:
            await api.delete(
                KINDS[kind].url(namespace, name),
                payload=options if propagation is not None else None,
                settings=self.settings,
                logger=logger,
            )
        except errors.APINotFoundError:
            return False
        return True
