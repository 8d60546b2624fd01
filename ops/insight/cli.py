"""`ops insight serve`."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops import arguments as argtypes
from ops.chaos.guard import namespace_name
from ops.insight import DEFAULT_PEAK_WINDOW_SECONDS

if TYPE_CHECKING:
    from ops.insight.server import MetricsServer
    from ops.insight.service import Insight

DEFAULT_PORT = 9102
DEFAULT_INTERVAL_SECONDS = 60
DEFAULT_LEAD_SECONDS = 900
DEFAULT_TIMEOUT_SECONDS = 5.0


def register(groups: Any) -> None:
    insight = groups.add_parser("insight", help="the anomaly and forecast service: learns the API's signals online")
    commands = insight.add_subparsers(dest="command", required=True, metavar="ACTION")
    serve = commands.add_parser(
        "serve",
        help="read the API's signals from Prometheus every interval, export anomaly scores and forecasts on /metrics",
        description=(
            "Every interval, read the API's request rate, p99 latency, error ratio and CPU saturation from "
            "Prometheus, score and forecast each online, keep what was learned in --state-dir, and export "
            "projectai_anomaly_score, projectai_anomalous, projectai_forecast and projectai_forecast_peak."
        ),
    )
    serve.add_argument("--prometheus", required=True, help="Prometheus's address, such as http://prometheus:9090")
    serve.add_argument("--state-dir", required=True, type=Path, help="where the learned state is kept (a volume)")
    serve.add_argument(
        "--namespace", type=namespace_name, default="project-ai", help="the API's namespace (project-ai)"
    )
    serve.add_argument("--listen", default="127.0.0.1", help="the address to listen on (127.0.0.1; 0.0.0.0 in a pod)")
    serve.add_argument("--port", type=argtypes.count(0, 65535), default=DEFAULT_PORT, help=f"({DEFAULT_PORT})")
    serve.add_argument(
        "--interval-seconds",
        type=argtypes.count(10, 3600),
        default=DEFAULT_INTERVAL_SECONDS,
        help=f"how often the signals are read ({DEFAULT_INTERVAL_SECONDS})",
    )
    serve.add_argument(
        "--lead-seconds",
        type=argtypes.count(60, 86400),
        default=DEFAULT_LEAD_SECONDS,
        help=f"how far ahead projectai_forecast was forecast ({DEFAULT_LEAD_SECONDS})",
    )
    serve.add_argument(
        "--peak-window-seconds",
        type=argtypes.count(60, 86400),
        default=DEFAULT_PEAK_WINDOW_SECONDS,
        help=f"how far ahead projectai_forecast_peak looks ({DEFAULT_PEAK_WINDOW_SECONDS})",
    )
    serve.add_argument(
        "--timeout-seconds",
        type=argtypes.seconds(0.1, 30),
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"a Prometheus query slower than this fails ({DEFAULT_TIMEOUT_SECONDS:g})",
    )
    serve.set_defaults(run=_serve)


def _checked_state_dir(folder: Path) -> Path:
    from ops.steps import PreconditionFailed

    if not folder.is_dir():
        raise PreconditionFailed(f"--state-dir {folder} is not a directory; expected an existing, writable one")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PreconditionFailed(f"--state-dir {folder} is not writable by this user; expected a writable directory")
    return folder


def build(arguments: argparse.Namespace, now: float) -> tuple[Insight, MetricsServer]:
    """The service and its HTTP server from the command line (the server not yet serving)."""
    from ops.insight.server import MetricsServer
    from ops.insight.service import Insight, Models
    from ops.insight.signals import signals
    from ops.insight.state import StateStore
    from ops.prometheus import Prometheus
    from ops.steps import PreconditionFailed

    asked = signals(arguments.namespace)
    if arguments.timeout_seconds * len(asked) >= arguments.interval_seconds:
        raise PreconditionFailed(
            f"--timeout-seconds {arguments.timeout_seconds:g} is too long for --interval-seconds "
            f"{arguments.interval_seconds}: a round asks {len(asked)} queries, each may take the timeout; "
            f"expected a timeout under 1/{len(asked)} of the interval"
        )
    store = StateStore(_checked_state_dir(arguments.state_dir))
    prometheus = Prometheus(arguments.prometheus, timeout_seconds=arguments.timeout_seconds)
    insight = Insight(
        prometheus,
        asked,
        store,
        arguments.interval_seconds,
        arguments.lead_seconds,
        Models.default(),
        now,
        peak_window_seconds=arguments.peak_window_seconds,
    )
    try:
        server = MetricsServer((arguments.listen, arguments.port), insight)
    except OSError as error:
        prometheus.close()
        raise PreconditionFailed(f"cannot listen on {arguments.listen}:{arguments.port}: {error.strerror}") from None
    return insight, server


def _serve(arguments: argparse.Namespace) -> int:
    from ops.insight.server import run

    insight, server = build(arguments, time.time())
    stop = threading.Event()
    # The kubelet stops the pod with SIGTERM: finish the round, its state saved.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    print(f"ops insight: serving {server.url}/metrics, a round every {arguments.interval_seconds} s", flush=True)
    try:
        run(insight, stop)
    finally:
        server.shutdown()
        server.server_close()
        insight.prometheus.close()
    return 0
