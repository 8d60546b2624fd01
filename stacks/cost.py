"""`cost` (CostConfig in stacks/model.py): OpenCost and the VPA recommender on the stack's
cluster (components/cost). Off by default; on where stacks/defaults.py turns them on.

OpenCost reads the stack's own Prometheus (the monitoring stack must be on) and prices
the nodes by the stack's cloud: AWS's public price list, GCP's Billing Catalog with the
API key Vault holds (synced into OpenCost's namespace, read as a file), or on a
`cluster` stack the price table of `cost.opencost.customPricing`.

The VerticalPodAutoscalers cover what the stack deploys and sizes itself: the API, the
monitoring stack's Prometheus, Alertmanager, Grafana and collector, the insight service
and the self-healing receiver where they run, OpenCost, External Secrets' operator and
the recommender itself.
"""

from __future__ import annotations

import pulumi

from components.cost import Bounds, CustomPrices, OpenCostArgs, RightSizingArgs, VpaTarget
from components.cost import opencost as opencost_chart
from components.cost.opencost import Pricing
from components.heal import NAME as HEAL_NAME
from components.insight import NAME as INSIGHT_NAME
from components.monitoring.stack import PROMETHEUS_RELEASE, prometheus_address
from components.vault.external_secrets import Entry, ExternalSecretsOperator, SyncedSecret
from components.vault.integration import ESO_NAMESPACE
from components.vault.policies import Layout
from components.workload.specs import scale_target
from stacks.model import AwsRegionStack, CostConfig, GcpRegionStack, WorkloadStack
from stacks.workload import cluster_facts, ownership

MONITORING_API = "monitoring.coreos.com/v1"
DEPLOYMENT = ("apps/v1", "Deployment")


def pricing(config: WorkloadStack) -> Pricing:
    """Where the stack's prices come from: its cloud's price list, else its own table."""
    if isinstance(config, AwsRegionStack):
        return "aws"
    if isinstance(config, GcpRegionStack):
        return "gcp"
    return "custom"


def _opencost_enabled(config: WorkloadStack, cost: CostConfig) -> bool:
    if cost.opencost.enabled and not config.monitoring.enabled:
        raise ValueError(
            "cost.opencost.enabled: OpenCost reads usage from the stack's Prometheus, which scrapes its metrics; "
            "expected monitoring.enabled: true"
        )
    return cost.opencost.enabled


def opencost_args(config: WorkloadStack, cost: CostConfig) -> OpenCostArgs | None:
    """OpenCost's arguments, or None where it is off."""
    if not _opencost_enabled(config, cost):
        return None
    settings = cost.opencost
    prices = settings.custom_pricing
    resources = settings.resources
    return OpenCostArgs(
        owner=ownership(config),
        chart_version=settings.chart_version,
        cluster=cluster_facts(config),
        prometheus_address=prometheus_address(config.monitoring.namespace),
        pricing=pricing(config),
        cluster_id=pulumi.get_stack(),
        resources={
            "requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
            "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
        },
        namespace=settings.namespace,
        query_resolution_seconds=settings.query_resolution_seconds,
        custom_prices=CustomPrices(
            cpu=prices.cpu,
            spot_cpu=prices.spot_cpu,
            ram=prices.ram,
            spot_ram=prices.spot_ram,
            gpu=prices.gpu,
            storage=prices.storage,
            zone_network_egress=prices.zone_network_egress,
            region_network_egress=prices.region_network_egress,
            internet_network_egress=prices.internet_network_egress,
        )
        if pricing(config) == "custom"
        else None,
    )


def opencost_secrets(config: WorkloadStack, layout: Layout, refresh_interval: str) -> tuple[SyncedSecret, ...]:
    """The Secrets External Secrets syncs into OpenCost's namespace: on GCP, the Billing
    Catalog API key (Vault: `<app>/opencost`, property gcp-api-key, written by an operator)."""
    if not config.cost.opencost.enabled or pricing(config) != "gcp":
        return ()
    key = opencost_chart.GCP_KEY
    entry = Entry(key, f"{layout.app}/{opencost_chart.GCP_KEY_VAULT_ENTRY}", key)
    return (
        SyncedSecret(
            opencost_chart.GCP_KEY_SECRET,
            config.cost.opencost.namespace,
            ExternalSecretsOperator.KV_STORE,
            refresh_interval,
            entries=(entry,),
        ),
    )


def vpa_targets(config: WorkloadStack, cost: CostConfig) -> tuple[VpaTarget, ...]:
    """The API and the platform workloads this stack deploys, by their topmost scalable controller."""
    app = config.app
    api_version, kind = scale_target(config.delivery.strategy)
    targets = [
        VpaTarget("project-ai-api", app.namespace, api_version, kind, app.name, "api"),
        VpaTarget("external-secrets", ESO_NAMESPACE, *DEPLOYMENT, "external-secrets", "external-secrets"),
    ]
    if config.monitoring.enabled:
        monitoring = config.monitoring.namespace
        targets += [
            # The operator's StatefulSets belong to these, which have a scale subresource.
            VpaTarget(
                "prometheus", monitoring, MONITORING_API, "Prometheus", f"{PROMETHEUS_RELEASE}-prometheus", "prometheus"
            ),
            VpaTarget(
                "alertmanager",
                monitoring,
                MONITORING_API,
                "Alertmanager",
                f"{PROMETHEUS_RELEASE}-alertmanager",
                "alertmanager",
            ),
            VpaTarget("grafana", monitoring, *DEPLOYMENT, f"{PROMETHEUS_RELEASE}-grafana", "grafana"),
            VpaTarget("otel-collector", monitoring, *DEPLOYMENT, "otel-collector", "opentelemetry-collector"),
        ]
    if config.insight.enabled:
        targets.append(VpaTarget(INSIGHT_NAME, app.namespace, *DEPLOYMENT, INSIGHT_NAME, INSIGHT_NAME))
    if config.self_healing.enabled:
        targets.append(VpaTarget(HEAL_NAME, app.namespace, *DEPLOYMENT, HEAL_NAME, HEAL_NAME))
    if cost.opencost.enabled:
        name = opencost_chart.RELEASE
        targets.append(VpaTarget(name, cost.opencost.namespace, *DEPLOYMENT, name, name))
    return tuple(targets)


def right_sizing_args(config: WorkloadStack, cost: CostConfig) -> RightSizingArgs | None:
    """The recommender's arguments and the workloads it watches, or None where it is off."""
    if not cost.vpa.enabled:
        return None
    bounds = cost.vpa.bounds
    return RightSizingArgs(
        owner=ownership(config),
        chart_version=cost.vpa.chart_version,
        cluster=cluster_facts(config),
        bounds=Bounds(
            min_allowed={"cpu": bounds.min_allowed.cpu, "memory": bounds.min_allowed.memory},
            max_allowed={"cpu": bounds.max_allowed.cpu, "memory": bounds.max_allowed.memory},
        ),
        targets=vpa_targets(config, cost),
        namespace=cost.vpa.namespace,
    )
