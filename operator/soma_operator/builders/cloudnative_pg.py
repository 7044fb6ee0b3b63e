"""PostgreSQL through CloudNativePG: one ``Cluster`` (postgresql.cnpg.io/v1) instead of our StatefulSet.

CloudNativePG runs the instances, streams WAL to the standbys, fails over, keeps its own
PodDisruptionBudgets and anti-affinity, and publishes what clients need (cloudnative-pg v1.30.0):
- the read-write Service ``CLUSTER-rw`` (api/v1/cluster_types.go ServiceReadWriteSuffix "-rw"), which
  always points at the primary;
- the application Secret ``CLUSTER-app`` (ApplicationUserSecretSuffix "-app") made by
  internal/controller/cluster_create.go reconcileAppUserSecret through pkg/specs/secrets.go CreateSecret,
  whose key ``uri`` is ``postgresql://OWNER:PASSWORD@CLUSTER-rw.NAMESPACE:5432/DATABASE``.
The runtime reads its URL from that key, so the password never passes through the operator.
"""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import POSTGRES_DATABASE, POSTGRES_USER, BuildContext
from soma_operator.builders.labels import image_tag, instance_labels, metadata
from soma_operator.builders.placement import HOSTNAME_KEY, spread_constraints
from soma_operator.builders.pods import resources
from soma_operator.spec import Component

API_VERSION = "postgresql.cnpg.io/v1"
KIND = "Cluster"
# The API group whose presence (API discovery) says CloudNativePG is installed.
GROUP_VERSION = API_VERSION
PLURAL = "clusters"
READ_WRITE_SUFFIX = "-rw"
APP_SECRET_SUFFIX = "-app"  # noqa: S105 - a name, not a secret
APP_SECRET_URI_KEY = "uri"  # noqa: S105
# Every instance pod carries it (pkg/utils/labels_annotations.go ClusterLabelName).
CLUSTER_LABEL = "cnpg.io/cluster"
# Quorum commit: any N of the standbys confirm (api/v1/cluster_types.go SynchronousReplicaConfiguration
# method any|first); "required": a commit waits rather than being acknowledged by fewer copies.
SYNCHRONOUS_METHOD = "any"
DATA_DURABILITY = "required"
# A new image or setting restarts the standbys and then switches the primary over by itself.
PRIMARY_UPDATE_STRATEGY = "unsupervised"


def cluster_name(ctx: BuildContext) -> str:
    return ctx.child_name(Component.POSTGRES)


def read_write_service(ctx: BuildContext) -> str:
    return f"{cluster_name(ctx)}{READ_WRITE_SUFFIX}"


def app_secret(ctx: BuildContext) -> str:
    return f"{cluster_name(ctx)}{APP_SECRET_SUFFIX}"


def synchronous(ctx: BuildContext) -> dict[str, Any] | None:
    standbys = ctx.system.spec.postgres.synchronous_standbys
    if standbys < 1:
        return None
    return {"method": SYNCHRONOUS_METHOD, "number": standbys, "dataDurability": DATA_DURABILITY}


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    """The Cluster, where CloudNativePG is installed; elsewhere nothing (the status says why)."""
    spec = ctx.system.spec.postgres
    if not spec.cloudnative_pg or not ctx.capabilities.cloudnative_pg:
        return []
    image = ctx.config.cloudnative_pg_image
    storage: dict[str, Any] = {"size": spec.storage.size}
    if spec.storage.storage_class_name:
        storage["storageClass"] = spec.storage.storage_class_name
    cluster_spec: dict[str, Any] = {
        "instances": spec.instances,
        "imageName": image,
        "primaryUpdateStrategy": PRIMARY_UPDATE_STRATEGY,
        "bootstrap": {"initdb": {"database": POSTGRES_DATABASE, "owner": POSTGRES_USER}},
        "storage": storage,
        "resources": resources(spec.resources),
        # CloudNativePG's own budgets: the primary is never evicted by a drain, standbys one at a time.
        "enablePDB": True,
        "affinity": {
            "enablePodAntiAffinity": True,
            "topologyKey": HOSTNAME_KEY,
            "podAntiAffinityType": "preferred",
        },
        "topologySpreadConstraints": spread_constraints({CLUSTER_LABEL: cluster_name(ctx)}),
        # Pods, claims, Services and Secrets made by CloudNativePG carry this system's labels.
        "inheritedMetadata": {"labels": instance_labels(ctx.name)},
    }
    replication = synchronous(ctx)
    if replication is not None:
        cluster_spec["postgresql"] = {"synchronous": replication}
    return [
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": metadata(ctx, cluster_name(ctx), Component.POSTGRES, image_tag(image)),
            "spec": cluster_spec,
        }
    ]
