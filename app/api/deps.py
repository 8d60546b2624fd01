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
        if row:
            await services.cache.set(key_cache_key(key_id), stored, services.settings.cache_ttl_seconds)
    pepper = services.settings.api_key_pepper.get_secret_value()
    if not stored or not keys.matches(secret, stored, pepper):
        raise _unauthorized("invalid", "the API key is not valid")
    return key_id


ApiKeyDep = Annotated[str, Depends(api_key)]


def client_ip(request: Request, trusted: list[str]) -> str:
    """The client address; X-Forwarded-For only when the peer is a trusted proxy."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in trusted:
        return forwarded.split(",")[0].strip()
    return peer


def _headers(decision: Decision) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_seconds),
    }


async def rate_limit(request: Request, response: Response, services: ServicesDep, key_id: ApiKeyDep) -> None:
    """Two buckets: this key on this route, and this client IP on every route."""
    settings = services.settings
    route = f"{request.method} {request.scope['route'].path}"
    checks = [
        ("key", key_id, route, settings.limit_for(route)),
        ("ip", client_ip(request, settings.trusted_proxies), "*", settings.rate_limit_per_ip),
    ]
    for scope, subject, bucket_route, limit in checks:
        decision = await services.limiter.check(scope, subject, bucket_route, limit)
        if decision is None:
            continue  # storage down: fail open
        if not decision.allowed:
            headers = {**_headers(decision), "Retry-After": str(decision.retry_after_seconds)}
            raise Problem(429, f"rate limit of {limit.burst} requests exceeded for this {scope}", headers=headers)
        if scope == "key":
            response.headers.update(_headers(decision))


RateLimited = Depends(rate_limit)
