"""A real Prometheus scrapes the real app on 127.0.0.1 with the generated rules: silent under
healthy traffic; the error-rate and breaker-open alerts fire when the upstream fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import immediate_rule_groups
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "project-ai"
WATCHED = {"ApiHighErrorRate", "ApiCircuitBreakerOpen"}


class Upstream(BaseHTTPRequestHandler):
    """An OpenAI-compatible upstream that answers, or fails, as the test says."""

    failing = False

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if Upstream.failing:
            self.send_response(500)
            self.end_headers()
            return
        body = json.dumps(
            {
                "choices": [{"text": "ok", "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def wait_until(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="projectai-prom-"))
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    app_port, prometheus_port = free_port(), free_port()
    env = {
        **os.environ,
        "APP_ENVIRONMENT": "test",
        "HOST": "127.0.0.1",
        "PORT": str(app_port),
        "APP_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/app.db",
        "APP_MODELS": "m",
        "APP_UPSTREAM_URL": f"http://127.0.0.1:{upstream.server_port}",
        "APP_BREAKER_FAILURE_THRESHOLD": "3",
        "APP_RATE_LIMIT_DEFAULT": "1000/1000",
        "APP_RATE_LIMITS": "POST /v1/completions=1000/1000",
        "LOG_LEVEL": "warning",
    }
    run = [sys.executable, "-m", "app"]
    subprocess.run([*run, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    key = (
        subprocess.run(
            [*run, "keys", "create", "--name", "prom"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    rule_groups = immediate_rule_groups(NAMESPACE)
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups}))
    scrape = {
        "job_name": "api",
        "scrape_interval": "1s",
        "static_configs": [{"targets": [f"127.0.0.1:{app_port}"], "labels": {"namespace": NAMESPACE}}],
    }
    (folder / "prometheus.yaml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(folder / "rules.yaml")],
                "scrape_configs": [scrape],
            }
        )
    )
    app = subprocess.Popen([*run, "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prometheus = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={folder}/prometheus.yaml",
            f"--storage.tsdb.path={folder}/data",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        app_url, prometheus_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{prometheus_port}"
        wait_until(lambda: _ok(f"{app_url}/readyz"), 20, "the app")
        wait_until(lambda: _ok(f"{prometheus_url}/-/ready"), 20, "prometheus")
        yield {"app": app_url, "prometheus": prometheus_url, "key": key}
    finally:
        for process in (app, prometheus):
            process.terminate()
            process.wait(timeout=20)
        upstream.shutdown()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def alert_states(prometheus: str) -> dict[str, str]:
    alerts = httpx.get(f"{prometheus}/api/v1/alerts").json()["data"]["alerts"]
    return {alert["labels"]["alertname"]: alert["state"] for alert in alerts}


class Traffic:
    """Requests in the background, a few every 100 ms, recording the statuses it gets."""

    def __init__(self, stack: dict[str, str]) -> None:
        self.stack = stack
        self.statuses: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.stack['key']}"}
        with httpx.Client(base_url=self.stack["app"], headers=headers) as client:
            while not self.stop.is_set():
                response = client.post("/v1/completions", json={"model": "m", "prompt": "hello"})
                self.statuses.append(response.status_code)
                time.sleep(0.1)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_alerts_stay_silent_under_healthy_traffic_then_fire_when_the_upstream_fails(stack: dict[str, str]) -> None:
    query = f"{stack['prometheus']}/api/v1/query"

    def evaluations() -> int:
        """Samples of the recording rule so far: one per evaluation."""
        counted = {"query": "count_over_time(api:request_errors:ratio_rate5m[10m])"}
        result = httpx.get(query, params=counted).json()["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0

    def error_ratio() -> float | None:
        result = httpx.get(query, params={"query": "api:request_errors:ratio_rate5m"}).json()["data"]["result"]
        value = float(result[0]["value"][1]) if result else None
        return None if value is None or value != value else value  # NaN: no rate yet

    Upstream.failing = False
    with Traffic(stack) as healthy:
        wait_until(lambda: error_ratio() is not None, 30, "an error ratio over real traffic")
        evaluated = evaluations()
        wait_until(lambda: evaluations() >= evaluated + 3, 30, "three more evaluations")
        assert error_ratio() == 0
        assert not WATCHED & set(alert_states(stack["prometheus"]))
    assert healthy.statuses and set(healthy.statuses) == {200}

    Upstream.failing = True
    with Traffic(stack) as failing:

        def watched_alerts_active() -> bool:
            states = alert_states(stack["prometheus"])
            return all(states.get(name) in ("pending", "firing") for name in WATCHED)

        wait_until(watched_alerts_active, 30, f"{sorted(WATCHED)} to fire")
    assert 502 in failing.statuses and 503 in failing.statuses  # failures, then the breaker fails fast
