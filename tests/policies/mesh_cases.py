"""Cases for the mesh's zero-trust rules (policies/zero_trust/istio.py): a compliant and
a non-compliant case each, with the exact violations, and the ways around each rule an
attacker would try first. test_mesh_rules.py runs them; test_rules.py adds them to its
table, so its every-rule-has-a-case check counts them. (A module of its own: test_rules
imports it, so it cannot import test_rules.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policies.core.rule import Resource
from tests.policies.cases import DELETE, changed, pod, resource, workload


@dataclass(frozen=True)
class MeshCase:
    """test_rules.Case's fields."""

    rule: str
    good: list[Resource]
    bad: list[Resource]
    expected: list[str]


PA = "kubernetes:security.istio.io/v1:PeerAuthentication"
AP = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
NS = "kubernetes:core/v1:Namespace"
RELEASE = "kubernetes:helm.sh/v3:Release"
SIDECAR = "kubernetes:networking.istio.io/v1:Sidecar"
SE = "kubernetes:networking.istio.io/v1:ServiceEntry"
VS = "kubernetes:networking.istio.io/v1:VirtualService"
EF = "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter"
GATEWAY = "mesh.example/ns/istio-ingress/sa/istio-ingressgateway"

ISTIOD = {
    "chart": "istiod",
    "namespace": "istio-system",
    "values": {"meshConfig": {"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}},
}
MESH_WIDE = {"metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}}
ENROLLED = {"metadata": {"name": "app", "labels": {"istio-injection": "enabled"}}}
ALLOW_NOTHING = {"metadata": {"name": "allow-nothing", "namespace": "app"}, "spec": {}}
ALLOW_GATEWAY = {
    "metadata": {"name": "allow-ingress", "namespace": "app"},
    "spec": {
        "selector": {"matchLabels": {"app": "api"}},
        "action": "ALLOW",
        "rules": [{"from": [{"source": {"principals": [GATEWAY]}}], "to": [{"operation": {"ports": ["8000"]}}]}],
    },
}
FAULT = {"http": [{"route": [{"destination": {"host": "api"}}]}]}


def source(**fields: Any) -> dict[str, Any]:
    return changed(ALLOW_GATEWAY, "spec.rules.0.from", [{"source": fields}])


MESH_CASES = [
    MeshCase(
        "istio-strict-mtls",
        [
            resource(PA, MESH_WIDE),
            resource(PA, changed(MESH_WIDE, "spec.portLevelMtls", {"8000": {"mode": "STRICT"}}), "ports"),
        ],
        [
            # PERMISSIVE on one port only, DISABLE, lowercase, and a mode that is absent.
            resource(PA, changed(MESH_WIDE, "spec.portLevelMtls", {"9090": {"mode": "PERMISSIVE"}}), "port"),
            resource(PA, changed(MESH_WIDE, "spec.mtls.mode", "DISABLE"), "disabled"),
            resource(PA, changed(MESH_WIDE, "spec.mtls.mode", "strict"), "lowercase"),
            resource(PA, changed(MESH_WIDE, "spec", {"portLevelMtls": {"8000": {}}}), "unset"),
        ],
        [
            "port 9090 is PERMISSIVE",
            "mtls.mode is DISABLE",
            "mtls.mode is strict",
            "mtls.mode is UNSET",
            "port 8000 is UNSET",
        ],
    ),
    MeshCase(
        "istio-mesh-wide-mtls",
        [resource(RELEASE, ISTIOD, "istiod"), resource(PA, MESH_WIDE, "mesh")],
        [
            resource(RELEASE, ISTIOD, "istiod"),
            # STRICT, but for some workloads only; and mesh-wide, but in another namespace.
            resource(PA, changed(MESH_WIDE, "spec.selector", {"matchLabels": {"app": "api"}}), "selected"),
            resource(PA, changed(MESH_WIDE, "metadata.namespace", "app"), "app"),
        ],
        ["no mesh-wide STRICT PeerAuthentication in the root namespace 'istio-system'"],
    ),
    MeshCase(
        "istio-authorization-per-namespace",
        [
            resource(NS, ENROLLED, "app"),
            workload(pod()),
            resource(AP, ALLOW_NOTHING),
            resource(AP, ALLOW_GATEWAY, "gw"),
        ],
        [
            # Enrolled, with only an allowing policy (workloads it does not select are open).
            resource(NS, ENROLLED, "app"),
            resource(AP, ALLOW_GATEWAY, "gw"),
            # Enrolled by revision, no policy at all.
            resource(NS, {"metadata": {"name": "jobs", "labels": {"istio.io/rev": "1-30"}}}, "jobs"),
            # "Allow-nothing" that selects one workload is not namespace-wide.
            resource(NS, {"metadata": {"name": "web", "labels": {"istio-injection": "enabled"}}}, "web"),
            resource(AP, changed(changed(ALLOW_NOTHING, "metadata.namespace", "web"), "spec.selector", {"a": 1}), "w"),
        ],
        [
            "enrolled namespace 'app' has no allow-nothing AuthorizationPolicy (spec: {})",
            "enrolled namespace 'jobs' has no AuthorizationPolicy",
            "enrolled namespace 'web' has no allow-nothing AuthorizationPolicy (spec: {})",
        ],
    ),
    MeshCase(
        "istio-no-wildcard-principals",
        [
            resource(AP, ALLOW_GATEWAY),
            resource(AP, ALLOW_NOTHING, "nothing"),
            # Denying everyone is safe.
            resource(AP, changed(source(principals=["*"]), "spec.action", "DENY"), "deny"),
        ],
        [
            resource(AP, source(principals=["*"]), "star"),
            resource(AP, source(principals=["mesh.example/ns/*/sa/*"]), "pattern"),
            resource(AP, source(notPrincipals=[GATEWAY]), "not"),
            resource(AP, source(namespaces=["*"]), "namespaces"),
            resource(AP, changed(ALLOW_GATEWAY, "spec.rules.0.from", DELETE), "open"),
            # ALLOW by default, with no source.
            resource(
                AP, changed(changed(ALLOW_GATEWAY, "spec.action", DELETE), "spec.rules.0.from", DELETE), "implicit"
            ),
        ],
        [
            "rule 0 allows principals '*'",
            "rule 0 allows principals 'mesh.example/ns/*/sa/*'",
            "rule 0 has a source without principals: callers are not named",
            "rule 0 allows namespaces '*'",
            "rule 0 has a source without principals: callers are not named",
            "rule 0 has no from: every caller is allowed",
            "rule 0 has no from: every caller is allowed",
        ],
    ),
    MeshCase(
        "istio-registry-only-egress",
        [
            resource(RELEASE, ISTIOD, "istiod"),
            resource(RELEASE, {"chart": "ingress-nginx", "values": {}}, "nginx"),
            resource(SIDECAR, {"spec": {"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}}, "sidecar"),
            resource(SIDECAR, {"spec": {"egress": [{"hosts": ["./*"]}]}}, "inherits"),
            resource(SE, {"spec": {"hosts": ["db.example.com"], "location": "MESH_EXTERNAL"}}, "db"),
        ],
        [
            resource(RELEASE, changed(ISTIOD, "values.meshConfig", {}), "istiod"),
            # From an OCI registry, in lowercase.
            resource(
                RELEASE,
                changed(
                    changed(ISTIOD, "chart", "oci://registry.example/istio/istiod"),
                    "values.meshConfig.outboundTrafficPolicy.mode",
                    "registry_only",
                ),
                "oci",
            ),
            resource(SIDECAR, {"spec": {"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}}, "sidecar"),
            resource(SE, {"spec": {"hosts": ["*.com"], "location": "MESH_EXTERNAL", "resolution": "NONE"}}, "any"),
        ],
        [
            "istiod's outboundTrafficPolicy.mode is ALLOW_ANY (the default)",
            "istiod's outboundTrafficPolicy.mode is registry_only",
            "Sidecar's outboundTrafficPolicy.mode is ALLOW_ANY",
            "ServiceEntry host '*.com' admits every name it matches",
        ],
    ),
    MeshCase(
        "istio-no-fault-injection-in-prod",
        [resource(VS, {"spec": FAULT})],
        [
            resource(VS, {"spec": changed(FAULT, "http.0.fault", {"abort": {"httpStatus": 503}})}),
            resource(
                EF,
                {"spec": {"configPatches": [{"patch": {"value": {"name": "envoy.filters.http.fault"}}}]}},
                "filter",
            ),
        ],
        ["http[0] injects faults in prod", "configPatches[0] adds Envoy's fault filter in prod"],
    ),
]
