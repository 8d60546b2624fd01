"""Where pods sit in Kubernetes objects, so pod rules cover them all: the workload kinds by
their known paths, and any custom resource that embeds a pod spec (an Argo Workflow, a
KEDA ScaledJob, an operator's pod template...), found by its shape. Also the claim
templates (StatefulSet, ephemeral volumes, operators') that provision storage.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policies.core.props import get, items
from policies.core.rule import Pack, Params, Resource, Rule

_TEMPLATE = "spec.template.spec"
_CRON = "spec.jobTemplate.spec.template.spec"
# Argo Rollouts analysis: every job metric runs a pod.
_ANALYSIS_JOBS = "spec.metrics[].provider.job.spec.template.spec"
# Resource type -> dotted path to its pod spec(s); `[]` walks a list.
POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": "spec",
    "kubernetes:core/v1:PodTemplate": "template.spec",
    "kubernetes:core/v1:ReplicationController": _TEMPLATE,
    **{
        f"kubernetes:{version}:{kind}": _TEMPLATE
        for version, kinds in {
            "apps/v1": ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"),
            "apps/v1beta1": ("Deployment", "StatefulSet"),
            "apps/v1beta2": ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"),
            "extensions/v1beta1": ("Deployment", "DaemonSet", "ReplicaSet"),
        }.items()
        for kind in kinds
    },
    "kubernetes:batch/v1:Job": _TEMPLATE,
    **{f"kubernetes:batch/{version}:CronJob": _CRON for version in ("v1", "v1beta1", "v2alpha1")},
    "kubernetes:argoproj.io/v1alpha1:Rollout": _TEMPLATE,
    "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate": _ANALYSIS_JOBS,
    "kubernetes:argoproj.io/v1alpha1:ClusterAnalysisTemplate": _ANALYSIS_JOBS,
}
WORKLOAD_TYPES = tuple(POD_SPEC_PATHS)
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
# Workloads that run to completion: no probes expected.
RUN_TO_COMPLETION = tuple(t for t, path in POD_SPEC_PATHS.items() if t.endswith(":Job") or path == _CRON)
# Path segments under which a pod belongs to a job.
_JOB_KEYS = frozenset(("job", "jobTemplate"))
# Custom-resource groups whose objects hold inputs to something else, not pods: a Helm
# release's values are the chart's to render.
_NOT_POD_GROUPS = ("helm.sh",)


@dataclass(frozen=True)
class PodTemplate:
    """One pod spec in an object: where it sits (`spec.template.spec`), the spec, and the
    object or template whose `spec` it is (for its labels)."""

    path: str
    spec: Mapping[str, Any]
    holder: Mapping[str, Any]
    in_job: bool

    @property
    def labels(self) -> Mapping[str, Any]:
        return get(self.holder, "metadata.labels", {})

    @property
    def runs_to_completion(self) -> bool:
        return self.in_job or get(self.spec, "restartPolicy") in ("Never", "OnFailure")


@dataclass(frozen=True)
class ClaimTemplate:
    """A PersistentVolumeClaim spec an object asks for: where, and the claim's spec."""

    path: str
    spec: Mapping[str, Any]


def is_custom(resource_type: str) -> bool:
    """A custom resource's type: its API group has a dot and is not one of Kubernetes'
    own (`*.k8s.io`), as the API server requires of CRDs."""
    group = resource_type.split(":", 2)[1].rsplit("/", 1)[0] if resource_type.count(":") == 2 else ""
    return "." in group and not group.endswith(".k8s.io") and group not in _NOT_POD_GROUPS


class _PodHolders(frozenset):
    """The rule's named types, and any custom resource (which may embed a pod). Asked for
    every resource by every rule: answers are kept."""

    def __contains__(self, resource_type: object) -> bool:
        try:
            return self._answers[resource_type]
        except KeyError:
            answer = frozenset.__contains__(self, resource_type) or (
                isinstance(resource_type, str) and resource_type.startswith("kubernetes:") and is_custom(resource_type)
            )
            self._answers[resource_type] = answer
            return answer

    @functools.cached_property
    def _answers(self) -> dict[object, bool]:
        return {}


_holders: dict[tuple[str, ...], _PodHolders] = {}


# The objects that may hold a pod: the workload kinds, and any custom resource.
POD_HOLDERS = _holders.setdefault(WORKLOAD_TYPES, _PodHolders(WORKLOAD_TYPES))


@dataclass(frozen=True)
class KubernetesRule(Rule):
    """A resource rule that also judges every custom resource's type."""

    @property
    def type_set(self) -> frozenset[str]:
        return _holders.setdefault(self.types, _PodHolders(self.types))


def kubernetes_rule(pack: Pack, **kwargs: Any) -> Callable[[Callable[..., Iterable[str]]], Rule]:
    """`rule(...)` for a check of the whole object that also runs on custom resources."""

    def wrap(check: Callable[..., Iterable[str]]) -> Rule:
        return pack.register(KubernetesRule(check=check, **kwargs))

    return wrap


def pod_rule(pack: Pack, **kwargs: Any) -> Callable[[Callable[[PodTemplate, Any], Iterable[str]]], Rule]:
    """A rule judged per pod template, on every object that holds one. When an object
    holds several, each message names the template's path."""

    def wrap(check: Callable[[PodTemplate, Any], Iterable[str]]) -> Rule:
        @functools.wraps(check)
        def each(resource: Resource, params: Params) -> Iterator[str]:
            templates = pod_templates(resource)
            for template in templates:
                prefix = f"{template.path}: " if len(templates) > 1 else ""
                for message in check(template, params):
                    yield prefix + message

        return pack.register(KubernetesRule(check=each, types=WORKLOAD_TYPES, **kwargs))

    return wrap


def pod_templates(resource: Resource) -> list[PodTemplate]:
    return _found(resource)[0]


def claim_templates(resource: Resource) -> list[ClaimTemplate]:
    """Claim templates: a StatefulSet's or an operator's volumeClaimTemplate(s), and the
    pods' ephemeral volumes. (A PersistentVolumeClaim itself is not a template.)"""
    return _found(resource)[1]


# Found once per resource, for every rule: id -> (templates, claims), dropped with the resource.
_cache: dict[int, tuple[list[PodTemplate], list[ClaimTemplate]]] = {}


def _found(resource: Resource) -> tuple[list[PodTemplate], list[ClaimTemplate]]:
    key = id(resource)
    found = _cache.get(key)
    if found is None:
        found = _discover(resource)
        _cache[key] = found
        weakref.finalize(resource, _cache.pop, key, None)
    return found


def _discover(resource: Resource) -> tuple[list[PodTemplate], list[ClaimTemplate]]:
    props = resource.props
    pattern = POD_SPEC_PATHS.get(resource.type)
    claims: list[ClaimTemplate] = []
    if pattern is None:
        templates: list[PodTemplate] = []
        if is_custom(resource.type):
            plain = _plain(props)
            if type(plain) is dict:
                _walk(props, plain, (), templates, claims)
    else:
        in_job = resource.type in RUN_TO_COMPLETION or not _JOB_KEYS.isdisjoint(pattern.replace("[]", "").split("."))
        templates = [PodTemplate(path, spec, holder, in_job) for path, spec, holder in _resolve(props, pattern)]
        for index, claim in enumerate(items(props, "spec.volumeClaimTemplates")):
            claims.append(ClaimTemplate(f"spec.volumeClaimTemplates[{index}]", get(claim, "spec", {})))
    for template in templates:
        for index, volume in enumerate(items(template.spec, "volumes")):
            claim = get(volume, "ephemeral.volumeClaimTemplate")
            if claim is not None:
                where = f"{template.path}.volumes[{index}] ('{get(volume, 'name', '?')}').ephemeral"
                claims.append(ClaimTemplate(where.lstrip("."), get(claim, "spec", {})))
    return templates, claims


def _resolve(props: Mapping[str, Any], pattern: str) -> list[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(path, pod spec, holder) at a known path: a plain path always gives one, a list
    (`head[].tail`) one per item that holds a pod."""
    if "[]" not in pattern:
        holder = props if pattern == "spec" else get(props, pattern.rsplit(".", 1)[0], {})
        return [(pattern, get(props, pattern, {}), holder)]
    head, tail = pattern.split("[].", 1)
    found = []
    for index, item in enumerate(items(props, head)):
        spec = get(item, tail)
        if spec is not None:
            found.append((f"{head}[{index}].{tail}", spec, get(item, tail.rsplit(".", 1)[0], {})))
    return found


_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """The dict or list under the analyzer's proxy, read as pulumi_policy itself unwraps it
    (its `__target` key): walking it costs a fraction of walking the proxy. Its children
    are still proxies, so what a rule reads keeps the analyzer's unknown checks; an unknown
    value is a sentinel string, which a walk passes over like any text."""
    kind = type(value)
    if kind is dict or kind is list or kind in _SCALARS:
        return value
    try:
        return value["__target"]
    except (KeyError, TypeError, IndexError):
        return value


def _holds_pod(plain: dict[str, Any]) -> bool:
    """A pod spec's shape: a list of containers, one at least naming an image."""
    listed = _plain(plain.get("containers"))
    if type(listed) is not list or not listed:
        return False
    entries = [_plain(entry) for entry in listed]
    return all(type(entry) is dict for entry in entries) and any("image" in entry for entry in entries)


def _walk(
    value: Any, plain: Any, keys: tuple[str | int, ...], templates: list[PodTemplate], claims: list[ClaimTemplate]
) -> None:
    """Every pod spec and claim template under `value` (`plain` is its dict or list; an
    object's metadata holds neither). Values not known yet are passed over: an unknown
    cannot be judged, and a custom resource's unrelated outputs must not stop its pods
    being judged."""
    entries = plain.items() if type(plain) is dict else enumerate(plain)
    for key, child in entries:
        inner = _plain(child)
        kind = type(inner)
        if (kind is not dict and kind is not list) or key == "metadata":
            continue
        where = (*keys, key)
        if kind is dict and _holds_pod(inner):
            holder = value if key == "spec" else {}
            in_job = not _JOB_KEYS.isdisjoint(k for k in where if isinstance(k, str))
            templates.append(PodTemplate(_path(where), child, holder, in_job))
        elif key == "volumeClaimTemplate" and kind is dict:
            _add_claim(claims, _path(where), inner)
        elif key == "volumeClaimTemplates" and kind is list:
            for index, claim in enumerate(inner):
                if type(_plain(claim)) is dict:
                    _add_claim(claims, _path((*where, index)), _plain(claim))
        else:
            _walk(child, inner, where, templates, claims)


def _path(keys: tuple[str | int, ...]) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in keys).lstrip(".")


def _add_claim(claims: list[ClaimTemplate], where: str, plain: dict[str, Any]) -> None:
    spec = plain.get("spec")
    if isinstance(spec, Mapping):
        claims.append(ClaimTemplate(where, spec))


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The first pod spec at a workload kind's known path ({} if none); rules that judge
    pods use `pod_rule` / `pod_templates`, which see every template."""
    found = _resolve(props, POD_SPEC_PATHS[resource_type])
    return found[0][1] if found else {}


def containers(spec: Mapping[str, Any], include_init: bool = True) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(kind and name, container) for every container, init and ephemeral included."""
    kinds = ("containers", "initContainers", "ephemeralContainers") if include_init else ("containers",)
    for kind in kinds:
        for container in items(spec, kind):
            yield f"{kind[:-1]} '{get(container, 'name', '?')}'", container


def namespace_of(props: Mapping[str, Any]) -> str:
    return get(props, "metadata.namespace", "default")
