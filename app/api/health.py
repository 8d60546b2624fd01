"""Probes and metrics: not versioned, not rate limited, logged at debug only."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from app import metrics
from app.api.deps import ServicesDep
from app.readiness import ready

router = APIRouter(include_in_schema=False)
PATHS = frozenset({"/livez", "/readyz", "/startupz", "/metrics"})


@router.api_route("/livez", methods=["GET", "HEAD"])
async def livez() -> dict[str, str]:
    """The process answers; nothing else is checked, so a slow database never restarts it."""
    return {"status": "ok"}


@router.api_route("/startupz", methods=["GET", "HEAD"])
async def startupz(services: ServicesDep) -> Response:
    ok = services.started
    return JSONResponse({"status": "ok" if ok else "starting"}, status_code=200 if ok else 503)


@router.api_route("/readyz", methods=["GET", "HEAD"])
async def readyz(services: ServicesDep) -> Response:
    """The database only, checked at most once per `APP_READINESS_CACHE_SECONDS`."""
    if services.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    checks = await services.readiness.checks()
    ok = ready(checks)
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    payload, content_type = metrics.render()
    return Response(payload, media_type=content_type)
