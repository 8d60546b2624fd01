"""Cases for the chaos rule (policies/zero_trust/chaos.py): no Chaos Mesh in prod, however
it arrives. A compliant and a non-compliant case with the exact violations, the
non-compliant one made of the ways around the rule one would try first: another release
name, another repository form, a chaos object in another namespace, its CRDs, its images
in a workload applied by hand. test_rules.py adds them to its table; test_chaos_rules.py
checks what the table does not show. (A module of its own, as mesh_cases.py is.)"""

from __future__ import annotations

from tests.policies.cases import CONTAINER, changed, pod, resource, workload
from tests.policies.mesh_cases import MeshCase

RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
POD_CHAOS = "kubernetes:chaos-mesh.org/v1alpha1:PodChaos"
SCHEDULE = "kubernetes:chaos-mesh.org/v1alpha1:Schedule"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
CHAOS_MESH = {"chart": "chaos-mesh", "version": "2.8.3", "repositoryOpts": {"repo": "https://charts.chaos-mesh.org"}}
DAEMON = changed(
    pod(), "containers", [{**CONTAINER, "name": "chaos-daemon", "image": "ghcr.io/chaos-mesh/chaos-daemon:v2.8.3"}]
)

CHAOS_CASES = [
    MeshCase(
        "chaos-mesh-not-in-prod",
        [
            # Look-alikes that are not Chaos Mesh.
            resource(
                RELEASE,
                {
                    "chart": "kube-monkey",
                    "repositoryOpts": {"repo": "https://asobti.github.io/kube-monkey/charts/repo"},
                },
                "monkey",
            ),
            resource(RELEASE, {"chart": "istiod", "namespace": "chaos-mesh"}, "istiod"),
            resource(CRD, {"spec": {"group": "chaos.example.org"}}, "other-crd"),
            resource("kubernetes:core/v1:Namespace", {"metadata": {"name": "chaos-mesh"}}, "empty-namespace"),
            workload(changed(pod(), "containers.0.image", "ghcr.io/project-ai/chaos-mesh-notes:1.0.0")),
        ],
        [
            resource(RELEASE, {**CHAOS_MESH, "name": "platform-tools"}, "tools"),
            resource(RELEASE, {"chart": "oci://ghcr.io/chaos-mesh/charts/chaos-mesh", "version": "2.8.3"}, "oci"),
            resource(RELEASE, {"chart": "https://charts.chaos-mesh.org/chaos-mesh-2.8.3.tgz"}, "archive"),
            resource(
                RELEASE, {"chart": "renamed", "repositoryOpts": {"repo": "https://charts.chaos-mesh.org"}}, "fork"
            ),
            resource(CHART_V4, {"chart": "chaos-mesh/chaos-mesh"}, "v4"),
            resource(
                POD_CHAOS,
                {"metadata": {"name": "x", "namespace": "kube-system"}, "spec": {"action": "pod-kill"}},
                "kill",
            ),
            resource(SCHEDULE, {"metadata": {"name": "nightly"}, "spec": {"type": "Workflow"}}, "nightly"),
            resource(CRD, {"spec": {"group": "chaos-mesh.org"}}, "crd"),
            workload(DAEMON, kind=DAEMONSET, name="by-hand"),
        ],
        [
            "Chaos Mesh's chart is installed (tools) in prod",
            "Chaos Mesh's chart is installed (oci) in prod",
            "Chaos Mesh's chart is installed (archive) in prod",
            "Chaos Mesh's chart is installed (fork) in prod",
            "Chaos Mesh's chart is installed (v4) in prod",
            "a chaos-mesh.org PodChaos (x, namespace kube-system) in prod",
            "a chaos-mesh.org Schedule (nightly, namespace default) in prod",
            "a chaos-mesh.org CustomResourceDefinition (crd) in prod",
            "container 'chaos-daemon' runs Chaos Mesh's image 'ghcr.io/chaos-mesh/chaos-daemon:v2.8.3' in prod",
        ],
    ),
]
