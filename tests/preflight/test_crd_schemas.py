"""The project's own CRD schemas (preflight/crd-schemas) cover every custom resource the
program declares: a kind without a schema fails here, before preflight would report it
unvalidated.

A custom resource is a Kubernetes object of the graph whose type pulumi-kubernetes has
no class for, i.e. one the program creates with `apiextensions.CustomResource`; its
schema is `{group}/{kind lower-case}_{version}.json`, the layout kubeconform and
preflight's `--crd-schemas` read.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path

import pulumi_kubernetes
import pytest

from preflight import kubernetes
from preflight.graph import Graph
from preflight.kubernetes import UNVALIDATED, VALID
from preflight.mocks import kubernetes_object
from preflight.synth import Synthesizer
from tests.conftest import CRD_SCHEMAS, PROJECT_STACKS

# The version preflight validates a stack against when it exports none (as the other
# stack tests do).
DEFAULT_KUBERNETES_VERSION = "1.33"


@functools.cache
def builtin_types() -> frozenset[str]:
    """Every type token pulumi-kubernetes has a class for, from its own registration
    table (the `resource_modules` its package registers with the Pulumi runtime)."""
    source = Path(pulumi_kubernetes.__file__).read_text()
    table = re.search(r'resource_modules="""(.*?)"""', source, re.DOTALL)
    assert table, "pulumi_kubernetes/__init__.py no longer registers resource_modules; update builtin_types()"
    return frozenset(token for module in json.loads(table.group(1)) for token in module["classes"])


def custom_kinds(graph: Graph) -> set[tuple[str, str]]:
    """(apiVersion, kind) of every custom resource the graph declares."""
    kinds = set()
    for resource in graph.resources:
        found = kubernetes_object(resource.type) if resource.custom else None
        if found is not None and resource.type not in builtin_types():
            kinds.add(found)
    return kinds


def schema_path(api_version: str, kind: str) -> str:
    group, version = api_version.split("/", 1)
    return f"{group}/{kind.lower()}_{version}.json"


def missing_schemas(graph: Graph, folder: Path) -> list[str]:
    """One line per custom kind of the graph with no schema file in folder."""
    return sorted(
        f"{api_version} {kind}: no {schema_path(api_version, kind)} in {folder.name}"
        for api_version, kind in custom_kinds(graph)
        if not (folder / schema_path(api_version, kind)).is_file()
    )


def stack_version(graph: Graph) -> str:
    exported = graph.outputs.get("kubernetesVersion")
    return exported if isinstance(exported, str) else DEFAULT_KUBERNETES_VERSION


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_every_declared_kind_has_a_schema_and_none_is_unvalidated(project_synthesizer: Synthesizer, stack: str) -> None:
    graph = project_synthesizer.synthesize(stack)
    assert missing_schemas(graph, CRD_SCHEMAS) == []
    results = kubernetes.validate(graph, stack_version(graph), CRD_SCHEMAS)
    assert [f"{r.title}: {r.errors}" for r in results if r.status == UNVALIDATED] == []
    # Each custom resource was checked against the project's own schema file.
    custom = {(r.api_version, r.kind): r for r in results if (r.api_version, r.kind) in custom_kinds(graph)}
    for (api_version, kind), result in custom.items():
        assert Path(result.schema).resolve() == (CRD_SCHEMAS / schema_path(api_version, kind)).resolve(), kind


def test_the_stacks_declare_custom_resources(project_synthesizer: Synthesizer) -> None:
    # Guards the test above against passing on nothing: these kinds are the ones the
    # program creates with apiextensions.CustomResource (monitoring, External Secrets,
    # Argo Rollouts for canary and blue-green).
    declared = set().union(*(custom_kinds(project_synthesizer.synthesize(stack)) for stack in PROJECT_STACKS))
    assert declared >= {
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("external-secrets.io/v1", "ClusterSecretStore"),
        ("external-secrets.io/v1", "ExternalSecret"),
        ("argoproj.io/v1alpha1", "Rollout"),
        ("argoproj.io/v1alpha1", "AnalysisTemplate"),
    }
    # Built-in kinds are not custom resources, even in a group that looks like one.
    assert not {kind for _, kind in declared} & {"Deployment", "Namespace", "NetworkPolicy", "Ingress", "Release"}


def test_a_missing_schema_is_caught(local_graph: Graph, tmp_path: Path) -> None:
    folder = tmp_path / "crd-schemas"
    shutil.copytree(CRD_SCHEMAS, folder)
    (folder / "monitoring.coreos.com" / "podmonitor_v1.json").unlink()

    assert missing_schemas(local_graph, folder) == [
        "monitoring.coreos.com/v1 PodMonitor: no monitoring.coreos.com/podmonitor_v1.json in crd-schemas"
    ]
    results = kubernetes.validate(local_graph, stack_version(local_graph), folder)
    assert {r.kind for r in results if r.status == UNVALIDATED} == {"PodMonitor"}
    assert {r.status for r in results if r.kind != "PodMonitor"} == {VALID}


def test_every_schema_file_is_an_object_schema_in_the_documented_layout() -> None:
    files = sorted(CRD_SCHEMAS.glob("*/*.json"))
    assert files
    for path in files:
        assert re.fullmatch(r"[a-z0-9-]+_v\d+((alpha|beta)\d+)?\.json", path.name), path
        # Read as preflight reads them (preflight.kubernetes): an object schema. Some
        # upstream patterns use Go's regex syntax, so the metaschema's regex format check
        # is not applied; the files stay as their sources publish them.
        schema = json.loads(path.read_text())
        assert schema.get("type") == "object" and "properties" in schema, path
    # Nothing else hides in the folder: schemas, and the licence notices and README.
    others = {p.relative_to(CRD_SCHEMAS).as_posix() for p in CRD_SCHEMAS.rglob("*") if p.is_file()}
    others -= {p.relative_to(CRD_SCHEMAS).as_posix() for p in files}
    assert others == {"LICENSE", "README.md", "chaos-mesh.org/LICENSE", "keda.sh/LICENSE"}


def test_every_group_is_documented_with_its_licence() -> None:
    readme = (CRD_SCHEMAS / "README.md").read_text()
    groups = {p.name for p in CRD_SCHEMAS.iterdir() if p.is_dir()}
    assert sorted(group for group in groups if group not in readme) == []
    assert groups >= {
        "autoscaling.k8s.io",
        "chaos-mesh.org",
        "core.openfeature.dev",
        "externaldns.k8s.io",
        "telemetry.istio.io",
    }
    # MIT for the catalog's files, Apache-2.0 for the ones converted from Chaos Mesh.
    assert (CRD_SCHEMAS / "LICENSE").read_text().startswith("MIT License")
    assert "Apache License" in (CRD_SCHEMAS / "chaos-mesh.org" / "LICENSE").read_text()
    assert "Apache License" in (CRD_SCHEMAS / "keda.sh" / "LICENSE").read_text()
