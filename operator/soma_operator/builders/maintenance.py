"""Scheduled maintenance: a CronJob whose Jobs run ``soma maintain`` (decay and consolidation).

The contract with the runtime: ``soma maintain`` (every memory namespace, exit 0 on success) reads the
data stores from the same settings as the API and its options from the env below; an option the spec
leaves out is not set, so the runtime's default applies. It is idempotent: a second run changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from soma_operator.builders import cronjobs, runtime, secret_digests
from soma_operator.builders.context import BuildContext
from soma_operator.builders.pods import resources, value_env
from soma_operator.builders.workloads import pod_template
from soma_operator.spec import MaintenanceSpec

COMPONENT = "maintenance"
COMMAND = ["soma", "maintain"]
DECAY_RULES_ENV = "SOMA_DECAY_RULES"
FORGET_BELOW_IMPORTANCE_ENV = "SOMA_FORGET_BELOW_IMPORTANCE"
FORGET_AFTER_SECONDS_ENV = "SOMA_FORGET_AFTER_SECONDS"
CONSOLIDATION_WINDOW_ENV = "SOMA_CONSOLIDATION_WINDOW_SECONDS"
CONSOLIDATION_MIN_MEMORIES_ENV = "SOMA_CONSOLIDATION_MIN_MEMORIES"


def cronjob_name(ctx: BuildContext) -> str:
    return ctx.child_name(COMPONENT)


def env(maintenance: MaintenanceSpec) -> list[dict[str, Any]]:
    """The options of ``soma maintain``; the decay rules in the runtime's snake_case JSON."""
    variables: list[dict[str, Any]] = []
    decay = maintenance.decay
    if decay is not None:
        if decay.rules:
            rules = [{"after_seconds": rule.after_seconds, "drop": list(rule.drop)} for rule in decay.rules]
            variables.append(value_env(DECAY_RULES_ENV, json.dumps(rules, separators=(",", ":"))))
        if decay.forget_below_importance is not None:
            variables.append(value_env(FORGET_BELOW_IMPORTANCE_ENV, str(decay.forget_below_importance)))
        if decay.forget_after_seconds is not None:
            variables.append(value_env(FORGET_AFTER_SECONDS_ENV, str(decay.forget_after_seconds)))
    consolidation = maintenance.consolidation
    if consolidation is not None:
        variables.append(value_env(CONSOLIDATION_WINDOW_ENV, str(consolidation.window_seconds)))
        variables.append(value_env(CONSOLIDATION_MIN_MEMORIES_ENV, str(consolidation.min_memories)))
    return variables


def job_pod(ctx: BuildContext, maintenance: MaintenanceSpec) -> dict[str, Any]:
    """The API's container settings, security, volumes and env, plus the options; run once."""
    base = runtime.container(ctx, COMPONENT, COMMAND)
    container = {
        **base,
        "env": [*base["env"], *env(maintenance)],
        "resources": resources(maintenance.resources),
    }
    template = pod_template(
        ctx,
        COMPONENT,
        ctx.system.spec.version,
        uid=runtime.RUNTIME_UID,
        containers=[container],
        volumes=runtime.volumes(ctx),
        init_containers=runtime.model_wait(ctx),
        annotations=secret_digests.digest_annotations(ctx.digests),
    )
    template["spec"]["restartPolicy"] = "Never"
    return template


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    maintenance = ctx.system.spec.maintenance
    if maintenance is None:
        return []
    template = job_pod(ctx, maintenance)
    return [cronjobs.cronjob(ctx, COMPONENT, maintenance.schedule, maintenance.suspend, template)]
