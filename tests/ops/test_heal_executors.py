"""Each executor against its local stand-in: the official clients' real HTTP requests,
asserted exactly, and each stand-in stopped or frozen (bounded waits, clear errors)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from ops.dr.edge import cloudflare_client
from ops.heal import executors as kinds
from ops.heal.edge_pools import Edge
from ops.heal.executors import Action, CannotHelp, ExecutorError
from ops.heal.kube import FLAG_FILE, Kubernetes, api_client
from ops.heal.pagerduty import PagerDuty
from tests.ops import test_edge
from tests.ops.conftest import serving
from tests.ops.test_heal_fakes import NAMESPACE, FakeCloudflare, FakeKubernetes, FakePagerDuty, pod_path

ROLLOUT = f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/rollouts/project-ai-api"
HPA = f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers/project-ai-api"
SCALED = f"/apis/keda.sh/v1alpha1/namespaces/{NAMESPACE}/scaledobjects/project-ai-api"
FLAGS = f"/api/v1/namespaces/{NAMESPACE}/configmaps/project-ai-api-flags"
TIMEOUT = 0.5


def kube(fake: FakeKubernetes) -> Kubernetes:
    return Kubernetes(api_client(host=fake.url), connect_seconds=TIMEOUT, read_seconds=TIMEOUT)


def restart(pod: str) -> Action:
    return Action(kinds.RESTART_POD, {"namespace": NAMESPACE, "pod": pod})


def scale(kind: str = "HorizontalPodAutoscaler", ceiling: int = 30) -> Action:
    params = {"namespace": NAMESPACE, "autoscaler": "project-ai-api", "autoscaler_kind": kind}
    return Action(kinds.SCALE_OUT, params | {"step": 2, "ceiling": ceiling})


def shed(variant: str = "off") -> Action:
    params = {"namespace": NAMESPACE, "configmap": "project-ai-api-flags", "flag": "v2-beta-routes"}
    return Action(kinds.SHED_LOAD, params | {"variant": variant})


ABORT = Action(kinds.ABORT_ROLLOUT, {"namespace": NAMESPACE, "rollout": "project-ai-api"})


def test_restart_deletes_the_pod_and_bounds_its_workload() -> None:
    with serving(FakeKubernetes()) as fake:
        fake.workload("project-ai-api-7c9", replicas=6, pods=["api-a"])
        executor = kube(fake)
        impact = executor.assess(restart("api-a"))
        assert (impact.scope, impact.units, impact.population) == (f"{NAMESPACE}/Rollout/project-ai-api", 1, 6)
        assert executor.execute(restart("api-a")) == {"deleted": f"{NAMESPACE}/api-a"}
        assert fake.requests[-1][:2] == ("DELETE", pod_path("api-a"))
        # Gone (replaced) or terminating: nothing left to do.
        assert executor.assess(restart("api-a")).done
        fake.pod("api-b", deletionTimestamp="2026-01-01T00:00:00Z")
        assert executor.assess(restart("api-b")).done


def test_a_pod_without_a_controller_is_never_deleted() -> None:
    with serving(FakeKubernetes()) as fake:
        fake.pod("lonely")
        with pytest.raises(CannotHelp, match="no controller"):
            kube(fake).assess(restart("lonely"))
        assert all(method == "GET" for method, *_ in fake.requests)


def test_abort_patches_the_rollout_status_as_the_kubectl_plugin_does() -> None:
    with serving(FakeKubernetes()) as fake:
        fake.put(ROLLOUT, {"metadata": {"name": "project-ai-api"}, "status": {"phase": "Progressing"}})
        executor = kube(fake)
        assert not executor.assess(ABORT).done
        executor.execute(ABORT)
        method, path, content_type, body = fake.requests[-1]
        assert (method, path, content_type, body) == (
            "PATCH",
            f"{ROLLOUT}/status",
            "application/merge-patch+json",
            {"status": {"abort": True}},
        )
        assert executor.assess(ABORT).done


def test_scale_out_raises_the_hpa_floor_within_the_cost_ceiling() -> None:
    with serving(FakeKubernetes()) as fake:
        fake.put(HPA, {"spec": {"minReplicas": 3, "maxReplicas": 10}, "status": {"currentReplicas": 10}})
        executor = kube(fake)
        impact = executor.assess(scale(ceiling=11))
        assert (impact.units, impact.population) == (1, 10)  # 12 wanted, capped at 11
        executor.execute(scale(ceiling=11))
        assert fake.objects[HPA]["spec"] == {"minReplicas": 11, "maxReplicas": 11}
        fake.objects[HPA]["status"]["currentReplicas"] = 11
        with pytest.raises(CannotHelp, match="cost ceiling 11"):
            executor.assess(scale(ceiling=11))


def test_scale_out_of_a_scaled_object_reads_kedas_hpa() -> None:
    with serving(FakeKubernetes()) as fake:
        fake.put(SCALED, {"spec": {"minReplicaCount": 2, "maxReplicaCount": 20}})
        keda_hpa = HPA.replace("/project-ai-api", "/keda-hpa-project-ai-api")
        fake.put(keda_hpa, {"spec": {"minReplicas": 2, "maxReplicas": 20}, "status": {"currentReplicas": 4}})
        kube(fake).execute(scale("ScaledObject"))
        assert fake.objects[SCALED]["spec"] == {"minReplicaCount": 6, "maxReplicaCount": 20}
        assert fake.requests[-1][2] == "application/merge-patch+json"


def test_scale_out_steps_aside_for_the_autoscaler_the_stack_does_not_run() -> None:
    """The runbooks list KEDA's candidate and the HPA's: the absent one says it cannot help
    (the next candidate runs) rather than failing the decision."""
    with serving(FakeKubernetes()) as fake:
        with pytest.raises(CannotHelp, match="no ScaledObject project-ai/project-ai-api: the API is scaled by its HPA"):
            kube(fake).assess(scale("ScaledObject"))
        with pytest.raises(CannotHelp, match="no HPA project-ai/project-ai-api: the API is scaled by a ScaledObject"):
            kube(fake).assess(scale())


def flags_document(targeting: bool = True) -> dict:
    flag = {"state": "ENABLED", "defaultVariant": "on", "variants": {"on": True, "off": False}}
    if targeting:
        flag["targeting"] = {"fractional": [["on", 10], ["off", 90]]}
    return {"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": {"v2-beta-routes": flag}}


def test_shed_load_pins_the_flag_for_every_caller() -> None:
    with serving(FakeKubernetes()) as fake:
        fake.put(FLAGS, {"data": {FLAG_FILE: json.dumps(flags_document())}})
        executor = kube(fake)
        executor.execute(shed())
        flag = json.loads(fake.objects[FLAGS]["data"][FLAG_FILE])["flags"]["v2-beta-routes"]
        assert flag == {"state": "ENABLED", "defaultVariant": "off", "variants": {"on": True, "off": False}}
        assert executor.assess(shed()).done
        with pytest.raises(CannotHelp, match="no variant 'half'"):
            executor.assess(shed("half"))
        fake.put(FLAGS, {"data": {FLAG_FILE: "not json"}})
        with pytest.raises(CannotHelp, match="no flag 'v2-beta-routes'"):
            executor.assess(shed())


def test_kubernetes_refusing_is_said_with_its_status() -> None:
    with serving(FakeKubernetes()) as fake, pytest.raises(ExecutorError, match="not found"):
        kube(fake).assess(ABORT)


def test_kubernetes_down_or_frozen_costs_one_bounded_wait() -> None:
    fake = FakeKubernetes()
    down = kube(fake)
    fake.server_close()  # nothing listens there any more
    with pytest.raises(ExecutorError, match="did not answer"):
        down.assess(restart("api-a"))
    with serving(FakeKubernetes()) as frozen:
        frozen.hanging = True
        started = time.monotonic()
        with pytest.raises(ExecutorError, match="did not answer"):
            kube(frozen).assess(restart("api-a"))
        assert time.monotonic() - started < TIMEOUT + 2
        frozen.release.set()


def test_pagerduty_trigger_event_and_refusal() -> None:
    with serving(FakePagerDuty()) as fake:
        pager = PagerDuty("routing-key-123", url=f"{fake.url}/v2/enqueue", timeout_seconds=TIMEOUT)
        action = Action(kinds.OPEN_INCIDENT, {"severity": "critical", "summary": "s", "dedup_key": "ApiX"})
        assert pager.execute(action) == {"incident": "ApiX"}
        method, path, _, event = fake.requests[-1]
        assert (method, path) == ("POST", "/v2/enqueue")
        assert event == {
            "routing_key": "routing-key-123",
            "event_action": "trigger",
            "dedup_key": "ApiX",
            "payload": {"summary": "s", "source": "ops-heal", "severity": "critical"},
        }
        fake.status = 400
        with pytest.raises(ExecutorError, match="refused the event: 400"):
            pager.execute(action)
        fake.hanging = True
        with pytest.raises(ExecutorError, match="did not answer: ReadTimeout"):
            pager.execute(action)
        fake.release.set()
        pager.close()


def edge(fake: FakeCloudflare) -> Edge:
    client = cloudflare_client(test_edge.TOKEN, base_url=fake.url, timeout_seconds=TIMEOUT, retries=0)
    return Edge(client, test_edge.ACCOUNT)


DISABLE_EU = Action(kinds.DISABLE_EDGE_POOL, {"pool": "project-ai-prod-eu"}, approval=True)


def test_edge_pool_removal_counts_healthy_others_and_disables() -> None:
    pools = [test_edge.pool(name) for name in ("project-ai-prod", "project-ai-prod-eu", "project-ai-fallback")]
    pools.append(test_edge.pool("other-project-x"))
    healthy = {"id-project-ai-prod": True, "id-project-ai-prod-eu": False, "id-other-project-x": True}
    with serving(FakeCloudflare(pools, healthy)) as fake:
        executor = edge(fake)
        impact = executor.assess(DISABLE_EU)
        # The fallback's health is unknown (404) and another project's pool is not ours.
        assert (impact.serving_after, impact.facts["healthy_others"]) == (1, ["project-ai-prod"])
        executor.execute(DISABLE_EU)
        assert fake.pools[1]["enabled"] is False
        assert executor.assess(DISABLE_EU).done
        fake.healthy["id-project-ai-prod"] = False
        fake.pools[1]["enabled"] = True
        assert executor.assess(DISABLE_EU).serving_after == 0


def test_edge_api_frozen_is_a_bounded_failure() -> None:
    release = threading.Event()
    with serving(FakeCloudflare([test_edge.pool("project-ai-prod-eu")], {}, hang=release)) as fake:
        started = time.monotonic()
        with pytest.raises(ExecutorError, match="did not list the pools"):
            edge(fake).assess(DISABLE_EU)
        assert time.monotonic() - started < TIMEOUT + 2
