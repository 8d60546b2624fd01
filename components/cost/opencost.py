"""OpenCost: what every pod costs, from its upstream Helm chart at a pinned version
(opencost/opencost-helm-chart `opencost`), reading the stack's own Prometheus.

What it reads and reaches:
- Prometheus in the monitoring namespace (usage, and the metrics it emits itself: a
  ServiceMonitor has Prometheus scrape it, and a policy there admits its queries);
- the API server (nodes, pods, their labels);
- its cloud's prices: AWS's public price list (no credentials), GCP's Cloud Billing
  Catalog (an API key, from Vault through External Secrets, mounted as a file), or on a
  laptop cluster the stack's own price table (the chart's customPricing).

Allocation by team, cost centre and environment: the project's ownership labels are on
every pod (components/labels.py), and OpenCost aggregates by any pod label
(`aggregate=label:<key>`, the key as Prometheus spells it: `cost_center`). OpenCost's
built-in team alias reads the `team` label, the one the project sets; it has no setting
that maps its department, environment or product aliases to other labels, so
ALLOCATION_AGGREGATES names the aggregations to ask for instead.

Hardened: restricted Pod Security (non-root, no capabilities, read-only root, scratch
directories on emptyDirs), no UI and no MCP server, a ClusterIP Service only, no token
on its ServiceAccount except in its own pod, and a namespace that denies by default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from components import charts, ops_service, secret_volume
from components.labels import Ownership, kubernetes_labels, ownership_labels, selector_labels
from components.monitoring.stack import PROMETHEUS_PORT, SELECTED_LABEL
from components.network_policies import EgressRule, IngressRule

CHART_REPOSITORY = "https://opencost.github.io/opencost-helm-chart"
CHART = "opencost"
# The release's name, and (fullnameOverride) its Deployment's, Service's and container's.
RELEASE = "opencost"
NAMESPACE = "opencost"
# The exporter's API and metrics (values opencost.exporter.apiPort).
API_PORT = 9003
# The image's user (its Dockerfile's USER).
USER = 1001
# The entrypoint of the exporter image.
BINARY = "/go/bin/app"
# Where OpenCost keeps its pricing configuration (CONFIG_PATH): written at start.
CONFIG_PATH = "/var/configs"
# GCP: the Secret External Secrets syncs the Cloud Billing Catalog API key into.
GCP_KEY_SECRET = "opencost-gcp-pricing"
GCP_KEY = "gcp-api-key"
# The Vault KV entry (in the app's folder) and its property that hold the key.
GCP_KEY_VAULT_ENTRY = "opencost"
# GKE's metadata server: the GCP provider reads the project and cluster from it.
GCP_METADATA = "169.254.169.254/32"
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")

Pricing = Literal["aws", "gcp", "custom"]


@dataclass(frozen=True)
class CustomPrices:
    """USD per vCPU-hour, GiB-hour of memory and of storage, GPU-hour and GiB of egress."""

    cpu: float
    spot_cpu: float
    ram: float
    spot_ram: float
    gpu: float
    storage: float
    zone_network_egress: float
    region_network_egress: float
    internet_network_egress: float


@dataclass(frozen=True)
class OpenCostArgs:
    owner: Ownership
    chart_version: str
    cluster: charts.Cluster
    # The stack's own Prometheus (components/monitoring/stack.py prometheus_address).
    prometheus_address: str
    # Where the stack's prices come from: its cloud's, or `custom_prices` (a laptop cluster).
    pricing: Pricing
    # The cluster's id in OpenCost's data (the stack's name).
    cluster_id: str
    resources: Mapping[str, Mapping[str, str]]
    namespace: str = NAMESPACE
    query_resolution_seconds: int = 300
    custom_prices: CustomPrices | None = None
    prometheus_labels: Mapping[str, str] = field(default_factory=lambda: {"app.kubernetes.io/name": "prometheus"})
    # Creates the Secrets the pod reads (GCP's API key), once the namespace exists.
    setup: charts.NamespaceSetup | None = None
    # What must run first: Prometheus (OpenCost queries it, and it scrapes OpenCost).
    ready: tuple[pulumi.Resource, ...] = ()


# The allocation API's `aggregate` for each ownership label: pod labels as Prometheus
# names them (every character outside [A-Za-z0-9_] becomes `_`).
def prometheus_label(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


def allocation_aggregates(owner: Ownership) -> dict[str, str]:
    """`GET /allocation?aggregate=<value>` for each ownership label on the pods."""
    return {key: f"label:{prometheus_label(key)}" for key in ownership_labels(owner)}


def selector() -> dict[str, str]:
    """The chart's labels on OpenCost's pods (its selectorLabels)."""
    return selector_labels(CHART, RELEASE)


def isolation(args: OpenCostArgs) -> charts.Isolation:
    egress = [
        EgressRule(
            "prometheus",
            (PROMETHEUS_PORT,),
            namespace=args.cluster.monitoring_namespace,
            pod_labels=dict(args.prometheus_labels),
        )
    ]
    if args.pricing in ("aws", "gcp"):
        # The public price list (pricing.us-east-1.amazonaws.com) or the Billing Catalog
        # (cloudbilling.googleapis.com): HTTPS on the internet, nothing private.
        egress.append(EgressRule("pricing-api", (443,), cidr="0.0.0.0/0", except_cidrs=PRIVATE_RANGES))
    if args.pricing == "gcp":
        egress.append(EgressRule("gke-metadata", (80,), cidr=GCP_METADATA))
    return charts.Isolation(
        cluster=args.cluster,
        # Prometheus scrapes the exporter's metrics; nothing else calls it.
        ingress=(IngressRule("metrics", (API_PORT,), namespace=args.cluster.monitoring_namespace),),
        egress=tuple(egress),
    )


def _container_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": USER,
        "runAsGroup": USER,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def gcp_key_command() -> list[str]:
    """OpenCost reads the Billing Catalog key from CLOUD_PROVIDER_API_KEY only: the key
    stays a read-only file in the pod spec (no env var, no secretKeyRef), and the shell
    hands it to the process it replaces itself with."""
    path = f"{secret_volume.SECRETS_DIR}/{GCP_KEY}"
    script = f'set -eu; CLOUD_PROVIDER_API_KEY="$(cat {path})"; export CLOUD_PROVIDER_API_KEY; exec {BINARY}'
    return ["/bin/sh", "-c", script]


def _volumes(args: OpenCostArgs) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pod's writable scratch (the root is read-only) and, on GCP, the key's file."""
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if args.pricing != "custom":
        # With customPricing the chart mounts its own emptyDir at the config path.
        volumes.append({"name": "configs", "emptyDir": {"sizeLimit": "64Mi"}})
        mounts.append({"name": "configs", "mountPath": CONFIG_PATH})
    if args.pricing == "gcp":
        volumes.append(
            {
                "name": secret_volume.VOLUME,
                "secret": {
                    "secretName": GCP_KEY_SECRET,
                    "defaultMode": secret_volume.FILE_MODE,
                    "items": [{"key": GCP_KEY, "path": GCP_KEY}],
                },
            }
        )
        mounts.append({"name": secret_volume.VOLUME, "mountPath": secret_volume.SECRETS_DIR, "readOnly": True})
    return volumes, mounts


def _custom_pricing(args: OpenCostArgs) -> dict[str, Any]:
    if args.pricing != "custom":
        return {"enabled": False}
    prices = args.custom_prices
    if prices is None:
        raise ValueError("OpenCostArgs.custom_prices: missing; custom pricing needs the stack's price table")
    return {
        "enabled": True,
        "createConfigmap": True,
        "configPath": CONFIG_PATH,
        "provider": "custom",
        "costModel": {
            "description": "Project-AI prices for a cluster no cloud prices (stack config cost.opencost.customPricing)",
            "CPU": prices.cpu,
            "spotCPU": prices.spot_cpu,
            "RAM": prices.ram,
            "spotRAM": prices.spot_ram,
            "GPU": prices.gpu,
            "storage": prices.storage,
            "zoneNetworkEgress": prices.zone_network_egress,
            "regionNetworkEgress": prices.region_network_egress,
            "internetNetworkEgress": prices.internet_network_egress,
        },
    }


def values(args: OpenCostArgs) -> dict[str, Any]:
    # The chart labels its objects with app.kubernetes.io/{name,instance,part-of,...}
    # itself: only the cost labels are added to every object; the pods carry all of ours.
    owned = ownership_labels(args.owner)
    cost_labels = {k: v for k, v in owned.items() if not k.startswith("app.kubernetes.io/")}
    volumes, mounts = _volumes(args)
    exporter: dict[str, Any] = {
        "defaultClusterId": args.cluster_id,
        "replicas": 1,
        "resources": {kind: dict(amounts) for kind, amounts in args.resources.items()},
        "securityContext": _container_security(),
        "prometheusDataSource": {"queryResolutionSeconds": args.query_resolution_seconds},
        "extraVolumeMounts": mounts,
    }
    if args.pricing == "gcp":
        exporter["command"] = gcp_key_command()
    return {
        "fullnameOverride": RELEASE,
        "commonLabels": cost_labels,
        "podLabels": owned,
        # The pod calls the API server; its ServiceAccount mounts no token anywhere else.
        "serviceAccount": {"create": True, "automountServiceAccountToken": False},
        "podAutomountServiceAccountToken": True,
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": USER,
            "runAsGroup": USER,
            "fsGroup": USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # Reached inside the cluster only: `kubectl port-forward svc/opencost 9003`.
        "service": {"enabled": True, "type": "ClusterIP"},
        # The namespace's own policies (charts.namespace) deny everything else.
        "networkPolicies": {"enabled": False},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "extraVolumes": volumes,
        "plugins": {"enabled": False},
        "opencost": {
            "exporter": exporter,
            "ui": {"enabled": False},
            "mcp": {"enabled": False},
            "cloudCost": {"enabled": False},
            "carbonCost": {"enabled": False},
            "customPricing": _custom_pricing(args),
            "prometheus": {
                "internal": {"enabled": False},
                "external": {"enabled": True, "url": args.prometheus_address},
            },
            "metrics": {
                # Pod labels (kube_pod_labels) and what kube-state-metrics 2 dropped: the
                # stack's kube-state-metrics exports the rest.
                "kubeStateMetrics": {"emitKsmV1Metrics": True, "emitKsmV1MetricsOnly": True},
                "serviceMonitor": {"enabled": True, "additionalLabels": SELECTED_LABEL},
            },
        },
    }


class OpenCost(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    prometheus_admission: k8s.networking.v1.NetworkPolicy
    url: str

    def __init__(
        self,
        name: str,
        args: OpenCostArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("projectai:cost:OpenCost", name, None, opts)
        labels = kubernetes_labels(args.owner, name=CHART, instance=name, component="cost-allocation")
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation(args))
        prepared = args.setup(self.namespace) if args.setup else []
        self.release = charts.release(
            f"{name}-release",
            RELEASE,
            charts.Chart(CHART, CHART_REPOSITORY, args.chart_version),
            self.namespace.metadata.name,
            values(args),
            pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, *prepared, *args.ready]),
        )
        # Prometheus's namespace denies by default: its pods take OpenCost's queries.
        self.prometheus_admission = ops_service.prometheus_admission(
            self,
            name,
            RELEASE,
            args.namespace,
            selector(),
            (args.cluster.monitoring_namespace, args.prometheus_labels, PROMETHEUS_PORT),
            labels,
            [self.namespace, *args.ready],
        )
        self.url = f"http://{RELEASE}.{args.namespace}.svc.cluster.local:{API_PORT}"
        self.register_outputs({"namespace": self.namespace.metadata.name, "url": self.url})
