"""InsightService: `ops insight serve` beside the API (issue #20), the anomaly and forecast
service, with what Prometheus and Grafana need of it.

An ops service (components/ops_service.py), the judge's and the guard's shape: the ops
image by digest, non-root, read-only, no token, outside the mesh. In the app's
namespace, denied by default: Prometheus's pods alone may call it (they scrape its
/metrics), and it reaches Prometheus and DNS alone. Prometheus's namespace denies by
default too, so a policy there admits the service's pods, and only them, on its port.

**Its state on a small volume of its own**, not an emptyDir: the forecaster's weekly
seasonality needs weeks of history, and an emptyDir is gone with the pod, at every node
drain or upgrade, leaving weeks of poorer forecasts (and predictive scaling) behind. A
ReadWriteOnce claim survives them; the price is that a new version replaces the old pod
instead of surging beside it (`Recreate`), a gap of one start in its metrics, which the
alerts (`for`) and the autoscaler's fallback ride out. It writes its state atomically, so
a pod killed mid-write leaves the previous one.

Besides its Deployment: a ServiceMonitor (the monitoring stack selects it by its label),
the PrometheusRule of the looking-ahead alerts (components/monitoring/prediction_rules.py)
and its Grafana dashboard (components/monitoring/dashboards.py `insight`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import ops_service
from components.labels import Ownership, kubernetes_labels
from components.monitoring import prediction_rules
from components.monitoring.api_monitors import MONITORING_API
from components.monitoring.dashboards import dashboard_config_maps, insight, render
from components.monitoring.prediction_rules import PredictionArgs
from components.monitoring.rules import RuleArgs
from components.monitoring.stack import SELECTED_LABEL
from components.network_policies import EgressRule
from components.ops_service import OPS_USER, Caller, OpsServiceSpec, StateVolume

core = k8s.core.v1
meta = k8s.meta.v1
networking = k8s.networking.v1

# Its app.kubernetes.io/name (the contract between the parts).
NAME = "project-ai-insight"
PORT = 9102
STATE_PATH = "/var/lib/insight"
DASHBOARD = "project-ai-insight.json"


@dataclass(frozen=True)
class InsightServiceArgs:
    owner: Ownership
    # The app's namespace: where the service runs, and the API it reads.
    namespace: str
    # The ops image, pinned by digest.
    image: str
    prometheus_address: str
    prometheus_namespace: str
    # The API's rules' arguments (team, runbooks, SLOs): the alerts here use the same.
    rules: RuleArgs
    interval_seconds: int = 60
    lead_seconds: int = 900
    # The window of projectai_forecast_peak: predictive scaling's lead time, where it scales on it.
    peak_window_seconds: int = 900
    timeout_seconds: float = 5.0
    state_size: str = "1Gi"
    storage_class: str | None = None
    prometheus_port: int = 9090
    prometheus_labels: Mapping[str, str] = field(default_factory=lambda: {"app.kubernetes.io/name": "prometheus"})
    node_local_dns: str | None = None
    # True where the namespace is enrolled in the mesh: the service's pods stay out of it.
    meshed: bool = False
    # What must exist first (its namespace, Prometheus's); filled in by the caller.
    ready: tuple[pulumi.Resource, ...] = ()


def insight_selector(environment: str) -> dict[str, str]:
    """The service's pods: what its Service selects and the ServiceMonitor scrapes."""
    return ops_service.service_selector(NAME, environment)


def command(args: InsightServiceArgs) -> tuple[str, ...]:
    return (
        "insight",
        "serve",
        "--prometheus",
        args.prometheus_address,
        "--state-dir",
        STATE_PATH,
        "--namespace",
        args.namespace,
        "--listen",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--interval-seconds",
        str(args.interval_seconds),
        "--lead-seconds",
        str(args.lead_seconds),
        "--peak-window-seconds",
        str(args.peak_window_seconds),
        "--timeout-seconds",
        f"{args.timeout_seconds:g}",
    )


def spec(args: InsightServiceArgs) -> OpsServiceSpec:
    return OpsServiceSpec(
        name=NAME,
        component="insight",
        image=args.image,
        args=command(args),
        port=PORT,
        # Its only caller: Prometheus, scraping /metrics.
        caller=Caller("prometheus", args.prometheus_namespace, dict(args.prometheus_labels)),
        prometheus=EgressRule(
            "prometheus",
            (args.prometheus_port,),
            namespace=args.prometheus_namespace,
            pod_labels=dict(args.prometheus_labels),
        ),
        run_as_user=OPS_USER,
        node_local_dns=args.node_local_dns,
        meshed=args.meshed,
        state=StateVolume(STATE_PATH, args.state_size, args.storage_class),
    )


def scrape_interval(interval_seconds: int) -> str:
    """Twice a round at least (a missed scrape loses no round), never more than every 15 s."""
    return f"{max(15, interval_seconds // 2)}s"


class InsightService(pulumi.ComponentResource):
    service_account: core.ServiceAccount
    deployment: k8s.apps.v1.Deployment
    service: core.Service
    state_claim: core.PersistentVolumeClaim | None
    network_policies: dict[str, networking.NetworkPolicy]
    service_monitor: k8s.apiextensions.CustomResource
    rules: k8s.apiextensions.CustomResource
    dashboards: dict[str, core.ConfigMap]
    url: str

    def __init__(self, name: str, args: InsightServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:insight:InsightService", name, None, opts)
        created = ops_service.create(self, name, args.namespace, args.owner, spec(args), args.ready)
        labels = kubernetes_labels(
            args.owner, name=NAME, instance=f"{NAME}-{args.owner.environment}", component="insight"
        )
        after_ready = pulumi.ResourceOptions(parent=self, depends_on=list(args.ready))
        self.network_policies = {
            **created.network_policies,
            f"allow-ingress-{NAME}": ops_service.prometheus_admission(
                self,
                name,
                NAME,
                args.namespace,
                insight_selector(args.owner.environment),
                (args.prometheus_namespace, args.prometheus_labels, args.prometheus_port),
                labels,
                args.ready,
            ),
        }
        self.selector = created.selector
        self.service_account, self.deployment, self.service = (
            created.service_account,
            created.deployment,
            created.service,
        )
        self.state_claim = created.state_claim
        collected = {"namespace": args.namespace, "labels": {**labels, **SELECTED_LABEL}}
        self.service_monitor = k8s.apiextensions.CustomResource(
            f"{name}-service-monitor",
            api_version=MONITORING_API,
            kind="ServiceMonitor",
            metadata={"name": NAME, **collected},
            spec={
                "selector": {"matchLabels": self.selector},
                "namespaceSelector": {"matchNames": [args.namespace]},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": scrape_interval(args.interval_seconds)}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.service]),
        )
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version=MONITORING_API,
            kind="PrometheusRule",
            metadata={"name": NAME, **collected},
            spec={"groups": prediction_rules.groups(PredictionArgs(args.rules, args.interval_seconds))},
            opts=after_ready,
        )
        self.dashboards = dashboard_config_maps(
            name, {DASHBOARD: render(insight(args.namespace))}, args.prometheus_namespace, labels, self
        )
        self.url = created.url
        self.register_outputs({"serviceName": NAME, "url": self.url})
