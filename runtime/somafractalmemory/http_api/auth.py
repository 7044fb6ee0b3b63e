"""Bearer-token auth: 401 when the token is missing, 403 when it is wrong, compared in constant time.

Dependencies that do no I/O are ``async def``: a plain ``def`` would cost a thread-pool hop a request."""

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="the API token (SOMA_API_TOKEN, or the generated one)")


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(
            status_code=401,
            detail="missing bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected: bytes = request.app.state.token.encode()
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise HTTPException(status_code=403, detail="the bearer token is not valid for this server")
