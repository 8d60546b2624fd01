"""The service's process: `/metrics` and `/healthz` on one thread, the rounds on another.

The HTTP side never waits for Prometheus: it serves what the last round exported, so the
kubelet's probes and Prometheus's scrapes are answered however long a round takes. Rounds
start every interval; one slower than the interval (every query timing out) is followed
at once by the next, never by a burst of catch-up rounds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ops.insight.service import Insight
from ops.web import JsonHandler, JsonServer

METRICS_PATH = "/metrics"


class MetricsServer(JsonServer):
    def __init__(self, address: tuple[str, int], insight: Insight) -> None:
        super().__init__(address, Handler)
        self.insight = insight

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}"


class Handler(JsonHandler):
    server: MetricsServer
    server_version = "ops-insight"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.health():
            return
        path = urlsplit(self.path).path
        if path != METRICS_PATH:
            self.answer(404, {"error": f"no such path {path[:100]!r}; try {METRICS_PATH}"})
            return
        body = generate_latest(self.server.insight.metrics.registry)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def run(
    insight: Insight,
    stop: threading.Event,
    clock: Callable[[], float] = time.time,
    wait: Callable[[float], object] | None = None,
    rounds: int | None = None,
) -> int:
    """Rounds every interval until `stop` is set (or `rounds` are done); how many ran.
    `wait` sleeps until the next one (`stop.wait` unless a test drives the time)."""
    wait = wait or stop.wait
    done = 0
    next_at = clock()
    while not stop.is_set() and (rounds is None or done < rounds):
        try:
            insight.round(clock())
        except Exception as error:  # noqa: BLE001 - a bug in one round must not end the service
            insight.metrics.errors.labels("round").inc()
            print(f"ops insight: a round failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        done += 1
        next_at = max(next_at + insight.interval_seconds, clock())
        if rounds is None or done < rounds:
            wait(max(0.0, next_at - clock()))
    return done
