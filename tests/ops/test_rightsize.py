"""`ops rightsize`: proposals from usage and VPA recommendations, against a stand-in
Prometheus (answering, stopped, frozen, answering garbage or nothing) and the VPAs from a
file or a stand-in Kubernetes API; the limits of its input (zero, huge, NaN, missing
series, 1000 containers); and the node packing against a brute-force search."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ops.rightsize import nodes, policy, quantity, usage
from ops.rightsize.usage import Container
from ops.rightsize.vpa import Recommendation
from policies.cost.prices import load
from tests.ops.conftest import run, serving

MI, GI = quantity.MI, quantity.GI
WINDOW = "7d"
QUERIES = {text: name for name, text in usage.queries(WINDOW, ()).items()}


# --- a stand-in cluster, as Prometheus and kube-state-metrics would show it ---


def pod(
    namespace: str,
    name: str,
    container: str,
    owner: tuple[str, str],
    node: str = "node-a",
    *,
    p95: float | str | None = 0.1,
    p99: float | str | None = 0.2,
    peak: float | str | None = 200 * MI,
    throttled: float | None = 0.0,
    oom: bool = False,
    requests: tuple[float, float] | None = (0.5, 512 * MI),
    limits: tuple[float, float] | None = (1.0, 1 * GI),
) -> dict[str, Any]:
    return dict(locals())


def answers(pods: list[dict[str, Any]], nodes_: dict[str, tuple[str, str | None]]) -> dict[str, list[dict]]:
    """Each query's series, by the query's name in ops/rightsize/usage.py."""

    def sample(labels: dict[str, str], value: object) -> dict[str, Any]:
        return {"metric": labels, "value": [1.0, str(value)]}

    out: dict[str, list[dict]] = {name: [] for name in usage.queries(WINDOW, ())}
    out["coverage"] = [sample({}, 8 * 86400)]
    replicasets = set()
    for p in pods:
        key = {"namespace": p["namespace"], "pod": p["name"], "container": p["container"]}
        for name, field in (
            ("cpu_p95", "p95"),
            ("cpu_p99", "p99"),
            ("memory_peak", "peak"),
            ("throttled", "throttled"),
        ):
            if p[field] is not None:
                out[name].append(sample(key, p[field]))
        if p["oom"]:
            out["oom_killed"].append(sample(key, 1))
        for name, amounts in (("requests", p["requests"]), ("limits", p["limits"])):
            if amounts is not None:
                out[name] += [
                    sample({**key, "resource": "cpu"}, amounts[0]),
                    sample({**key, "resource": "memory"}, amounts[1]),
                ]
        kind, owner = p["owner"]
        pod_owner = {"namespace": p["namespace"], "pod": p["name"]}
        if kind in ("Deployment", "Rollout"):
            replicaset = f"{owner}-5d9f8"
            out["pod_owners"].append(sample({**pod_owner, "owner_kind": "ReplicaSet", "owner_name": replicaset}, 1))
            replicasets.add((p["namespace"], replicaset, kind, owner))
        else:
            out["pod_owners"].append(sample({**pod_owner, "owner_kind": kind, "owner_name": owner}, 1))
        out["pod_nodes"].append(sample({**pod_owner, "node": p["node"]}, 1))
    for namespace, replicaset, kind, owner in sorted(replicasets):
        labels = {"namespace": namespace, "replicaset": replicaset, "owner_kind": kind, "owner_name": owner}
        out["replicaset_owners"].append(sample(labels, 1))
    for node, (pool, kind) in nodes_.items():
        out["nodes"].append(sample({"node": node}, 1))
        if pool == "system":
            out["system_nodes"].append(sample({"node": node}, 1))
        labels = {"node": node, **({"label_node_kubernetes_io_instance_type": kind} if kind else {})}
        out["node_labels"].append(sample(labels, 1))
    return out


API = ("Rollout", "project-ai-api")
NODES = {"node-a": ("app", "m6i.xlarge"), "node-b": ("app", "m6i.xlarge"), "node-s": ("system", "m6i.large")}


def small_cluster() -> list[dict[str, Any]]:
    return [
        # The API: three replicas, each using far less than it asks.
        *(pod("project-ai", f"project-ai-api-5d9f8-{i}", "api", API, f"node-{'ab'[i % 2]}") for i in range(3)),
        # A worker that is throttled and near its memory limit.
        pod(
            "project-ai",
            "worker-0",
            "worker",
            ("StatefulSet", "worker"),
            "node-a",
            p95=0.9,
            p99=1.0,
            peak=980 * MI,
            throttled=0.3,
            requests=(0.5, 512 * MI),
        ),
        # The CoreDNS on the system pool, a DaemonSet on every node, and a finished Job.
        pod(
            "kube-system",
            "coredns-1",
            "coredns",
            ("Deployment", "coredns"),
            "node-s",
            p95=0.01,
            peak=30 * MI,
            requests=(0.1, 70 * MI),
            limits=(0.1, 170 * MI),
        ),
        *(
            pod("kube-system", f"aws-node-{n}", "aws-node", ("DaemonSet", "aws-node"), n, requests=(0.025, 64 * MI))
            for n in NODES
        ),
        pod("project-ai", "migrate-x", "migrate", ("Job", "migrate"), "node-a", requests=(4.0, 8 * GI)),
    ]


class StandIn(ThreadingHTTPServer):
    """Prometheus's instant query API answering `series[name]` for each known query, or
    `raw` bytes, or nothing until released (frozen)."""

    daemon_threads = True

    def __init__(self, hang: threading.Event | None = None) -> None:
        super().__init__(("127.0.0.1", 0), PrometheusHandler)
        self.hang = hang
        self.series: dict[str, list[dict]] = {}
        self.raw = b""
        self.asked: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class PrometheusHandler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)["query"][0]
        self.server.asked.append(query)
        if self.server.hang is not None:
            self.server.hang.wait(10)
            return
        name = QUERIES.get(query) or QUERIES_BY_NAMESPACE.get(query)
        result = self.server.series.get(name, []) if name else []
        body = (
            self.server.raw
            or json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


QUERIES_BY_NAMESPACE = {text: name for name, text in usage.queries(WINDOW, ("project-ai",)).items()}


@contextlib.contextmanager
def prometheus(series: dict[str, list[dict]] | None = None, hang: threading.Event | None = None) -> Iterator[StandIn]:
    with serving(StandIn(hang), hang) as server:
        server.series = series or {}  # type: ignore[attr-defined]
        yield server  # type: ignore[misc]


def vpa_object(namespace: str, name: str, kind: str, target: str, recommendations: list[dict] | None) -> dict:
    status = {"recommendation": {"containerRecommendations": recommendations}} if recommendations is not None else {}
    return {
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"targetRef": {"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "name": target}},
        "status": status,
    }


API_VPA = vpa_object(
    "project-ai",
    "project-ai-api",
    "Rollout",
    "project-ai-api",
    [
        {
            "containerName": "api",
            "target": {"cpu": "150m", "memory": "262144k"},
            "lowerBound": {"cpu": "50m", "memory": "200Mi"},
            "upperBound": {"cpu": "1", "memory": "1073741824"},
            "uncappedTarget": {"cpu": "150m", "memory": "262144k"},
        }
    ],
)
PENDING_VPA = vpa_object("monitoring", "grafana", "Deployment", "grafana", None)


def vpa_file(tmp_path: Path, items: list[dict]) -> Path:
    path = tmp_path / "vpa.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def rightsize(capsys, url: str, *extra: str) -> tuple[int, Any, str]:
    code, out, err = run(capsys, "rightsize", "--prometheus", url, "--region", "us-east-1", *extra)
    try:
        parsed = json.loads(out) if "--format" in extra else out
    except ValueError:
        parsed = out
    return code, parsed, err


def container(report: dict, name: str) -> dict:
    return next(c for c in report["containers"] if c["container"] == name)


# --- the report ---


def test_a_small_cluster_is_right_sized_from_usage_and_the_vpa(tmp_path, capsys) -> None:
    with prometheus(answers(small_cluster(), NODES)) as fake:
        code, report, err = rightsize(
            capsys, fake.url, "--vpa-file", str(vpa_file(tmp_path, [API_VPA, PENDING_VPA])), "--format", "json"
        )
    assert code == 0, err
    api = container(report, "api")
    assert (api["namespace"], api["kind"], api["workload"], api["replicas"]) == (
        "project-ai",
        "Rollout",
        "project-ai-api",
        3,
    )
    # CPU: max(p95 100m, VPA 150m) x 1.1 = 165m; memory: max(200Mi, 250Mi) x 1.15 -> 288Mi (16Mi steps).
    assert api["proposed"]["requests"] == {"cpu": "165m", "memory": "288Mi"}
    # CPU limit 2 x request (p99 is lower); memory limit: the VPA's upperBound.
    assert api["proposed"]["limits"] == {"cpu": "330m", "memory": "1Gi"}
    assert api["verdict"] == "over-provisioned" and "CPU p95 20% of its request" in api["flags"]
    assert api["vpa"]["target"] == {"cpu": "150m", "memory": "250Mi"}

    worker = container(report, "worker")
    assert worker["verdict"] == "under-provisioned"
    assert "CPU throttled in 30% of periods" in worker["flags"]
    assert "OOM risk: peak memory 96% of its limit" in worker["flags"]
    assert worker["proposed"]["requests"]["cpu"] == "990m" and worker["proposed"]["limits"]["cpu"] == "1980m"
    # No VPA: the memory limit is twice the request.
    requests = quantity.parse(worker["proposed"]["requests"]["memory"])
    assert requests == pytest.approx(quantity.round_up(980 * MI * 1.15, 16 * MI))
    assert quantity.parse(worker["proposed"]["limits"]["memory"]) == pytest.approx(2 * requests)

    assert not any(c["container"] == "migrate" for c in report["containers"])  # a Job's pod comes and goes
    assert "VPA monitoring/grafana has no recommendation yet" in " ".join(report["notes"])

    pools = {p["pool"]: p for p in report["pools"]}
    assert set(pools) == {"app", "system"}
    app = pools["app"]
    assert app["pods"] == 4 and app["daemonSetsPerNode"] == {"cpu": 0.025, "memoryGib": 0.062}
    assert app["current"]["nodes"] == {"m6i.xlarge": 2}
    assert app["current"]["monthlyUsd"] == pytest.approx(2 * 0.192 * 730, abs=0.01)
    assert app["proposed"]["count"] == 2  # --min-nodes
    assert app["savingMonthlyUsd"] == pytest.approx(app["current"]["monthlyUsd"] - app["proposed"]["monthlyUsd"])
    # Never an arm64 type for amd64 images, nor a burstable one, unless asked.
    for pool in pools.values():
        assert not nodes.is_arm(pool["proposed"]["type"]) and not nodes.is_burstable(pool["proposed"]["type"])
    assert 'requests: {cpu: "165m", memory: "288Mi"}' in report["snippet"]
    assert "appPool: {types: [" in report["snippet"] and "systemPool:" in report["snippet"]


def test_the_table_shows_changes_pools_and_the_config(tmp_path, capsys) -> None:
    with prometheus(answers(small_cluster(), NODES)) as fake:
        code, out, err = rightsize(capsys, fake.url, "--vpa-file", str(vpa_file(tmp_path, [API_VPA])))
    assert code == 0, err
    assert "500m->165m" in out and "512Mi->288Mi" in out and "over-provisioned" in out
    assert "Node pools (monthly, USD):" in out and "2 x m6i.xlarge = 280.32" in out
    assert "projectai:app:" in out and "Policy: CPU request = max(p95" in out


def test_spot_pools_and_given_current_pools_are_priced_so(capsys) -> None:
    unlabeled = {node: (pool, None) for node, (pool, _) in NODES.items()}
    with prometheus(answers(small_cluster(), unlabeled)) as fake:
        code, report, err = rightsize(
            capsys, fake.url, "--no-vpa", "--spot", "app", "--current", "app=m6i.xlarge:2", "--format", "json"
        )
    assert code == 0, err
    pools = {p["pool"]: p for p in report["pools"]}
    assert pools["app"]["current"]["monthlyUsd"] == pytest.approx(2 * 0.192 * 730 * (1 - 0.65), abs=0.01)
    assert pools["system"]["current"]["monthlyUsd"] is None
    assert any("instance-type label" in note for note in report["notes"])


def test_types_can_be_narrowed_and_arm_admitted(capsys) -> None:
    with prometheus(answers(small_cluster(), NODES)) as fake:
        code, report, _ = rightsize(capsys, fake.url, "--no-vpa", "--types", "r6i.*", "--format", "json")
        assert code == 0 and {p["proposed"]["type"] for p in report["pools"]} == {"r6i.large"}
        code, report, _ = rightsize(capsys, fake.url, "--no-vpa", "--types", "m7g.*", "--arm", "--format", "json")
        assert code == 0 and {p["proposed"]["type"] for p in report["pools"]} == {"m7g.large"}
        code, report, _ = rightsize(capsys, fake.url, "--no-vpa", "--burstable", "--format", "json")
        assert code == 0 and {p["proposed"]["type"] for p in report["pools"]} == {"t3.medium"}
        code, _, err = rightsize(capsys, fake.url, "--no-vpa", "--types", "m7g.*")
        assert code == 2 and "matches no instance type" in err


# --- the limits of its input ---


def test_zero_nan_huge_and_missing_usage(capsys) -> None:
    pods = [
        pod("apps", "idle-0", "idle", ("StatefulSet", "idle"), p95=0.0, p99=0.0, peak=0.0),
        pod("apps", "nan-0", "nan", ("StatefulSet", "nan"), p95="NaN", p99="NaN", peak="+Inf"),
        pod("apps", "huge-0", "huge", ("StatefulSet", "huge"), p95=1e6, p99=1e6, peak=1e18),
        pod("apps", "gone-0", "gone", ("StatefulSet", "gone"), p95=None, p99=None, peak=None, throttled=None),
    ]
    with prometheus(answers(pods, {"node-a": ("app", "m6i.large")})) as fake:
        code, report, err = rightsize(capsys, fake.url, "--no-vpa", "--format", "json")
    assert code == 0, err
    idle = container(report, "idle")
    assert idle["proposed"]["requests"] == {"cpu": "10m", "memory": "32Mi"}  # the floors
    assert "idle: no CPU or memory used in the window" in idle["flags"]
    nan = container(report, "nan")
    assert nan["usage"]["cpuP95"] is None and any(f.startswith("invalid usage (cpu_p95 NaN") for f in nan["flags"])
    assert nan["proposed"]["requests"] == {"cpu": "500m", "memory": "512Mi"}  # keeps what it has
    gone = container(report, "gone")
    assert "no CPU usage data" in gone["flags"] and gone["proposed"]["requests"]["cpu"] == "500m"
    huge = container(report, "huge")
    assert huge["proposed"]["requests"]["cpu"] == str(math.ceil(1e6 * 1.1))
    (app,) = report["pools"]
    assert app["proposed"] is None and "no instance type offered holds apps/huge-0" in app["reason"]
    assert any("pool app: no instance type" in note for note in report["notes"])


def test_a_thousand_containers(capsys) -> None:
    rng = random.Random(7)
    pods = [
        pod(
            f"team-{i % 20}",
            f"svc-{i}-0",
            "app",
            ("StatefulSet", f"svc-{i}"),
            f"node-{i % 30}",
            p95=rng.uniform(0, 0.5),
            p99=0.6,
            peak=rng.uniform(50, 900) * MI,
            requests=(0.5, 1 * GI),
        )
        for i in range(1000)
    ]
    # Today: 500 cores requested on 80 nodes of 8 (about 0.28 core used per pod at the p95).
    with prometheus(answers(pods, {f"node-{n}": ("app", "m6i.2xlarge") for n in range(80)})) as fake:
        code, report, err = rightsize(capsys, fake.url, "--no-vpa", "--format", "json")
    assert code == 0, err
    assert len(report["containers"]) == 1000
    (app,) = report["pools"]
    assert app["pods"] == 1000 and app["current"]["nodes"] == {"m6i.2xlarge": 80}
    proposed = app["proposed"]
    assert proposed["cpuRequested"] <= 1 and proposed["memoryRequested"] <= 1
    assert proposed["monthlyUsd"] < app["current"]["monthlyUsd"]


def test_namespaces_narrow_the_proposals_not_the_packing(capsys) -> None:
    with prometheus(answers(small_cluster(), NODES)) as fake:
        code, report, _ = rightsize(capsys, fake.url, "--no-vpa", "--namespace", "project-ai", "--format", "json")
    assert code == 0
    assert {c["namespace"] for c in report["containers"]} == {"project-ai"}
    assert {p["pool"]: p["pods"] for p in report["pools"]} == {"app": 4, "system": 1}


# --- Prometheus answering nothing, garbage, stopped, frozen ---


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("cpu_p95", "Prometheus returned nothing for cpu_p95"),
        ("memory_peak", "it needs cAdvisor's container_memory_working_set_bytes"),
        ("requests", "it needs kube-state-metrics (kube_pod_container_resource_requests)"),
        ("nodes", "it needs kube-state-metrics (kube_node_info)"),
    ],
)
def test_a_query_that_must_answer_and_returns_nothing_says_what_it_needs(capsys, missing, expected) -> None:
    series = answers(small_cluster(), NODES)
    series[missing] = []
    with prometheus(series) as fake:
        code, _, err = rightsize(capsys, fake.url, "--no-vpa")
    assert code == 1 and expected in err and "Traceback" not in err


def test_optional_series_missing_leave_notes(capsys) -> None:
    series = answers(small_cluster(), NODES)
    series["throttled"], series["cpu_p99"], series["pod_owners"] = [], [], []
    with prometheus(series) as fake:
        code, report, _ = rightsize(capsys, fake.url, "--no-vpa", "--format", "json")
    assert code == 0
    notes = " ".join(report["notes"])
    assert "CPU throttling is not checked" in notes and "sized from the p95" in notes and "its own workload" in notes
    assert container(report, "api")["kind"] == "Pod"


@pytest.mark.parametrize(
    ("covered", "code", "expected"),
    [
        (None, 1, "Prometheus returned nothing for coverage"),
        (6 * 3600, 2, "Prometheus holds 6 h of container history in the 7d window; expected at least a day"),
        (3 * 86400, 0, "Prometheus holds 3.0 d of the 7d window"),
    ],
)
def test_too_little_history(capsys, covered, code, expected) -> None:
    series = answers(small_cluster(), NODES)
    series["coverage"] = [] if covered is None else [{"metric": {}, "value": [1, str(covered)]}]
    with prometheus(series) as fake:
        got, out, err = rightsize(capsys, fake.url, "--no-vpa")
    assert got == code and expected in (err if code else out)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--window", "12h"], "--window 12h is too short; expected at least 1d"),
        (["--window", "91d"], "longer than 90d"),
        (["--window", "seven"], "expected a whole number and a unit"),
        (["--namespace", "Bad_NS"], "--namespace 'Bad_NS'; expected a Kubernetes namespace name"),
        (["--region", "mars-1"], "--region 'mars-1' is not in the price table"),
    ],
)
def test_bad_arguments_are_refused_before_any_query(capsys, argv, expected) -> None:
    with prometheus() as fake:
        code, _, err = rightsize(capsys, fake.url, "--no-vpa", *argv)
        assert fake.asked == []
    assert code == 2 and expected in err


@pytest.mark.parametrize(
    "argv",
    [["--headroom", "0.95"], ["--headroom", "nan"], ["--current", "app=m6i.large"], ["--min-nodes", "0"]],
)
def test_bad_option_values_are_usage_errors(capsys, argv) -> None:
    code, _, err = rightsize(capsys, "http://127.0.0.1:9", "--no-vpa", *argv)
    assert code == 2 and "Traceback" not in err


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"<html>", "Prometheus refused the query (200): no JSON"),
        (b'{"status": "success", "data": {"resultType": "matrix", "result": []}}', "not a vector"),
        (b"[1, 2]", "no JSON"),
    ],
)
def test_garbage_from_prometheus_is_a_clear_error(capsys, raw, expected) -> None:
    with prometheus() as fake:
        fake.raw = raw
        code, _, err = rightsize(capsys, fake.url, "--no-vpa")
    assert code == 1 and expected in err and "Traceback" not in err


def test_prometheus_stopped(capsys) -> None:
    with prometheus() as stopped:
        url = stopped.url
    code, _, err = rightsize(capsys, url, "--no-vpa")
    assert code == 1 and f"Prometheus at {url} did not answer: ConnectError" in err


def test_prometheus_frozen_is_bounded_by_the_timeout(capsys) -> None:
    with prometheus(hang=threading.Event()) as frozen:
        started = time.monotonic()
        code, _, err = rightsize(capsys, frozen.url, "--no-vpa", "--timeout-seconds", "1")
        waited = time.monotonic() - started
    assert code == 1 and "did not answer: ReadTimeout" in err
    assert len(frozen.asked) == 1 and waited < 8  # the first query, cut off; no more asked


# --- the VPA: a file, and the Kubernetes API ---


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b"[]", "expected `kubectl get vpa -A -o json` output"),
        (b'{"items": {}}', "items is a dict; expected a list"),
        (b'{"items": [1]}', "items[0]: a int; expected a VerticalPodAutoscaler"),
        (b'{"items": [{"metadata": {"name": "x"}, "spec": {}}]}', "metadata.name and metadata.namespace"),
        (b'{"items": [{"metadata": {"name": "x", "namespace": "y"}, "spec": {}}]}', "y/x: targetRef is missing"),
    ],
)
def test_a_malformed_vpa_file_is_refused(tmp_path, capsys, content, expected) -> None:
    path = tmp_path / "vpa.json"
    path.write_bytes(content)
    code, _, err = rightsize(capsys, "http://127.0.0.1:9", "--vpa-file", str(path))
    assert code == 2 and expected in err and "Traceback" not in err, err


def test_bad_quantities_and_a_missing_file_are_refused(tmp_path, capsys) -> None:
    bad = json.loads(json.dumps(API_VPA))
    bad["status"]["recommendation"]["containerRecommendations"][0]["target"]["cpu"] = "lots"
    code, _, err = rightsize(capsys, "http://127.0.0.1:9", "--vpa-file", str(vpa_file(tmp_path, [bad])))
    assert code == 2 and "api.target.cpu: 'lots' is not a quantity" in err
    code, _, err = rightsize(capsys, "http://127.0.0.1:9", "--vpa-file", str(tmp_path / "none.json"))
    assert code == 2 and "No such file or directory" in err


class KubeStandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hang: threading.Event | None = None) -> None:
        super().__init__(("127.0.0.1", 0), KubeHandler)
        self.hang = hang
        self.status, self.items, self.paths = 200, [API_VPA, PENDING_VPA], []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class KubeHandler(BaseHTTPRequestHandler):
    server: KubeStandIn

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.paths.append(urlsplit(self.path).path)
        if self.server.hang is not None:
            self.server.hang.wait(10)
            return
        body = json.dumps(
            {"kind": "VerticalPodAutoscalerList", "items": self.server.items}
            if self.server.status == 200
            else {"kind": "Status", "code": self.server.status}
        ).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def kubeconfig(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": {"server": url}}],
                "users": [{"name": "test", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
                "current-context": "test",
            }
        )
    )
    return path


def test_the_vpas_from_the_kubernetes_api(tmp_path, capsys) -> None:
    with prometheus(answers(small_cluster(), NODES)) as fake, serving(KubeStandIn()) as kube:
        config = str(kubeconfig(tmp_path, kube.url))
        code, report, err = rightsize(capsys, fake.url, "--kubeconfig", config, "--format", "json")
        assert code == 0, err
        assert kube.paths == ["/apis/autoscaling.k8s.io/v1/verticalpodautoscalers"]
        assert container(report, "api")["proposed"]["requests"] == {"cpu": "165m", "memory": "288Mi"}
        code, _, _ = rightsize(capsys, fake.url, "--kubeconfig", config, "--namespace", "project-ai")
        assert (
            code == 0 and kube.paths[-1] == "/apis/autoscaling.k8s.io/v1/namespaces/project-ai/verticalpodautoscalers"
        )
        kube.status = 404
        code, _, err = rightsize(capsys, fake.url, "--kubeconfig", config)
        assert code == 1 and "no verticalpodautoscalers.autoscaling.k8s.io (is the VPA installed?" in err
        kube.status = 403
        code, _, err = rightsize(capsys, fake.url, "--kubeconfig", config)
        assert code == 1 and "Kubernetes refused to list VerticalPodAutoscalers: 403" in err


def test_the_kubernetes_api_stopped_frozen_or_absent(tmp_path, capsys) -> None:
    with serving(KubeStandIn()) as stopped:
        url = stopped.url
    code, _, err = rightsize(capsys, "http://127.0.0.1:9", "--kubeconfig", str(kubeconfig(tmp_path, url)))
    assert code == 1 and "Kubernetes did not answer the VerticalPodAutoscaler list: MaxRetryError" in err
    hang = threading.Event()
    with serving(KubeStandIn(hang), hang) as frozen:
        started = time.monotonic()
        code, _, err = rightsize(
            capsys,
            "http://127.0.0.1:9",
            "--kubeconfig",
            str(kubeconfig(tmp_path, frozen.url)),
            "--timeout-seconds",
            "1",
        )
        waited = time.monotonic() - started
    assert code == 1 and "Kubernetes did not answer" in err and waited < 8
    code, _, err = rightsize(capsys, "http://127.0.0.1:9", "--kubeconfig", str(tmp_path / "absent"))
    assert code == 1 and "no Kubernetes credentials" in err and "--vpa-file FILE or --no-vpa" in err


# --- the policy, and the quantities ---


def test_an_oom_kill_raises_the_memory_limit_and_no_request_is_flagged() -> None:
    seen = Container(cpu_p95=0.1, cpu_p99=0.1, memory_peak=100 * MI, oom_killed=True, limits={"memory": 256 * MI})
    proposal = policy.propose(seen, None)
    assert proposal.limits["memory"] == 384 * MI and proposal.verdict == "under-provisioned"
    assert {"OOM-killed in the window", "no cpu request", "no memory request"} <= set(proposal.flags)


def test_throttling_raises_the_cpu_limit_past_twice_the_request() -> None:
    seen = Container(cpu_p95=0.2, cpu_p99=1.0, memory_peak=MI, throttled=0.3, limits={"cpu": 2.0})
    assert policy.propose(seen, None).limits["cpu"] == pytest.approx(3.0)  # 1.5 x today's, over 2 x 220m
    seen.throttled = 0.05
    assert policy.propose(seen, None).limits["cpu"] == pytest.approx(1.1)  # the p99 x 1.1


def test_the_vpa_target_wins_over_lower_usage() -> None:
    vpa = Recommendation("ns/x", {"cpu": 2.0, "memory": 4 * GI}, {}, {"memory": 1 * GI}, {})
    proposal = policy.propose(Container(cpu_p95=0.1, memory_peak=100 * MI), vpa)
    assert proposal.requests == {"cpu": 2.2, "memory": pytest.approx(quantity.round_up(4.6 * GI, 16 * MI))}
    assert proposal.limits["memory"] == proposal.requests["memory"]  # never under the request


@pytest.mark.parametrize(
    ("text", "value"),
    [("25m", 0.025), ("1", 1.0), ("262144k", 262144000.0), ("1Gi", GI), ("1e3", 1000.0), ("100n", 1e-7), (2, 2.0)],
)
def test_quantities(text, value) -> None:
    assert quantity.parse(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "1.5.5", "1Zi", "-1", "nan", "inf", "1e999", True, None, [1]])
def test_not_quantities(text) -> None:
    with pytest.raises(ValueError, match="quantity"):
        quantity.parse(text)


def test_quantities_are_written_as_the_stack_config_takes_them() -> None:
    assert [quantity.cpu_text(v) for v in (0.165, 1.0, 2.0, 1.5, 0.0001)] == ["165m", "1", "2", "1500m", "1m"]
    assert [quantity.memory_text(v) for v in (288 * MI, GI, 2 * GI, 1.5 * GI, 1)] == [
        "288Mi",
        "1Gi",
        "2Gi",
        "1536Mi",
        "1Mi",
    ]


# --- node packing against a brute-force search ---


def brute_force_nodes(pods: list[nodes.Pod], cap: tuple[float, float]) -> int | None:
    if any(p.cpu > cap[0] or p.memory > cap[1] for p in pods):
        return None
    for count in range(1, len(pods) + 1):
        for assignment in itertools.product(range(count), repeat=len(pods)):
            cpu, memory = [0.0] * count, [0.0] * count
            for p, where in zip(pods, assignment, strict=True):
                cpu[where] += p.cpu
                memory[where] += p.memory
            if all(c <= cap[0] + 1e-9 for c in cpu) and all(m <= cap[1] + 1e-9 for m in memory):
                return count
    return 0


@pytest.mark.parametrize("seed", range(60))
def test_packing_needs_as_few_nodes_as_a_brute_force_search(seed: int) -> None:
    rng = random.Random(seed)
    cap = (rng.choice([1.0, 2.0, 3.5]), rng.choice([2.0, 4.0, 7.0]) * GI)
    pods = [
        nodes.Pod(f"p{i}", rng.choice([0.1, 0.5, 0.9, 1.2, 1.7]), rng.choice([0.25, 1.0, 1.5, 2.5, 3.0]) * GI)
        for i in range(rng.randint(1, 7))
    ]
    assert nodes.nodes_needed(pods, cap) == brute_force_nodes(pods, cap)


@pytest.mark.parametrize("seed", range(15))
def test_the_cheapest_pool_is_the_cheapest_feasible_type_and_count(seed: int) -> None:
    rng = random.Random(100 + seed)
    table = load()
    types = [nodes.NodeType(t.name, t.vcpu, t.memory_gib, t.hourly) for t in table.instance_types("aws", "us-east-1")]
    pods = [nodes.Pod(f"p{i}", rng.uniform(0.05, 1.5), rng.uniform(0.1, 6) * GI) for i in range(rng.randint(1, 6))]
    daemons, headroom, minimum = (0.05, 128 * MI), rng.choice([0.0, 0.2]), rng.choice([1, 2, 3])
    best = min(
        (max(n, minimum) * t.hourly, t.name)
        for t in types
        if (n := brute_force_nodes(pods, nodes.capacity(t, daemons, headroom))) is not None
    )
    fit = nodes.cheapest(pods, daemons, types, headroom, minimum)
    assert fit.hourly == pytest.approx(best[0])
    assert fit.cpu_share <= 1 + 1e-9 and fit.memory_share <= 1 + 1e-9


def test_the_kubelet_reserve_follows_the_published_tiers() -> None:
    cpu, memory = nodes.reserved(nodes.NodeType("x", 4, 16, 1.0))
    assert cpu == pytest.approx(0.06 + 0.01 + 2 * 0.005)
    assert memory == pytest.approx((4 * 0.25 + 4 * 0.2 + 8 * 0.1) * GI + 100 * MI)
    assert nodes.is_arm("m7g.large") and nodes.is_arm("t4g.medium") and not nodes.is_arm("m6i.large")
    assert nodes.is_burstable("t3.large") and nodes.is_burstable("e2-medium")
    assert not nodes.is_burstable("e2-standard-2")
