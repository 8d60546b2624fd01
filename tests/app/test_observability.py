"""Metrics by route template, multiprocess aggregation, JSON logs with ids, tracing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from structlog.testing import capture_logs

from tests.app.conftest import Api

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


async def test_metrics_are_labelled_by_route_template_never_raw_path(api: Api) -> None:
    await api.complete()
    await api.client.get("/v1/models/../models")
    await api.client.get("/v1/does-not-exist/12345")
    text = (await api.client.get("/metrics")).text
    assert 'http_requests_total{method="POST",route="/v1/completions",status="200"}' in text
    assert "12345" not in text and "does-not-exist" not in text
    for family in (
        "http_request_duration_seconds_bucket",
        "http_requests_in_flight",
        "rate_limit_decisions_total",
        "circuit_breaker_state",
        "upstream_request_duration_seconds_bucket",
        "db_pool_connections",
    ):
        assert family in text, family


def test_multiprocess_mode_sums_every_worker(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = "from app.metrics import REQUESTS; REQUESTS.labels('/v1/models', 'GET', '200').inc(3)"
    for _ in range(2):  # two workers
        subprocess.run([sys.executable, "-c", record], env=env, cwd=ROOT, check=True)
    render = "from app.metrics import render; print(render()[0].decode())"
    out = subprocess.run([sys.executable, "-c", render], env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    assert 'http_requests_total{method="GET",route="/v1/models",status="200"} 6.0' in out.stdout


async def test_every_log_line_of_a_request_carries_its_id(start, capsys) -> None:
    async with start(screening_mode="log") as api:
        capsys.readouterr()
        await api.client.post(
            "/v1/completions",
            json={"model": "echo-1", "prompt": "<script>x</script>"},
            headers={"X-Request-ID": "req-abcdef-42"},
        )
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["screening flagged a request (log-only mode)", "request"]
    assert {line["request_id"] for line in lines} == {"req-abcdef-42"}
    assert lines[1]["route"] == "/v1/completions" and lines[1]["status"] == 200 and lines[1]["level"] == "info"


async def test_probes_stay_out_of_the_info_log(api: Api) -> None:
    with capture_logs() as logs:
        await api.client.get("/readyz")
        await api.client.get("/livez")
        await api.client.get("/v1/models")
    assert [(entry["route"], entry["log_level"]) for entry in logs if entry["event"] == "request"] == [
        ("/v1/models", "info")
    ]


def test_logs_are_json_with_trace_ids(capfd) -> None:
    script = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from app import logs\n"
        "logs.configure('info')\n"
        "trace.set_tracer_provider(TracerProvider())\n"
        "with trace.get_tracer('t').start_as_current_span('work'):\n"
        "    logs.log.info('inside', request_id='r-1')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    line = json.loads(out.strip().splitlines()[-1])
    assert line["event"] == "inside" and line["request_id"] == "r-1"
    assert len(line["trace_id"]) == 32 and len(line["span_id"]) == 16


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """A real OTLP/gRPC receiver on 127.0.0.1, keeping the span names it is sent."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def Export(self, request, context):  # noqa: N802 (gRPC method name)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.names.extend(span.name for span in scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


async def test_requests_and_queries_are_exported_over_otlp_when_an_endpoint_is_set(start) -> None:
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        async with start(otlp_endpoint=f"http://127.0.0.1:{port}") as api:
            await api.complete()
        # Leaving the app shut its tracer provider down, which flushed the batch.
        assert "POST /v1/completions" in collector.names
        assert any(name.startswith(("INSERT", "SELECT")) for name in collector.names), collector.names
    finally:
        server.stop(grace=None)


async def test_without_an_endpoint_nothing_is_traced(api: Api) -> None:
    assert api.app.state.tracer_provider is None


async def test_a_client_that_leaves_before_the_answer_is_a_499_not_a_500(api: Api) -> None:
    from app.metrics import REQUESTS

    messages = iter([{"type": "http.request", "body": b'{"mod', "more_body": True}, {"type": "http.disconnect"}])

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        raise AssertionError(f"nothing should be sent to a client that left: {message}")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/v1/completions",
        "raw_path": b"/v1/completions",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": None,
    }
    before = REQUESTS.labels("unrouted", "POST", "499")._value.get()
    await api.app(scope, receive, send)
    assert REQUESTS.labels("unrouted", "POST", "499")._value.get() == before + 1


async def test_library_log_lines_carry_no_formatter_internals(start, capsys) -> None:
    import logging

    async with start():
        capsys.readouterr()
        logging.getLogger("some.library").warning("disk %s", "full")
        (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["event"] == "disk full" and line["level"] == "warning"
    assert not [key for key in line if key.startswith("_")], line


async def test_probes_log_nothing_at_info_not_even_a_library_line(start, capsys) -> None:
    async with start(readiness_cache_seconds=0) as api:
        capsys.readouterr()
        for _ in range(3):
            for path in ("/readyz", "/livez", "/startupz"):
                assert (await api.client.get(path)).status_code == 200
        assert capsys.readouterr().out == ""  # no alembic lines, no access lines
