"""Thin kopf handlers: each calls one step of reconcile.py. Importing this module registers them."""

from __future__ import annotations

from typing import Any

import kopf

from soma_operator.builders.context import BuildContext, Credentials
from soma_operator.config import OperatorConfig
from soma_operator.constants import GROUP, PLURAL, VERSION
from soma_operator.kube import KubeClient
from soma_operator.reconcile import Reconciler, reconcile, refresh_status, release_claims
from soma_operator.secret_refs import trigger_patch, watched
from soma_operator.settings import configure
from soma_operator.spec import MemorySystem, SpecError

# Catches what no event announces: a data store pod that stops being ready after the system was Ready.
# SOMA_STATUS_REFRESH_SECONDS sets it (OperatorConfig); kopf takes a timer's interval at registration.
STATUS_REFRESH_SECONDS = OperatorConfig().status_refresh_seconds


def _reconciler(memo: kopf.Memo, logger: kopf.Logger) -> Reconciler:
    return Reconciler(client=memo["client"], config=memo["config"], logger=logger)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    configure(settings)
    # Resource handlers get no settings, and the API client needs them: it lives in the memo.
    memo["client"] = KubeClient(settings)
    # Tests and embedders may pass their own configuration in the memo.
    memo.setdefault("config", OperatorConfig())


@kopf.on.create(GROUP, VERSION, PLURAL)
async def create(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await reconcile(_reconciler(memo, logger), body, patch)


@kopf.on.update(GROUP, VERSION, PLURAL)
async def update(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await reconcile(_reconciler(memo, logger), body, patch)


@kopf.on.resume(GROUP, VERSION, PLURAL)
async def resume(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await reconcile(_reconciler(memo, logger), body, patch)


@kopf.timer(GROUP, VERSION, PLURAL, interval=STATUS_REFRESH_SECONDS, initial_delay=STATUS_REFRESH_SECONDS)
async def refresh(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await refresh_status(_reconciler(memo, logger), body, patch)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def delete(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    # Children go with the MemorySystem through their ownerReferences; only the claims need a decision.
    await release_claims(_reconciler(memo, logger), body)


@kopf.index(GROUP, VERSION, PLURAL)
def secret_users(body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[tuple[str, str], tuple[str, str, str]]:
    """Which MemorySystems read which Secret (the keys, the token), for the Secret watch below."""
    try:
        system = MemorySystem.from_body(body)
    except SpecError:
        return {}
    return watched(BuildContext(system, memo["config"], Credentials()))


@kopf.on.event("", "v1", "secrets")
async def secret_changed(
    type: str,
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    **kwargs: Any,
) -> None:
    """An edit of a Secret the runtime reads at start (a rotated key, a new token): its users reconcile."""
    index: kopf.Index[tuple[str, str], tuple[str, str, str]] = kwargs["secret_users"]  # by its name above
    secret = None if type == "DELETED" else body
    for system, key, annotation in index.get((namespace or "", name), []):
        # An unchanged digest is a no-op patch: kopf starts no reconcile for it.
        patch = trigger_patch(secret, key, annotation)
        await memo["client"].merge_patch("MemorySystem", namespace, system, patch)
