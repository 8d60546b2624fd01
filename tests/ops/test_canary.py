"""The statistical canary judge: its tests against scipy's on the same data, its
verdicts at their limits, Prometheus replayed, stopped and frozen, and the web provider
Argo Rollouts calls."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from scipy import stats

from ops.canary.judge import FAIL, INCONCLUSIVE, PASS, Arm, Thresholds, judge
from ops.canary.prometheus import Prometheus, queries
from ops.canary.server import JudgeServer
from ops.canary.stats import proportion_test, rank_test
from ops.cli import main
from ops.steps import OpsError
from tests.conftest import FIXTURES
from tests.ops.conftest import serving

RECORDED = FIXTURES / "canary"
NAMESPACE, CANARY, BASELINE = "project-ai", "7d9f8c6b5", "5b4c3d2e1"


# --- the tests themselves, against scipy on the expanded samples ---


@pytest.mark.parametrize("seed", range(6))
def test_the_rank_test_on_bucket_counts_is_scipys_mann_whitney_on_the_samples(seed):
    rng = np.random.default_rng(seed)
    canary = rng.integers(0, 40, 13)
    baseline = rng.integers(0, 40, 13)
    ours = rank_test(tuple(int(c) for c in canary), tuple(int(c) for c in baseline))
    theirs = stats.mannwhitneyu(
        np.repeat(np.arange(13), canary), np.repeat(np.arange(13), baseline), alternative="greater", method="asymptotic"
    )
    assert ours.u == pytest.approx(theirs.statistic)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)


@pytest.mark.parametrize(("errors", "baseline_errors"), [(30, 10), (10, 30), (12, 12), (0, 3)])
def test_the_proportion_test_is_the_chi_square_test_made_one_sided(errors, baseline_errors):
    ours = proportion_test(errors, 1000, baseline_errors, 1200)
    chi2, p_two_sided, _, _ = stats.chi2_contingency(
        [[errors, 1000 - errors], [baseline_errors, 1200 - baseline_errors]], correction=False
    )
    assert ours.z**2 == pytest.approx(chi2)
    expected = p_two_sided / 2 if ours.z > 0 else 1 - p_two_sided / 2
    assert ours.p_value == pytest.approx(expected)


def test_degenerate_samples_are_no_evidence_and_malformed_ones_are_refused():
    assert rank_test((0, 50, 0), (0, 70, 0)).p_value == 0.5  # every request in one bucket
    assert proportion_test(0, 100, 0, 100).p_value == 0.5
    with pytest.raises(ValueError, match="differ in length"):
        rank_test((1, 2), (1, 2, 3))
    with pytest.raises(ValueError, match="at least one sample"):
        rank_test((0, 0), (1, 2))
    with pytest.raises(ValueError, match="is not a proportion"):
        proportion_test(5, 4, 0, 10)


# --- verdicts ---

SAME = (10, 40, 120, 300, 250, 120, 60, 20, 5, 2, 1, 0, 0)
SLOWER = (0, 5, 40, 120, 250, 300, 150, 80, 30, 10, 5, 2, 0)


def test_too_few_requests_on_either_side_is_inconclusive():
    small = Arm(tuple(c // 10 for c in SAME), 91, 0)
    verdict = judge(small, Arm(SAME, 928, 1), Thresholds(min_requests=200))
    assert verdict.verdict == INCONCLUSIVE and "fewer than the 200 needed" in verdict.reasons[0]


def test_the_same_distribution_passes_and_a_slower_one_fails():
    assert judge(Arm(SAME, 928, 2), Arm(SAME, 928, 2), Thresholds()).verdict == PASS
    slow = judge(Arm(SLOWER, 992, 2), Arm(SAME, 928, 2), Thresholds())
    assert slow.verdict == FAIL and slow.reasons[0].startswith("latency: the canary is slower")


def test_more_errors_fail_only_beyond_the_minimum_increase():
    failing = judge(Arm(SAME, 928, 40), Arm(SAME, 928, 5), Thresholds())
    assert failing.verdict == FAIL and failing.reasons[0].startswith("errors: the canary fails more")
    # Significant with a million requests, but a tenth of a percentage point: it passes.
    million = tuple(c * 1000 for c in SAME)
    tiny = judge(Arm(million, 928_000, 10_000), Arm(million, 928_000, 9_000), Thresholds())
    assert tiny.details["error_rate"]["p_value"] < 0.001 and tiny.verdict == PASS


# --- Prometheus: a local stand-in serving recorded answers ---


class FakePrometheus(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, arms: dict[str, str], status: int = 200, hang: threading.Event | None = None) -> None:
        super().__init__(("127.0.0.1", 0), PrometheusHandler)
        # pod hash -> recorded file stem
        self.arms, self.status, self.hang = arms, status, hang
        self.queries: list[str] = []
        self.times: list[str | None] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class PrometheusHandler(BaseHTTPRequestHandler):
    server: FakePrometheus

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        asked = parse_qs(urlsplit(self.path).query)
        query = asked["query"][0]
        self.server.queries.append(query)
        self.server.times.append(asked.get("time", [None])[0])
        if self.server.hang is not None:
            self.server.hang.wait(10)
            return
        answer: dict = {"status": "error", "error": "bad_data: parse error"}
        for pod_hash, stem in self.server.arms.items():
            if f'rollouts_pod_template_hash="{pod_hash}"' in query:
                recorded = json.loads((RECORDED / f"{stem}.json").read_text())
                kind = "buckets" if "_bucket" in query else "errors" if 'status=~"5.."' in query else "requests"
                answer = recorded[kind]
        body = json.dumps(answer).encode()
        status = self.server.status if answer.get("status") == "success" else 400
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def prometheus(arms: dict[str, str], status: int = 200, hang: threading.Event | None = None):
    server = FakePrometheus(arms, status, hang)
    with serving(server, hang):
        yield server


def test_recorded_answers_become_per_bucket_counts():
    with prometheus({CANARY: "slow-canary"}) as fake:
        source = Prometheus(fake.url)
        arm = source.arm(NAMESPACE, CANARY, 300)
        source.close()
    assert arm.requests == 5000 and sum(arm.buckets) == 5000 and len(arm.buckets) == 13
    assert fake.queries == list(queries(NAMESPACE, CANARY, 300).values())


@pytest.mark.parametrize(("scenario", "verdict", "code"), [("healthy", PASS, 0), ("slow", FAIL, 1)])
def test_the_cli_replays_recorded_samples_to_a_verdict_and_exit_code(scenario, verdict, code, capsys):
    arms = {CANARY: f"{scenario}-canary", BASELINE: f"{scenario}-baseline"}
    with prometheus(arms) as fake:
        argv = ["canary", "judge", "--prometheus", fake.url, "--namespace", NAMESPACE]
        assert main([*argv, "--canary", CANARY, "--baseline", BASELINE]) == code
    assert json.loads(capsys.readouterr().out)["verdict"] == verdict


def test_an_inconclusive_verdict_exits_3(capsys):
    arms = {CANARY: "healthy-canary", BASELINE: "healthy-baseline"}
    with prometheus(arms) as fake:
        argv = ["canary", "judge", "--prometheus", fake.url, "--namespace", NAMESPACE, "--min-requests", "6000"]
        assert main([*argv, "--canary", CANARY, "--baseline", BASELINE]) == 3


def test_prometheus_refusing_stopped_or_frozen_is_a_clear_error():
    with prometheus({}) as fake, pytest.raises(OpsError, match=r"Prometheus refused the query \(400\): bad_data"):
        Prometheus(fake.url).arm(NAMESPACE, CANARY, 300)
    with pytest.raises(OpsError, match="did not answer: ConnectError"):
        Prometheus(fake.url).arm(NAMESPACE, CANARY, 300)  # stopped now
    with (
        prometheus({CANARY: "healthy-canary"}, hang=threading.Event()) as frozen,
        pytest.raises(OpsError, match="did not answer: ReadTimeout"),
    ):
        Prometheus(frozen.url, timeout_seconds=0.5).arm(NAMESPACE, CANARY, 300)


@pytest.mark.parametrize(
    ("namespace", "pod_hash", "problem"),
    [
        ('project-ai",x="y', CANARY, "is not a namespace name"),
        (NAMESPACE, '7d9"}[5m]) or vector(1) #', "is not a pod-template hash"),
        (NAMESPACE, "x" * 21, "is not a pod-template hash"),
        ("a" * 64, CANARY, "is not a namespace name"),
        (NAMESPACE, "", "is not a pod-template hash"),
    ],
)
def test_label_values_that_could_change_the_query_are_refused(namespace, pod_hash, problem):
    with pytest.raises(ValueError, match=problem):
        queries(namespace, pod_hash, 300)


# --- the web provider ---


@contextlib.contextmanager
def judge_server(prometheus_url: str):
    server = JudgeServer(("127.0.0.1", 0), Prometheus(prometheus_url, timeout_seconds=2), Thresholds())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_web_provider_answers_a_verdict_argo_can_read():
    arms = {CANARY: "slow-canary", BASELINE: "slow-baseline"}
    with prometheus(arms) as fake, judge_server(fake.url) as url:
        status, body = get(f"{url}/v1/judge?namespace={NAMESPACE}&canary={CANARY}&baseline={BASELINE}&window=300")
    assert status == 200 and body["verdict"] == FAIL and body["requests"] == {"canary": 5000, "baseline": 5000}
    assert len(fake.times) == 6 and len(set(fake.times)) == 1 and fake.times[0] is not None


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (f"namespace={NAMESPACE}&canary={CANARY}&window=300", "give `baseline` exactly once"),
        (
            f"namespace={NAMESPACE}&canary={CANARY}&canary=x&baseline={BASELINE}&window=300",
            "give `canary` exactly once",
        ),
        (f"namespace={NAMESPACE}&canary={CANARY}&baseline={BASELINE}&window=59", "window must be whole seconds"),
        (f"namespace={NAMESPACE}&canary={CANARY}&baseline={BASELINE}&window=1e3", "window must be whole seconds"),
        (f"namespace=a%22%7D&canary={CANARY}&baseline={BASELINE}&window=300", "is not a namespace name"),
        ("canary=" + "a" * 3000, "longer than 2048 characters"),
    ],
)
def test_a_bad_request_is_a_400_saying_what_was_expected(query, problem):
    with prometheus({}) as fake, judge_server(fake.url) as url:
        status, body = get(f"{url}/v1/judge?{query}")
    assert status == 400 and problem in body["error"]
    assert fake.queries == []  # nothing reached Prometheus


def test_prometheus_failing_is_a_502_and_other_paths_a_404():
    with prometheus({}) as fake, judge_server(fake.url) as url:
        status, body = get(f"{url}/v1/judge?namespace={NAMESPACE}&canary={CANARY}&baseline={BASELINE}&window=300")
        assert status == 502 and "Prometheus refused" in body["error"]
        assert get(f"{url}/metrics")[0] == 404
        assert get(f"{url}/healthz") == (200, {"status": "ok"})


def test_the_recorded_fixtures_are_what_the_bench_writes(tmp_path: Path):
    """The replayed answers come from the generator, not from hand edits."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "ops.canary.bench", "--trials", "200", "--record", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for recorded in sorted(RECORDED.glob("*.json")):
        assert (tmp_path / recorded.name).read_text() == recorded.read_text()


def test_versions_that_bucket_differently_are_not_compared():
    canary = Arm(SAME, 928, 2, bounds=(0.1, 0.5, float("inf")))
    baseline = Arm(SAME, 928, 2, bounds=(0.1, 1.0, float("inf")))
    assert judge(canary, baseline, Thresholds()).verdict == INCONCLUSIVE
    shorter = judge(Arm(SAME[:-1], 928, 2), Arm(SAME, 928, 2), Thresholds())
    assert shorter.verdict == INCONCLUSIVE and "different latency buckets" in shorter.reasons[0]


def test_both_arms_are_asked_at_one_instant_and_credentials_are_never_shown():
    with prometheus({}) as fake:
        url = fake.url.replace("http://", "http://reader:hunter2@")
        source = Prometheus(url)
        with pytest.raises(OpsError) as refused:
            source.arm(NAMESPACE, CANARY, 300, at=1764500000.0)
        source.close()
    assert "hunter2" not in str(refused.value)
    stopped = Prometheus(url)
    with pytest.raises(OpsError) as silent:
        stopped.arm(NAMESPACE, CANARY, 300)
    assert "hunter2" not in str(silent.value) and "reader" not in str(silent.value)
