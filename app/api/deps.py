"""Dependencies of the versioned routes: the caller's key, and the rate limits."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import keys
from app.db.database import DatabaseUnavailable
from app.db.models import ApiKey
from app.flags import V2_BETA_ROUTES
from app.metrics import API_KEYS_REHASHED, AUTH_FAILURES
from app.problems import Problem
from app.ratelimit import rate_limit_headers, refusal_headers
from app.services import Services, key_cache_key

UNKNOWN_KEY_TTL_SECONDS = 30


async def services(request: Request) -> Services:
    # async: FastAPI runs a plain `def` dependency on a worker thread, per request.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]


def _unauthorized(reason: str, detail: str) -> Problem:
    AUTH_FAILURES.labels(reason).inc()
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="project-ai"'})


# Declared as security schemes, so the OpenAPI document says how to authenticate;
# neither refuses on its own (auto_error=False): api_key() answers with a problem.
BEARER = HTTPBearer(auto_error=False, description="`Authorization: Bearer pai_<id>_<secret>`")
KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="the same key in `X-API-Key`")


async def api_key(
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
    header_key: Annotated[str | None, Security(KEY_HEADER)],
) -> str:
    """The caller's key id, from `Authorization: Bearer pai_...` or `X-API-Key`."""
    presented = (bearer.credentials.strip() if bearer else "") or (header_key or "")
    if not presented:
        raise _unauthorized("missing", "an API key is required (Authorization: Bearer <key>)")
    parts = keys.split(presented)
    if parts is None:
        raise _unauthorized("malformed", "the API key is not valid")
    key_id, secret = parts
    stored = await services.cache.get(key_cache_key(key_id))
    if stored is None:
        # Only a cache miss reads the database: most requests never touch it here. A key
        # the reader lacks may have been created a moment ago: the writer is asked then.
        row = await services.database.read(
            lambda db: _active_key(db, key_id), "key lookup", accept=lambda row: row is not None
        )
        stored = row.secret_hash if row else ""
        # Unknown ids are remembered briefly too, so guessing keys cannot hammer the database.
        ttl = services.settings.cache_ttl_seconds if row else UNKNOWN_KEY_TTL_SECONDS
        await services.cache.set(key_cache_key(key_id), stored, ttl)
    credentials = services.credentials
    if stored and keys.matches(secret, stored, credentials.pepper):
        return key_id
    previous = credentials.previous_pepper
    if stored and previous and keys.matches(secret, stored, previous):
        if time.monotonic() - credentials.pepper_since >= services.settings.api_key_rehash_after_seconds:
            await _rehash(services, key_id, keys.hash_secret(secret, credentials.pepper))
        return key_id
    raise _unauthorized("invalid", "the API key is not valid")


async def _rehash(services: Services, key_id: str, secret_hash: str) -> None:
    """A key hashed under the previous pepper moves to the current one on its first use
    after a rotation, so the previous pepper can be retired once its grace period ends.
    Best effort: if the database is down, the next use tries again."""
    try:
        await services.database.run(lambda db: keys.store_hash(db, key_id, secret_hash), "key re-hash")
    except DatabaseUnavailable:
        return
    API_KEYS_REHASHED.inc()
    await services.cache.set(key_cache_key(key_id), secret_hash, services.settings.cache_ttl_seconds)


ApiKeyDep = Annotated[str, Depends(api_key)]


async def _active_key(db: AsyncSession, key_id: str) -> ApiKey | None:
    return await db.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)))


async def limit_key(request: Request, response: Response, services: ServicesDep, key_id: ApiKeyDep) -> None:
    route = f"{request.method} {request.scope['route'].path}"
    decision = await services.limiter.check("key", key_id, route, services.settings.limit_for(route))
    if not decision.allowed:
        detail = f"rate limit of {decision.limit} requests exceeded for this key"
        raise Problem(429, detail, headers=refusal_headers(decision))
    response.headers.update(rate_limit_headers(decision))


# Per key and route; the per-address limit comes earlier (app/middleware/client_limits.py).
RATE_LIMITS = [Depends(limit_key)]


async def v2_beta_enabled(services: ServicesDep, key_id: ApiKeyDep) -> None:
    """The v2 beta routes answer a key the `v2-beta-routes` flag is on for (app/flags.py);
    to any other key they do not exist. Checked before the rate limit: a hidden route
    costs nothing and says nothing (no RateLimit headers)."""
    if not services.flags.enabled(V2_BETA_ROUTES, key_id):
        raise Problem(404, "API v2 (beta) is not available to this key; use v1")


# The v2 beta's: the flag first, then the rate limits.
V2_BETA = [Depends(v2_beta_enabled), *RATE_LIMITS]
