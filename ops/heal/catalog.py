"""The runbook catalog (ops/heal/runbooks.yaml) as data: which alerts map to which ordered
candidate actions, and the safety rails' bounds. Validated whole when loaded, so a typo
fails at startup with its place named, never at 3 a.m. when the alert comes.

A runbook matches an alert by name and by label matchers (each a regular expression the
label's value must match in full, as Alertmanager's `=~`). An action's string parameters
may name the alert's labels as `{label}`; the rendered value must still be a valid name
of what it names (a Kubernetes object, a pool), so a label cannot steer an action
elsewhere (`../`, another namespace the matchers do not allow).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ops.heal.executors import DISABLE_EDGE_POOL, Action, ActionKind
from ops.steps import OpsError

CATALOG = Path(__file__).with_name("runbooks.yaml")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# What each rendered name parameter must be: DNS-1123 labels and subdomains, pool names.
_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
NAME_PATTERNS = {
    "namespace": re.compile(rf"^{_LABEL}$"),
    "pod": re.compile(rf"^{_LABEL}(\.{_LABEL})*$"),
    "rollout": re.compile(rf"^{_LABEL}$"),
    "autoscaler": re.compile(rf"^{_LABEL}$"),
    "configmap": re.compile(rf"^{_LABEL}(\.{_LABEL})*$"),
    "flag": re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$"),
    "variant": re.compile(r"^[A-Za-z0-9_-]{1,63}$"),
    "pool": re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"),
}
MAX_SUMMARY = 1024


class CatalogError(OpsError):
    """The catalog is not what this module reads: says where and what was expected."""


class NotApplicable(ValueError):
    """An action cannot be made concrete for this alert (a label missing or malformed)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _template(value: str) -> str:
    leftover = _PLACEHOLDER.sub("", value)
    if "{" in leftover or "}" in leftover:
        raise ValueError(f"{value!r}: placeholders are {{label}} with a label name, nothing else")
    return value


Template = Annotated[str, Field(min_length=1, max_length=MAX_SUMMARY)]


class _ActionSpec(_Model):
    # Forces approval for this runbook's use of the action (the rails may force it too).
    approval: bool = False

    def _parameters(self) -> dict[str, Any]:
        return self.model_dump(exclude={"kind", "approval"})

    @model_validator(mode="after")
    def _templates(self) -> _ActionSpec:
        for value in self._parameters().values():
            if isinstance(value, str):
                _template(value)
        return self

    def render(self, labels: Mapping[str, str], approval: bool) -> Action:
        params = {
            name: _render(name, value, labels) if isinstance(value, str) else value
            for name, value in self._parameters().items()
        }
        return Action(self.kind, params, approval=self.approval or approval)  # type: ignore[attr-defined]


def _render(name: str, template: str, labels: Mapping[str, str]) -> str:
    def label(match: re.Match[str]) -> str:
        if match[1] not in labels:
            raise NotApplicable(f"the alert has no label {match[1]!r} ({name} needs it)")
        return labels[match[1]]

    value = _PLACEHOLDER.sub(label, template)
    pattern = NAME_PATTERNS.get(name)
    if pattern is not None and not pattern.match(value):
        raise NotApplicable(f"{name} {value[:80]!r} is not a valid {name} name")
    return value[:MAX_SUMMARY]


class RestartPod(_ActionSpec):
    kind: Literal["restart_pod"]
    namespace: Template
    pod: Template


class AbortRollout(_ActionSpec):
    kind: Literal["abort_rollout"]
    namespace: Template
    rollout: Template


class ScaleOut(_ActionSpec):
    kind: Literal["scale_out"]
    namespace: Template
    autoscaler: Template
    # What holds the replica floor: an HPA, or a KEDA ScaledObject (KEDA's own HPA reports replicas).
    autoscaler_kind: Literal["HorizontalPodAutoscaler", "ScaledObject"] = "HorizontalPodAutoscaler"
    step: Annotated[int, Field(ge=1, le=20)] = 2
    # The cost cap: the floor is never raised above this.
    ceiling: Annotated[int, Field(ge=1, le=1000)]


class ShedLoad(_ActionSpec):
    kind: Literal["shed_load"]
    namespace: Template
    configmap: Template
    flag: Template
    variant: Template


class DisableEdgePool(_ActionSpec):
    kind: Literal["disable_edge_pool"]
    pool: Template


class OpenIncident(_ActionSpec):
    kind: Literal["open_incident"]
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    summary: Template
    # One incident per alert, however often it fires (PagerDuty's dedup_key, at most 255).
    dedup_key: Annotated[str, Field(min_length=1, max_length=200)] = "{alertname}"


ActionSpec = Annotated[
    RestartPod | AbortRollout | ScaleOut | ShedLoad | DisableEdgePool | OpenIncident, Field(discriminator="kind")
]


class Runbook(_Model):
    alert: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    matchers: dict[str, str] = {}
    actions: Annotated[list[ActionSpec], Field(min_length=1, max_length=10)]

    @field_validator("matchers")
    @classmethod
    def _regular_expressions(cls, matchers: dict[str, str]) -> dict[str, str]:
        for label, expression in matchers.items():
            try:
                re.compile(expression)
            except re.error as error:
                raise ValueError(f"matcher {label}: {expression!r} is not a regular expression ({error})") from None
        return matchers

    def matches(self, labels: Mapping[str, str]) -> bool:
        return labels.get("alertname") == self.alert and all(
            re.fullmatch(expression, labels.get(label, "")) for label, expression in self.matchers.items()
        )


class KindRails(_Model):
    per_target: Annotated[int, Field(ge=0, le=100)] = 1  # the same action on the same object
    per_kind: Annotated[int, Field(ge=0, le=1000)] = 5  # this kind of action, any object
    max_units: Annotated[int, Field(ge=1, le=1000)] = 1  # members of one scope touched
    max_share: Annotated[float, Field(gt=0, le=1)] = 1.0  # of the scope's population
    approval: bool = False


class Rails(_Model):
    window_seconds: Annotated[float, Field(ge=60, le=86400)] = 3600
    total: Annotated[int, Field(ge=0, le=10000)] = 20
    approval_seconds: Annotated[float, Field(ge=60, le=86400)] = 900
    # An action succeeded when its alert resolved within this after it.
    outcome_seconds: Annotated[float, Field(ge=60, le=86400)] = 900
    kinds: dict[ActionKind, KindRails] = {}

    @model_validator(mode="after")
    def _edge_needs_approval(self) -> Rails:
        edge = self.kinds.get(DISABLE_EDGE_POOL)
        if edge is not None and not edge.approval:
            raise ValueError(
                "kinds.disable_edge_pool.approval must be true: taking a region off the edge is a human's call"
            )
        return self

    def of(self, kind: str) -> KindRails:
        default = KindRails(approval=kind == DISABLE_EDGE_POOL)
        return self.kinds.get(kind, default)  # type: ignore[call-overload]


class Catalog(_Model):
    rails: Rails = Rails()
    runbooks: Annotated[list[Runbook], Field(min_length=1)]

    def candidates(self, labels: Mapping[str, str]) -> list[Action | NotApplicable]:
        """Every action of every runbook matching the alert, in catalog order; one that
        cannot be made concrete for it says why in its place."""
        found: list[Action | NotApplicable] = []
        for runbook in self.runbooks:
            if runbook.matches(labels):
                for spec in runbook.actions:
                    try:
                        found.append(spec.render(labels, self.rails.of(spec.kind).approval))
                    except NotApplicable as why:
                        found.append(why)
        return found


def load(path: Path = CATALOG) -> Catalog:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CatalogError(f"cannot read the runbook catalog {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise CatalogError(f"{path} is not YAML: {error}") from None
    try:
        return Catalog.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"]) or "the document"
        raise CatalogError(f"{path}: {place}: {first['msg']}") from None
