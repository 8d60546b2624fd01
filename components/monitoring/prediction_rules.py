"""Prometheus rules that look ahead (issue #20): sustained anomalies the insight service
(`ops insight serve`, components/insight.py) reports, failures predicted with a lead time
(the error budget, memory, disks, the API's latency), and the service itself going stale.

The same shape as rules.py (its alert builder, plain-text annotations), in a
PrometheusRule of the insight component's own: the API's rules (rules.groups) stay as
they are when the service is off.

- **Anomalies** are warnings and never page: the burn-rate alerts page on what users
  feel; a sustained anomaly is a lead for a human. Sustained means the service's
  `projectai_anomalous` has been 1 for every evaluation of the signal's `for`.
- **Error budget**: the 30-day budget still left, per SLO, recorded every 5 minutes (a
  30-day rate is not cheap), and extrapolated linearly over its last 6 hours: an alert
  when it reaches zero within a day while some is left.
- **Memory**: a container of the API whose working set, extrapolated over its last hour,
  reaches its limit within an hour (the kernel kills it there).
- **Disks**: any PersistentVolume of the cluster that, extrapolated over its last 6
  hours, fills within 4 hours (kube-prometheus-stack's own alert looks 4 days ahead, and
  only once a volume is 85% full).
- **Stale**: the service's last fully answered round is older than a few of its
  intervals, or it is not scraped at all: its anomalies and forecasts stopped meaning
  anything (and predictive scaling falls back, components/scaling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.api_metrics import LATENCY, PROBE_ROUTES, REQUESTS
from components.monitoring.rules import RuleArgs, _alert

ANOMALOUS = "projectai_anomalous"
FORECAST_PEAK = "projectai_forecast_peak"
LAST_SUCCESS = "projectai_insight_last_success_timestamp_seconds"
BUDGET_REMAINING = "api:error_budget:remaining_ratio"
BUDGET_WINDOW = "30d"
# (signal, how long it must stay anomalous, what it means for whoever looks)
SUSTAINED = (
    ("requests_per_second", "15m", "Traffic is unusual: a client's burst, a lost client, or an upstream's retries."),
    ("latency_p99_seconds", "10m", "Latency is unusual: a slow dependency, saturation, or a bad release."),
    ("error_ratio", "10m", "The error ratio is unusual: a failing dependency or a bad release."),
    ("cpu_saturation", "15m", "CPU use against the limits is unusual: a hot path, a leak, or more load per pod."),
)
# How far ahead each prediction looks, and over how much past it extrapolates.
BUDGET_LEAD_SECONDS, BUDGET_TREND = 24 * 3600, "6h"
MEMORY_LEAD_SECONDS, MEMORY_TREND = 3600, "1h"
DISK_LEAD_SECONDS, DISK_TREND = 4 * 3600, "6h"
# Rounds the insight service may miss before it counts as stale.
STALE_ROUNDS = 5


@dataclass(frozen=True)
class PredictionArgs:
    rules: RuleArgs
    # The insight service's round, in seconds (`--interval-seconds`).
    interval_seconds: int


def _camel(signal: str) -> str:
    return "".join(part.capitalize() for part in signal.split("_"))


def budget_rules(args: RuleArgs) -> list[dict[str, Any]]:
    """The share of each SLO's 30-day error budget still left (1 untouched, 0 spent, below 0 overspent)."""
    every = f'namespace="{args.namespace}",route!~"{PROBE_ROUTES}"'
    total = f"sum(increase({REQUESTS}{{{every}}}[{BUDGET_WINDOW}]))"
    errors = f'(sum(increase({REQUESTS}{{{every},status=~"5.."}}[{BUDGET_WINDOW}])) or vector(0))'
    fast = f'sum(increase({LATENCY}_bucket{{{every},le="{args.latency_threshold_seconds}"}}[{BUDGET_WINDOW}]))'
    counted = f"sum(increase({LATENCY}_count{{{every}}}[{BUDGET_WINDOW}]))"
    spent = {"availability": f"{errors} / {total}", "latency": f"(1 - {fast} / {counted})"}
    slos = {"availability": args.availability_slo, "latency": args.latency_slo}
    return [
        {
            "record": BUDGET_REMAINING,
            "expr": f"1 - ({spent[slo]}) / {round(1 - objective / 100, 6)}",
            "labels": {"slo": slo, "namespace": args.namespace},
        }
        for slo, objective in slos.items()
    ]


def anomaly_alerts(args: RuleArgs) -> list[dict[str, Any]]:
    return [
        _alert(
            args,
            f"Api{_camel(signal)}Anomalous",
            f'max by (signal) ({ANOMALOUS}{{namespace="{args.namespace}",signal="{signal}"}}) == 1',
            duration,
            "warning",
            f"The API's {signal} has been anomalous for {duration}",
            f"The insight service has scored every {signal} value of the last {duration} as an anomaly "
            f"against what it learned of the signal. {meaning}",
        )
        for signal, duration, meaning in SUSTAINED
    ]


def _budget_alert(args: RuleArgs, slo: str) -> dict[str, Any]:
    remaining = f'{BUDGET_REMAINING}{{namespace="{args.namespace}",slo="{slo}"}}'
    alert = _alert(
        args,
        f"Api{slo.capitalize()}BudgetExhaustionPredicted",
        f"{remaining} > 0 and predict_linear({remaining}[{BUDGET_TREND}], {BUDGET_LEAD_SECONDS}) <= 0",
        "15m",
        "warning",
        f"The API's {slo} error budget runs out within a day at its current trend",
        f"Extrapolating the last {BUDGET_TREND} of the 30-day {slo} error budget, nothing is left within "
        f"{BUDGET_LEAD_SECONDS // 3600} hours: slow down risky changes and find what burns it.",
    )
    alert["labels"]["slo"] = slo
    return alert


def prediction_alerts(args: RuleArgs) -> list[dict[str, Any]]:
    ns = f'namespace="{args.namespace}"'
    pods = f'{ns},container!="",container!="POD"'
    by_container = "namespace, pod, container"
    working_set = f"predict_linear(container_memory_working_set_bytes{{{pods}}}[{MEMORY_TREND}], {MEMORY_LEAD_SECONDS})"
    limit = f'kube_pod_container_resource_limits{{{ns},resource="memory"}}'
    alerts = [_budget_alert(args, slo) for slo in ("availability", "latency")]
    alerts.append(
        _alert(
            args,
            "ApiMemoryExhaustionPredicted",
            f"max by ({by_container}) ({working_set}) >= on ({by_container}) max by ({by_container}) ({limit})",
            "15m",
            "warning",
            "Container {{ $labels.container }} of {{ $labels.pod }} reaches its memory limit within an hour",
            f"Its working set, extrapolated over the last {MEMORY_TREND}, reaches its memory limit within "
            f"{MEMORY_LEAD_SECONDS // 60} minutes, where the kernel kills it: a leak, or a limit too low for the load.",
        )
    )
    disk = _alert(
        args,
        "PersistentVolumeFillingUpPredicted",
        f"predict_linear(kubelet_volume_stats_available_bytes[{DISK_TREND}], {DISK_LEAD_SECONDS}) < 0 "
        "and kubelet_volume_stats_used_bytes > 0",
        "15m",
        "warning",
        "Volume {{ $labels.persistentvolumeclaim }} fills up within 4 hours",
        f"Its free space, extrapolated over the last {DISK_TREND}, runs out within {DISK_LEAD_SECONDS // 3600} "
        "hours: grow the volume or find what writes so much.",
    )
    del disk["labels"]["namespace"]  # the volume's own namespace, whichever it is
    alerts.append(disk)
    alerts.append(
        _alert(
            args,
            "ApiLatencyBreachPredicted",
            f'max({FORECAST_PEAK}{{{ns},signal="latency_p99_seconds"}}) > {args.p99_latency_seconds}',
            "10m",
            "warning",
            "The API's p99 latency is forecast above its limit within 15 minutes",
            f"The insight service forecasts a p99 latency above {args.p99_latency_seconds}s within its 15-minute "
            "window: capacity may be short before the load arrives.",
        )
    )
    return alerts


def staleness_alerts(args: PredictionArgs) -> list[dict[str, Any]]:
    stale_seconds = max(STALE_ROUNDS * args.interval_seconds, 300)
    selected = f'{LAST_SUCCESS}{{namespace="{args.rules.namespace}"}}'
    return [
        _alert(
            args.rules,
            "InsightServiceStale",
            f"time() - max({selected}) > {stale_seconds} or absent({selected})",
            "5m",
            "warning",
            "The insight service has not read the API's signals for a while",
            f"Its last round with every query answered is more than {stale_seconds} s old, or it is not scraped: "
            "anomaly alerts cannot fire and predictive scaling falls back. See its log and Prometheus's health.",
        )
    ]


def groups(args: PredictionArgs) -> list[dict[str, Any]]:
    return [
        {"name": "project-ai-error-budget-recording", "interval": "5m", "rules": budget_rules(args.rules)},
        {"name": "project-ai-anomalies", "rules": anomaly_alerts(args.rules)},
        {"name": "project-ai-predictions", "rules": prediction_alerts(args.rules)},
        {"name": "project-ai-insight", "rules": staleness_alerts(args)},
    ]
