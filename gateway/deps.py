"""Request dependencies: the services container, the authenticated principal, the rate limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from gateway.clients import Principal
from gateway.errors import RateLimited, Unauthorized
from gateway.services import Services

bearer = HTTPBearer(
    auto_error=False, description="OAuth2 client-credentials access token (POST /v1/oauth/token)"
)


async def services(request: Request) -> Services:
    svc: Services = request.app.state.services.get()
    return svc


Svc = Annotated[Services, Depends(services)]


async def principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    svc: Svc,
) -> Principal:
    """The client behind the bearer token, after its rate limit (401 / 429 otherwise)."""
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Unauthorized(
            "send `Authorization: Bearer <token>` (POST /v1/oauth/token)", code="TOKEN_MISSING"
        )
    claims = svc.tokens.verify(creds.credentials)
    hit, who = svc.principals.cached(claims.client_id)
    if not hit:  # a database read: off the event loop
        who = await run_in_threadpool(svc.principals.get, claims.client_id)
    if who is None:
        raise Unauthorized("the token's client is unknown or disabled", code="TOKEN_INVALID")
    request.scope.setdefault("state", {})["client_id"] = who.client_id
    decision = await svc.limiter.take(who.client_id)
    if not decision.allowed:
        raise RateLimited(
            f"rate limit of {svc.settings.api.rate_limit_per_s:g}/s "
            f"(burst {svc.settings.api.rate_limit_burst}) exceeded",
            retry_after=decision.retry_after_header,
        )
    return who


Who = Annotated[Principal, Depends(principal)]
