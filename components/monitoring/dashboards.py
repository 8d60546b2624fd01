"""Grafana dashboards as code (grafana-foundation-sdk), provisioned as ConfigMaps that the
Grafana sidecar of kube-prometheus-stack loads."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from components.api_metrics import LATENCY, PROBE_ROUTES, REQUESTS
from components.monitoring.stack import DASHBOARD_LABEL


def _query(expr: str, legend: str = "") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend)


def _series(title: str, unit: str, *queries: prometheus.Dataquery) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).height(8).span(12)
    for query in queries:
        panel = panel.with_target(query)
    return panel


def system_overview(namespace: str) -> dashboard.Dashboard:
    api = f'namespace="{namespace}",route!~"{PROBE_ROUTES}"'
    pods = f'namespace="{namespace}",container="api"'
    quantiles = [
        _query(f"histogram_quantile({q}, sum by (le) (rate({LATENCY}_bucket{{{api}}}[5m])))", f"p{round(q * 100)}")
        for q in (0.5, 0.9, 0.99)
    ]
    return (
        dashboard.Dashboard("Project-AI API: system overview")
        .uid("project-ai-api-overview")
        .tags(["project-ai"])
        .refresh("30s")
        .with_panel(
            _series(
                "Requests per second by route",
                "reqps",
                _query(f"sum by (route) (rate({REQUESTS}{{{api}}}[5m]))", "{{route}}"),
            )
        )
        .with_panel(_series("Error rate (5xx share)", "percentunit", _query("api:request_errors:ratio_rate5m", "5xx")))
        .with_panel(_series("Latency percentiles", "s", *quantiles))
        .with_panel(
            _series(
                "In-flight requests",
                "short",
                _query(f'sum(http_requests_in_flight{{namespace="{namespace}"}})', "in flight"),
            )
        )
        .with_panel(
            _series(
                "Pods ready and restarts",
                "short",
                _query(f'sum(kube_pod_status_ready{{namespace="{namespace}",condition="true"}})', "ready"),
                _query(f"sum(increase(kube_pod_container_status_restarts_total{{{pods}}}[1h]))", "restarts (1h)"),
            )
        )
        .with_panel(
            _series(
                "CPU (cores)",
                "short",
                _query(f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{pods}}}[5m]))", "{{pod}}"),
            )
        )
        .with_panel(
            _series(
                "Memory (working set)",
                "bytes",
                _query(f"sum by (pod) (container_memory_working_set_bytes{{{pods}}})", "{{pod}}"),
            )
        )
        .with_panel(
            _series(
                "Autoscaler replicas",
                "short",
                _query(f'kube_horizontalpodautoscaler_status_current_replicas{{namespace="{namespace}"}}', "current"),
                _query(f'kube_horizontalpodautoscaler_spec_max_replicas{{namespace="{namespace}"}}', "maximum"),
            )
        )
    )


def security(namespace: str) -> dashboard.Dashboard:
    ns = f'namespace="{namespace}"'
    return (
        dashboard.Dashboard("Project-AI API: security")
        .uid("project-ai-api-security")
        .tags(["project-ai", "security"])
        .refresh("30s")
        .with_panel(
            _series(
                "Rate-limited requests per second",
                "reqps",
                _query(
                    f'sum by (scope) (rate(rate_limit_decisions_total{{{ns},decision="limited"}}[5m]))', "{{scope}}"
                ),
            )
        )
        .with_panel(
            _series(
                "Failed authentications per second",
                "reqps",
                _query(f"sum by (reason) (rate(auth_failures_total{{{ns}}}[5m]))", "{{reason}}"),
            )
        )
        .with_panel(
            _series(
                "Blocked suspicious requests by reason",
                "reqps",
                _query(f"sum by (reason) (rate(blocked_requests_total{{{ns}}}[5m]))", "{{reason}}"),
            )
        )
        .with_panel(
            stat.Panel()
            .title("Circuit breaker (0 closed, 1 half-open, 2 open)")
            .height(8)
            .span(12)
            .with_target(_query(f"max by (upstream) (circuit_breaker_state{{{ns}}})", "{{upstream}}"))
        )
    )


# The insight service's signals (ops/insight/signals.py), with the unit each is plotted in.
INSIGHT_SIGNALS = (
    ("requests_per_second", "reqps"),
    ("latency_p99_seconds", "s"),
    ("error_ratio", "percentunit"),
    ("cpu_saturation", "percentunit"),
)


def insight(namespace: str) -> dashboard.Dashboard:
    """What the insight service (components/insight.py) learned: each signal's anomaly
    score, and each signal against the value forecast for it one lead time earlier, with
    the peak forecast over the next 15 minutes (what predictive scaling reads)."""
    ns = f'namespace="{namespace}"'
    board = (
        dashboard.Dashboard("Project-AI API: anomalies and forecasts")
        .uid("project-ai-insight")
        .tags(["project-ai", "insight"])
        .refresh("1m")
        .with_panel(
            _series(
                "Anomaly score by signal",
                "short",
                _query(f"max by (signal) (projectai_anomaly_score{{{ns}}})", "{{signal}}"),
                _query(f"max by (signal) (projectai_anomalous{{{ns}}})", "{{signal}} anomalous"),
            )
        )
    )
    for signal, unit in INSIGHT_SIGNALS:
        one = f'{ns},signal="{signal}"'
        board = board.with_panel(
            _series(
                f"{signal}: actual and forecast",
                unit,
                _query(f"max(projectai_signal{{{one}}})", "actual"),
                _query(f"max(projectai_forecast{{{one}}})", "forecast (made one lead time earlier)"),
                _query(f'max(projectai_forecast_peak{{{one},window="15m"}})', "peak forecast, next 15 minutes"),
            )
        )
    return board


def render(board: dashboard.Dashboard) -> str:
    return json.dumps(board.build(), cls=JSONEncoder, sort_keys=True)


def dashboards(namespace: str) -> dict[str, str]:
    """File name -> dashboard JSON."""
    return {
        "project-ai-api-overview.json": render(system_overview(namespace)),
        "project-ai-api-security.json": render(security(namespace)),
    }


@dataclass(frozen=True)
class ApiDashboardsArgs:
    # The API's namespace, which the dashboards' queries select.
    app_namespace: str
    # Where Grafana's sidecar finds them: the monitoring stack's namespace.
    monitoring_namespace: str
    labels: dict[str, str]


def dashboard_config_maps(
    name: str, files: dict[str, str], namespace: str, labels: dict[str, str], parent: pulumi.Resource
) -> dict[str, k8s.core.v1.ConfigMap]:
    """One ConfigMap per dashboard file, where Grafana's sidecar finds them (`namespace`)."""
    return {
        file_name: k8s.core.v1.ConfigMap(
            f"{name}-{file_name.removesuffix('.json')}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=file_name.removesuffix(".json"), namespace=namespace, labels={**labels, **DASHBOARD_LABEL}
            ),
            data={file_name: content},
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for file_name, content in files.items()
    }


class ApiDashboards(pulumi.ComponentResource):
    config_maps: dict[str, k8s.core.v1.ConfigMap]

    def __init__(self, name: str, args: ApiDashboardsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:monitoring:ApiDashboards", name, None, opts)
        self.config_maps = dashboard_config_maps(
            name, dashboards(args.app_namespace), args.monitoring_namespace, args.labels, self
        )
        self.register_outputs({"configMaps": {file: cm.metadata.name for file, cm in self.config_maps.items()}})
