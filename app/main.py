"""The app factory: settings in, a FastAPI app with its middleware and routers out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import logs, problems, telemetry
from app.api import health, v1, v2
from app.middleware.body_guard import BodyGuard
from app.middleware.request_context import RequestContext
from app.middleware.security_headers import SecurityHeaders
from app.middleware.versioning import Versioning
from app.services import Services
from app.settings import Settings

VERSIONS = frozenset({"v1", "v2"})
UNVERSIONED = health.PATHS | {"/openapi.json"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    logs.configure(settings.log_level)
    tracing = telemetry.tracer_provider(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.create(settings)
        app.state.services = services
        telemetry.instrument_clients(services, tracing)
        await services.start()
        try:
            yield
        finally:
            await services.stop()
            telemetry.shutdown(tracing)

    # No Swagger UI: an API behind a strict CSP serves its schema, not a web page.
    app = FastAPI(
        title="Project-AI API",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    problems.install(app)
    app.include_router(health.router)
    app.include_router(v1.router)
    app.include_router(v2.router)
    app.state.tracer_provider = tracing
    telemetry.instrument_app(app, tracing)
    # Added innermost first: requests pass SecurityHeaders, RequestContext, Versioning,
    # BodyGuard, then the routes.
    app.add_middleware(BodyGuard, settings=settings)
    app.add_middleware(Versioning, settings=settings, versions=VERSIONS, unversioned=UNVERSIONED)
    app.add_middleware(RequestContext, quiet_paths=health.PATHS)
    app.add_middleware(SecurityHeaders)
    return app
