"""Predictive scaling as synthesized (components/scaling, stacks/scaling.py): KEDA's
chart and namespace, the API's ScaledObject in place of the HPA for every delivery
strategy, and the placeholder headroom with its caps. The queries are evaluated by
promtool on series that play each case out; the objects are validated against the
vendored KEDA schemas and both policy packs.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from components.labels import Ownership
from components.monitoring.stack import SELECTED_LABEL
from components.scaling import keda, predictive
from preflight import kubernetes
from preflight.graph import Graph
from preflight.kubernetes import INVALID, VALID, ObjectResult
from preflight.synth import Synthesizer
from stacks.config import parse
from stacks.model import PredictiveScalingConfig
from stacks.scaling import prometheus_clients
from tests.conftest import (
    CRD_SCHEMAS,
    ROOT,
    objects,
    one,
    policies_in,
    projectai_values,
    release,
    stack_config,
    valid_and_clean,
    write_program,
)

NAMESPACE = "project-ai"
API = "project-ai-api"
OPS_IMAGE = {"repository": "ghcr.io/project-ai/ops", "digest": "sha256:" + "0" * 64}
SCALING = {
    "enabled": True,
    "requestsPerReplica": 50,
    "headroom": {"margin": 0.2, "maxReplicas": 6, "monthlyCostCap": 100, "podMonthlyPrice": 30},
}

PROGRAM = """
import dataclasses
import json

import pulumi

from components.scaling import Keda, PredictiveScaling
from components.workload import AppService
from stacks.config import parse
from stacks.config import parse
from stacks.model import PredictiveScalingConfig
from stacks.scaling import keda_args, predictive_scaling_args
from stacks.workload import app_service_args

settings = pulumi.Config("test")
config = parse(json.loads(settings.require("stack")), "Pulumi.test.yaml")
scaling = PredictiveScalingConfig.model_validate(json.loads(settings.require("scaling")))
app = AppService("api", dataclasses.replace(app_service_args(config), external_autoscaler=scaling.enabled))
if scaling.enabled:
    keda = Keda("keda", keda_args(config, scaling))
    PredictiveScaling(
        "predictive-scaling",
        predictive_scaling_args(config, scaling),
        pulumi.ResourceOptions(depends_on=[keda.release, app]),
    )
"""


def synthesize(folder: Path, scaling: dict[str, Any], strategy: str = "rolling") -> Graph:
    folder.mkdir(parents=True, exist_ok=True)
    stack = projectai_values(stack_config("local"))
    stack["mesh"] = {"enabled": False}
    stack["delivery"] = {
        "strategy": strategy,
        **({"blueGreen": {"smokeTestImage": OPS_IMAGE}} if strategy == "blueGreen" else {}),
    }
    program = write_program(
        folder, "scaling", PROGRAM, {"test": {"test:stack": json.dumps(stack), "test:scaling": json.dumps(scaling)}}
    )
    for package in ("components", "stacks", "app", "policies"):
        (folder / package).symlink_to(ROOT / package)
    return Synthesizer(program).synthesize("test")


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return synthesize(tmp_path_factory.mktemp("scaling"), SCALING)


def named(graph: Graph, kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in objects(graph, kind) if m["metadata"]["name"] == name]
    return found


def test_every_object_is_valid_and_both_packs_pass(graph: Graph) -> None:
    valid_and_clean(graph, stack_config("local"))
    results = kubernetes.validate(graph, "1.33", CRD_SCHEMAS)
    scaled = [r for r in results if r.kind == "ScaledObject"]
    assert len(scaled) == 2 and {r.status for r in scaled} == {VALID}
    assert {Path(r.schema).resolve() for r in scaled} == {
        (CRD_SCHEMAS / "keda.sh/scaledobject_v1alpha1.json").resolve()
    }


def validation_of(graph: Graph, change: Any) -> ObjectResult:
    """The API's ScaledObject with `change` applied to its spec, as preflight validates it."""
    (resource,) = [
        r for r in graph.resources if r.type.endswith(":ScaledObject") and r.inputs["metadata"]["name"] == API
    ]
    changed = dataclasses.replace(resource, inputs=copy.deepcopy(resource.inputs))
    change(changed.inputs["spec"])
    (result,) = kubernetes.validate(Graph(graph.project, graph.stack, [changed], {}), "1.33", CRD_SCHEMAS)
    return result


@pytest.mark.parametrize(
    ("change", "error"),
    [
        pytest.param(lambda spec: spec.update(triggers=[]), "should be non-empty", id="no-trigger"),
        pytest.param(lambda spec: spec["triggers"][0].pop("type"), "'type' is a required", id="trigger-without-type"),
        pytest.param(
            lambda spec: spec["triggers"][0]["metadata"].update(threshold=50), "is not of type 'string'", id="number"
        ),
        pytest.param(lambda spec: spec["fallback"].update(behavior="sometimes"), "is not one of", id="fallback"),
        pytest.param(lambda spec: spec.update(maxReplicaCount=0), "less than the minimum of 1", id="max-below-one"),
        pytest.param(lambda spec: spec.update(pollingIntervall=15), "pollingIntervall", id="misspelt-field"),
        pytest.param(lambda spec: spec.pop("scaleTargetRef"), "'scaleTargetRef' is a required", id="no-target"),
        pytest.param(
            lambda spec: spec["triggers"][0].update(authenticationRef={"name": "a", "kind": "Secret"}),
            "is not one of",
            id="authentication-kind",
        ),
    ],
)
def test_an_invalid_scaled_object_fails_validation(graph: Graph, change: Any, error: str) -> None:
    assert validation_of(graph, lambda spec: None).status == VALID
    result = validation_of(graph, change)
    assert result.status == INVALID
    assert any(error in line for line in result.errors), result.errors


def scaled_object(graph: Graph, name: str = API) -> dict[str, Any]:
    return named(graph, "ScaledObject", name)["spec"]


def test_keda_comes_from_its_pinned_chart_scoped_to_what_it_scales(graph: Graph) -> None:
    chart = release(graph, "keda").inputs
    assert (chart["version"], chart["repositoryOpts"]["repo"], chart["atomic"]) == (
        "2.20.2",
        "https://kedacore.github.io/charts",
        True,
    )
    values = chart["values"]
    # Argo Rollouts by their resource name; no `*/scale` on every group.
    assert values["rbac"]["scaledRefKinds"] == [{"apiGroup": "argoproj.io", "kind": "rollouts"}]
    assert values["permissions"]["operator"]["restrict"]["secret"] is True
    assert values["prometheus"]["operator"]["serviceMonitor"]["additionalLabels"] == SELECTED_LABEL
    # The chart sets the app.kubernetes.io labels itself: ours would be duplicate keys.
    assert not any(key.startswith("app.kubernetes.io/") for key in values["additionalLabels"])


def test_the_keda_namespace_admits_the_api_server_and_monitoring_and_reaches_prometheus(graph: Graph) -> None:
    namespace = named(graph, "Namespace", "keda")["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"
    found = policies_in(graph, "keda")
    cidrs = stack_config("local")["projectai:kubernetes"]["apiServerCidrs"]
    assert set(found) == {
        "default-deny",
        "allow-dns",
        "allow-within-namespace",
        "allow-ingress-metrics",
        "allow-egress-prometheus",
        *(f"allow-egress-api-server-{i}" for i in range(len(cidrs))),
        *(f"allow-ingress-webhook-{i}" for i in range(len(cidrs))),
    }
    for index, cidr in enumerate(cidrs):
        (rule,) = found[f"allow-ingress-webhook-{index}"]["ingress"]
        assert rule["from"] == [{"ipBlock": {"cidr": cidr}}]
        assert {p["port"] for p in rule["ports"]} == {keda.METRICS_API_PORT, keda.WEBHOOK_PORT}
    (prometheus,) = found["allow-egress-prometheus"]["egress"]
    assert prometheus["ports"] == [{"port": 9090, "protocol": "TCP"}]
    assert prometheus["to"][0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    # What the monitoring stack must admit (its query_namespaces), enabled or not.
    assert prometheus_clients(PredictiveScalingConfig.model_validate(SCALING)) == ("keda",)
    assert prometheus_clients(PredictiveScalingConfig()) == ()


def test_the_api_scales_on_the_forecast_with_load_and_cpu_as_floors(graph: Graph) -> None:
    spec = scaled_object(graph)
    address = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
    forecast, load, cpu = spec["triggers"]
    assert [t["name"] for t in spec["triggers"]] == ["forecast", "current-load", "cpu"]
    for trigger in (forecast, load):
        assert (trigger["type"], trigger["metricType"]) == ("prometheus", "AverageValue")
        assert trigger["metadata"]["serverAddress"] == address
        assert trigger["metadata"]["threshold"] == "50"
    assert (
        'projectai_forecast_peak{namespace="project-ai",signal="requests_per_second",window="15m"}'
        in (forecast["metadata"]["query"])
    )
    assert load["metadata"]["query"].startswith('sum(rate(http_requests_total{namespace="project-ai",route!~')
    assert cpu == {"type": "cpu", "name": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}
    replicas = parse(projectai_values(stack_config("local")), "Pulumi.local.yaml").app.replicas
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (replicas.min, replicas.max)
    # Prometheus unreachable: never fewer replicas than now.
    assert spec["fallback"] == {
        "failureThreshold": 3,
        "replicas": replicas.min,
        "behavior": "currentReplicasIfHigher",
    }
    hpa = spec["advanced"]["horizontalPodAutoscalerConfig"]
    assert hpa["name"] == f"keda-hpa-{API}"
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert hpa["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0


@pytest.mark.parametrize(
    ("strategy", "target"),
    [
        ("rolling", {"apiVersion": "apps/v1", "kind": "Deployment", "name": API}),
        ("canary", {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": API}),
        ("blueGreen", {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": API}),
    ],
)
def test_the_scaled_object_replaces_the_hpa_for_every_strategy(
    tmp_path: Path, graph: Graph, strategy: str, target: dict[str, str]
) -> None:
    scaled = graph if strategy == "rolling" else synthesize(tmp_path / "on", SCALING, strategy)
    valid_and_clean(scaled, stack_config("local"))
    assert objects(scaled, "HorizontalPodAutoscaler") == []
    assert scaled_object(scaled)["scaleTargetRef"] == target
    assert "replicas" not in named(scaled, target["kind"], API)["spec"]
    # Off: the CPU HPA on the same target, and no KEDA at all.
    plain = synthesize(tmp_path / "off", {"enabled": False}, strategy)
    assert one(plain, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"] == target
    assert objects(plain, "ScaledObject") == [] and objects(plain, "PriorityClass") == []
    assert not [r for r in plain.resources if r.type == "kubernetes:helm.sh/v3:Release"]


def test_placeholders_hold_api_sized_room_at_the_expendable_cutoff(graph: Graph) -> None:
    priority = one(graph, "PriorityClass")
    assert (priority["value"], priority["globalDefault"], priority["preemptionPolicy"]) == (-10, False, "Never")
    placeholders = named(graph, "Deployment", f"{API}-headroom")
    assert placeholders["spec"]["replicas"] == 0  # until KEDA asks
    pod = placeholders["spec"]["template"]["spec"]
    api = named(graph, "Deployment", API)["spec"]["template"]["spec"]["containers"][0]
    (container,) = pod["containers"]
    assert pod["priorityClassName"] == priority["metadata"]["name"]
    assert pod["terminationGracePeriodSeconds"] == 0
    assert container["image"] == api["image"]
    assert container["resources"]["requests"] == api["resources"]["requests"]
    # Never selected by the API's Service or disruption budget.
    labels = placeholders["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] != API
    resource = next(
        r
        for r in graph.resources
        if r.inputs.get("metadata", {}).get("name") == f"{API}-headroom" and r.type.endswith(":Deployment")
    )
    assert resource.ignore_changes == ["spec.replicas"]


def test_the_cost_cap_bounds_the_placeholders(graph: Graph, tmp_path: Path) -> None:
    # 100 USD at 30 a pod buys 3, below the configured 6.
    spec = scaled_object(graph, f"{API}-headroom")
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 3)
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 0}
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{API}-headroom"}
    (trigger,) = spec["triggers"]
    assert (trigger["metricType"], trigger["metadata"]["threshold"]) == ("AverageValue", "1")
    # Decimal arithmetic: 0.3 at 0.1 a pod is 3 pods, not 2.
    args = predictive.HeadroomArgs("1", "1Gi", "image", 10001, 0, 6, 0.3, 0.1)
    assert args.replica_cap == 3
    assert predictive.HeadroomArgs("1", "1Gi", "image", 10001, 0, 2, 1000, 1).replica_cap == 2


def test_a_cost_cap_that_buys_no_placeholder_is_refused() -> None:
    headroom = {"monthlyCostCap": 29.99, "podMonthlyPrice": 30}
    with pytest.raises(ValidationError, match=r"monthlyCostCap 29\.99 buys no placeholder at podMonthlyPrice 30"):
        PredictiveScalingConfig.model_validate({**SCALING, "headroom": headroom})
    # Below one pod's price the cap buys none, whatever the configured maximum.
    assert predictive.HeadroomArgs("1", "1Gi", "image", 10001, 0, 5, 29.99, 30).replica_cap == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"enabled": True}, "requestsPerReplica: missing"),
        ({**SCALING, "requestsPerReplica": 0}, "greater than 0"),
        ({**SCALING, "forecastMaxAgeSeconds": 901}, "forecastMaxAgeSeconds: 901 would trust a forecast"),
        (
            {**SCALING, "leadTimeMinutes": 1, "forecastMaxAgeSeconds": 60, "pollingSeconds": 20},
            "pollingSeconds × fallbackFailures",
        ),
        ({**SCALING, "kedaChartVersion": "latest"}, "String should match pattern"),
        ({**SCALING, "headroom": {**SCALING["headroom"], "margin": 1.5}}, "less than or equal to 1"),
        ({**SCALING, "headroom": {"monthlyCostCap": 10}}, "podMonthlyPrice"),
        ({**SCALING, "requestPerReplica": 5}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config_is_refused_with_what_was_expected(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PredictiveScalingConfig.model_validate(config)


def test_disabled_needs_nothing_else() -> None:
    assert PredictiveScalingConfig.model_validate({}).enabled is False


QUERY_ARGS = predictive.PredictiveScalingArgs(
    owner=Ownership(team="platform", cost_center="cc-1", environment="test"),
    namespace=NAMESPACE,
    target=predictive.ScaleTarget("apps/v1", "Deployment", API),
    prometheus_address="http://prometheus:9090",
    min_replicas=2,
    max_replicas=8,
    requests_per_replica=50,
    target_cpu_utilization=70,
    scale_down_stabilization_seconds=300,
    forecast_window="15m",
    forecast_max_age_seconds=300,
    headroom=predictive.HeadroomArgs("250m", "256Mi", "image", 10001, 0.2, 6, 100, 30),
)
NS = f'namespace="{NAMESPACE}"'
PEAK = f'projectai_forecast_peak{{{NS},signal="requests_per_second",window="15m"}}'
LAST_SUCCESS = f"projectai_insight_last_success_timestamp_seconds{{{NS}}}"
RUNNING = f'kube_horizontalpodautoscaler_status_current_replicas{{{NS},horizontalpodautoscaler="keda-hpa-{API}"}}'


def assert_evaluates(query: str, series: dict[str, str], expected: list[float], tmp_path: Path) -> None:
    """promtool evaluates the query 10 minutes into `series` (one sample a minute) and
    finds exactly `expected`: one unlabelled value, or none (KEDA reads none as 0)."""
    samples = [{"labels": "{}", "value": value} for value in expected]
    tests = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": name, "values": values} for name, values in series.items()],
                "promql_expr_test": [{"expr": query, "eval_time": "10m", "exp_samples": samples}],
            }
        ],
    }
    path = tmp_path / "tests.yaml"
    path.write_text(yaml.safe_dump(tests))
    result = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# The forecaster last succeeded 1 minute before the evaluation (600 s), or 20 minutes.
FRESH, FROZEN = "540+0x10", "0+0x10"


@pytest.mark.parametrize(
    ("last_success", "peak", "expected"),
    [(FRESH, "400+0x10", [400.0]), (FROZEN, "400+0x10", []), (FRESH, None, [])],
    ids=["fresh", "frozen-forecaster", "no-forecast"],
)
def test_the_forecast_counts_only_while_the_forecaster_is_fresh(
    tmp_path: Path, last_success: str, peak: str | None, expected: list[float]
) -> None:
    series = {LAST_SUCCESS: last_success, **({PEAK: peak} if peak else {})}
    assert_evaluates(predictive.forecast_query(QUERY_ARGS), series, expected, tmp_path)


def test_the_current_load_counts_the_apis_requests_without_probes(tmp_path: Path) -> None:
    # 60 requests a minute on a route, 600 a minute on the readiness probe, and another namespace's.
    series = {
        f'http_requests_total{{{NS},route="/v1/chat",pod="a"}}': "0+60x10",
        f'http_requests_total{{{NS},route="/readyz",pod="a"}}': "0+600x10",
        'http_requests_total{namespace="other",route="/v1/chat",pod="b"}': "0+6000x10",
    }
    assert_evaluates(predictive.current_load_query(QUERY_ARGS), series, [1.0], tmp_path)


@pytest.mark.parametrize(
    ("peak", "running", "last_success", "expected"),
    [
        # 400 req/s x 1.2 / 50 = 9.6: 10 pods, at most the API's 8; 3 run: 5 placeholders.
        ("400+0x10", "3+0x10", FRESH, [5.0]),
        # 100 x 1.2 / 50 = 2.4: 3 pods; 2 run: 1.
        ("100+0x10", "2+0x10", FRESH, [1.0]),
        # The API already runs more than the peak needs: none, never negative.
        ("100+0x10", "6+0x10", FRESH, [0.0]),
        # A frozen forecaster holds no room.
        ("400+0x10", "3+0x10", FROZEN, []),
    ],
    ids=["capped-by-the-api-maximum", "margin-rounds-up", "never-negative", "frozen-forecaster"],
)
def test_placeholders_cover_the_forecast_peak_beyond_the_running_replicas(
    tmp_path: Path, peak: str, running: str, last_success: str, expected: list[float]
) -> None:
    assert QUERY_ARGS.headroom is not None
    query = predictive.headroom_query(QUERY_ARGS, QUERY_ARGS.headroom)
    series = {PEAK: peak, RUNNING: running, LAST_SUCCESS: last_success}
    assert_evaluates(query, series, expected, tmp_path)
