"""Dependencies of the versioned routes: the caller's key, and the rate limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import keys
from app.db.models import ApiKey
from app.metrics import AUTH_FAILURES
from app.problems import Problem
from app.ratelimit import Decision
from app.services import Services, key_cache_key
from app.settings import RouteLimit

UNKNOWN_KEY_TTL_SECONDS = 30


def services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]


async def session(services: ServicesDep):
    async with services.sessions() as db:
        yield db


SessionDep = Annotated[AsyncSession, Depends(session)]


def _unauthorized(reason: str, detail: str) -> Problem:
    AUTH_FAILURES.labels(reason).inc()
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="project-ai"'})


async def api_key(request: Request, services: ServicesDep) -> str:
    """The caller's key id, from `Authorization: Bearer pai_...` or `X-API-Key`."""
    header = request.headers.get("authorization", "")
    presented = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "")
    if not presented:
        raise _unauthorized("missing", "an API key is required (Authorization: Bearer <key>)")
    parts = keys.split(presented)
    if parts is None:
        raise _unauthorized("malformed", "the API key is not valid")
    key_id, secret = parts
    stored = await services.cache.get(key_cache_key(key_id))
    if stored is None:
        # Only a cache miss opens a session: most requests never touch the database here.
        async with services.sessions() as db:
            row = await db.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)))
        stored = row.secret_hash if row else ""
        # Unknown ids are remembered briefly too, so guessing keys cannot hammer the database.
        ttl = services.settings.cache_ttl_seconds if row else UNKNOWN_KEY_TTL_SECONDS
        await services.cache.set(key_cache_key(key_id), stored, ttl)
    pepper = services.settings.api_key_pepper.get_secret_value()
    if not stored or not keys.matches(secret, stored, pepper):
        raise _unauthorized("invalid", "the API key is not valid")
    return key_id


ApiKeyDep = Annotated[str, Depends(api_key)]


def client_ip(request: Request, trusted: list[str]) -> str:
    """The client address. X-Forwarded-For counts only from a trusted proxy, read from the
    right: each proxy appends the address it saw, so the right-most entry that is not a
    trusted proxy is the client; anything to its left the client could have written."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded or peer not in trusted:
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return hops[0] if hops else peer


def _headers(decision: Decision) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_seconds),
    }


async def _enforce(services: Services, scope: str, subject: str, route: str, limit: RouteLimit) -> Decision | None:
    decision = await services.limiter.check(scope, subject, route, limit)
    if decision is not None and not decision.allowed:
        headers = {**_headers(decision), "Retry-After": str(decision.retry_after_seconds)}
        raise Problem(429, f"rate limit of {limit.burst} requests exceeded for this {scope}", headers=headers)
    return decision  # None: the limiter's storage is down, and it fails open


async def limit_client_ip(request: Request, services: ServicesDep) -> None:
    """Before the key check, so one address cannot try keys without limit."""
    settings = services.settings
    await _enforce(services, "ip", client_ip(request, settings.trusted_proxies), "*", settings.rate_limit_per_ip)


async def limit_key(request: Request, response: Response, services: ServicesDep, key_id: ApiKeyDep) -> None:
    route = f"{request.method} {request.scope['route'].path}"
    decision = await _enforce(services, "key", key_id, route, services.settings.limit_for(route))
    if decision is not None:
        response.headers.update(_headers(decision))


# In this order: the address first, then the key on this route.
RATE_LIMITS = [Depends(limit_client_ip), Depends(limit_key)]
