"""Probes and metrics: not versioned, not rate limited, logged at debug only, and not
routed by the public Ingress. `/v1/health` is the one public health check, for the edge's
load-balancer monitors: status only, from the same cached readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from app import metrics
from app.api.deps import ServicesDep
from app.api.schemas import HealthStatus, problem_responses
from app.problems import Problem
from app.readiness import ready

router = APIRouter(include_in_schema=False)
PATHS = frozenset({"/livez", "/readyz", "/startupz", "/metrics"})
public = APIRouter(prefix="/v1")


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


@public.get("/health", response_model=HealthStatus, responses=problem_responses(429, 503))
async def health(services: ServicesDep) -> HealthStatus:
    """Whether this region serves: what the edge's monitors probe. No detail is given out."""
    if services.draining or not ready(await services.readiness.checks()):
        raise Problem(503, "this region cannot serve requests now", headers={"Retry-After": "5"})
    return HealthStatus(status="ok")
