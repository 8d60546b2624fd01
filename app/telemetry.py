"""OpenTelemetry tracing of FastAPI, httpx and SQLAlchemy, exported over OTLP when an
endpoint is set; otherwise the global no-op tracer, which costs next to nothing."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from app.services import Services
from app.settings import Settings

_provider: TracerProvider | None = None


def configure(app: FastAPI, settings: Settings) -> None:
    global _provider
    if not settings.otlp_endpoint:
        return
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
        trace.set_tracer_provider(_provider)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls="livez,readyz,startupz,metrics")


def instrument_clients(services: Services) -> None:
    if _provider is None:
        return
    HTTPXClientInstrumentor.instrument_client(services.client, tracer_provider=_provider)
    SQLAlchemyInstrumentor().instrument(engine=services.engine.sync_engine, tracer_provider=_provider)


def shutdown() -> None:
    if _provider is not None:
        _provider.force_flush()
