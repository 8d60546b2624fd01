"""NetworkPolicy specs: deny everything, then allow exactly the paths the API needs."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.network_policies import default_deny, egress_to, egress_to_dns, ingress_from_namespace, ports
from components.workload.args import AppServiceArgs

networking = k8s.networking.v1
meta = k8s.meta.v1

SMOKE_TEST = "smoke-test"


def family_labels(app_name: str) -> dict[str, str]:
    """Every pod of the app's family: the API, its migration Job, its smoke tests. Egress
    rules apply to all of them; traffic is only ever sent to the API pods."""
    return {"app.kubernetes.io/name": app_name}


def smoke_test_to_api(selector: dict[str, str], app_name: str, port: int) -> networking.NetworkPolicySpecArgs:
    """Blue-green's smoke test calls the preview pods from inside the namespace."""
    smoke = {**family_labels(app_name), "app.kubernetes.io/component": SMOKE_TEST}
    api = meta.LabelSelectorArgs(match_labels=selector)
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=smoke),
        policy_types=["Egress"],
        egress=[
            networking.NetworkPolicyEgressRuleArgs(
                to=[networking.NetworkPolicyPeerArgs(pod_selector=api)], ports=ports([port])
            )
        ],
    )


def api_from_smoke_test(selector: dict[str, str], app_name: str, port: int) -> networking.NetworkPolicySpecArgs:
    smoke = {**family_labels(app_name), "app.kubernetes.io/component": SMOKE_TEST}
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress"],
        ingress=[
            networking.NetworkPolicyIngressRuleArgs(
                from_=[networking.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=smoke))],
                ports=ports([port]),
            )
        ],
    )


def policies(args: AppServiceArgs, selector: dict[str, str]) -> dict[str, networking.NetworkPolicySpecArgs]:
    """Every policy of the namespace by name, default deny first."""
    family = family_labels(args.name)
    mesh = args.mesh
    specs = {
        "default-deny": default_deny(),
        # In the mesh, external traffic arrives through the ingress gateway.
        "allow-ingress-controller": ingress_from_namespace(
            mesh.gateway_namespace if mesh else args.ingress.controller_namespace, selector, args.port
        ),
        # /metrics is served on the app port; Prometheus scrapes from its namespace (in
        # the mesh over mutual TLS, and the sidecar's own metrics on the sidecar's port).
        "allow-monitoring": ingress_from_namespace(
            args.cluster.monitoring_namespace, selector, args.port, *((mesh.sidecar_metrics_port,) if mesh else ())
        ),
        "allow-dns": egress_to_dns(family, args.cluster.node_local_dns),
    }
    for rule in mesh.control_plane if mesh else ():
        specs[f"allow-egress-{rule.name}"] = egress_to(rule, family)
    for rule in args.egress:
        specs[f"allow-egress-{rule.name}"] = egress_to(rule, family)
    if args.delivery.strategy == "blueGreen":
        specs["allow-smoke-test-egress"] = smoke_test_to_api(selector, args.name, args.port)
        specs["allow-smoke-test-ingress"] = api_from_smoke_test(selector, args.name, args.port)
    return specs
