"""kopf settings for this operator: timeouts, persistence keys, events, no cluster scanning."""

from __future__ import annotations

import logging

import kopf

from soma_operator.constants import GROUP, MANAGED_BY

# A watch that the server never closes can go silent forever behind a broken proxy or load balancer:
# the server ends it after this, and the client gives up a little later if the server does not.
WATCH_SERVER_TIMEOUT_SECONDS = 270
WATCH_CLIENT_TIMEOUT_SECONDS = 300
CONNECT_TIMEOUT_SECONDS = 30
REQUEST_TIMEOUT_SECONDS = 60


def configure(settings: kopf.OperatorSettings) -> None:
    settings.watching.server_timeout = WATCH_SERVER_TIMEOUT_SECONDS
    settings.watching.client_timeout = WATCH_CLIENT_TIMEOUT_SECONDS
    settings.watching.connect_timeout = CONNECT_TIMEOUT_SECONDS
    settings.networking.connect_timeout = CONNECT_TIMEOUT_SECONDS
    settings.networking.request_timeout = REQUEST_TIMEOUT_SECONDS
    # The CRD is installed before the operator starts: no need to watch CRDs and namespaces for it,
    # which also keeps the RBAC smaller.
    settings.scanning.disabled = True
    # kopf's bookkeeping goes into annotations of our own group, never into the status users read.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Changes are posted as Events explicitly (reconcile.Reconciler.announce), whatever the log level.
    settings.posting.level = logging.INFO
    settings.posting.reporting_component = MANAGED_BY
