"""Zero-trust rule for chaos engineering: no Chaos Mesh in production, however it arrives.

Chaos Mesh's daemon is privileged on every node and its controller deletes and rewrites
pods: in production that is a standing way to break the service. Outside prod it runs
scoped to the app's namespace (components/chaos). The stack config refuses it in prod;
this rule refuses it in what the program actually declares, whatever the config says:

- its chart, by the chart's name (any release name, repository or OCI prefix, a chart
  archive's URL) or its repository (charts.chaos-mesh.org), as a Helm v3 Release or a
  v4 Chart;
- any chaos-mesh.org object (a PodChaos, a Schedule, a Workflow...), whatever its
  namespace or name, and a CustomResourceDefinition of that group;
- a workload running Chaos Mesh's images (its manifests applied by hand).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from policies.core.pods import WORKLOAD_TYPES, containers, pod_spec
from policies.core.props import get
from policies.core.rule import Resource, Stack, rule
from policies.zero_trust import PACK
from policies.zero_trust.aws import EnvironmentParams

GROUP = "chaos-mesh.org"
CHART = "chaos-mesh"
RELEASES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
# Chaos Mesh's images: ghcr.io/chaos-mesh/<component>, and the older pingcap/chaos-<component>.
_IMAGE = re.compile(r"(^|/)(chaos-mesh/chaos-|pingcap/chaos-)[a-z-]+(:|@|$)")
# A chart archive's file name: chaos-mesh-2.8.3.tgz.
_ARCHIVE = re.compile(rf"^{CHART}-v?\d[^/]*\.tgz$")


def _is_chart(resource: Resource) -> bool:
    chart = str(get(resource.props, "chart", "")).rstrip("/").rsplit("/", 1)[-1]
    repository = str(get(resource.props, "repositoryOpts.repo", ""))
    return chart == CHART or bool(_ARCHIVE.match(chart)) or GROUP in repository


def _of_group(resource: Resource) -> bool:
    # Custom resources' types carry their API group: kubernetes:chaos-mesh.org/v1alpha1:PodChaos.
    return resource.type.startswith(f"kubernetes:{GROUP}/") or str(get(resource.props, "apiVersion", "")).startswith(
        f"{GROUP}/"
    )


def _images(resource: Resource) -> list[str]:
    found = []
    for where, container in containers(pod_spec(resource.type, resource.props)):
        image = str(get(container, "image", ""))
        if _IMAGE.search(image):
            found.append(f"{where} runs Chaos Mesh's image {image!r}")
    return found


@rule(
    PACK,
    name="chaos-mesh-not-in-prod",
    description="No Chaos Mesh in production: its chart, its CRDs, its chaos objects or its images.",
    severity="critical",
    remediation=(
        "Run chaos experiments in dev and staging (projectai:chaos there); remove Chaos Mesh's release, "
        "chaos-mesh.org objects and images from production stacks."
    ),
    params=EnvironmentParams,
)
def chaos_mesh_not_in_prod(stack: Stack, params: EnvironmentParams) -> Iterable[tuple[str, str]]:
    if params.environment not in params.environments:
        return
    where = params.environment
    for resource in stack.resources:
        if resource.type in RELEASES and _is_chart(resource):
            yield resource.urn, f"Chaos Mesh's chart is installed ({resource.name}) in {where}"
        elif _of_group(resource):
            kind = resource.type.rsplit(":", 1)[-1]
            name = get(resource.props, "metadata.name") or resource.name
            namespace = get(resource.props, "metadata.namespace", "default")
            yield resource.urn, f"a {GROUP} {kind} ({name}, namespace {namespace}) in {where}"
        elif resource.type == CRD and get(resource.props, "spec.group") == GROUP:
            yield resource.urn, f"a {GROUP} CustomResourceDefinition ({resource.name}) in {where}"
        elif resource.type in WORKLOAD_TYPES:
            for found in _images(resource):
                yield resource.urn, f"{found} in {where}"
