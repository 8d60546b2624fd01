"""MonitoringStack: kube-prometheus-stack and an OpenTelemetry Collector, from their
upstream charts at pinned versions, with this project's selectors and alert routing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import charts
from components.labels import Ownership, kubernetes_labels
from components.monitoring.alerting import (
    ESCALATION_SECRET,
    HEAL_SECRET,
    PAGERDUTY_SECRET,
    SLACK_SECRET,
    AlertingArgs,
    config,
)
from components.network_policies import EgressRule, IngressRule

PROMETHEUS_CHARTS = "https://prometheus-community.github.io/helm-charts"
OTEL_CHARTS = "https://open-telemetry.github.io/opentelemetry-helm-charts"
# Objects with this label are picked up by Prometheus (rules, monitors) and Grafana (dashboards).
SELECTED_LABEL = {"monitoring.project-ai.dev/collect": "true"}
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_PORT = 3000
OTLP_PORTS = (4317, 4318)
# The Helm release of kube-prometheus-stack: its chart names the Prometheus Service after it.
PROMETHEUS_RELEASE = "kube-prometheus-stack"
# Prometheus's ServiceAccount, named in the values so its mesh identity is known here.
PROMETHEUS_ACCOUNT = f"{PROMETHEUS_RELEASE}-prometheus"
# With a mesh identity: where Prometheus reads the workload certificate its sidecar writes.
MESH_CERTIFICATES = "/etc/prom-certs"
_SIDECAR_CERTIFICATES = "/etc/istio-output-certs"


PROMETHEUS_PORT = 9090
# Scraped on the nodes' own addresses: the kubelet (and its cAdvisor), node-exporter.
NODE_METRICS_PORTS = (10250, 9100)


def prometheus_address(namespace: str) -> str:
    """The in-cluster URL of the Prometheus a MonitoringStack installs in `namespace`."""
    return f"http://{PROMETHEUS_RELEASE}-prometheus.{namespace}.svc:{PROMETHEUS_PORT}"


@dataclass(frozen=True)
class MonitoringStackArgs:
    owner: Ownership
    alerting: AlertingArgs
    kube_prometheus_stack_version: str
    otel_collector_version: str
    cluster: charts.Cluster
    namespace: str
    retention: str
    storage_size: str
    prometheus_replicas: int
    alertmanager_replicas: int
    # ((cpu, memory) requested, (cpu, memory) limit)
    prometheus_resources: tuple[tuple[str, str], tuple[str, str]]
    # Where the collector sends traces (OTLP/gRPC); None keeps them in the collector's debug log.
    traces_endpoint: str | None = None
    # Namespaces whose pods send traces to the collector.
    telemetry_namespaces: tuple[str, ...] = ()
    # Namespaces whose pods query Prometheus: the Rollouts controller's analysis, the
    # canary judge. Their own egress policies say which of their pods may.
    query_namespaces: tuple[str, ...] = ()
    # On Grafana's Deployment: e.g. Reloader's, to restart it on a new admin password.
    grafana_annotations: dict[str, str] = field(default_factory=dict)
    # Creates the Secrets Alertmanager and Grafana read, once the namespace exists.
    setup: charts.NamespaceSetup | None = None
    # In a mesh: Prometheus scrapes meshed pods over mutual TLS with its own identity.
    mesh_identity: bool = False
    # The Pulumi stack's name: an external label on every alert (`stack`), by which the
    # self-healing receiver names a region's edge pool (`project-ai-<stack>`).
    stack: str | None = None


def _resources(requests_limits: tuple[tuple[str, str], tuple[str, str]]) -> dict[str, Any]:
    (cpu, memory), (cpu_limit, memory_limit) = requests_limits
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def mesh_client(volume: str = "istio-certs") -> dict[str, Any]:
    """Prometheus in the mesh as a client only (Istio's documented way to scrape under
    STRICT mTLS): an injected sidecar that redirects no traffic, in or out, and writes its
    workload certificate to a volume in memory that Prometheus presents when it scrapes
    meshed pods. The pods' AuthorizationPolicies then name Prometheus's SPIFFE identity."""
    return {
        "podMetadata": {
            "labels": {"sidecar.istio.io/inject": "true"},
            "annotations": {
                "traffic.sidecar.istio.io/includeInboundPorts": "",
                "traffic.sidecar.istio.io/includeOutboundIPRanges": "",
                "proxy.istio.io/config": f"proxyMetadata:\n  OUTPUT_CERTS: {_SIDECAR_CERTIFICATES}\n",
                "sidecar.istio.io/userVolumeMount": json.dumps([{"name": volume, "mountPath": _SIDECAR_CERTIFICATES}]),
            },
        },
        "volumes": [{"name": volume, "emptyDir": {"medium": "Memory"}}],
        "volumeMounts": [{"name": volume, "mountPath": MESH_CERTIFICATES, "readOnly": True}],
    }


def kube_prometheus_values(args: MonitoringStackArgs) -> dict[str, Any]:
    spread = args.prometheus_replicas > 1
    return {
        "commonLabels": SELECTED_LABEL,
        "kube-state-metrics": {"prometheus": {"monitor": {"additionalLabels": SELECTED_LABEL}}},
        "prometheus-node-exporter": {"prometheus": {"monitor": {"additionalLabels": SELECTED_LABEL}}},
        "prometheus": {
            "serviceAccount": {"create": True, "name": PROMETHEUS_ACCOUNT},
            "prometheusSpec": {
                "replicas": args.prometheus_replicas,
                "retention": args.retention,
                "resources": _resources(args.prometheus_resources),
                # Only objects with the project label, not every team's: this project's,
                # and the chart's own (commonLabels and the exporters' monitors below).
                "ruleSelector": {"matchLabels": SELECTED_LABEL},
                "serviceMonitorSelector": {"matchLabels": SELECTED_LABEL},
                "podMonitorSelector": {"matchLabels": SELECTED_LABEL},
                "ruleNamespaceSelector": {},
                "serviceMonitorNamespaceSelector": {},
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": args.storage_size}},
                        }
                    }
                },
                "podAntiAffinity": "hard" if spread else "",
                **({"externalLabels": {"stack": args.stack}} if args.stack else {}),
                **(mesh_client() if args.mesh_identity else {}),
            },
        },
        "alertmanager": {
            "config": config(args.alerting),
            "alertmanagerSpec": {
                "replicas": args.alertmanager_replicas,
                # Receivers' credentials, synced from Vault, mounted under /etc/alertmanager/secrets.
                "secrets": [
                    PAGERDUTY_SECRET,
                    ESCALATION_SECRET,
                    SLACK_SECRET,
                    *([HEAL_SECRET] if args.alerting.healing else []),
                ],
                "podAntiAffinity": "hard" if args.alertmanager_replicas > 1 else "",
            },
        },
        "grafana": {
            "sidecar": {
                "dashboards": {"enabled": True, "label": next(iter(DASHBOARD_LABEL)), "searchNamespace": "ALL"}
            },
            # The admin password comes from a Secret (from Vault), never from values. Grafana
            # runs without persistence and sets it at each start: Reloader restarts it when
            # the program rotates it.
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "annotations": args.grafana_annotations,
        },
    }


def otel_collector_values(args: MonitoringStackArgs) -> dict[str, Any]:
    exporter = (
        {"otlp": {"endpoint": args.traces_endpoint, "tls": {"insecure": args.traces_endpoint.startswith("http:")}}}
        if args.traces_endpoint
        else {"debug": {}}
    )
    return {
        # A stable Service name the app's OTEL_EXPORTER_OTLP_ENDPOINT can name.
        "fullnameOverride": "otel-collector",
        "mode": "deployment",
        # The chart needs an explicit image since 0.89; the k8s distribution is the small one.
        "image": {"repository": "otel/opentelemetry-collector-k8s"},
        "command": {"name": "otelcol-k8s"},
        "config": {
            "receivers": {
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": "${env:MY_POD_IP}:4317"},
                        "http": {"endpoint": "${env:MY_POD_IP}:4318"},
                    }
                }
            },
            "processors": {
                "batch": {},
                "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
            },
            "exporters": exporter,
            "service": {
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["memory_limiter", "batch"],
                        "exporters": list(exporter),
                    }
                }
            },
        },
        "resources": _resources((("100m", "256Mi"), ("1", "512Mi"))),
    }


class MonitoringStack(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    kube_prometheus_stack: k8s.helm.v3.Release
    otel_collector: k8s.helm.v3.Release

    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:monitoring:MonitoringStack", name, None, opts)
        labels = kubernetes_labels(args.owner, name="monitoring", instance=name, component="monitoring")
        # node-exporter reads the node through its network, PID namespace and root
        # filesystem: this namespace cannot be `restricted` (a reviewed waiver says so).
        isolation = charts.Isolation(
            cluster=args.cluster,
            pod_security="privileged",
            ingress=(
                IngressRule("grafana", (GRAFANA_PORT,), namespace=args.cluster.ingress_namespace),
                *(IngressRule(f"otlp-{ns}", OTLP_PORTS, namespace=ns) for ns in args.telemetry_namespaces),
                *(IngressRule(f"queries-{ns}", (PROMETHEUS_PORT,), namespace=ns) for ns in args.query_namespaces),
            ),
            egress_every_pod=True,
            # Nodes' kubelets and exporters (host network: no pod selector reaches them)
            # at addresses the program does not know; alert receivers over HTTPS.
            egress=(
                EgressRule("node-metrics", NODE_METRICS_PORTS, cidr="0.0.0.0/0"),
                EgressRule("https", (443,), cidr="0.0.0.0/0"),
            ),
        )
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation)
        # Alertmanager and Grafana read their credentials from Secrets created by `setup`.
        prepared = args.setup(self.namespace) if args.setup else []
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, *prepared])
        self.kube_prometheus_stack = charts.release(
            f"{name}-kube-prometheus-stack",
            PROMETHEUS_RELEASE,
            charts.Chart("kube-prometheus-stack", PROMETHEUS_CHARTS, args.kube_prometheus_stack_version),
            args.namespace,
            kube_prometheus_values(args),
            in_namespace,
        )
        self.otel_collector = charts.release(
            f"{name}-otel-collector",
            "otel-collector",
            charts.Chart("opentelemetry-collector", OTEL_CHARTS, args.otel_collector_version),
            args.namespace,
            otel_collector_values(args),
            in_namespace,
        )
        self.register_outputs({"namespace": self.namespace.metadata.name})
