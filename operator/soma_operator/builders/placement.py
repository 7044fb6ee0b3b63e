"""Where pods land: spread over nodes and zones, and data-store copies kept apart.

Soft rules (``ScheduleAnyway``, preferred anti-affinity): a cluster with one zone or fewer nodes than
replicas still schedules every pod, and a spread one gets no two copies of a store on one node while it
can avoid it. The keys are the well-known node labels
(kubernetes.io/docs/reference/labels-annotations-taints).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ZONE_KEY = "topology.kubernetes.io/zone"
HOSTNAME_KEY = "kubernetes.io/hostname"
MAX_SKEW = 1
WHEN_UNSATISFIABLE = "ScheduleAnyway"
# The strongest preference (weights run 1..100): copies of a store share a node only when nothing else fits.
ANTI_AFFINITY_WEIGHT = 100


def spread_constraints(selector: Mapping[str, str]) -> list[dict[str, Any]]:
    """Pods of one component spread evenly over zones, then over nodes."""
    return [
        {
            "maxSkew": MAX_SKEW,
            "topologyKey": key,
            "whenUnsatisfiable": WHEN_UNSATISFIABLE,
            "labelSelector": {"matchLabels": dict(selector)},
        }
        for key in (ZONE_KEY, HOSTNAME_KEY)
    ]


def anti_affinity(selector: Mapping[str, str]) -> dict[str, Any]:
    """Prefer one copy of a data store per node: losing a node then loses one copy, not several."""
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": ANTI_AFFINITY_WEIGHT,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": dict(selector)},
                        "topologyKey": HOSTNAME_KEY,
                    },
                }
            ]
        }
    }
