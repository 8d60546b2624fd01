"""The coverage matrix (issue #19): the resource types in scope (types.yaml) and, per
benchmark (one YAML file each), every control with the rules that implement it, or why it
is not applicable, or why it is a gap. `python -m policies.coverage` reports the figures;
`--markdown` prints the generated doc (docs/policy-coverage.md).

`load()` validates everything and raises one CoverageError naming each problem with its
file and control: a control holds exactly one of rules, not_applicable and gap; ids are
unique per benchmark; every rule named is in the zero-trust or the cost pack; every type
named is in types.yaml. Top-level keys starting with `x-` are ignored: they hold YAML
anchors that controls refer to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from policies.core.rule import Pack, Rule

DIRECTORY = Path(__file__).parent
TYPES_FILE = DIRECTORY / "types.yaml"
# Each benchmark's file, in report order.
BENCHMARKS = {
    "cis-aws": "cis_aws.yaml",
    "cis-eks": "cis_eks.yaml",
    "cis-gke": "cis_gke.yaml",
    "cis-kubernetes": "cis_kubernetes.yaml",
    "nsa-cisa": "nsa_cisa.yaml",
    "checkov": "checkov.yaml",
}
PROVIDERS = {
    "kubernetes": "pulumi-kubernetes",
    "aws": "pulumi-aws",
    "gcp": "pulumi-gcp",
    "vault": "pulumi-vault",
    "cloudflare": "pulumi-cloudflare",
}
STATUSES = ("implemented", "not_applicable", "gap")
# Checks every taggable type: counting it would make each type look covered.
BROAD_RULES = ("cost-allocation-tags",)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# provider:module:Type, e.g. aws:rds/instance:Instance or kubernetes:apps/v1:Deployment.
Token = Annotated[str, StringConstraints(pattern=r"^[a-z]+:[A-Za-z0-9./-]+:[A-Za-z0-9]+$")]


class CoverageError(ValueError):
    """The matrix's data is not what this module reads: each line names a file, a place in
    it and what was expected."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Control(_Model):
    id: Text
    title: Text
    # The Pulumi type tokens the control concerns (in types.yaml).
    types: tuple[Token, ...] = ()
    # Checkov only: the Terraform type(s) the check names.
    tf_type: tuple[Text, ...] = ()
    rules: tuple[Text, ...] | None = None
    not_applicable: Text | None = None
    gap: Text | None = None

    @field_validator("tf_type", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_status(self) -> Control:
        given = [name for name in ("rules", "not_applicable", "gap") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"exactly one of rules, not_applicable or gap is expected, got {', '.join(given) or 'none'}"
            )
        if self.rules == ():
            raise ValueError("rules is empty: name the rules, or say not_applicable or gap and why")
        return self

    @property
    def status(self) -> Literal["implemented", "not_applicable", "gap"]:
        if self.rules is not None:
            return "implemented"
        return "not_applicable" if self.not_applicable is not None else "gap"


class Benchmark(_Model):
    benchmark: Literal["cis-aws", "cis-eks", "cis-gke", "cis-kubernetes", "nsa-cisa", "checkov"]
    title: Text
    version: Text
    # Where the control ids were read, and that source's licence.
    source: Text
    licence: Text
    controls: tuple[Control, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Benchmark:
        seen: set[str] = set()
        for control in self.controls:
            if control.id in seen:
                raise ValueError(f"control id '{control.id}' appears twice; expected each id once")
            seen.add(control.id)
        return self

    def count(self, status: str) -> int:
        return sum(1 for control in self.controls if control.status == status)

    @property
    def coverage(self) -> float | None:
        """Implemented / (implemented + gap); None when every control is not applicable."""
        implemented, gaps = self.count("implemented"), self.count("gap")
        return implemented / (implemented + gaps) if implemented + gaps else None


class TypeEntry(_Model):
    token: Token
    title: Text
    # A custom resource: no SDK defines it, so the SDK test skips it; says which CRD.
    crd: Text | None = None


class ProjectRule(_Model):
    rule: Text
    reason: Text


class Types(_Model):
    providers: dict[Literal["kubernetes", "aws", "gcp", "vault", "cloudflare"], tuple[TypeEntry, ...]]
    # Rules no benchmark control names, each with why it exists.
    project_specific_rules: tuple[ProjectRule, ...] = ()

    @model_validator(mode="after")
    def _tokens_belong(self) -> Types:
        seen: set[str] = set()
        for provider, entries in self.providers.items():
            for entry in entries:
                if entry.token.split(":", 1)[0] != provider:
                    raise ValueError(f"{entry.token} is listed under {provider}; expected a {provider}: token there")
                if entry.token in seen:
                    raise ValueError(f"{entry.token} appears twice; expected each type once")
                seen.add(entry.token)
        return self

    @property
    def tokens(self) -> dict[str, TypeEntry]:
        return {entry.token: entry for entries in self.providers.values() for entry in entries}


@dataclass(frozen=True)
class Matrix:
    types: Types
    benchmarks: tuple[Benchmark, ...]
    packs: tuple[Pack, ...]

    @property
    def rules(self) -> dict[str, Rule]:
        return {rule.name: rule for pack in self.packs for rule in pack.rules}

    def mapped_rules(self) -> set[str]:
        return {name for benchmark in self.benchmarks for control in benchmark.controls for name in control.rules or ()}

    def unmapped_rules(self) -> list[str]:
        """Rules no control names and the project-specific section does not list."""
        listed = {entry.rule for entry in self.types.project_specific_rules}
        return [name for name in self.rules if name not in self.mapped_rules() | listed]

    def controls_of(self, token: str) -> list[tuple[Benchmark, Control]]:
        return [(b, c) for b in self.benchmarks for c in b.controls if token in c.types]

    def rules_of(self, token: str) -> list[str]:
        """The rules that check a type: resource rules that name it, and stack rules of the
        controls that name it. A rule that checks every taggable type says nothing about
        one type, so it does not count."""
        found = {name for name, rule in self.rules.items() if token in rule.type_set and name not in BROAD_RULES}
        for _, control in self.controls_of(token):
            found |= {name for name in control.rules or () if self.rules[name].is_stack_rule}
        return sorted(found)

    def types_with_rules(self) -> list[str]:
        return [token for token in self.types.tokens if self.rules_of(token)]


def default_packs() -> tuple[Pack, ...]:
    from policies.cost.rules import PACK as COST
    from policies.zero_trust.rules import PACK as ZERO_TRUST

    return ZERO_TRUST, COST


def load(directory: Path = DIRECTORY, packs: Iterable[Pack] | None = None) -> Matrix:
    """The matrix from types.yaml and whichever benchmark files are present, validated."""
    packs = tuple(packs) if packs is not None else default_packs()
    problems: list[str] = []
    types = _parse(directory / "types.yaml", Types, problems)
    benchmarks = []
    for key, name in BENCHMARKS.items():
        path = directory / name
        if not path.exists():
            continue
        benchmark = _parse(path, Benchmark, problems)
        if benchmark is None:
            continue
        if benchmark.benchmark != key:
            problems.append(f"{path}: benchmark is '{benchmark.benchmark}'; expected '{key}' in {name}")
        benchmarks.append(benchmark)
    if types is None:
        raise CoverageError("\n".join(problems))
    rules = {rule.name for pack in packs for rule in pack.rules}
    pack_names = ", ".join(pack.name for pack in packs)
    for entry in types.project_specific_rules:
        if entry.rule not in rules:
            problems.append(
                f"{directory / 'types.yaml'}: project_specific_rules: rule '{entry.rule}' is in no pack ({pack_names})"
            )
    for benchmark in benchmarks:
        path = directory / BENCHMARKS[benchmark.benchmark]
        for index, control in enumerate(benchmark.controls):
            where = f"{path}: controls[{index}] ({control.id})"
            problems += [
                f"{where}: rule '{name}' is in no pack ({pack_names})"
                for name in control.rules or ()
                if name not in rules
            ]
            problems += [
                f"{where}: type {token} is not in types.yaml; add it there, or name a listed type"
                for token in control.types
                if token not in types.tokens
            ]
    if problems:
        raise CoverageError("\n".join(problems))
    return Matrix(types, tuple(benchmarks), packs)


def _parse(path: Path, model: type[_Model], problems: list[str]) -> Any:
    """The file as `model`, or None with the problems noted."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        problems.append(f"{path}: cannot read it ({error.strerror})")
        return None
    except yaml.YAMLError as error:
        problems.append(f"{path}: not YAML ({error})")
        return None
    if isinstance(document, dict):
        # Top-level keys starting with x- hold YAML anchors (type lists, reasons) only.
        document = {key: value for key, value in document.items() if not str(key).startswith("x-")}
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems += [f"{path}: {_where(document, e['loc'])}{_message(e)}" for e in error.errors()]
        return None


def _where(document: Any, loc: tuple[Any, ...]) -> str:
    """controls[3] (5.1.1).rules: the place of an error, with the control's id if known."""
    if not loc:
        return ""
    parts = []
    node = document
    for step in loc:
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step}")
        node = node[step] if isinstance(node, (Mapping, list)) and _has(node, step) else None
        if isinstance(step, int) and isinstance(node, Mapping) and isinstance(node.get("id"), str):
            parts.append(f" ({node['id']})")
    return "".join(parts).lstrip(".") + ": "


def _has(node: Mapping[Any, Any] | list[Any], step: Any) -> bool:
    return step in node if isinstance(node, Mapping) else isinstance(step, int) and 0 <= step < len(node)


def _message(error: Mapping[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown field; expected only the fields the schema names (see policies/coverage/__init__.py)"
    if error["type"] == "missing":
        return "missing; expected it"
    return message


LABELS = {
    "cis-aws": "CIS AWS",
    "cis-eks": "CIS EKS",
    "cis-gke": "CIS GKE",
    "cis-kubernetes": "CIS Kubernetes",
    "nsa-cisa": "NSA/CISA",
    "checkov": "Checkov",
}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def report(matrix: Matrix) -> str:
    """The figures: per benchmark, rules per pack, in-scope types with a rule."""
    lines = [
        f"{'benchmark':16} {'version':10} {'controls':>8} {'implemented':>11} {'n/a':>5} {'gaps':>5} {'coverage':>8}"
    ]
    for b in matrix.benchmarks:
        lines.append(
            f"{b.benchmark:16} {b.version:10} {len(b.controls):8} {b.count('implemented'):11} "
            f"{b.count('not_applicable'):5} {b.count('gap'):5} {_percent(b.coverage):>8}"
        )
    lines.append("rules per pack: " + ", ".join(f"{pack.name} {len(pack.rules)}" for pack in matrix.packs))
    lines.append(
        f"in-scope types with at least one rule: {len(matrix.types_with_rules())} of {len(matrix.types.tokens)}"
    )
    unmapped = matrix.unmapped_rules()
    if unmapped:
        lines.append(f"rules no control maps and types.yaml does not list as project-specific: {', '.join(unmapped)}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names) or "—"


def markdown(matrix: Matrix) -> str:
    """The generated doc: the summary, each type's controls and rules, then each
    benchmark's gaps and not-applicable controls with their reasons."""
    lines = [
        "# Policy coverage",
        "",
        "<!-- Generated from policies/coverage/*.yaml by `python -m policies.coverage --markdown`;"
        " edit those files. -->",
        "",
        "What the zero-trust and cost packs check, control by control, against the CIS AWS Foundations, CIS EKS,",
        "CIS GKE and CIS Kubernetes benchmarks, the NSA/CISA Kubernetes Hardening Guidance and Checkov's checks,",
        "for the resource types a program like this one, or its users, declare. Each control is implemented by",
        "rules, not applicable (with the reason), or a gap (with the reason). Coverage is implemented /",
        "(implemented + gaps).",
        "",
        "Rules per pack: "
        + ", ".join(f"{pack.name} {len(pack.rules)}" for pack in matrix.packs)
        + f". In-scope resource types with at least one rule: {len(matrix.types_with_rules())} of "
        f"{len(matrix.types.tokens)}.",
        "",
        "| benchmark | version | controls | implemented | not applicable | gaps | coverage |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for b in matrix.benchmarks:
        lines.append(
            f"| [{_cell(b.title)}](#{b.benchmark}) | {_cell(b.version)} | {len(b.controls)} | "
            f"{b.count('implemented')} | {b.count('not_applicable')} | {b.count('gap')} | {_percent(b.coverage)} |"
        )
    lines += ["", "## Resource types"]
    for provider, entries in matrix.types.providers.items():
        lines += ["", f"### {PROVIDERS[provider]}", "", "| type | rules | controls |", "| --- | --- | --- |"]
        for entry in entries:
            lines.append(
                f"| {_cell(entry.title)} `{entry.token}` | {_names(matrix.rules_of(entry.token))} | "
                f"{_controls(matrix.controls_of(entry.token))} |"
            )
    for b in matrix.benchmarks:
        lines += ["", f'<a id="{b.benchmark}"></a>', f"## {b.title} {b.version}", ""]
        lines += [f"Control ids from {b.source} ({b.licence}).", ""]
        lines += [
            f"{len(b.controls)} controls: {b.count('implemented')} implemented, {b.count('not_applicable')} not "
            f"applicable, {b.count('gap')} gaps; coverage {_percent(b.coverage)}."
        ]
        for status, heading in (("gap", "Gaps"), ("not_applicable", "Not applicable")):
            chosen = [c for c in b.controls if c.status == status]
            if not chosen:
                continue
            lines += ["", f"### {heading}", "", "| control | title | why |", "| --- | --- | --- |"]
            for control in chosen:
                reason = control.gap if status == "gap" else control.not_applicable
                lines.append(f"| {_cell(control.id)} | {_cell(control.title)} | {_cell(reason or '')} |")
    lines += ["", "## Project-specific rules", "", "Rules no benchmark control names, and why they exist.", ""]
    lines += ["| rule | why |", "| --- | --- |"]
    lines += [f"| `{entry.rule}` | {_cell(entry.reason)} |" for entry in matrix.types.project_specific_rules]
    return "\n".join(lines) + "\n"


def _controls(found: list[tuple[Benchmark, Control]]) -> str:
    """CIS EKS 4.2.1, 4.2.2 (gap); NSA/CISA pod-security/non-root. Controls that are not
    applicable are listed with their benchmark, not here."""
    groups: dict[str, list[str]] = {}
    for benchmark, control in found:
        if control.status != "not_applicable":
            suffix = " (gap)" if control.status == "gap" else ""
            groups.setdefault(LABELS[benchmark.benchmark], []).append(f"{control.id}{suffix}")
    return _cell("; ".join(f"{label} {', '.join(ids)}" for label, ids in groups.items())) or "—"
