"""The experiments as code (components/chaos/experiments.py): one Schedule per experiment,
named as the failure-mode catalog names it, each running a Workflow whose fault runs
beside a steady-state check that aborts it; the faults select the API's pods alone; the
steady-state guard watches the API's burn-rate alerts, reachable from the Chaos Mesh
controller alone. Every object valid against the vendored chaos-mesh.org schemas."""

from __future__ import annotations

from typing import Any

import yaml

from components.chaos import plan, workflows
from components.monitoring.rules import slo_alerts
from preflight import kubernetes
from preflight.graph import Graph
from stacks import chaos as stack_chaos
from tests.chaos.conftest import (
    LOCAL_CACHE,
    LOCAL_DATABASE,
    NAMESPACE,
    OPS_IMAGE,
    local_with_chaos,
    schedules,
    templates,
)
from tests.conftest import CRD_SCHEMAS, ROOT, local_rule_args, objects, policies_in, valid_and_clean

# The experiments, their kinds and failure modes, as issue #18 and the catalog name them.
EXPECTED = {
    "api-pod-kill": ("PodChaos", "pod-loss"),
    "api-container-kill": ("PodChaos", "pod-loss"),
    "api-node-loss": ("PodChaos", "node-loss"),
    "api-zone-loss": ("PodChaos", "zone-loss"),
    "api-redis-partition": ("NetworkChaos", "redis-loss"),
    "api-redis-delay": ("NetworkChaos", "redis-freeze"),
    "api-database-delay": ("NetworkChaos", "database-freeze"),
    "api-database-partition": ("NetworkChaos", "network-partition"),
    "api-network-loss": ("NetworkChaos", "network-partition"),
    "api-http-delay": ("HTTPChaos", "slow-upstream"),
    "api-http-abort": ("HTTPChaos", "failing-upstream"),
    "api-dns-error": ("DNSChaos", "dns-failure"),
    "api-clock-skew": ("TimeChaos", "clock-skew"),
    "api-cpu-stress": ("StressChaos", "cpu-pressure"),
    "api-memory-stress": ("StressChaos", "memory-pressure"),
}
GAME_DAYS = {"game-day-serial": "Serial", "game-day-parallel": "Parallel"}
API_SELECTOR = {"app.kubernetes.io/name": "project-ai-api", "app.kubernetes.io/instance": "project-ai-api-dev"}
GUARD_URL = "http://chaos-steady-state-guard.project-ai.svc.cluster.local:8080/v1/steady-state"


def fault(graph: Graph, name: str) -> tuple[str, dict[str, Any]]:
    """A single experiment's chaos kind and spec."""
    (template,) = [t for t in templates(schedules(graph)[name]).values() if t["name"] == f"{name}-fault"]
    kind = template["templateType"]
    return kind, template[workflows.TEMPLATE_KEYS[kind]]


def test_every_chaos_object_is_valid_against_the_vendored_schemas(dev: Graph, staging: Graph) -> None:
    for graph in (dev, staging):
        results = kubernetes.validate(graph, "1.33", CRD_SCHEMAS)
        chaos = [r for r in results if r.schema and "chaos-mesh.org" in r.schema]
        assert len(chaos) == len(EXPECTED) + len(GAME_DAYS)
        assert [(r.title, r.errors) for r in chaos if r.status != kubernetes.VALID] == []


def test_the_experiments_are_named_and_kinded_as_the_issue_says(dev: Graph) -> None:
    found = schedules(dev)
    assert set(found) == set(EXPECTED) | set(GAME_DAYS)
    for name, (kind, mode) in EXPECTED.items():
        assert fault(dev, name)[0] == kind, name
        assert found[name]["metadata"]["annotations"]["chaos.project-ai.dev/failure-modes"] == mode
    for name, kind in GAME_DAYS.items():
        kinds = {t["templateType"] for t in templates(found[name]).values()}
        assert kinds >= {"Parallel", "StatusCheck"} and (kind == "Parallel" or "Serial" in kinds)


def test_every_cluster_experiment_of_the_catalog_exists_and_every_experiment_is_in_it(dev: Graph) -> None:
    catalog = yaml.safe_load((ROOT / "ops" / "chaos" / "failure_modes.yaml").read_text())["modes"]
    named = {name: {m["id"] for m in catalog if name in m.get("cluster", [])} for name in schedules(dev)}
    assert {name for mode in catalog for name in mode.get("cluster", [])} == set(schedules(dev))
    for name, schedule in schedules(dev).items():
        annotated = set(schedule["metadata"]["annotations"]["chaos.project-ai.dev/failure-modes"].split(","))
        assert annotated == named[name], name


def test_each_experiment_runs_its_faults_beside_a_steady_state_check_that_aborts_it(dev: Graph) -> None:
    for name, schedule in schedules(dev).items():
        workflow = schedule["spec"]["workflow"]
        assert workflows.problems(workflow) == [], name
        found = templates(schedule)
        entry = found[workflow["entry"]]
        assert entry["templateType"] == "Parallel" and f"{name}-steady-state" in entry["children"]
        check = found[f"{name}-steady-state"]
        assert check["abortWithStatusCheck"] is True
        status = check["statusCheck"]
        assert status["mode"] == "Continuous" and status["type"] == "HTTP"
        assert status["http"] == {"url": GUARD_URL, "method": "GET", "criteria": {"statusCode": "200"}}
        assert status["failureThreshold"] == 2 and status["timeoutSeconds"] > 2  # the guard's own Prometheus timeout
        # The check watches the faults and the recovery after them; everything has a deadline.
        experiment = plan.BY_NAME[name]
        assert status["duration"] == check["deadline"] == f"{experiment.seconds(180, 120)}s"
        chaos = [t for t in found.values() if t["templateType"] in workflows.TEMPLATE_KEYS]
        assert chaos and all(t["deadline"] == "180s" for t in chaos)
        assert not [t for t in chaos if "duration" in t[workflows.TEMPLATE_KEYS[t["templateType"]]]]


def test_the_serial_game_day_runs_one_fault_after_the_other_and_the_parallel_one_at_once(dev: Graph) -> None:
    serial = templates(schedules(dev)["game-day-serial"])
    assert serial["game-day-serial"]["children"] == ["game-day-serial-faults", "game-day-serial-steady-state"]
    assert serial["game-day-serial-faults"]["templateType"] == "Serial"
    assert serial["game-day-serial-faults"]["children"] == ["game-day-serial-redis-delay", "game-day-serial-cpu-stress"]
    assert serial["game-day-serial-redis-delay"]["templateType"] == "NetworkChaos"
    assert serial["game-day-serial-cpu-stress"]["templateType"] == "StressChaos"
    parallel = templates(schedules(dev)["game-day-parallel"])
    assert parallel["game-day-parallel"]["children"] == [
        "game-day-parallel-pod-kill",
        "game-day-parallel-http-delay",
        "game-day-parallel-steady-state",
    ]


def test_the_schedules_never_overlap_and_never_run_twice_at_once(dev: Graph, staging: Graph) -> None:
    for graph, day in ((dev, "2"), (staging, "4")):
        found = schedules(graph)
        crons = [found[experiment.name]["spec"]["schedule"] for experiment in plan.EXPERIMENTS]
        # Tuesdays (dev) and Thursdays (staging) from 01:00 New York time, fifteen minutes apart.
        assert crons[0] == f"CRON_TZ=America/New_York 0 1 * * {day}"
        assert crons[1] == f"CRON_TZ=America/New_York 15 1 * * {day}"
        assert crons[-1] == f"CRON_TZ=America/New_York 0 5 * * {day}"
        assert len(set(crons)) == len(crons)
        for schedule in found.values():
            spec = schedule["spec"]
            assert spec["type"] == "Workflow" and spec["concurrencyPolicy"] == "Forbid"
            assert spec["startingDeadlineSeconds"] == 300 and spec["historyLimit"] == 3


def test_every_fault_selects_the_apis_own_pods_in_its_namespace(dev: Graph) -> None:
    (deployment,) = [d for d in objects(dev, "Deployment") if d["metadata"]["name"] == "project-ai-api"]
    assert deployment["spec"]["selector"]["matchLabels"] == API_SELECTOR
    assert deployment["spec"]["template"]["spec"]["containers"][0]["name"] == stack_chaos.API_CONTAINER
    for schedule in schedules(dev).values():
        assert schedule["metadata"]["namespace"] == NAMESPACE
        for template in templates(schedule).values():
            key = workflows.TEMPLATE_KEYS.get(template["templateType"])
            if key:
                selector = template[key]["selector"]
                assert selector["namespaces"] == [NAMESPACE] and selector["labelSelectors"] == API_SELECTOR
                # No pods of another namespace (refused when namespace-scoped): HTTPChaos's
                # `target` is the request or response, NetworkChaos has none.
                assert not isinstance(template[key].get("target"), dict)


def test_the_pod_faults(dev: Graph) -> None:
    kill = fault(dev, "api-pod-kill")[1]
    assert (kill["action"], kill["mode"], kill["gracePeriod"]) == ("pod-kill", "one", 0)
    kill = fault(dev, "api-container-kill")[1]
    assert (kill["action"], kill["mode"], kill["containerNames"]) == ("container-kill", "one", ["api"])
    node = fault(dev, "api-node-loss")[1]
    assert (node["action"], node["mode"], node["value"]) == ("pod-failure", "fixed-percent", "50")
    zone = fault(dev, "api-zone-loss")[1]
    assert (zone["action"], zone["mode"]) == ("pod-failure", "all")
    # dev's network spans us-east-1a, b, c: the first one goes down.
    assert zone["selector"]["nodeSelectors"] == {"topology.kubernetes.io/zone": "us-east-1a"}


def test_the_network_faults_target_the_platforms_endpoints_by_name(dev: Graph) -> None:
    (cache,) = fault(dev, "api-redis-partition")[1]["externalTargets"]
    assert cache.endswith(".cache.amazonaws.com") and "@" not in cache and ":" not in cache  # no AUTH token
    for name, action in (("api-redis-partition", "partition"), ("api-redis-delay", "delay")):
        spec = fault(dev, name)[1]
        assert (spec["action"], spec["direction"], spec["externalTargets"]) == (action, "to", [cache])
    # Eight times the app's Redis timeout (0.25 s): every call times out.
    assert fault(dev, "api-redis-delay")[1]["delay"] == {"latency": "2000ms"}
    databases = fault(dev, "api-database-partition")[1]["externalTargets"]
    assert databases and all(".rds.amazonaws.com" in host for host in databases)
    assert fault(dev, "api-database-delay")[1]["externalTargets"] == databases
    # Twice the app's statement and connect timeouts (3 s).
    assert fault(dev, "api-database-delay")[1]["delay"] == {"latency": "6000ms"}
    loss = fault(dev, "api-network-loss")[1]
    assert (loss["action"], loss["loss"], loss["externalTargets"]) == (
        "loss",
        {"loss": "40", "correlation": "25"},
        databases,
    )


def test_the_app_defaults_the_fault_sizes_follow_are_the_apps() -> None:
    from app.settings import Settings

    fields = Settings.model_fields
    assert fields["redis_timeout_seconds"].default == stack_chaos.REDIS_TIMEOUT_SECONDS
    assert fields["db_statement_timeout_seconds"].default == stack_chaos.DB_STATEMENT_TIMEOUT_SECONDS
    assert fields["db_connect_timeout_seconds"].default == stack_chaos.DB_CONNECT_TIMEOUT_SECONDS


def test_the_http_dns_time_and_stress_faults(dev: Graph) -> None:
    for name, action in (("api-http-delay", {"delay": "5000ms"}), ("api-http-abort", {"abort": True})):
        spec = fault(dev, name)[1]
        assert (spec["target"], spec["port"], spec["path"], spec["mode"]) == ("Request", 8000, "/v*", "one")
        assert {key: spec[key] for key in action} == action
    dns = fault(dev, "api-dns-error")[1]
    cache = fault(dev, "api-redis-partition")[1]["externalTargets"]
    databases = fault(dev, "api-database-partition")[1]["externalTargets"]
    assert dns["action"] == "error" and dns["patterns"] == [*databases, *cache]
    skew = fault(dev, "api-clock-skew")[1]
    assert (skew["timeOffset"], skew["containerNames"], skew["mode"]) == ("-5m", ["api"], "one")
    cpu = fault(dev, "api-cpu-stress")[1]
    assert cpu["stressors"] == {"cpu": {"workers": 1, "load": 80}} and cpu["containerNames"] == ["api"]
    memory = fault(dev, "api-memory-stress")[1]
    # Half of dev's 512Mi limit, and the stressor is the OOM killer's first choice.
    assert memory["stressors"] == {"memory": {"workers": 1, "size": "268MB", "oomScoreAdj": 1000}}


def test_the_guard_watches_every_burn_rate_alert_and_runs_hardened(dev: Graph) -> None:
    (deployment,) = [d for d in objects(dev, "Deployment") if d["metadata"]["name"] == "chaos-steady-state-guard"]
    assert deployment["metadata"]["namespace"] == NAMESPACE
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert args[:2] == ["chaos", "guard"] and "command" not in container
    alerts = [args[i + 1] for i, arg in enumerate(args) if arg == "--alert"]
    rules = slo_alerts(local_rule_args(namespace=NAMESPACE))
    assert alerts == [rule["alert"] for rule in rules] and len(alerts) == 8
    assert all(rule["alert"].startswith(("ApiAvailabilityBudgetBurn", "ApiLatencyBudgetBurn")) for rule in rules)
    assert args[args.index("--namespace") + 1] == NAMESPACE and "--pending" in args
    assert args[args.index("--listen") + 1] == "0.0.0.0:8080"
    assert args[args.index("--prometheus") + 1] == "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
    assert container["image"].endswith(
        "/project-ai/ops@sha256:" + "4e7a1c9b0d2f3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90"
    )
    assert pod["automountServiceAccountToken"] is False and container["securityContext"]["readOnlyRootFilesystem"]
    assert container["securityContext"]["runAsNonRoot"] and container["securityContext"]["capabilities"] == {
        "drop": ["ALL"]
    }
    service = [s for s in objects(dev, "Service") if s["metadata"].get("name") == "chaos-steady-state-guard"]
    assert service and service[0]["spec"]["type"] == "ClusterIP"


def test_only_the_chaos_controller_reaches_the_guard_which_reaches_prometheus_and_dns(dev: Graph) -> None:
    guard = {
        "app.kubernetes.io/name": "chaos-steady-state-guard",
        "app.kubernetes.io/instance": "chaos-steady-state-guard-dev",
    }
    app = policies_in(dev, NAMESPACE)
    caller = app["chaos-steady-state-guard-allow-chaos-controller"]
    assert caller["podSelector"]["matchLabels"] == guard and caller["policyTypes"] == ["Ingress"]
    assert caller["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "chaos-mesh"}},
                    "podSelector": {
                        "matchLabels": {
                            "app.kubernetes.io/name": "chaos-mesh",
                            "app.kubernetes.io/instance": "chaos-mesh",
                            "app.kubernetes.io/component": "controller-manager",
                        }
                    },
                }
            ],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        }
    ]
    prometheus = app["chaos-steady-state-guard-allow-egress-prometheus"]["egress"][0]
    assert prometheus["ports"] == [{"port": 9090, "protocol": "TCP"}]
    assert prometheus["to"][0]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert {p["port"] for p in app["chaos-steady-state-guard-allow-dns"]["egress"][0]["ports"]} == {53}
    # Other guard policies: none. What selects the guard's pods is the namespace's default deny and these.
    selecting = [n for n, p in app.items() if p["podSelector"].get("matchLabels") == guard]
    assert sorted(selecting) == sorted(n for n in app if n.startswith("chaos-steady-state-guard-"))
    # Prometheus's namespace denies by default: its pods take the guard's queries, and only its.
    admitted = policies_in(dev, "monitoring")["allow-ingress-chaos-steady-state-guard"]
    assert admitted["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert admitted["ingress"][0]["from"][0]["podSelector"] == {"matchLabels": guard}
    assert admitted["ingress"][0]["ports"] == [{"port": 9090, "protocol": "TCP"}]


def test_each_schedule_waits_for_chaos_mesh_the_api_and_its_alerts(dev: Graph) -> None:
    (schedule,) = [r for r in dev.resources if r.type.endswith(":Schedule") and r.name.endswith("api-pod-kill")]
    names = {urn.rsplit("::", 1)[-1] for urn in schedule.dependencies}
    assert {
        "chaos-mesh-release",
        "api-deployment",
        "project-ai-api-rules",
        "chaos-experiments-guard-deployment",
    } <= names


# --- a laptop cluster with chaos turned on: its data in the cluster, its mesh signed ---


def test_in_cluster_data_is_reached_by_its_service_names(local_chaos: Graph) -> None:
    found = schedules(local_chaos)
    assert set(found) == set(EXPECTED) | set(GAME_DAYS)
    for name, host in (("api-database-partition", LOCAL_DATABASE), ("api-redis-partition", LOCAL_CACHE)):
        (template,) = [t for t in templates(found[name]).values() if t["name"] == f"{name}-fault"]
        assert template["networkChaos"]["externalTargets"] == [host]
    (zone,) = [t for t in templates(found["api-zone-loss"]).values() if t["name"] == "api-zone-loss-fault"]
    assert zone["podChaos"]["selector"]["nodeSelectors"] == {"topology.kubernetes.io/zone": "zone-a"}
    (schedule,) = [s for s in found.values() if s["metadata"]["name"] == "api-pod-kill"]
    assert schedule["spec"]["schedule"] == "CRON_TZ=UTC 0 1 * * 2"


def test_in_the_mesh_the_guard_stays_out_of_it_as_the_judge_does(local_chaos: Graph) -> None:
    (deployment,) = [
        d for d in objects(local_chaos, "Deployment") if d["metadata"]["name"] == "chaos-steady-state-guard"
    ]
    assert deployment["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == OPS_IMAGE
    (namespace,) = [n for n in objects(local_chaos, "Namespace") if n["metadata"]["name"] == NAMESPACE]
    assert namespace["metadata"]["labels"]["istio-injection"] == "enabled"


def test_the_local_copy_is_valid_and_passes_both_packs(local_chaos: Graph) -> None:
    report = valid_and_clean(local_chaos, local_with_chaos())
    assert "chaos-mesh-namespace" in {f.urn.rsplit("::", 1)[-1] for f in report.outcome.waived}


def test_the_guards_arguments_are_what_ops_chaos_guard_takes(dev: Graph) -> None:
    """The program and the ops CLI agree: the Deployment's args parse as `ops chaos guard`."""
    import argparse

    from ops.chaos import guard

    (deployment,) = [d for d in objects(dev, "Deployment") if d["metadata"]["name"] == "chaos-steady-state-guard"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    root = argparse.ArgumentParser()
    groups = root.add_subparsers(dest="group")
    chaos = groups.add_parser("chaos").add_subparsers(dest="command")
    guard.register(chaos)
    parsed = root.parse_args(args)
    assert parsed.listen == ("0.0.0.0", 8080) and parsed.namespace == NAMESPACE and parsed.pending
    assert len(parsed.alerts) == 8 and parsed.timeout_seconds < 5  # below the StatusCheck's timeout
