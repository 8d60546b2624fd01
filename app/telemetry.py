"""OpenTelemetry tracing of FastAPI, httpx and SQLAlchemy, exported over OTLP when an
endpoint is set, and nothing at all otherwise.

The provider belongs to the app (not the process-wide global), so it is shut down with
the app and a second app in the same process starts clean.
"""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from app.services import Services
from app.settings import Settings

PROBES = "livez,readyz,startupz,metrics"


def tracer_provider(settings: Settings) -> TracerProvider | None:
    if not settings.otlp_endpoint:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint, insecure=settings.otlp_endpoint.startswith("http:"))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def instrument_app(app: FastAPI, provider: TracerProvider | None) -> None:
    if provider is not None:
        FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=PROBES)


def instrument_clients(services: Services, provider: TracerProvider | None) -> None:
    if provider is None:
        return
    HTTPXClientInstrumentor.instrument_client(services.client, tracer_provider=provider)
    for engine in services.database.engines:  # the writer's, and the reader's if there is one
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=provider)


def shutdown(provider: TracerProvider | None) -> None:
    if provider is not None:
        SQLAlchemyInstrumentor().uninstrument()
        provider.shutdown()  # flushes what is left
