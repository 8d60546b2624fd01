"""`ops chaos guard`: the steady-state hypothesis Chaos Mesh checks while an experiment runs.

Chaos Mesh's StatusCheck (a template of every experiment's Workflow, components/chaos/)
compares an HTTP status code and nothing else. This server turns the API's SLOs into one:
`GET /v1/steady-state` answers 200 while none of the API's burn-rate alerts fires, and
503 with a JSON body naming the firing ones otherwise. Those alerts are the SRE
workbook's multi-window, multi-burn-rate alerts on the SLO recording rules
(`api:request_errors:ratio_rate<window>`, `api:request_slow:ratio_rate<window>`,
components/monitoring/rules.py); the program passes their exact names (`--alert`), read
from the rules it generates, so the guard and the alerts cannot drift apart.

Fail safe: when Prometheus cannot be asked (refused, unreachable, or slower than
`--timeout-seconds`), the hypothesis cannot be checked, so it does not hold: 503. The
workflow's StatusCheck counts that as a failure, and `abortWithStatusCheck` aborts the
experiment. A guard that is itself down fails the same way (the check's request fails).

`GET /healthz` answers the kubelet without asking Prometheus: the guard is alive whatever
Prometheus does, and a guard that is alive but blind answers 503 where it matters.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ops import arguments as argtypes
from ops.prometheus import NAMESPACE, Prometheus
from ops.steps import OpsError
from ops.web import JsonHandler, JsonServer

PATH = "/v1/steady-state"
# Alert names as this project's rules write them: identifiers, nothing a query could read as syntax.
ALERT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Checks at once (each one Prometheus query); more wait for none: a 503, which is safe.
MAX_CHECKS = 8
DEFAULT_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Verdict:
    steady: bool
    body: dict[str, Any]

    @property
    def status(self) -> int:
        return 200 if self.steady else 503


@dataclass(frozen=True)
class SteadyState:
    """The hypothesis: none of `alerts` (of the API in `namespace`) is firing, or, with
    `pending`, even pending (its condition holds, its `for` not yet over)."""

    prometheus: Prometheus
    namespace: str
    alerts: tuple[str, ...]
    pending: bool = False

    def __post_init__(self) -> None:
        if not NAMESPACE.fullmatch(self.namespace):
            raise ValueError(f"{self.namespace!r} is not a namespace name")
        if not self.alerts:
            raise ValueError("no alert to watch: give at least one burn-rate alert's name")
        for name in self.alerts:
            if not ALERT_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an alert name (letters, digits, '_')")

    @property
    def states(self) -> tuple[str, ...]:
        return ("firing", "pending") if self.pending else ("firing",)

    def query(self) -> str:
        """Prometheus's ALERTS series of the namespace in the states that break the
        hypothesis; which alerts count is decided here, not in the query."""
        return f'ALERTS{{namespace="{self.namespace}",alertstate=~"{"|".join(self.states)}"}}'

    def check(self) -> Verdict:
        watched = {"namespace": self.namespace, "alerts": list(self.alerts), "states": list(self.states)}
        try:
            series = self.prometheus.vector(self.query())
        except OpsError as blind:
            reason = f"{blind}; a steady state nobody can check does not hold"
            return Verdict(False, {"steady": False, "reason": reason, **watched})
        firing = sorted(
            (
                {key: labels[key] for key in ("alertname", "alertstate", "severity", "slo") if key in labels}
                for labels in (entry.get("metric", {}) for entry in series)
                # The query selects the namespace; a relabelled or federated series is checked again.
                if labels.get("alertname") in self.alerts
                and labels.get("namespace") == self.namespace
                and labels.get("alertstate") in self.states
            ),
            key=lambda alert: (alert["alertname"], alert.get("alertstate", "")),
        )
        if firing:
            names = ", ".join(dict.fromkeys(alert["alertname"] for alert in firing))
            reason = f"burn-rate alerts {'/'.join(self.states)}: {names}"
            return Verdict(False, {"steady": False, "reason": reason, "firing": firing, **watched})
        return Verdict(True, {"steady": True, "firing": [], **watched})


class GuardServer(JsonServer):
    def __init__(self, address: tuple[str, int], hypothesis: SteadyState) -> None:
        super().__init__(address, Handler)
        self.hypothesis = hypothesis
        self.slots = threading.BoundedSemaphore(MAX_CHECKS)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}{PATH}"


class Handler(JsonHandler):
    """Each answer is recorded by Chaos Mesh in its StatusCheck: no request log here."""

    server: GuardServer
    server_version = "ops-chaos-guard"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.health():
            return
        path = urlsplit(self.path).path
        if path != PATH:
            self.answer(404, {"error": f"no such path {path[:100]!r}; try {PATH}"})
            return
        if not self.server.slots.acquire(blocking=False):
            self.answer(503, {"steady": False, "reason": f"{MAX_CHECKS} checks under way; not checked, so not held"})
            return
        try:
            verdict = self.server.hypothesis.check()
        finally:
            self.server.slots.release()
        self.answer(verdict.status, verdict.body)


def listen_address(value: str) -> tuple[str, int]:
    """HOST:PORT, or [IPv6]:PORT (port 0: any free one)."""
    host, separator, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not separator or not host:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT, such as 0.0.0.0:8080")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise argparse.ArgumentTypeError(f"{host!r} is not an address to listen on (an IP, or localhost)") from None
    return host, argtypes.count(0, 65535)(port)


def alert_name(value: str) -> str:
    if not ALERT_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an alert name (letters, digits, '_')")
    return value


def namespace_name(value: str) -> str:
    if not NAMESPACE.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a namespace name")
    return value


def register(commands: Any) -> None:
    guard = commands.add_parser(
        "guard",
        help="the steady state Chaos Mesh's workflows check: GET /v1/steady-state, 503 while a burn-rate alert fires",
        description=(
            "Serve GET /v1/steady-state: 200 while none of the named alerts of the namespace fires, "
            "503 with the firing ones named otherwise, and 503 when Prometheus cannot be asked."
        ),
    )
    guard.add_argument("--prometheus", required=True, help="Prometheus's address, such as http://prometheus:9090")
    guard.add_argument("--namespace", required=True, type=namespace_name, help="the API's namespace (alert label)")
    guard.add_argument(
        "--alert",
        dest="alerts",
        action="append",
        required=True,
        type=alert_name,
        metavar="NAME",
        help="a burn-rate alert that breaks the steady state (repeat for each)",
    )
    guard.add_argument(
        "--listen",
        type=listen_address,
        default=("127.0.0.1", 8080),
        metavar="HOST:PORT",
        help="where to listen (127.0.0.1:8080; 0.0.0.0:8080 in a pod)",
    )
    guard.add_argument(
        "--timeout-seconds",
        type=argtypes.seconds(0.1, 30),
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"Prometheus slower than this is a 503 ({DEFAULT_TIMEOUT_SECONDS:g})",
    )
    guard.add_argument(
        "--pending", action="store_true", help="a pending alert breaks the steady state too (its condition holds)"
    )
    guard.set_defaults(run=_serve)


def server(arguments: argparse.Namespace) -> GuardServer:
    hypothesis = SteadyState(
        Prometheus(arguments.prometheus, timeout_seconds=arguments.timeout_seconds),
        arguments.namespace,
        tuple(dict.fromkeys(arguments.alerts)),
        pending=arguments.pending,
    )
    return GuardServer(arguments.listen, hypothesis)


def _serve(arguments: argparse.Namespace) -> int:
    guard = server(arguments)
    print(f"ops chaos guard: steady state on {guard.url}", flush=True)
    try:
        guard.serve_forever()
    finally:
        guard.server_close()
        guard.hypothesis.prometheus.close()
    return 0
