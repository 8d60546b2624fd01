"""structlog JSON logs; every line carries the request id and the trace id."""

from __future__ import annotations

import logging
import sys

import structlog
from opentelemetry import trace


def _trace_ids(_logger: object, _method: str, event: dict) -> dict:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def configure(level: str) -> None:
    numeric = logging.getLevelNamesMapping()[level.upper()]
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _trace_ids,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        # Not cached: tests capture logs by reconfiguring, which cached loggers would ignore.
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library: route them to the same JSON lines.
    handler = logging.StreamHandler(sys.stdout)
    # remove_processors_meta drops the formatter's own `_record` and `_from_structlog` keys.
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                *shared,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ]
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    # uvicorn's own access log duplicates ours (which has the route and request id), and
    # httpx's line per upstream call repeats what the upstream metrics and traces hold.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(max(numeric, logging.WARNING))


log = structlog.get_logger("app")
