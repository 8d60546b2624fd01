"""The VPA recommender's recommendations (autoscaling.k8s.io/v1 VerticalPodAutoscaler
status.recommendation.containerRecommendations), from the Kubernetes API through the
official client (in the cluster, or a kubeconfig) or from `kubectl get vpa -A -o json`
saved to a file.

A VerticalPodAutoscaler without a recommendation yet (the recommender needs its first
samples) is a note, not an error: its containers are sized from usage alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.rightsize import quantity
from ops.steps import OpsError, PreconditionFailed

GROUP, VERSION, PLURAL = "autoscaling.k8s.io", "v1", "verticalpodautoscalers"
BOUNDS = ("target", "lowerBound", "upperBound", "uncappedTarget")
# `kubectl get vpa -A -o json` of a few thousand objects is a few MiB.
MAX_FILE_BYTES = 64 * 2**20
# The prometheus-operator's StatefulSet for a Prometheus or Alertmanager object: what the
# pods' owner is, where the VerticalPodAutoscaler names the object itself.
OPERATOR_STATEFULSETS = {"Prometheus": "prometheus-{}", "Alertmanager": "alertmanager-{}"}


class VpaError(PreconditionFailed):
    """The recommendations given cannot be read (exit 2: nothing was computed)."""


@dataclass(frozen=True)
class Recommendation:
    """One container's recommendation: each bound as {cpu: cores, memory: bytes}."""

    vpa: str
    target: dict[str, float]
    lower_bound: dict[str, float]
    upper_bound: dict[str, float]
    uncapped_target: dict[str, float]


@dataclass
class Recommendations:
    # (namespace, workload kind, workload name, container) -> recommendation
    by_container: dict[tuple[str, str, str, str], Recommendation]
    notes: list[str]

    def find(self, namespace: str, kind: str, name: str, container: str) -> Recommendation | None:
        return self.by_container.get((namespace, kind, name, container))


def parse(document: object, origin: str) -> Recommendations:
    """Recommendations from a List of VerticalPodAutoscalers (or one); VpaError names what is wrong."""
    if isinstance(document, dict) and document.get("kind") == "VerticalPodAutoscaler":
        items: object = [document]
    elif isinstance(document, dict) and "items" in document:
        items = document["items"]
    else:
        raise VpaError(f"{origin}: expected `kubectl get vpa -A -o json` output (a List with items)")
    if not isinstance(items, list):
        raise VpaError(f"{origin}: items is a {type(items).__name__}; expected a list of VerticalPodAutoscalers")
    found, notes = {}, []
    for index, item in enumerate(items):
        where = f"{origin}: items[{index}]"
        if not isinstance(item, dict):
            raise VpaError(f"{where}: a {type(item).__name__}; expected a VerticalPodAutoscaler object")
        metadata, spec = _mapping(item, "metadata", where), _mapping(item, "spec", where)
        name, namespace = metadata.get("name"), metadata.get("namespace")
        if not isinstance(name, str) or not isinstance(namespace, str):
            raise VpaError(f"{where}: metadata.name and metadata.namespace must be strings")
        where = f"{origin}: {namespace}/{name}"
        ref = _mapping(spec, "targetRef", where)
        kind, target = ref.get("kind"), ref.get("name")
        if not isinstance(kind, str) or not isinstance(target, str):
            raise VpaError(f"{where}: spec.targetRef needs a kind and a name")
        if kind in OPERATOR_STATEFULSETS:
            kind, target = "StatefulSet", OPERATOR_STATEFULSETS[kind].format(target)
        status = item.get("status") or {}
        recommendation = status.get("recommendation") if isinstance(status, dict) else None
        entries = recommendation.get("containerRecommendations") if isinstance(recommendation, dict) else None
        if not entries:
            notes.append(f"VPA {namespace}/{name} has no recommendation yet (the recommender needs samples first)")
            continue
        if not isinstance(entries, list):
            raise VpaError(f"{where}: status.recommendation.containerRecommendations is not a list")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("containerName"), str):
                raise VpaError(f"{where}: a containerRecommendation without a containerName")
            container = entry["containerName"]
            bounds = {bound: _resources(entry.get(bound), f"{where} {container}.{bound}") for bound in BOUNDS}
            if not bounds["target"]:
                raise VpaError(f"{where}: container {container} has no target")
            found[(namespace, kind, target, container)] = Recommendation(
                f"{namespace}/{name}",
                bounds["target"],
                bounds["lowerBound"],
                bounds["upperBound"],
                bounds["uncappedTarget"],
            )
    return Recommendations(found, notes)


def _mapping(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise VpaError(f"{where}: {key} is missing or not an object")
    return value


def _resources(value: object, where: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise VpaError(f"{where}: expected {{cpu, memory}}, got {type(value).__name__}")
    parsed = {}
    for resource in ("cpu", "memory"):
        if resource in value:
            try:
                parsed[resource] = quantity.parse(value[resource])
            except ValueError as problem:
                raise VpaError(f"{where}.{resource}: {problem}") from None
            if parsed[resource] < 0:
                raise VpaError(f"{where}.{resource}: negative ({value[resource]!r})")
    return parsed


def from_file(path: Path) -> Recommendations:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise VpaError(f"{path}: {size:,} bytes; expected at most {MAX_FILE_BYTES:,} (kubectl get vpa -A -o json)")
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise VpaError(f"{path}: not UTF-8 text (byte {error.start}); expected kubectl's JSON") from None
    except OSError as error:
        raise VpaError(f"{path}: {error.strerror}") from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise VpaError(f"{path}: not JSON ({error}); expected `kubectl get vpa -A -o json` output") from None
    return parse(document, str(path))


def from_cluster(
    kubeconfig: Path | None,
    context: str | None,
    in_cluster: bool,
    namespaces: Sequence[str],
    timeout_seconds: float,
) -> Recommendations:
    """Every VerticalPodAutoscaler (or those in `namespaces`), one bounded call each, no retries."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    configuration = client.Configuration()
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(
                str(kubeconfig) if kubeconfig else None, context=context, client_configuration=configuration
            )
    except (config.ConfigException, OSError, TypeError, ValueError) as error:
        raise OpsError(f"no Kubernetes credentials ({error}); pass --vpa-file FILE or --no-vpa") from None
    configuration.retries = 0  # a down API server costs one attempt, not urllib3's three
    api = client.CustomObjectsApi(client.ApiClient(configuration))
    timeout = (min(timeout_seconds, 10.0), timeout_seconds)
    items: list[Any] = []
    for namespace in namespaces or (None,):
        try:
            if namespace is None:
                response = api.list_cluster_custom_object(
                    GROUP, VERSION, PLURAL, _preload_content=False, _request_timeout=timeout
                )
            else:
                response = api.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, _preload_content=False, _request_timeout=timeout
                )
            document = json.loads(response.data or b"{}")
        except ApiException as error:
            if error.status == 404:
                raise OpsError(
                    "the Kubernetes API has no verticalpodautoscalers.autoscaling.k8s.io (is the VPA installed? "
                    "cost.vpa.enabled); or pass --no-vpa"
                ) from None
            refused = f"Kubernetes refused to list VerticalPodAutoscalers: {error.status} {error.reason}"
            raise OpsError(refused) from None
        except (HTTPError, OSError, ValueError) as error:
            silent = f"Kubernetes did not answer the VerticalPodAutoscaler list: {type(error).__name__}"
            raise OpsError(silent) from None
        if not isinstance(document, dict) or not isinstance(document.get("items"), list):
            raise OpsError("Kubernetes answered the VerticalPodAutoscaler list with something that is not a List")
        items += document["items"]
    return parse({"items": items}, "the Kubernetes API")
