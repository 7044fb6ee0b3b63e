"""Who a /v1 request acts as, for the audit log: ``token:`` and the id of the token it carried (the
rate limiter's key), never the token."""

from fastapi import Request

from somafractalmemory.core.audit import set_actor
from somafractalmemory.http_api.auth import TokenCheck

ACTOR_PREFIX = "token:"


async def audit_actor(request: Request) -> None:
    """Runs after ``require_token``: the request carries the server's token."""
    check: TokenCheck = request.app.state.token_check
    set_actor(ACTOR_PREFIX + check.token_id)
