"""DevVault: OpenBao in dev mode from its upstream chart, for the `local` stack, so the
embedded default needs no outside Vault.

Dev mode keeps everything in memory and starts unsealed: fine on a laptop cluster, never
anywhere else (stacks/ allows it for the local environment only). The root token is
random per stack, kept as a Pulumi secret, and handed to the Vault provider.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import charts
from components.labels import Ownership, kubernetes_labels, ownership_labels
from components.network_policies import IngressRule

CHART_REPOSITORY = "https://openbao.github.io/openbao-helm"
RELEASE = "openbao"
PORT = 8200
EXTRA_CONFIG = "openbao-extra-config"
# OpenBao only takes audit devices from its API when its configuration allows it; the
# devices themselves are declared with the rest of the Vault objects.
SERVER_CONFIG = "unsafe_allow_api_audit_creation = true\n"


@dataclass(frozen=True)
class DevVaultArgs:
    owner: Ownership
    chart_version: str
    # Where Pulumi reaches the server from outside the cluster (through the ingress).
    ingress_host: str
    ingress_class: str
    cluster: charts.Cluster
    namespace: str
    # Namespaces whose pods call the server (External Secrets, the rotation job, the
    # ingress controller that Pulumi comes through).
    client_namespaces: tuple[str, ...] = ()


class DevVault(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    root_token: pulumi.Output[str]
    # For Pulumi (through the ingress) and for pods in the cluster (the Service).
    address: str
    cluster_address: str

    def __init__(self, name: str, args: DevVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:vault:DevVault", name, None, opts)
        labels = kubernetes_labels(args.owner, name="openbao", instance=name, component="secrets")
        # The chart's own name and instance labels select its pods; add only ownership.
        owner_labels = ownership_labels(args.owner)
        # Dev mode only: the chart's pods are not `restricted` (a reviewed waiver says so).
        isolation = charts.Isolation(
            cluster=args.cluster,
            pod_security="baseline",
            ingress=tuple(IngressRule(f"clients-{ns}", (PORT,), namespace=ns) for ns in args.client_namespaces),
        )
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation)
        child = pulumi.ResourceOptions(parent=self)
        token = random.RandomPassword(f"{name}-root-token", length=32, special=False, opts=child)
        self.root_token = pulumi.Output.secret(token.result)
        config = k8s.core.v1.ConfigMap(
            f"{name}-extra-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=EXTRA_CONFIG, namespace=args.namespace, labels=labels),
            data={"extra.hcl": SERVER_CONFIG},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace]),
        )
        self.release = charts.release(
            f"{name}-release",
            RELEASE,
            charts.Chart("openbao", CHART_REPOSITORY, args.chart_version),
            self.namespace.metadata.name,
            {
                "server": {
                    "dev": {"enabled": True, "devRootToken": self.root_token},
                    "extraVolumes": [{"type": "configMap", "name": EXTRA_CONFIG}],
                    "extraArgs": f"-config=/openbao/userconfig/{EXTRA_CONFIG}/extra.hcl",
                    "extraLabels": owner_labels,
                    "ingress": {
                        "enabled": True,
                        "ingressClassName": args.ingress_class,
                        "hosts": [{"host": args.ingress_host, "paths": []}],
                    },
                    "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                },
                # External Secrets syncs secrets; no sidecar injection, no CSI driver.
                "injector": {"enabled": False},
                "csi": {"enabled": False},
            },
            pulumi.ResourceOptions(parent=self, depends_on=[config]),
        )
        self.address = f"http://{args.ingress_host}"
        self.cluster_address = f"http://{RELEASE}.{args.namespace}.svc:{PORT}"
        self.register_outputs({"address": self.address, "clusterAddress": self.cluster_address})
