"""The cluster's actions through the official Kubernetes Python client: restart a pod
(delete it; its controller makes another), abort an Argo rollout (what `kubectl argo
rollouts abort` does: a merge patch of `status.abort` on the status subresource), scale
out (raise an autoscaler's floor, never above the runbook's cost ceiling), shed load (pin
a feature flag in the flags ConfigMap the API reads, app/flags.py).

Every call has a connect and a read timeout and no retry loop: an API server that is down
or hangs costs one bounded wait, and the decision is audited as failed. Objects are read
as plain JSON (`_preload_content=False`), so only the fields used here need to exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ops.heal.executors import (
    ABORT_ROLLOUT,
    RESTART_POD,
    SCALE_OUT,
    SHED_LOAD,
    Action,
    CannotHelp,
    ExecutorError,
    Impact,
)

ROLLOUTS = ("argoproj.io", "v1alpha1", "rollouts")
SCALED_OBJECTS = ("keda.sh", "v1alpha1", "scaledobjects")
FLAG_FILE = "flags.json"  # components/workload/app_service.py


def api_client(host: str | None = None, kubeconfig: Path | None = None) -> Any:
    """A client for a given API server (tests), a kubeconfig, or the pod's service account."""
    from kubernetes import client, config

    if host is not None:
        configuration = client.Configuration(host=host)
    else:
        configuration = client.Configuration()
        try:
            if kubeconfig is not None:
                config.load_kube_config(str(kubeconfig), client_configuration=configuration)
            else:
                config.load_incluster_config(client_configuration=configuration)
        except (config.ConfigException, OSError) as error:
            raise ExecutorError(f"no Kubernetes credentials: {error}") from None
    configuration.retries = 0  # a down API server costs one attempt, not urllib3's three
    return client.ApiClient(configuration)


class Kubernetes:
    kinds = frozenset({RESTART_POD, ABORT_ROLLOUT, SCALE_OUT, SHED_LOAD})

    def __init__(self, api: Any, connect_seconds: float = 3.0, read_seconds: float = 10.0) -> None:
        from kubernetes import client

        self.core, self.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        self.autoscaling, self.custom = client.AutoscalingV2Api(api), client.CustomObjectsApi(api)
        self.timeout = (connect_seconds, read_seconds)

    def _call(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = method(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            return json.loads(response.data or b"{}")
        except ApiException as error:
            if error.status == 404:
                raise Missing(f"{what}: not found") from None
            raise ExecutorError(f"Kubernetes refused to {what}: {error.status} {error.reason}") from None
        except (HTTPError, OSError, ValueError) as error:
            raise ExecutorError(f"Kubernetes did not answer to {what}: {type(error).__name__}") from None

    def assess(self, action: Action) -> Impact:
        return {RESTART_POD: self._pod, ABORT_ROLLOUT: self._rollout, SCALE_OUT: self._scale, SHED_LOAD: self._flag}[
            action.kind
        ](action.params)[0]

    def execute(self, action: Action) -> Mapping[str, Any]:
        p = action.params
        namespace = p["namespace"]
        if action.kind == RESTART_POD:
            self._call(f"delete pod {p['pod']}", self.core.delete_namespaced_pod, p["pod"], namespace)
            return {"deleted": f"{namespace}/{p['pod']}"}
        if action.kind == ABORT_ROLLOUT:
            group, version, plural = ROLLOUTS
            self._call(
                f"abort rollout {p['rollout']}",
                self.custom.patch_namespaced_custom_object_status,
                group,
                version,
                namespace,
                plural,
                p["rollout"],
                {"status": {"abort": True}},
            )
            return {"aborted": f"{namespace}/{p['rollout']}"}
        if action.kind == SCALE_OUT:
            impact, patch = self._scale(p)
            self._patch_autoscaler(p, patch)
            return {"autoscaler": f"{namespace}/{p['autoscaler']}", **impact.facts}
        impact, data = self._flag(p)
        self._call(
            f"update ConfigMap {p['configmap']}",
            self.core.patch_namespaced_config_map,
            p["configmap"],
            namespace,
            {"data": {FLAG_FILE: data}},
        )
        return {"configmap": f"{namespace}/{p['configmap']}", **impact.facts}

    def _pod(self, p: Mapping[str, Any]) -> tuple[Impact, None]:
        namespace, name = p["namespace"], p["pod"]
        try:
            pod = self._call(f"read pod {name}", self.core.read_namespaced_pod, name, namespace)
        except Missing:  # already replaced
            return Impact(f"{namespace}/Pod/{name}", done=True), None
        metadata = pod.get("metadata", {})
        if metadata.get("deletionTimestamp"):
            return Impact(f"{namespace}/Pod/{name}", done=True), None
        owner = _controller(metadata)
        if owner is None:
            raise CannotHelp(f"pod {namespace}/{name} has no controller: deleting it would not bring it back")
        scope, population = f"{namespace}/{owner['kind']}/{owner['name']}", 1
        if owner["kind"] == "ReplicaSet":
            replica_set = self._call(
                f"read ReplicaSet {owner['name']}", self.apps.read_namespaced_replica_set, owner["name"], namespace
            )
            population = int(replica_set.get("spec", {}).get("replicas") or 0)
            # A Deployment's or Rollout's pods are one workload whichever ReplicaSet holds them.
            parent = _controller(replica_set.get("metadata", {}))
            if parent is not None:
                scope = f"{namespace}/{parent['kind']}/{parent['name']}"
        return Impact(scope, units=1, population=population, facts={"owner": scope}), None

    def _rollout(self, p: Mapping[str, Any]) -> tuple[Impact, None]:
        namespace, name = p["namespace"], p["rollout"]
        group, version, plural = ROLLOUTS
        rollout = self._call(
            f"read rollout {name}", self.custom.get_namespaced_custom_object, group, version, namespace, plural, name
        )
        aborted = bool(rollout.get("status", {}).get("abort"))
        return Impact(f"{namespace}/Rollout/{name}", done=aborted), None

    def _scale(self, p: Mapping[str, Any]) -> tuple[Impact, dict[str, Any]]:
        namespace, name, kind = p["namespace"], p["autoscaler"], p["autoscaler_kind"]
        if kind == "ScaledObject":
            group, version, plural = SCALED_OBJECTS
            try:
                bounds = self._call(
                    f"read ScaledObject {name}",
                    self.custom.get_namespaced_custom_object,
                    group,
                    version,
                    namespace,
                    plural,
                    name,
                ).get("spec", {})
            except Missing:  # this stack scales with a plain HPA: the runbook's next candidate
                raise CannotHelp(f"no ScaledObject {namespace}/{name}: the API is scaled by its HPA") from None
            floor_field, cap_field = "minReplicaCount", "maxReplicaCount"
            # KEDA's own HPA: keda-hpa-<name> unless the ScaledObject names it.
            advanced = bounds.get("advanced", {}).get("horizontalPodAutoscalerConfig", {})
            hpa_name = advanced.get("name") or f"keda-hpa-{name}"
        else:
            bounds, floor_field, cap_field, hpa_name = None, "minReplicas", "maxReplicas", name
        try:
            hpa = self._call(
                f"read HPA {hpa_name}", self.autoscaling.read_namespaced_horizontal_pod_autoscaler, hpa_name, namespace
            )
        except Missing:  # with predictive scaling KEDA owns the HPA: the ScaledObject candidate applies
            raise CannotHelp(f"no HPA {namespace}/{hpa_name}: the API is scaled by a ScaledObject") from None
        spec = hpa.get("spec", {}) if bounds is None else bounds
        current = int(hpa.get("status", {}).get("currentReplicas") or 0)
        floor, cap = int(spec.get(floor_field) or 1), int(spec.get(cap_field) or 0)
        wanted = min(max(current, floor) + int(p["step"]), int(p["ceiling"]))
        if wanted <= max(current, floor):
            raise CannotHelp(f"{kind} {namespace}/{name} has {current} replicas, at its cost ceiling {p['ceiling']}")
        facts = {"replicas": current, "floor": floor, "new_floor": wanted, "max": max(cap, wanted)}
        impact = Impact(f"{namespace}/{kind}/{name}", units=wanted - current, population=max(current, 1), facts=facts)
        return impact, {"spec": {floor_field: wanted, cap_field: max(cap, wanted)}}

    def _patch_autoscaler(self, p: Mapping[str, Any], patch: dict[str, Any]) -> None:
        namespace, name = p["namespace"], p["autoscaler"]
        if p["autoscaler_kind"] == "ScaledObject":
            group, version, plural = SCALED_OBJECTS
            self._call(
                f"patch ScaledObject {name}",
                self.custom.patch_namespaced_custom_object,
                group,
                version,
                namespace,
                plural,
                name,
                patch,
            )
        else:
            self._call(
                f"patch HPA {name}", self.autoscaling.patch_namespaced_horizontal_pod_autoscaler, name, namespace, patch
            )

    def _flag(self, p: Mapping[str, Any]) -> tuple[Impact, str]:
        namespace, name, flag, variant = p["namespace"], p["configmap"], p["flag"], p["variant"]
        config_map = self._call(f"read ConfigMap {name}", self.core.read_namespaced_config_map, name, namespace)
        try:
            document = json.loads(config_map.get("data", {})[FLAG_FILE])
            definition = document["flags"][flag]
            variants = definition["variants"]
        except (KeyError, TypeError, ValueError):
            raise CannotHelp(f"ConfigMap {namespace}/{name} has no flag {flag!r} in {FLAG_FILE}") from None
        if variant not in variants:
            raise CannotHelp(f"flag {flag!r} has no variant {variant!r} (it has {', '.join(map(str, variants))})")
        scope = f"{namespace}/ConfigMap/{name}"
        pinned = definition.get("defaultVariant") == variant and "targeting" not in definition
        if pinned and definition.get("state", "ENABLED") == "ENABLED":
            return Impact(scope, done=True), ""
        # Pinned for every caller: the targeting rule (a cohort) goes; `pulumi up` restores it.
        definition.pop("targeting", None)
        definition.update(defaultVariant=variant, state="ENABLED")
        facts = {"flag": flag, "variant": variant}
        return Impact(scope, facts=facts), json.dumps(document, indent=2, sort_keys=True) + "\n"


class Missing(ExecutorError):
    """The object is not there (404)."""


def _controller(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    return next((owner for owner in metadata.get("ownerReferences") or [] if owner.get("controller")), None)
