"""`ops chaos guard`: the steady state Chaos Mesh's StatusChecks ask. Against a local
stand-in Prometheus (answering, refusing, stopped, frozen) and against a real Prometheus
evaluating this project's own SLO recording rules and burn-rate alerts over a stand-in
API's metrics: 200 while the API serves, 503 naming the alerts once it fails."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from components.api_metrics import LATENCY, REQUESTS
from components.monitoring.rules import slo_alerts
from ops.chaos import guard
from ops.chaos.guard import GuardServer, SteadyState
from ops.prometheus import Prometheus
from tests.conftest import immediate_rule_groups, local_rule_args
from tests.ops.conftest import serving
from tests.servers import free_port

NAMESPACE = "project-ai"
BURN_RATE = tuple(alert["alert"] for alert in slo_alerts(local_rule_args(namespace=NAMESPACE)))
FAST = "ApiAvailabilityBudgetBurnFast1h"


def alert(name: str, state: str = "firing", namespace: str = NAMESPACE, **labels: str) -> dict[str, Any]:
    metric = {"__name__": "ALERTS", "alertname": name, "alertstate": state, "namespace": namespace, **labels}
    return {"metric": metric, "value": [1764500000.0, "1"]}


class StandIn(ThreadingHTTPServer):
    """Prometheus's query API: answers the ALERTS series it is given, or an error status,
    or nothing at all until released (frozen)."""

    daemon_threads = True

    def __init__(self, series: list[dict[str, Any]], status: int = 200, hang: threading.Event | None = None) -> None:
        super().__init__(("127.0.0.1", 0), StandInHandler)
        self.series, self.status, self.hang = series, status, hang
        self.queries: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class StandInHandler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.queries.append(parse_qs(urlsplit(self.path).query)["query"][0])
        if self.server.hang is not None:
            self.server.hang.wait(10)
            return
        if self.server.status != 200:
            body: dict[str, Any] = {"status": "error", "errorType": "execution", "error": "query timed out"}
        else:
            body = {"status": "success", "data": {"resultType": "vector", "result": self.server.series}}
        encoded = json.dumps(body).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)


@contextlib.contextmanager
def prometheus(
    series: list[dict[str, Any]], status: int = 200, hang: threading.Event | None = None
) -> Iterator[StandIn]:
    with serving(StandIn(series, status, hang), hang) as server:
        yield server  # type: ignore[misc]


@contextlib.contextmanager
def guard_at(prometheus_url: str, timeout: float = 2.0, pending: bool = False) -> Iterator[str]:
    hypothesis = SteadyState(Prometheus(prometheus_url, timeout_seconds=timeout), NAMESPACE, BURN_RATE, pending)
    server = GuardServer(("127.0.0.1", 0), hypothesis)
    with serving(server):
        yield server.url.removesuffix(guard.PATH)
    hypothesis.prometheus.close()


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def steady_state(url: str) -> tuple[int, dict[str, Any]]:
    return get(f"{url}{guard.PATH}")


# --- the hypothesis over a stand-in Prometheus ---


def test_no_burn_rate_alert_is_a_steady_state():
    with prometheus([]) as fake, guard_at(fake.url) as url:
        status, body = steady_state(url)
    assert (status, body["steady"], body["firing"]) == (200, True, [])
    assert body["alerts"] == list(BURN_RATE) and body["namespace"] == NAMESPACE
    assert fake.queries == [f'ALERTS{{namespace="{NAMESPACE}",alertstate=~"firing"}}']


def test_a_firing_burn_rate_alert_is_a_503_that_names_it():
    series = [alert(FAST, severity="critical", slo="availability"), alert("ApiLatencyBudgetBurnSlow1d", slo="latency")]
    with prometheus(series) as fake, guard_at(fake.url) as url:
        status, body = steady_state(url)
    assert status == 503 and body["steady"] is False
    assert [a["alertname"] for a in body["firing"]] == [FAST, "ApiLatencyBudgetBurnSlow1d"]
    assert body["firing"][0] == {
        "alertname": FAST,
        "alertstate": "firing",
        "severity": "critical",
        "slo": "availability",
    }
    assert body["reason"] == f"burn-rate alerts firing: {FAST}, ApiLatencyBudgetBurnSlow1d"


def test_other_alerts_other_namespaces_and_pending_ones_do_not_break_it_unless_asked():
    series = [
        alert("ApiPodRestarting"),  # not a burn-rate alert
        alert(FAST, namespace="someone-else"),  # a federated or relabelled series of another app
        alert(FAST, state="pending"),
    ]
    with prometheus(series) as fake, guard_at(fake.url) as url:
        assert steady_state(url)[0] == 200
    with prometheus(series) as fake, guard_at(fake.url, pending=True) as url:
        status, body = steady_state(url)
    assert status == 503 and body["firing"] == [{"alertname": FAST, "alertstate": "pending"}]
    assert fake.queries == [f'ALERTS{{namespace="{NAMESPACE}",alertstate=~"firing|pending"}}']


def test_prometheus_refusing_stopped_or_frozen_is_a_503_fail_safe():
    with prometheus([], status=422) as fake, guard_at(fake.url) as url:
        status, body = steady_state(url)
    assert status == 503 and "Prometheus refused the query (422): query timed out" in body["reason"]
    assert body["reason"].endswith("a steady state nobody can check does not hold")

    stopped = prometheus([])
    with stopped as fake:
        address = fake.url
    with guard_at(address) as url:
        status, body = steady_state(url)
    assert status == 503 and "did not answer: ConnectError" in body["reason"]

    with prometheus([], hang=threading.Event()) as frozen, guard_at(frozen.url, timeout=0.5) as url:
        started = time.monotonic()
        status, body = steady_state(url)
        waited = time.monotonic() - started
    assert status == 503 and "did not answer: ReadTimeout" in body["reason"]
    assert waited < 5  # bounded by the guard's timeout, well inside a StatusCheck's own


def test_health_answers_without_prometheus_and_other_paths_are_404():
    stopped = prometheus([])
    with stopped as fake:
        address = fake.url
    with guard_at(address) as url:
        assert get(f"{url}/healthz") == (200, {"status": "ok"})
        status, body = get(f"{url}/metrics")
        assert status == 404 and guard.PATH in body["error"]


def test_checks_beyond_the_limit_at_once_are_refused_not_queued():
    hang = threading.Event()
    with prometheus([], hang=hang) as frozen, guard_at(frozen.url, timeout=5) as url:
        threads = [threading.Thread(target=steady_state, args=(url,), daemon=True) for _ in range(guard.MAX_CHECKS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while len(frozen.queries) < guard.MAX_CHECKS and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(frozen.queries) == guard.MAX_CHECKS
        status, body = steady_state(url)
        hang.set()
        for thread in threads:
            thread.join(timeout=10)
    assert status == 503 and "checks under way" in body["reason"]


# --- the command line ---


def parse(*argv: str) -> argparse.Namespace:
    root = argparse.ArgumentParser(prog="ops chaos")
    guard.register(root.add_subparsers(dest="command", required=True))
    return root.parse_args(["guard", *argv])


def test_the_command_line_takes_the_alerts_the_namespace_and_where_to_listen():
    arguments = parse(
        "--prometheus", "http://p:9090", "--namespace", NAMESPACE, "--alert", FAST, "--alert", FAST,
        "--listen", "0.0.0.0:8080", "--pending",
    )  # fmt: skip
    assert arguments.listen == ("0.0.0.0", 8080) and arguments.alerts == [FAST, FAST] and arguments.pending
    assert arguments.timeout_seconds == guard.DEFAULT_TIMEOUT_SECONDS
    server = guard.server(parse("--prometheus", "http://p:9090", "--namespace", NAMESPACE, "--alert", FAST,
                                "--alert", FAST, "--listen", "127.0.0.1:0"))  # fmt: skip
    try:
        assert server.hypothesis.alerts == (FAST,)  # each once
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith(guard.PATH)
    finally:
        server.server_close()
        server.hypothesis.prometheus.close()
    assert parse(
        "--prometheus", "http://p:9090", "--namespace", "a", "--alert", "A", "--listen", "[::1]:80"
    ).listen == (
        "::1",
        80,
    )


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--namespace", NAMESPACE, "--alert", FAST], "the following arguments are required: --prometheus"),
        (["--prometheus", "http://p", "--namespace", NAMESPACE], "the following arguments are required: --alert"),
        (["--prometheus", "http://p", "--namespace", 'x",y="z', "--alert", FAST], "is not a namespace name"),
        (["--prometheus", "http://p", "--namespace", NAMESPACE, "--alert", 'A"} or vector(1)'], "is not an alert name"),
        (
            ["--prometheus", "http://p", "--namespace", NAMESPACE, "--alert", FAST, "--listen", "8080"],
            "is not HOST:PORT",
        ),
        (
            ["--prometheus", "http://p", "--namespace", NAMESPACE, "--alert", FAST, "--listen", "0.0.0.0:99999"],
            "99999 is outside 0 to 65535",
        ),
        (
            ["--prometheus", "http://p", "--namespace", NAMESPACE, "--alert", FAST, "--listen", "example.com:80"],
            "is not an address to listen on",
        ),
        (
            ["--prometheus", "http://p", "--namespace", NAMESPACE, "--alert", FAST, "--timeout-seconds", "60"],
            "60 s is outside 0.1 to 30 s",
        ),
    ],
)
def test_bad_usage_says_what_was_expected(argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2 and problem in capsys.readouterr().err


def test_the_hypothesis_refuses_what_could_change_its_query():
    client = Prometheus("http://p:9090")
    with pytest.raises(ValueError, match="is not a namespace name"):
        SteadyState(client, 'project-ai"}', (FAST,))
    with pytest.raises(ValueError, match="is not an alert name"):
        SteadyState(client, NAMESPACE, ("A|B",))
    with pytest.raises(ValueError, match="no alert to watch"):
        SteadyState(client, NAMESPACE, ())
    client.close()


# --- a real Prometheus, this project's rules, a stand-in API's metrics ---


class Api(BaseHTTPRequestHandler):
    """The API's request metrics as a scrape finds them: ten requests a second, all fast,
    and, once `failing`, every one of them a 500."""

    started = time.monotonic()
    failed_since: float | None = None

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        now = time.monotonic()
        total = int((now - Api.started) * 10) + 1
        errors = int((now - Api.failed_since) * 10) + 1 if Api.failed_since is not None else 0
        route = 'route="/v1/completions",method="POST"'
        lines = [
            f"# TYPE {REQUESTS} counter",
            f'{REQUESTS}{{{route},status="200"}} {total - errors}',
            f'{REQUESTS}{{{route},status="500"}} {errors}',
            f"# TYPE {LATENCY} histogram",
            *(f'{LATENCY}_bucket{{{route},le="{le}"}} {total}' for le in ("0.05", "0.1", "0.25", "0.5", "1.0", "+Inf")),
            f"{LATENCY}_count{{{route}}} {total}",
            f"{LATENCY}_sum{{{route}}} {total * 0.02}",
        ]
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def wait_until(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def real_prometheus() -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("prometheus is not installed (Debian package prometheus; .ci/run installs it)")
    folder = Path(tempfile.mkdtemp(prefix="projectai-guard-"))
    api = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    port = free_port()
    rule_groups = immediate_rule_groups(NAMESPACE)
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups}))
    scrape = {
        "job_name": "api",
        "static_configs": [{"targets": [f"127.0.0.1:{api.server_port}"], "labels": {"namespace": NAMESPACE}}],
    }
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(folder / "rules.yaml")],
        "scrape_configs": [scrape],
    }
    (folder / "prometheus.yaml").write_text(yaml.safe_dump(config))
    command = [
        binary,
        f"--config.file={folder}/prometheus.yaml",
        f"--storage.tsdb.path={folder}/data",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with serving(api):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: _ready(url), 30, "prometheus")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)
            shutil.rmtree(folder, ignore_errors=True)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _recorded(prometheus_url: str) -> bool:
    query = urllib.parse.urlencode({"query": "api:request_errors:ratio_rate5m"})
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/query?{query}", timeout=2) as response:
        result = json.loads(response.read())["data"]["result"]
    return bool(result) and result[0]["value"][1] not in ("NaN",)


def test_the_guard_holds_while_the_api_serves_and_breaks_when_it_burns_its_budget(real_prometheus: str):
    Api.failed_since = None
    with guard_at(real_prometheus, pending=True) as url:
        wait_until(lambda: _recorded(real_prometheus), 30, "the SLO recording rules over the API's requests")
        status, body = steady_state(url)
        assert (status, body["steady"]) == (200, True)
        Api.failed_since = time.monotonic()
        status, body = wait_until(lambda: (found := steady_state(url))[0] == 503 and found, 30, "a burn-rate alert")
    firing = {entry["alertname"] for entry in body["firing"]}
    # Every availability window burns (all requests fail); latency is untouched.
    assert FAST in firing and firing <= {name for name in BURN_RATE if name.startswith("ApiAvailability")}
