"""Bearer-token auth: 401 when the token is missing, 403 when it is wrong, compared in constant time.

The request guard checks every request this way before the app reads its body, and records a verified
request in its scope; ``require_token`` declares the scheme in OpenAPI and holds for an app without the guard.
Dependencies that do no I/O are ``async def``: a plain ``def`` would cost a thread-pool hop a request."""

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="the API token (SOMA_API_TOKEN, or the generated one)")

AUTHENTICATED = "soma.authenticated"  # scope key the guard sets on a request with the right token
CHALLENGE = {"WWW-Authenticate": "Bearer"}
TOKEN_ID_HEX_DIGITS = 16


@dataclass(frozen=True)
class AuthFailure:
    status: int
    message: str

    @property
    def headers(self) -> dict[str, str] | None:
        return CHALLENGE if self.status == 401 else None


MISSING = AuthFailure(401, "missing bearer token: send 'Authorization: Bearer <token>'")
WRONG = AuthFailure(403, "the bearer token is not valid for this server")


class TokenCheck:
    """The server's token, and the id that names it (a rate-limit key) without revealing it."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()
        self.token_id = hashlib.sha256(self._expected).hexdigest()[:TOKEN_ID_HEX_DIGITS]

    def verify(self, authorization: bytes | None) -> AuthFailure | None:
        """None when ``authorization`` (the raw header) carries the token; scheme case-insensitive, the
        token trimmed of surrounding whitespace."""
        scheme, _, credentials = (authorization or b"").partition(b" ")
        credentials = credentials.strip()
        if scheme.lower() != b"bearer" or not credentials:
            return MISSING
        if not hmac.compare_digest(credentials, self._expected):
            return WRONG
        return None


async def require_token(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    if request.scope.get(AUTHENTICATED):
        return
    check: TokenCheck = request.app.state.token_check
    header = request.headers.get("authorization")
    failure = check.verify(None if header is None else header.encode("latin-1"))
    if failure is not None:
        raise HTTPException(status_code=failure.status, detail=failure.message, headers=failure.headers)
