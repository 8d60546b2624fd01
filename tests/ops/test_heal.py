"""The self-healing receiver: its payload checks at and past their limits, its bearer
check against bypass attempts, duplicate deliveries, every safety rail with an attempt
to get around it, approvals (replayed, expired, obsolete), learning reordering actions,
and the receiver answering while the Kubernetes API is frozen.

Decisions are driven directly (Healer.handle, with a clock that moves only when told),
and through the real HTTP server where the wire matters."""

from __future__ import annotations

import contextlib
import hmac
import http.client
import io
import json
import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ops.audit import AuditLog
from ops.cli import parser
from ops.heal import catalog, credentials, server
from ops.heal import executors as kinds
from ops.heal.catalog import Catalog, CatalogError, Rails
from ops.heal.credentials import BearerToken
from ops.heal.executors import Action, Impact
from ops.heal.healer import Healer
from ops.heal.kube import Kubernetes, api_client
from ops.heal.pagerduty import PagerDuty
from ops.heal.payload import MAX_ALERTS, MAX_BYTES, MAX_TEXT, PayloadError, parse
from ops.heal.store import EXECUTED, FAILED, Store, StoreError
from ops.steps import OpsError
from tests.conftest import local_rule_args
from tests.ops.conftest import run, serving
from tests.ops.test_heal_fakes import NAMESPACE, FakeKubernetes, FakePagerDuty, pod_path

ZERO = "0001-01-01T00:00:00Z"
START = "2026-03-01T10:00:00Z"
START_EPOCH = 1772359200.0
TOKEN, APPROVER = "webhook-token-0123456789abcdef", "approval-token-fedcba9876543210"
POLL = 0.02


def alert(name: str = "ApiPodCrashLooping", fingerprint: str = "a1", status: str = "firing", **labels: str) -> dict:
    ends = labels.pop("ends", ZERO)
    return {
        "status": status,
        "labels": {"alertname": name, "namespace": NAMESPACE, "severity": "critical", "pod": "api-a", **labels},
        "annotations": {"summary": "s"},
        "startsAt": labels.pop("starts", START),
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def payload(*alerts: dict, **fields: Any) -> dict:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ApiPodCrashLooping"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "heal",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts) or [alert()],
        **fields,
    }


def encoded(document: Any) -> bytes:
    return json.dumps(document).encode()


def one(document: dict) -> Any:
    return parse(encoded(document)).alerts[0]


# The payload, at and past its limits.


def test_a_real_payload_parses() -> None:
    notification = parse(encoded(payload(alert(), alert(fingerprint="b2", status="resolved", ends=START))))
    firing, resolved = notification.alerts
    assert (firing.name, firing.resolved_at, firing.key) == (
        "ApiPodCrashLooping",
        None,
        ("a1", "2026-03-01T10:00:00+00:00"),
    )
    assert resolved.resolved_at is not None and resolved.resolved_at.timestamp() == START_EPOCH


def _nested(depth: int) -> dict:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return payload(extra=value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"x" * (MAX_BYTES + 1), f"expected at most {MAX_BYTES}"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),
        (encoded(_nested(5)), "nests deeper than 6"),
        (encoded([payload()]), "not a JSON object"),
        (encoded(payload(version="3")), "version '3' is not supported"),
        (encoded(payload(version=4)), "version '4' is not supported"),  # a number is not the string "4"
        (encoded({k: v for k, v in payload().items() if k != "version"}), "version 'None'"),
        (b'{"version": "4", "version": "4"}', "appears twice"),
        (encoded(payload()).replace(b'"truncatedAlerts": 0', b'"truncatedAlerts": NaN'), "NaN is not JSON"),
        (encoded(payload(alerts=[])), "alerts: List should have at least 1 item"),
        (encoded(payload(alerts=[alert()] * (MAX_ALERTS + 1))), f"at most {MAX_ALERTS} items"),
        (encoded(payload(truncatedAlerts=-1)), "truncatedAlerts"),
        (encoded(payload(status="pending")), "status"),
        (encoded(payload({**alert(), "fingerprint": "../x"})), "alerts.0.fingerprint"),
        (encoded(payload({k: v for k, v in alert().items() if k != "startsAt"})), "alerts.0.startsAt: Field required"),
        (encoded(payload({**alert(), "startsAt": "yesterday"})), "not an RFC 3339 time"),
        (encoded(payload({**alert(), "startsAt": "2026-03-01T10:00:00"})), "has no time zone"),
        (encoded(payload(alert(**{"bad-name": "x"}))), "alerts.0.labels.bad-name"),
        (encoded(payload(alert(pod="x" * (MAX_TEXT + 1)))), f"at most {MAX_TEXT} characters"),
        (encoded(payload(alert(**{f"l{i}": "x" for i in range(64)}))), "at most 64 items"),
        (encoded(payload({**alert(), "labels": {"alertname": 7}})), "alerts.0.labels.alertname"),
    ],
)
def test_bad_payloads_are_refused_saying_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(body)


def test_limits_are_inclusive() -> None:
    assert len(parse(encoded(payload(alerts=[alert(fingerprint=f"{i:x}") for i in range(MAX_ALERTS)]))).alerts) == 1000
    assert one(payload(alert(pod="x" * MAX_TEXT))).labels["pod"] == "x" * MAX_TEXT
    assert parse(encoded(_nested(2)))  # within the depth bound, unknown fields ignored


# Decisions, driven directly.


class Clock:
    def __init__(self) -> None:
        self.now = START_EPOCH + 60

    def __call__(self) -> float:
        return self.now


class FakeExecutor:
    """Executes by recording; its impact is what the test says the system looks like."""

    def __init__(self, *handled: str, impact: Callable[[Action], Impact] | None = None) -> None:
        self.kinds = frozenset(handled)
        self.impact = impact or (lambda action: Impact(f"scope/{action.target}"))
        self.executed: list[Action] = []

    def assess(self, action: Action) -> Impact:
        return self.impact(action)

    def execute(self, action: Action) -> dict:
        self.executed.append(action)
        return {"done": action.target}


def workload_impact(replicas: int) -> Callable[[Action], Impact]:
    return lambda action: Impact(f"{NAMESPACE}/Rollout/project-ai-api", units=1, population=replicas)


def make(
    tmp_path: Path, *executors: Any, apply: bool = True, clock: Clock | None = None, rules: Catalog | None = None
) -> Healer:
    audit = AuditLog("heal", dry_run=not apply, stream=io.StringIO(), clock=lambda: "t")
    return Healer(
        rules or catalog.load(), kinds.by_kind(list(executors)), Store(tmp_path / "state"), audit, now=clock or Clock()
    )


def outcomes(healer: Healer, step: str | None = None) -> list[tuple[str, str]]:
    return [(line["step"], line["outcome"]) for line in healer.audit.lines if step in (None, line["step"])]


def test_dry_run_is_the_default_and_never_executes(tmp_path: Path) -> None:
    arguments = parser().parse_args(["heal", "serve", "--token-file", "t", "--state-dir", "d"])
    assert arguments.apply is False
    pods = FakeExecutor(kinds.RESTART_POD, impact=workload_impact(6))
    healer = make(tmp_path, pods, apply=False)
    healer.handle(one(payload()))
    assert pods.executed == []
    assert ("decided", "dry-run") in outcomes(healer)
    assert all(line["dry_run"] for line in healer.audit.lines)


def test_each_decision_is_audited_in_order(tmp_path: Path) -> None:
    pods = FakeExecutor(kinds.RESTART_POD, impact=workload_impact(6))
    healer = make(tmp_path, pods)
    healer.handle(one(payload()))
    assert outcomes(healer) == [
        ("received", "firing"),
        ("matched", "candidates"),
        ("decided", "executing"),
        ("executed", "succeeded"),
    ]
    assert healer.audit.lines[1]["detail"]["order"] == ["restart_pod", "open_incident"]
    assert healer.audit.lines[-1]["detail"]["fingerprint"] == "a1"
    assert pods.executed == [Action(kinds.RESTART_POD, {"namespace": NAMESPACE, "pod": "api-a"})]


def test_labels_cannot_steer_an_action_elsewhere(tmp_path: Path) -> None:
    pods = FakeExecutor(kinds.RESTART_POD)
    healer = make(tmp_path, pods)
    healer.handle(one(payload(alert(pod="../../kube-system/coredns"))))
    healer.handle(one(payload(alert(fingerprint="b2", namespace="kube-system"))))
    assert pods.executed == []
    assert ("matched", "not-applicable") in outcomes(healer)
    assert outcomes(healer)[-1] == ("matched", "no-action")


def test_a_burst_on_one_target_is_rate_limited(tmp_path: Path) -> None:
    pods, pager = FakeExecutor(kinds.RESTART_POD, impact=workload_impact(50)), FakeExecutor(kinds.OPEN_INCIDENT)
    healer = make(tmp_path, pods, pager)
    for index in range(10):  # new firings (new fingerprints) of the same pod's crash loop
        healer.handle(one(payload(alert(fingerprint=f"f{index}"))))
    assert len(pods.executed) == 1
    refusals = [line["detail"]["reason"] for line in healer.audit.lines if line["outcome"] == "rail"]
    assert refusals[0].startswith("rate limit: restart_pod on project-ai/api-a 1 times")
    # The incident is the fallback, itself limited per alert (5 per window).
    assert len(pager.executed) == 5


def test_many_distinct_pods_are_bounded_by_the_blast_radius(tmp_path: Path) -> None:
    clock = Clock()
    pods = FakeExecutor(kinds.RESTART_POD, impact=workload_impact(6))
    healer = make(tmp_path, pods, clock=clock)
    for index in range(5):
        healer.handle(one(payload(alert(fingerprint=f"f{index}", pod=f"api-{index}"))))
    # A third of 6 replicas: 2 pods per window, whichever pods they are.
    assert [action.params["pod"] for action in pods.executed] == ["api-0", "api-1"]
    reason = next(line["detail"]["reason"] for line in healer.audit.lines if line["outcome"] == "rail")
    assert reason.startswith("blast radius: project-ai/Rollout/project-ai-api already had 2 touched")
    clock.now += 3601  # the window has passed
    healer.handle(one(payload(alert(fingerprint="f9", pod="api-9"))))
    assert pods.executed[-1].params["pod"] == "api-9"


def test_small_workloads_still_get_one_restart_and_the_kind_and_total_caps_hold(tmp_path: Path) -> None:
    pods = FakeExecutor(kinds.RESTART_POD, impact=lambda action: Impact(f"w/{action.target}", population=1))
    healer = make(tmp_path, pods)
    for index in range(8):  # eight workloads of one replica each
        healer.handle(one(payload(alert(fingerprint=f"f{index}", pod=f"solo-{index}"))))
    assert len(pods.executed) == 6  # per_kind: 6 restarts per window
    assert any("6 restart_pod actions" in line["detail"].get("reason", "") for line in healer.audit.lines)
    tight = catalog.load().model_copy(update={"rails": Rails(total=2)})
    capped = FakeExecutor(kinds.RESTART_POD, impact=lambda action: Impact(f"w/{action.target}"))
    healer = make(tmp_path / "total", capped, rules=tight)
    for index in range(4):
        healer.handle(one(payload(alert(fingerprint=f"f{index}", pod=f"solo-{index}"))))
    assert len(capped.executed) == 2


def test_dry_runs_count_against_the_rails_as_real_runs_would(tmp_path: Path) -> None:
    healer = make(tmp_path, FakeExecutor(kinds.RESTART_POD, impact=workload_impact(6)), apply=False)
    for index in range(3):
        healer.handle(one(payload(alert(fingerprint=f"f{index}", pod=f"api-{index}"))))
    assert [outcome for step, outcome in outcomes(healer, "decided")] == ["dry-run", "dry-run", "nothing-done"]


def edge_alert(fingerprint: str = "e1", **labels: str) -> Any:
    return one(payload(alert("ApiAvailabilityBudgetBurnFast1h", fingerprint, stack="prod-eu", **labels)))


def test_edge_removal_waits_for_a_human_whatever_the_alert_says(tmp_path: Path) -> None:
    edge = FakeExecutor(kinds.DISABLE_EDGE_POOL, impact=lambda action: Impact("edge", serving_after=2))
    healer = make(tmp_path, edge)
    healer.handle(edge_alert(approved="true", approval="false"))
    pending = next(line for line in healer.audit.lines if line["outcome"] == "pending-approval")
    assert pending["detail"]["action"]["target"] == "project-ai-prod-eu" and edge.executed == []
    healer.tick()
    assert edge.executed == []
    healer.approve(pending["detail"]["id"], by="test")
    healer.tick()
    assert [action.params["pool"] for action in edge.executed] == ["project-ai-prod-eu"]
    assert healer.store.get(pending["detail"]["id"]).state == EXECUTED
    with pytest.raises(StoreError, match="is executed, not pending"):  # a replayed approval
        healer.approve(pending["detail"]["id"], by="test")
    with pytest.raises(ValidationError, match="approval must be true"):
        Rails(kinds={"disable_edge_pool": {"approval": False}})


def test_the_last_healthy_pool_stays_even_when_approved(tmp_path: Path) -> None:
    serving_after = {"n": 1}
    edge = FakeExecutor(kinds.DISABLE_EDGE_POOL, impact=lambda action: Impact("edge", serving_after=serving_after["n"]))
    healer = make(tmp_path, edge)
    healer.handle(edge_alert())
    identifier = next(line["detail"]["id"] for line in healer.audit.lines if line["outcome"] == "pending-approval")
    serving_after["n"] = 0  # the other region failed while the decision waited
    healer.approve(identifier, by="test")
    healer.tick()
    assert edge.executed == []
    assert healer.store.get(identifier).state == FAILED
    assert any(line["detail"].get("rail") == "edge floor" for line in healer.audit.lines)


def test_approvals_expire_and_resolved_alerts_drop_theirs(tmp_path: Path) -> None:
    clock = Clock()
    edge = FakeExecutor(kinds.DISABLE_EDGE_POOL, impact=lambda action: Impact("edge", serving_after=1))
    healer = make(tmp_path, edge, clock=clock)
    healer.handle(edge_alert("e1"))
    healer.handle(edge_alert("e3"))
    first, third = (line["detail"]["id"] for line in healer.audit.lines if line["outcome"] == "pending-approval")
    clock.now += 901
    with pytest.raises(StoreError, match="is expired"):
        healer.approve(first, by="test")
    healer.tick()  # the other one expires unasked
    assert ("approval", "refused") in outcomes(healer) and healer.audit.lines[-1]["detail"]["id"] == third
    assert outcomes(healer)[-1] == ("approval", "expired")
    healer.handle(edge_alert("e2"))
    second = healer.audit.lines[-1]["detail"]["id"]
    resolved = alert("ApiAvailabilityBudgetBurnFast1h", "e2", "resolved", stack="prod-eu", ends=START)
    healer.handle(one(payload(resolved)))
    with pytest.raises(StoreError, match="is obsolete"):
        healer.approve(second, by="test")
    with pytest.raises(StoreError, match="no decision 'ffffffffffff'"):
        healer.approve("ffffffffffff", by="test")
    assert edge.executed == []


def test_learning_reorders_candidates_after_outcomes(tmp_path: Path) -> None:
    clock = Clock()
    scaler = FakeExecutor(kinds.SCALE_OUT, impact=lambda action: Impact("w", units=1, population=10))
    healer = make(tmp_path, scaler, FakeExecutor(kinds.SHED_LOAD), clock=clock)

    def fire(fingerprint: str) -> tuple[list[str], str]:
        healer.handle(one(payload(alert("ApiHighLatencyP99", fingerprint))))
        order = next(line for line in healer.audit.lines[::-1] if line["outcome"] == "candidates")["detail"]["order"]
        return order, healer.audit.lines[-1]["detail"]["action"]["kind"]

    # The catalog's order, nothing known yet: KEDA's scale-out, the HPA's, shedding load.
    assert fire("c1") == (["scale_out", "scale_out", "shed_load"], "scale_out")
    clock.now += 901  # still firing past the outcome window: scale_out failed (1/3 < an untried 1/2)
    assert fire("c2") == (["shed_load", "scale_out", "scale_out"], "shed_load")
    ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + 120))
    healer.handle(one(payload(alert("ApiHighLatencyP99", "c2", "resolved", ends=ends))))
    clock.now += 3601
    assert fire("c3") == (["shed_load", "scale_out", "scale_out"], "shed_load")
    table = learning_records(healer)
    assert (table["scale_out"].failures, table["shed_load"].successes) == (1, 1)
    assert table["shed_load"].mttr_seconds == pytest.approx(clock.now - 3601 + 120 - START_EPOCH)


def learning_records(healer: Healer) -> dict[str, Any]:
    from ops.heal.learning import records

    table = records(healer.store.attempts(), healer.catalog.rails.outcome_seconds, healer.now())
    return {kind: record for (_, kind), record in table.items()}


def test_an_untried_action_outranks_a_failing_one_and_mttr_breaks_ties() -> None:
    from ops.heal.learning import Record, order, records
    from ops.heal.store import Attempt

    scale = Action(kinds.SCALE_OUT, {})
    shed = Action(kinds.SHED_LOAD, {})
    assert order("A", [scale, shed], {}) == [scale, shed]
    failed = records([Attempt("A", "scale_out", 0, 10, None)], outcome_seconds=900, now=1000)
    assert failed[("A", "scale_out")].score == pytest.approx(1 / 3)
    assert order("A", [scale, shed], failed) == [shed, scale]
    waiting = records([Attempt("A", "scale_out", 0, 10, None)], outcome_seconds=900, now=100)
    assert (waiting[("A", "scale_out")].waiting, order("A", [scale, shed], waiting)) == (1, [scale, shed])
    late = records([Attempt("A", "scale_out", 0, 10, 5000)], outcome_seconds=900, now=6000)
    assert late[("A", "scale_out")].failures == 1  # resolved, but not within the window
    ties = {
        ("A", "scale_out"): Record("A", "scale_out", successes=1, repair_seconds=600),
        ("A", "shed_load"): Record("A", "shed_load", successes=1, repair_seconds=60),
    }
    assert order("A", [scale, shed], ties) == [shed, scale]


def test_stats_print_the_learned_outcomes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(tmp_path)
    store.attempted("ApiPodCrashLooping", ("a1", START), "restart_pod", START_EPOCH, START_EPOCH + 60)
    store.resolved(("a1", START), START_EPOCH + 300)
    store.close()
    code, out, _ = run(capsys, "heal", "stats", "--state-dir", str(tmp_path))
    assert code == 0
    row = out.splitlines()[1].split()
    assert row == ["ApiPodCrashLooping", "restart_pod", "1", "0", "0", "0.67", "300"]


# The catalog.


def test_every_runbook_names_an_alert_the_rules_define() -> None:
    from components.monitoring.rules import groups

    defined = {rule["alert"] for group in groups(local_rule_args()) for rule in group["rules"] if "alert" in rule}
    assert {runbook.alert for runbook in catalog.load().runbooks} <= defined


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("runbooks: [", "is not YAML"),
        ("runbooks: []", "runbooks: List should have at least 1 item"),
        ("runbooks: [{alert: A, actions: [{kind: reboot_node}]}]", "runbooks.0.actions.0"),
        (
            "runbooks: [{alert: A, actions: [{kind: restart_pod, namespace: x, pod: '{pod.__class__}'}]}]",
            "placeholders",
        ),
        ("runbooks: [{alert: A, matchers: {x: '('}, actions: [{kind: open_incident, summary: s}]}]", "regular expr"),
        ("rails: {window_seconds: 1}\nrunbooks: [{alert: A, actions: [{kind: open_incident, summary: s}]}]", "60"),
    ],
)
def test_a_bad_catalog_fails_at_load_saying_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "runbooks.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError, match=message):
        catalog.load(path)
    with pytest.raises(CatalogError, match="cannot read"):
        catalog.load(tmp_path / "missing.yaml")


# Through the real HTTP server.


@contextlib.contextmanager
def receiver(tmp_path: Path, healer: Healer, approvals: bool = True) -> Iterator[server.HealServer]:
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "approver").write_text(APPROVER)
    approval = BearerToken(tmp_path / "approver", "approval token") if approvals else None
    instance = server.HealServer(("127.0.0.1", 0), healer, BearerToken(tmp_path / "token", "webhook token"), approval)
    healer.start()
    try:
        with serving(instance):
            yield instance
    finally:
        healer.stop()


def post(
    instance: server.HealServer,
    body: bytes,
    token: str | None = TOKEN,
    path: str = "/v1/alerts",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", instance.server_address[1], timeout=5)
    sent = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    connection.request("POST", path, body=body, headers=sent | (headers or {}))
    response = connection.getresponse()
    answer = response.status, json.loads(response.read() or b"{}")
    connection.close()
    return answer


def wait_for(condition: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(POLL)
    return result


def test_the_webhook_refuses_every_way_round_its_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(credentials.hmac, "compare_digest", spy)
    pods = FakeExecutor(kinds.RESTART_POD, impact=workload_impact(6))
    healer = make(tmp_path, pods)
    with receiver(tmp_path, healer) as instance:
        body = encoded(payload())
        assert post(instance, body, token=None)[0] == 401
        assert post(instance, body, token="wrong")[0] == 401
        assert post(instance, body, token=TOKEN[:-1])[0] == 401
        assert post(instance, body, token=APPROVER)[0] == 401  # the approval token is not the webhook's
        assert post(instance, body, token=None, headers={"Authorization": f"Basic {TOKEN}"})[0] == 401
        assert post(instance, body, token=None, headers={"Authorization": "Bearer "})[0] == 401
        status, answer = post(instance, body, token=None, path=f"/v1/alerts?access_token={TOKEN}")
        assert (status, "query string" in answer["error"]) == (400, True)
        # Every check went through the constant-time comparison, the wrong scheme's too.
        assert len(compared) == 6 and all(expected == TOKEN.encode() for _, expected in compared)
        assert healer.audit.lines == [] and pods.executed == []
        assert post(instance, body) == (202, {"accepted": 1, "duplicates": 0})
        (tmp_path / "token").write_text("rotated-token-abcdef0123456789")  # rotation needs no restart
        assert post(instance, body, token=TOKEN)[0] == 401
        assert post(instance, body, token="rotated-token-abcdef0123456789") == (202, {"accepted": 0, "duplicates": 1})
        wait_for(lambda: pods.executed)
    assert len(pods.executed) == 1  # duplicates never act


def test_the_wire_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    healer = make(tmp_path, FakeExecutor(kinds.RESTART_POD))
    monkeypatch.setattr(server.Handler, "timeout", 0.3)
    with receiver(tmp_path, healer) as instance:
        assert post(instance, encoded(payload()), headers={"Content-Type": "text/plain"})[0] == 415
        status, answer = post(instance, b"{", headers={"Content-Length": str(MAX_BYTES + 1)})
        assert (status, str(MAX_BYTES) in answer["error"]) == (413, True)
        status, answer = post(instance, encoded(payload(version="5")))
        assert (status, answer["error"]) == (
            400,
            "payload version '5' is not supported; expected Alertmanager's version '4'",
        )
        chunked = http.client.HTTPConnection("127.0.0.1", instance.server_address[1], timeout=5)
        chunked.request(
            "POST",
            "/v1/alerts",
            body=iter([encoded(payload())]),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            encode_chunked=True,
        )
        assert chunked.getresponse().status == 411
        chunked.close()
        # A body that stops arriving: answered, and the thread freed.
        slow = http.client.HTTPConnection("127.0.0.1", instance.server_address[1], timeout=5)
        slow.putrequest("POST", "/v1/alerts")
        for name, value in {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}.items():
            slow.putheader(name, value)
        slow.putheader("Content-Length", "1000")
        slow.endheaders(b'{"version": "4"')
        assert slow.getresponse().status == 408
        slow.close()
        connection = http.client.HTTPConnection("127.0.0.1", instance.server_address[1], timeout=5)
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
        connection.close()


def test_a_full_queue_answers_503_and_the_retry_is_not_a_duplicate(tmp_path: Path) -> None:
    healer = make(tmp_path, FakeExecutor(kinds.RESTART_POD))
    healer._queue = queue.Queue(1)
    (tmp_path / "token").write_text(TOKEN)
    instance = server.HealServer(("127.0.0.1", 0), healer, BearerToken(tmp_path / "token", "token"), None)
    with serving(instance):  # no worker: nothing leaves the queue
        assert post(instance, encoded(payload(alert(fingerprint="d1"))))[0] == 202
        assert post(instance, encoded(payload(alert(fingerprint="d2"))))[0] == 503
        healer._queue.get_nowait()
        assert post(instance, encoded(payload(alert(fingerprint="d2")))) == (202, {"accepted": 1, "duplicates": 0})
        assert post(instance, b"", path="/v1/approvals/" + "a" * 12, token=TOKEN)[0] == 404  # approvals are off


def test_http_approvals_take_their_own_token_once(tmp_path: Path) -> None:
    edge = FakeExecutor(kinds.DISABLE_EDGE_POOL, impact=lambda action: Impact("edge", serving_after=1))
    healer = make(tmp_path, edge)
    with receiver(tmp_path, healer) as instance:
        body = encoded(payload(alert("ApiAvailabilityBudgetBurnFast1h", "e1", stack="prod-eu")))
        assert post(instance, body)[0] == 202
        line = wait_for(lambda: next((x for x in healer.audit.lines if x["outcome"] == "pending-approval"), None))
        path = f"/v1/approvals/{line['detail']['id']}"
        assert post(instance, b"", token=TOKEN, path=path)[0] == 401  # the webhook's token approves nothing
        assert post(instance, b"", token=APPROVER, path="/v1/approvals/../../x")[0] == 404
        assert post(instance, b"", token=APPROVER, path="/v1/approvals/ZZZ")[0] == 400
        assert post(instance, b"", token=APPROVER, path="/v1/approvals/" + "0" * 12)[0] == 404
        assert post(instance, b"", token=APPROVER, path=path) == (
            202,
            {"id": line["detail"]["id"], "state": "approved"},
        )
        assert post(instance, b"", token=APPROVER, path=path)[0] == 409  # replayed
        wait_for(lambda: edge.executed)


def test_cli_approval_is_released_by_the_running_receiver(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edge = FakeExecutor(kinds.DISABLE_EDGE_POOL, impact=lambda action: Impact("edge", serving_after=1))
    healer = make(tmp_path, edge, clock=time.time)  # type: ignore[arg-type]
    healer.handle(edge_alert())
    identifier = next(line["detail"]["id"] for line in healer.audit.lines if line["outcome"] == "pending-approval")
    state = str(tmp_path / "state")
    code, out, err = run(capsys, "heal", "approve", identifier, "--state-dir", state)
    assert code == 0 and f"approved {identifier}: disable_edge_pool on project-ai-prod-eu" in out
    assert json.loads(err.splitlines()[0])["outcome"] == "approved"
    code, _, err = run(capsys, "heal", "approve", identifier, "--state-dir", state)
    assert (code, "is approved, not pending" in err) == (2, True)
    healer.tick()
    assert len(edge.executed) == 1


def test_serve_refuses_bad_configuration_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["heal", "serve", "--state-dir", str(tmp_path), "--kubernetes", "off", "--port", "0"]
    code, _, err = run(capsys, *base, "--token-file", str(tmp_path / "missing"))
    assert code == 1 and "cannot read the webhook token file" in err
    (tmp_path / "token").write_text("two words")
    code, _, err = run(capsys, *base, "--token-file", str(tmp_path / "token"))
    assert code == 1 and "must hold one webhook token on one line" in err
    (tmp_path / "token").write_text(TOKEN)
    code, _, err = run(capsys, *base, "--token-file", str(tmp_path / "token"), "--cloudflare-account-id", "x")
    assert code == 2 and "give both --cloudflare-token-file and --cloudflare-account-id" in err


def test_a_frozen_kubernetes_fails_the_decision_not_the_receiver(tmp_path: Path) -> None:
    with serving(FakeKubernetes()) as kube_api, serving(FakePagerDuty()) as pager_api:
        kube_api.workload("project-ai-api-7c9", replicas=6, pods=["api-a"])
        kube_api.hanging = True
        cluster = Kubernetes(api_client(host=kube_api.url), connect_seconds=0.5, read_seconds=0.5)
        pager = PagerDuty("routing-key", url=f"{pager_api.url}/v2/enqueue", timeout_seconds=1.0)
        healer = make(tmp_path, cluster, pager)
        with receiver(tmp_path, healer) as instance:
            assert post(instance, encoded(payload()))[0] == 202
            kube_api.hang.wait(5)  # the decision is now waiting on the frozen API server
            started = time.monotonic()
            assert post(instance, encoded(payload(alert(fingerprint="b2")))) == (202, {"accepted": 1, "duplicates": 0})
            assert time.monotonic() - started < 0.5  # the webhook answers at once
            wait_for(lambda: len(pager_api.requests) == 2)
        pager.close()
    failed = [line for line in healer.audit.lines if line["outcome"] == "failed"]
    assert failed and "Kubernetes did not answer" in failed[0]["detail"]["reason"]
    assert [line["detail"]["action"]["kind"] for line in healer.audit.lines if line["outcome"] == "succeeded"] == [
        "open_incident",
        "open_incident",
    ]


def test_the_real_cluster_path_end_to_end(tmp_path: Path) -> None:
    with serving(FakeKubernetes()) as kube_api:
        kube_api.workload("project-ai-api-7c9", replicas=3, pods=["api-a", "api-b"])
        healer = make(tmp_path, Kubernetes(api_client(host=kube_api.url), 0.5, 1.0))
        with receiver(tmp_path, healer) as instance:
            assert post(instance, encoded(payload(alert(), alert(fingerprint="b2", pod="api-b"))))[0] == 202
            wait_for(lambda: len([x for x in healer.audit.lines if x["step"] in ("executed", "decided")]) >= 3)
        # One third of three replicas: one pod restarted, the other refused by the blast radius.
        assert pod_path("api-a") not in kube_api.objects and pod_path("api-b") in kube_api.objects
        refused = [line for line in healer.audit.lines if line["outcome"] == "rail"]
        assert refused[0]["detail"]["rail"] == "blast radius"


def test_executor_errors_are_ops_errors() -> None:
    assert issubclass(kinds.ExecutorError, OpsError)
    with pytest.raises(OpsError, match="two executors handle"):
        kinds.by_kind([FakeExecutor(kinds.SHED_LOAD), FakeExecutor(kinds.SHED_LOAD)])
