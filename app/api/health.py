"""Probes and metrics: not versioned, not rate limited, logged at debug only."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from app import metrics
from app.api.deps import ServicesDep
from app.db.engine import schema_is_at_head

router = APIRouter(include_in_schema=False)
PATHS = frozenset({"/livez", "/readyz", "/startupz", "/metrics"})
CHECK_TIMEOUT_SECONDS = 2.0


@router.api_route("/livez", methods=["GET", "HEAD"])
async def livez() -> dict[str, str]:
    """The process answers; nothing else is checked, so a slow database never restarts it."""
    return {"status": "ok"}


@router.api_route("/startupz", methods=["GET", "HEAD"])
async def startupz(services: ServicesDep) -> Response:
    ok = services.started
    return JSONResponse({"status": "ok" if ok else "starting"}, status_code=200 if ok else 503)


async def _check(name: str, probe) -> tuple[str, str]:
    try:
        ok = await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001 - any failure makes the check fail, named
        return name, f"failed: {type(error).__name__}"
    return name, "ok" if ok else "failed"


@router.api_route("/readyz", methods=["GET", "HEAD"])
async def readyz(services: ServicesDep) -> Response:
    if services.draining:
        return JSONResponse({"status": "draining"}, status_code=503)

    async def database() -> bool:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    results = dict(
        await asyncio.gather(
            _check("database", database),
            _check("cache", services.cache.ping),
            _check("schema", lambda: schema_is_at_head(services.engine)),
        )
    )
    ready = all(result == "ok" for result in results.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": results}, status_code=200 if ready else 503
    )


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    payload, content_type = metrics.render()
    return Response(payload, media_type=content_type)
