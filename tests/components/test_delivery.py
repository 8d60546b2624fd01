"""Progressive delivery as synthesized: Rollouts, analysis, migration ordering, and what a
release (and a rollback) changes."""

from __future__ import annotations

import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import metrics as app_metrics
from components.delivery.analysis import SMOKE_TEST_KEY
from components.secret_volume import SECRETS_DIR
from preflight import kubernetes
from preflight.diff import REPLACED, UPDATED, diff
from preflight.graph import Graph
from preflight.kubernetes import VALID
from preflight.synth import Synthesizer
from stacks.config import ConfigError, parse
from tests.conftest import CRD_SCHEMAS, ROOT, copy_project, objects, one, projectai_values, stack_config

# The ops image blue-green's smoke test runs.
OPS_IMAGE = {"repository": "ghcr.io/project-ai/ops", "digest": "sha256:" + "0" * 64}


def synthesize(folder: Path, strategy: str, tag: str = "0.1.0", **delivery: Any) -> Graph:
    folder.mkdir(parents=True, exist_ok=True)
    if strategy == "blueGreen":
        delivery.setdefault("blueGreen", {"smokeTestImage": OPS_IMAGE})
    config = stack_config("local")
    config["projectai:delivery"] = {"strategy": strategy, **delivery}
    # Routing by ingress-nginx, as every stack without the mesh routes (with it:
    # tests/stacks/test_mesh.py and test_canary_routes.py).
    config["projectai:mesh"] = {"enabled": False}
    config["projectai:app"]["image"]["tag"] = tag
    return Synthesizer(copy_project(folder, "release", config)).synthesize("release")


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return synthesize(
        tmp_path_factory.mktemp("canary"),
        "canary",
        canary={"weights": [10, 50], "pauseSeconds": 120},
        analysis={"minSuccessRate": 0.995, "maxP99LatencySeconds": 0.5, "failureLimit": 1, "inconclusiveLimit": 2},
    )


@pytest.fixture(scope="module")
def blue_green(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return synthesize(
        tmp_path_factory.mktemp("blue-green"),
        "blueGreen",
        blueGreen={"autoPromotion": True, "scaleDownDelaySeconds": 300, "smokeTestImage": OPS_IMAGE},
    )


def test_blue_green_needs_the_ops_image_by_digest_for_its_smoke_test() -> None:
    config = projectai_values(stack_config("local"))
    config["delivery"] = {"strategy": "blueGreen"}
    with pytest.raises(ConfigError, match=r"delivery\.blueGreen\.smokeTestImage: missing; expected the ops image"):
        parse(config, "Pulumi.local.yaml")
    config["delivery"]["blueGreen"] = {"smokeTestImage": {"repository": OPS_IMAGE["repository"], "tag": "1.0.0"}}
    with pytest.raises(ConfigError, match=r"smokeTestImage: expected the ops image pinned by digest"):
        parse(config, "Pulumi.local.yaml")
    # A stack with the canary judge's ops image shares it.
    staging = parse(projectai_values(stack_config("staging")), "Pulumi.staging.yaml")
    assert staging.smoke_test_image() == staging.delivery.canary.judge.image


def analysis_step(*templates: str) -> dict[str, Any]:
    return {
        "analysis": {
            "templates": [{"templateName": name} for name in templates],
            "args": [{"name": "pod-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}],
        }
    }


def test_canary_steps_through_real_traffic_shares(canary: Graph) -> None:
    strategy = one(canary, "Rollout")["spec"]["strategy"]["canary"]
    assert strategy["steps"] == [
        {"setWeight": 10},
        {"pause": {"duration": "120s"}},
        analysis_step("success-rate", "latency-p99"),
        {"setWeight": 50},
        {"pause": {"duration": "120s"}},
        analysis_step("success-rate", "latency-p99"),
    ]
    assert strategy["trafficRouting"] == {"nginx": {"stableIngress": "project-ai-api"}}
    assert (strategy["stableService"], strategy["canaryService"]) == ("project-ai-api", "project-ai-api-canary")
    services = {s["metadata"]["name"] for s in objects(canary, "Service")}
    assert services == {"project-ai-api", "project-ai-api-canary"}
    assert one(canary, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == (
        "project-ai-api"
    )


def test_rollouts_roll_back_fast_and_replace_the_deployment(canary: Graph) -> None:
    spec = one(canary, "Rollout")["spec"]
    assert spec["rollbackWindow"] == {"revisions": 3}
    assert "replicas" not in spec  # the HPA owns it
    assert objects(canary, "Deployment") == []
    hpa = one(canary, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert hpa == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "project-ai-api"}
    assert spec["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"


def metric(graph: Graph, template: str) -> dict[str, Any]:
    found = [t for t in objects(graph, "AnalysisTemplate") if t["metadata"]["name"] == template]
    return found[0]["spec"]["metrics"][0]


def test_a_canary_failing_every_request_measures_zero_not_inconclusive(canary: Graph) -> None:
    query = metric(canary, "success-rate")["provider"]["prometheus"]["query"]
    assert query.startswith("1 - ((sum(rate(http_requests_total{") and "or vector(0))" in query


def test_spreading_counts_each_rollout_revision(canary: Graph) -> None:
    constraints = one(canary, "Rollout")["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {tuple(c["matchLabelKeys"]) for c in constraints} == {("rollouts-pod-template-hash",)}


def test_pulumi_waits_for_the_migration_as_long_as_it_may_run(canary: Graph) -> None:
    assert one(canary, "Job")["spec"]["activeDeadlineSeconds"] == 900
    job = next(r for r in canary.resources if r.type == "kubernetes:batch/v1:Job")
    assert job.timeouts == {"create": "1020s", "update": "1020s"}  # beyond Pulumi's 10-minute default


def test_analysis_thresholds_limits_and_inconclusive_empty_results(canary: Graph) -> None:
    success = metric(canary, "success-rate")
    assert success["successCondition"] == "len(result) > 0 && !isNaN(result[0]) && result[0] >= 0.995"
    assert success["failureCondition"] == "len(result) > 0 && !isNaN(result[0]) && result[0] < 0.995"
    assert (success["failureLimit"], success["inconclusiveLimit"], success["interval"]) == (1, 2, "60s")
    latency = metric(canary, "latency-p99")
    assert latency["successCondition"].endswith("result[0] <= 0.5")
    assert latency["failureCondition"].endswith("result[0] > 0.5")
    assert success["provider"]["prometheus"]["address"] == "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"


@pytest.mark.parametrize("template", ["success-rate", "latency-p99"])
def test_analysis_queries_read_metrics_the_app_exports(canary: Graph, template: str) -> None:
    query = metric(canary, template)["provider"]["prometheus"]["query"]
    exposition = {
        "http_requests_total": set(app_metrics.REQUESTS._labelnames),
        "http_request_duration_seconds_bucket": {*app_metrics.LATENCY._labelnames, "le"},
    }
    # Labels Prometheus adds from the target (namespace) and the pod (its template hash).
    added = {"namespace", "rollouts_pod_template_hash"}
    used = re.findall(r"([a-z_]+)\{([^}]*)\}", query)
    assert used, query
    for name, matchers in used:
        assert name in exposition, f"{name} is not a metric the app exports"
        labels = set(re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", matchers))
        assert labels <= exposition[name] | added, labels - exposition[name] - added
    assert "{{args.pod-hash}}" in query and 'route!~"/livez|/readyz|/startupz|/metrics|/v1/health"' in query


def test_blue_green_switches_services_after_analysis_and_a_smoke_test(blue_green: Graph) -> None:
    strategy = one(blue_green, "Rollout")["spec"]["strategy"]["blueGreen"]
    assert (strategy["activeService"], strategy["previewService"]) == ("project-ai-api", "project-ai-api-preview")
    assert strategy["autoPromotionEnabled"] is True and strategy["scaleDownDelaySeconds"] == 300
    # The preview has no user traffic: the smoke test gates promotion, metrics judge it after.
    assert strategy["prePromotionAnalysis"] == analysis_step("smoke-test")["analysis"]
    assert strategy["postPromotionAnalysis"] == analysis_step("success-rate", "latency-p99")["analysis"]
    job = metric(blue_green, "smoke-test")["provider"]["job"]
    assert job["metadata"]["labels"]["team"] and job["spec"]["template"]["metadata"]["labels"]["cost-center"]
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    # The ops image runs `ops smoke` (its ENTRYPOINT is `python -m ops`).
    assert container["image"] == f"{OPS_IMAGE['repository']}@{OPS_IMAGE['digest']}"
    assert container["args"] == [
        "smoke",
        "--url",
        "http://project-ai-api-preview.project-ai.svc",
        "--key-file",
        f"{SECRETS_DIR}/{SMOKE_TEST_KEY}",
    ]
    # The key is a read-only file, readable by the pod's group; never an environment variable.
    assert "env" not in container
    assert container["volumeMounts"] == [{"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True}]
    assert pod["volumes"] == [
        {
            "name": "secrets",
            "projected": {"defaultMode": 0o440, "sources": [{"secret": {"name": "project-ai-api-smoke-test"}}]},
        }
    ]
    assert pod["securityContext"]["fsGroup"] == container["securityContext"]["runAsUser"]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    policies = {p["metadata"]["name"] for p in objects(blue_green, "NetworkPolicy")}
    assert {"allow-smoke-test-egress", "allow-smoke-test-ingress"} <= policies


SMOKE_KEY = "pai_smoke_0123456789"


class _Preview(http.server.BaseHTTPRequestHandler):
    """The preview Service: ready, and /v1/models only for the smoke test's key."""

    def do_GET(self) -> None:
        authorized = self.headers.get("Authorization") == f"Bearer {SMOKE_KEY}"
        self.send_response(200 if self.path == "/readyz" or authorized else 401)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def preview() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Preview)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("key", "passes"), [(SMOKE_KEY, True), ("pai_wrong", False)])
def test_the_smoke_test_calls_the_api_with_the_key_from_its_file(
    blue_green: Graph, preview: str, tmp_path: Path, key: str, passes: bool
) -> None:
    """The Job's arguments as the ops image runs them, its secrets directory in a temporary folder."""
    (tmp_path / SMOKE_TEST_KEY).write_text(key)
    container = metric(blue_green, "smoke-test")["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]
    arguments = [
        a.replace("http://project-ai-api-preview.project-ai.svc", preview).replace(SECRETS_DIR, str(tmp_path))
        for a in container["args"]
    ]
    result = subprocess.run(
        [sys.executable, "-m", "ops", *arguments], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert (result.returncode == 0) is passes, result.stderr
    assert key not in result.stdout + result.stderr


@pytest.mark.parametrize("graph", ["canary", "blue_green"])
def test_argo_resources_validate_against_their_crd_schemas(graph: str, request: pytest.FixtureRequest) -> None:
    results = kubernetes.validate(request.getfixturevalue(graph), "1.33", CRD_SCHEMAS)
    argo = [r for r in results if r.api_version.startswith("argoproj.io/")]
    assert argo and all(r.status == VALID and "argoproj.io" in r.schema for r in argo)
    assert [r.title for r in results if r.status != VALID] == []


def test_the_controller_comes_from_its_chart_at_a_pinned_version(canary: Graph) -> None:
    (release,) = [
        r for r in canary.resources if r.type == "kubernetes:helm.sh/v3:Release" and r.name.startswith("argo")
    ]
    assert release.inputs["chart"] == "argo-rollouts" and release.inputs["version"] == "2.40.1"
    assert release.inputs["repositoryOpts"] == {"repo": "https://argoproj.github.io/argo-helm"}
    # Depending on the component means depending on its children: the chart comes first.
    app = next(r for r in canary.resources if r.type == "projectai:workload:AppService")
    assert release.urn in app.dependencies


def test_the_rollout_waits_for_the_release_migration(canary: Graph) -> None:
    job = next(r for r in canary.resources if r.type == "kubernetes:batch/v1:Job")
    rollout = next(r for r in canary.resources if r.type.endswith(":Rollout"))
    assert job.urn in rollout.dependencies
    templates = [r.urn for r in canary.resources if r.type.endswith(":AnalysisTemplate")]
    assert set(templates) <= set(rollout.dependencies)


KINDS = {"rolling": "Deployment", "canary": "Rollout", "blueGreen": "Rollout"}


@pytest.mark.parametrize("strategy", ["canary", "blueGreen", "rolling"])
def test_a_release_changes_the_pod_template_and_the_migration_job_and_nothing_else(
    strategy: str, tmp_path: Path
) -> None:
    release_n = synthesize(tmp_path / "n", strategy, tag="1.4.2")
    release_n1 = synthesize(tmp_path / "n1", strategy, tag="1.4.3")
    workload = "api-deployment" if strategy == "rolling" else "api-rollout"
    for before, after in ((release_n, release_n1), (release_n1, release_n)):  # release, then rollback
        changes = {(c.type.rsplit(":", 1)[-1], c.name): c for c in diff(before, after)}
        assert set(changes) == {("Job", "api-migration"), (KINDS[strategy], workload)}
        assert changes[("Job", "api-migration")].action == REPLACED  # a new Job per release
        rollout = changes[(KINDS[strategy], workload)]
        assert rollout.action == UPDATED
        assert all(path.startswith("spec.template.") for path in rollout.paths), rollout.paths
