"""Kubernetes objects of a graph: rendered as YAML and validated strictly.

Built-in kinds are checked with `kubernetes-validate` against the schemas of the
cluster's version in strict mode (unknown fields are errors). Custom resources are
checked against `{group}/{kind}_{version}.json` in a CRD schema folder; one with no
schema is reported as unvalidated, never as valid.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import referencing
import yaml
from kubernetes_validate.utils import schema_contents

from preflight.graph import SECRET, Graph, Resource
from preflight.mocks import kubernetes_object
from preflight.project import PreflightError

VALID, INVALID, UNVALIDATED = "valid", "invalid", "unvalidated"


@dataclass
class ObjectResult:
    kind: str
    api_version: str
    name: str
    namespace: str | None
    urn: str
    status: str
    errors: list[str] = field(default_factory=list)
    schema: str = ""

    @property
    def title(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


def _redacted(value: Any) -> Any:
    """A secret input's shape with every value hidden: valid against the schema, and
    nothing secret in a manifest written to disk."""
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return SECRET


def manifest(resource: Resource) -> dict[str, Any]:
    """The object as the API server receives it: inputs with the name the engine chose."""
    api_version, kind = kubernetes_object(resource.type) or ("", "")
    body = {**resource.inputs, **{key: _redacted(value) for key, value in resource.secret_inputs.items()}}
    metadata = dict(body.get("metadata") or {})
    assigned = resource.outputs.get("metadata") or {}
    for key in ("name", "namespace"):
        if key not in metadata and key in assigned:
            metadata[key] = assigned[key]
    return {"apiVersion": api_version, "kind": kind, **body, "metadata": metadata}


def kubernetes_resources(graph: Graph) -> list[Resource]:
    return [r for r in graph.resources if r.custom and kubernetes_object(r.type)]


def validate(graph: Graph, version: str, crd_schemas: Path | None) -> list[ObjectResult]:
    results = []
    for resource in kubernetes_resources(graph):
        body = manifest(resource)
        metadata = body["metadata"]
        result = ObjectResult(
            kind=body["kind"],
            api_version=body["apiVersion"],
            name=str(metadata.get("name", "")),
            namespace=metadata.get("namespace"),
            urn=resource.urn,
            status=VALID,
        )
        _check(result, body, version, crd_schemas)
        results.append(result)
    return results


def _check(result: ObjectResult, body: dict[str, Any], version: str, crd_schemas: Path | None) -> None:
    builtin = _builtin_schema(version, result.api_version, result.kind)
    if builtin is not None:
        validator, result.schema = builtin
    else:
        schema_file = _crd_schema_file(crd_schemas, result.api_version, result.kind)
        if schema_file is None:
            result.status = UNVALIDATED
            where = f"in {crd_schemas}" if crd_schemas else "(no --crd-schemas given)"
            result.errors = [f"no schema for {result.api_version} {result.kind} {where}"]
            return
        validator, result.schema = _crd_validator(schema_file), str(schema_file)
    errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        result.status = INVALID
        result.errors = [_describe(error) for error in errors]


# Schemas are parsed once per kind and version: kubernetes-validate's own validate()
# re-reads its large definitions file on every call (~15 ms an object).
@functools.cache
def _builtin_schema(version: str, api_version: str, kind: str) -> tuple[jsonschema.Validator, str] | None:
    """The strict schema kubernetes-validate ships for a built-in kind, or None."""
    schema_dir = f"v{_schema_version(version)}-local-strict"
    # rbac.authorization.k8s.io/v1 -> rbac-v1, as the package names its files.
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{api}.json", version)
    except FileNotFoundError:
        return None
    definitions = schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    registry = referencing.Resource.from_contents(definitions) @ (
        referencing.Resource.from_contents(schema) @ referencing.Registry()
    )
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return validator, f"kubernetes {version} (strict)"


def _schema_version(version: str) -> str:
    """The newest schema set not newer than the cluster's minor version."""
    wanted = _numeric(version)
    shipped = [v for v in kubernetes_validate.utils.all_versions() if _numeric(v) <= wanted]
    if not shipped or wanted > _numeric(kubernetes_validate.utils.latest_version()):
        raise PreflightError(
            f"Kubernetes {version} has no schemas in kubernetes-validate "
            f"{kubernetes_validate.__version__}; expected one of {_supported()}"
        )
    return shipped[-1]


def _numeric(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


@functools.cache
def _crd_validator(schema_file: Path) -> jsonschema.Validator:
    schema = json.loads(schema_file.read_text())
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)(schema)


def _crd_schema_file(folder: Path | None, api_version: str, kind: str) -> Path | None:
    if folder is None or "/" not in api_version:
        return None
    group, version = api_version.split("/", 1)
    candidate = folder / group / f"{kind.lower()}_{version}.json"
    return candidate if candidate.is_file() else None


def _describe(error: Any) -> str:
    path = ".".join(str(part) for part in getattr(error, "absolute_path", []) or getattr(error, "path", []))
    message = getattr(error, "message", str(error))
    return f"{path or '(root)'}: {message}"


def _supported() -> str:
    versions = sorted(
        {".".join(v.split(".")[:2]) for v in kubernetes_validate.utils.all_versions()},
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )
    return f"{versions[0]} to {versions[-1]}"


def _dump(body: dict[str, Any]) -> str:
    head = yaml.safe_dump({key: body[key] for key in ("apiVersion", "kind")}, sort_keys=False)
    rest = yaml.safe_dump({k: v for k, v in body.items() if k not in ("apiVersion", "kind")}, sort_keys=True)
    return head + rest


def write_manifests(graph: Graph, folder: Path) -> list[Path]:
    """One YAML file per object under folder/<namespace or _cluster>/<kind>-<name>.yaml."""
    written = []
    for resource in kubernetes_resources(graph):
        body = manifest(resource)
        metadata = body["metadata"]
        directory = folder / str(metadata.get("namespace") or "_cluster")
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{body['kind'].lower()}-{metadata.get('name', resource.name)}.yaml"
        # Keys sorted (the wire format has no order), so manifests diff cleanly.
        path.write_text(_dump(body))
        written.append(path)
    return written
