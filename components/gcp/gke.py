"""GkeCluster: a regional GKE Standard cluster and its node pools, and a Kubernetes
provider built from its outputs.

- Private nodes; the control plane accepts only the authorized networks listed (and not
  every Google Cloud address).
- Workload Identity, so pods never see node credentials; shielded nodes with secure
  boot; legacy ABAC and client certificates off.
- Dataplane V2 enforces NetworkPolicies; Secrets are encrypted with a rotating KMS key.
- The kubelet's read-only port is closed and each pod's processes are capped.
- The default node pool is removed; pools run as a dedicated, least-privilege service
  account; the app pool is spot in dev.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.gcp import kms
from components.gcp.network import PODS, SERVICES
from components.kubeconfig import exec_kubeconfig
from components.labels import Ownership, cloud_tags

# What a node needs: write logs and metrics, read images. Nothing else.
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/artifactregistry.reader",
)

POD_PIDS_LIMIT = 4096


@dataclass(frozen=True)
class NodePoolArgs:
    name: str
    machine_type: str
    min_nodes: int
    max_nodes: int
    spot: bool = False
    disk_gib: int = 50
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class GkeClusterArgs:
    owner: Ownership
    project: str
    project_number: str
    cluster_name: str
    region: str
    network: pulumi.Input[str]
    subnet: pulumi.Input[str]
    # The control plane's private range (a /28 outside the VPC's ranges).
    master_cidr: str
    authorized_networks: tuple[str, ...]
    release_channel: str
    node_pools: tuple[NodePoolArgs, ...]
    deletion_protection: bool = False


class GkeCluster(pulumi.ComponentResource):
    cluster: gcp.container.Cluster
    node_pools: dict[str, gcp.container.NodePool]
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:gcp:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = cloud_tags(args.owner, "kubernetes")
        ring = kms.key_ring(args.cluster_name, args.region, self)
        key = kms.rotating_key(f"{args.cluster_name}-secrets", ring, labels, self)
        # GKE's service agent encrypts and decrypts Secrets with the key, and nothing else does.
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-key",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=f"serviceAccount:service-{args.project_number}@container-engine-robot.iam.gserviceaccount.com",
            opts=child,
        )
        account = gcp.serviceaccount.Account(
            f"{name}-nodes",
            account_id=f"{args.cluster_name}-nodes"[:30],
            display_name=f"{args.cluster_name} nodes",
            project=args.project,
            opts=child,
        )
        for role in NODE_ROLES:
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.rsplit('.', 1)[-1]}",
                project=args.project,
                role=role,
                member=account.email.apply(lambda email: f"serviceAccount:{email}"),
                opts=child,
            )
        shielded = {"enable_secure_boot": True, "enable_integrity_monitoring": True}
        # The kubelet's unauthenticated read-only port closed (its default depends on the GKE
        # version), and a pod's processes capped so that a fork bomb cannot starve the node.
        kubelet = {"insecure_kubelet_readonly_port_enabled": "FALSE", "pod_pids_limit": POD_PIDS_LIMIT}
        self.cluster = gcp.container.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            project=args.project,
            location=args.region,
            network=args.network,
            subnetwork=args.subnet,
            # Created with one throwaway node, which is removed at once: pools follow.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config={"service_account": account.email, "shielded_instance_config": shielded},
            # For pools created later, outside this program.
            node_pool_defaults={"node_config_defaults": {"insecure_kubelet_readonly_port_enabled": "FALSE"}},
            release_channel={"channel": args.release_channel},
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": False,
                "master_ipv4_cidr_block": args.master_cidr,
            },
            master_authorized_networks_config={
                "cidr_blocks": [{"cidr_block": cidr, "display_name": cidr} for cidr in args.authorized_networks],
                "gcp_public_cidrs_access_enabled": False,
            },
            ip_allocation_policy={"cluster_secondary_range_name": PODS, "services_secondary_range_name": SERVICES},
            workload_identity_config={"workload_pool": f"{args.project}.svc.id.goog"},
            datapath_provider="ADVANCED_DATAPATH",
            database_encryption={"state": "ENCRYPTED", "key_name": key.id},
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},
            deletion_protection=args.deletion_protection,
            resource_labels=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )
        self.node_pools = {
            pool.name: gcp.container.NodePool(
                f"{name}-{pool.name}",
                name=pool.name,
                project=args.project,
                location=args.region,
                cluster=self.cluster.name,
                # Totals, not per zone: a regional pool spreads them over the zones.
                autoscaling={"total_min_node_count": pool.min_nodes, "total_max_node_count": pool.max_nodes},
                management={"auto_repair": True, "auto_upgrade": True},
                node_config={
                    "machine_type": pool.machine_type,
                    "spot": pool.spot,
                    "disk_type": "pd-balanced",
                    "disk_size_gb": pool.disk_gib,
                    "service_account": account.email,
                    "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                    "shielded_instance_config": shielded,
                    "workload_metadata_config": {"mode": "GKE_METADATA"},
                    "kubelet_config": kubelet,
                    "labels": pool.labels or None,
                    "resource_labels": labels,
                    "taints": [{"key": k, "value": v, "effect": e} for k, v, e in pool.taints] or None,
                },
                opts=child,
            )
            for pool in args.node_pools
        }
        identity = (self.cluster.endpoint, self.cluster.master_auth.cluster_ca_certificate, self.cluster.name)
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(*identity).apply(lambda values: kubeconfig(*values)))
        self.provider = k8s.Provider(f"{name}-kubernetes", kubeconfig=self.kubeconfig, opts=child)
        self.register_outputs({"clusterName": self.cluster.name, "endpoint": self.cluster.endpoint})


def kubeconfig(endpoint: str, certificate: str, cluster: str) -> str:
    plugin = {"command": "gke-gcloud-auth-plugin", "provideClusterInfo": True}
    return exec_kubeconfig(cluster, f"https://{endpoint}", certificate, plugin)
