"""The app factory: settings in, a FastAPI app with its middleware and routers out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app import logs, problems, telemetry
from app.api import health, v1, v2
from app.api.schemas import MAX_BODY_BYTES
from app.middleware.body_guard import BodyGuard
from app.middleware.client_limits import ClientLimits
from app.middleware.head import HeadAsGet
from app.middleware.request_context import RequestContext
from app.middleware.security_headers import SecurityHeaders
from app.middleware.versioning import Versioning
from app.services import Services
from app.settings import Settings, load_settings

VERSIONS = frozenset({"v1", "v2"})
UNVERSIONED = health.PATHS | {"/openapi.json"}
VERSIONED_PATH = re.compile(r"^/v\d+(/.*)$")


def _fields_of(document: dict[str, Any], request_body: dict[str, Any]) -> frozenset[str] | None:
    """The fields a JSON request body may have, when its schema allows no others."""
    schema = request_body["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if schema.get("additionalProperties") is False:
        return frozenset(schema.get("properties", {}))
    return None


def _with_model_enum(app: FastAPI, models: list[str]) -> Any:
    """The OpenAPI document with `model` as the enum of the models this gateway serves
    (a setting, so not known to the static request model)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        document["components"]["schemas"]["CompletionRequest"]["properties"]["model"]["enum"] = list(models)
        return document

    return openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
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

    # No Swagger UI: an API behind a strict CSP serves its schema, not a web page. No
    # trailing-slash redirects: their Location would be built from the Host header.
    app = FastAPI(
        title="Project-AI API",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    problems.install(app)
    app.include_router(health.router)
    app.include_router(health.public)
    app.include_router(v1.router)
    app.include_router(v2.router)
    app.state.tracer_provider = tracing
    app.openapi = _with_model_enum(app, settings.models)  # type: ignore[method-assign]
    telemetry.instrument_app(app, tracing)
    # What routes exist, read from the OpenAPI document: the public view of the routing.
    document = app.openapi()
    operations = document["paths"]
    body_routes = {
        (method.upper(), path): _fields_of(document, operation["requestBody"])
        for path, methods in operations.items()
        for method, operation in methods.items()
        if "requestBody" in operation
    }
    versioned_paths = frozenset(match.group(1) for path in operations if (match := VERSIONED_PATH.match(path)))
    # Added innermost first: requests pass SecurityHeaders, RequestContext, Versioning,
    # ClientLimits, BodyGuard, HeadAsGet, then the routes.
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyGuard, settings=settings, body_routes=body_routes, max_body_bytes=MAX_BODY_BYTES)
    app.add_middleware(ClientLimits, exempt=UNVERSIONED)
    app.add_middleware(
        Versioning, settings=settings, versions=VERSIONS, unversioned=UNVERSIONED, versioned_paths=versioned_paths
    )
    app.add_middleware(RequestContext, quiet_paths=health.PATHS)
    app.add_middleware(SecurityHeaders)
    return app
