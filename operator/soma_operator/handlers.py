"""Thin kopf handlers: each calls one step of reconcile.py. Importing this module registers them."""

from __future__ import annotations

from typing import Any

import kopf

from soma_operator.config import OperatorConfig
from soma_operator.constants import GROUP, PLURAL, VERSION
from soma_operator.kube import KubeClient
from soma_operator.reconcile import Reconciler, reconcile, refresh_status, release_claims
from soma_operator.settings import configure

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
