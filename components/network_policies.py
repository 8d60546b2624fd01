"""NetworkPolicy specs every namespace of this project is built from: deny everything,
then allow named paths (DNS, a namespace's pods, a CIDR) on named ports."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi_kubernetes as k8s

networking = k8s.networking.v1
meta = k8s.meta.v1


@dataclass(frozen=True)
class EgressRule:
    """A destination the pods may reach: a CIDR, or pods in a namespace."""

    name: str
    ports: tuple[int, ...]
    protocol: str = "TCP"
    cidr: str | None = None
    except_cidrs: tuple[str, ...] = ()
    namespace: str | None = None
    pod_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IngressRule:
    """A source allowed in: pods of a namespace, or a CIDR (the API server calling a
    webhook comes from outside the pod network)."""

    name: str
    ports: tuple[int, ...]
    namespace: str | None = None
    cidr: str | None = None


NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# The API server's address differs per cluster (charts.Cluster names it); its ports do not.
API_SERVER_PORTS = (443, 6443)


def namespace_selector(name: str) -> meta.LabelSelectorArgs:
    # Set by the API server on every namespace (1.22+), so it cannot be forged by
    # whoever can label namespaces.
    return meta.LabelSelectorArgs(match_labels={NAMESPACE_NAME_LABEL: name})


def ports(ports: tuple[int, ...] | list[int], protocol: str = "TCP") -> list[networking.NetworkPolicyPortArgs]:
    return [networking.NetworkPolicyPortArgs(port=port, protocol=protocol) for port in ports]


def default_deny() -> networking.NetworkPolicySpecArgs:
    return networking.NetworkPolicySpecArgs(pod_selector=meta.LabelSelectorArgs(), policy_types=["Ingress", "Egress"])


def ingress_from_namespace(namespace: str, selector: dict[str, str], *port: int) -> networking.NetworkPolicySpecArgs:
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress"],
        ingress=[
            networking.NetworkPolicyIngressRuleArgs(
                from_=[networking.NetworkPolicyPeerArgs(namespace_selector=namespace_selector(namespace))],
                ports=ports(list(port)),
            )
        ],
    )


def egress_to_dns(selector: dict[str, str], node_local_dns: str | None) -> networking.NetworkPolicySpecArgs:
    peers = [
        networking.NetworkPolicyPeerArgs(
            namespace_selector=namespace_selector("kube-system"),
            pod_selector=meta.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
        )
    ]
    if node_local_dns:
        peers.append(networking.NetworkPolicyPeerArgs(ip_block=networking.IPBlockArgs(cidr=f"{node_local_dns}/32")))
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Egress"],
        egress=[networking.NetworkPolicyEgressRuleArgs(to=peers, ports=ports([53], "UDP") + ports([53], "TCP"))],
    )


def egress_to(rule: EgressRule, selector: dict[str, str]) -> networking.NetworkPolicySpecArgs:
    if rule.cidr is not None:
        peer = networking.NetworkPolicyPeerArgs(
            ip_block=networking.IPBlockArgs(cidr=rule.cidr, except_=list(rule.except_cidrs) or None)
        )
    else:
        peer = networking.NetworkPolicyPeerArgs(
            namespace_selector=namespace_selector(rule.namespace or ""),
            pod_selector=meta.LabelSelectorArgs(match_labels=rule.pod_labels or None),
        )
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Egress"],
        egress=[networking.NetworkPolicyEgressRuleArgs(to=[peer], ports=ports(rule.ports, rule.protocol))],
    )


def ingress_from(rule: IngressRule, selector: dict[str, str]) -> networking.NetworkPolicySpecArgs:
    if rule.cidr is not None:
        peer = networking.NetworkPolicyPeerArgs(ip_block=networking.IPBlockArgs(cidr=rule.cidr))
    else:
        peer = networking.NetworkPolicyPeerArgs(namespace_selector=namespace_selector(rule.namespace or ""))
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress"],
        ingress=[networking.NetworkPolicyIngressRuleArgs(from_=[peer], ports=ports(rule.ports))],
    )


def egress_to_every_pod(selector: dict[str, str]) -> networking.NetworkPolicySpecArgs:
    """Pods of every namespace, on any port: what Prometheus scrapes (each target's port
    is its own). Pods only: no address outside the pod network."""
    every_namespace = networking.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs())
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Egress"],
        egress=[networking.NetworkPolicyEgressRuleArgs(to=[every_namespace])],
    )


def within_namespace(selector: dict[str, str]) -> networking.NetworkPolicySpecArgs:
    """Pods of the namespace reach each other (a chart's own components)."""
    same = networking.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs())
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress", "Egress"],
        ingress=[networking.NetworkPolicyIngressRuleArgs(from_=[same])],
        egress=[networking.NetworkPolicyEgressRuleArgs(to=[same])],
    )
