"""Prometheus recording and alerting rules for the API: the one source of truth.

Annotations are plain text (labels only, never `$value`), so `promtool test rules` can
state them exactly.

The same groups become a PrometheusRule object in the cluster and plain rule files for
`promtool check rules` / `promtool test rules`. SLO alerts follow the SRE workbook's
multi-window, multi-burn-rate scheme: a fast window catches a burn, a short one makes
the alert stop soon after the burn stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.api_metrics import LATENCY, PROBE_ROUTES, REQUESTS

# (long window, short window, burn rate, severity, for): SRE workbook table 5-8.
BURN_WINDOWS = (
    ("1h", "5m", 14.4, "critical", "2m"),
    ("6h", "30m", 6, "critical", "15m"),
    ("1d", "2h", 3, "warning", "1h"),
    ("3d", "6h", 1, "warning", "3h"),
)
RATE_WINDOWS = sorted(
    {window for long, short, *_ in BURN_WINDOWS for window in (long, short)},
    key=lambda w: int(w[:-1]) * {"m": 1, "h": 60, "d": 1440}[w[-1]],
)


ESCALATION_SEVERITY = "escalation"


@dataclass(frozen=True)
class RuleArgs:
    namespace: str
    team: str
    runbook_base: str
    availability_slo: float  # percent of requests that are not 5xx, over 30 days
    latency_slo: float  # percent of requests faster than latency_threshold_seconds
    # One of the app's histogram bucket bounds, so the ratio is exact.
    latency_threshold_seconds: float
    # A critical alert firing this long escalates to a second receiver.
    escalate_after: str
    # Secrets a third party issues, with when they expire (unix seconds): each is
    # recorded as a series, and alerts `secret_warning_days` ahead.
    secret_expiry: tuple[tuple[str, int], ...]
    secret_warning_days: int
    p99_latency_seconds: float = 1.0
    error_rate: float = 0.05
    rate_limited_share: float = 0.2
    auth_failures_per_second: float = 1.0
    blocked_per_second: float = 1.0
    certificate_days: int = 14
    pool_saturation: float = 0.9


def _selector(args: RuleArgs, extra: str = "") -> str:
    return f'namespace="{args.namespace}",route!~"{PROBE_ROUTES}"{extra}'


def recording_rules(args: RuleArgs) -> list[dict[str, Any]]:
    """Error and slow ratios of the API over every window the burn-rate alerts use."""
    rules = []
    every, failed = _selector(args), _selector(args, ',status=~"5.."')
    fast_enough = _selector(args, f',le="{args.latency_threshold_seconds}"')
    for window in RATE_WINDOWS:
        total = f"sum(rate({REQUESTS}{{{every}}}[{window}]))"
        # `or vector(0)`: with no 5xx series at all the ratio is 0, not "no data".
        errors = f"(sum(rate({REQUESTS}{{{failed}}}[{window}])) or vector(0))"
        fast = f"sum(rate({LATENCY}_bucket{{{fast_enough}}}[{window}]))"
        slow_total = f"sum(rate({LATENCY}_count{{{every}}}[{window}]))"
        rules.append({"record": f"api:request_errors:ratio_rate{window}", "expr": f"{errors} / {total}"})
        rules.append({"record": f"api:request_slow:ratio_rate{window}", "expr": f"1 - ({fast} / {slow_total})"})
    return rules


def _alert(
    args: RuleArgs, name: str, expr: str, duration: str, severity: str, summary: str, description: str
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity, "team": args.team, "namespace": args.namespace},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{args.runbook_base}#{name.lower()}",
        },
    }


def slo_alerts(args: RuleArgs) -> list[dict[str, Any]]:
    alerts = []
    for slo, ratio, what in (
        (args.availability_slo, "request_errors", "errors"),
        (args.latency_slo, "request_slow", f"requests slower than {args.latency_threshold_seconds}s"),
    ):
        budget = round(1 - slo / 100, 6)
        kind = "Availability" if ratio == "request_errors" else "Latency"
        for long, short, burn, severity, duration in BURN_WINDOWS:
            threshold = round(burn * budget, 6)
            expr = f"api:{ratio}:ratio_rate{long} > {threshold} and api:{ratio}:ratio_rate{short} > {threshold}"
            speed = "Fast" if severity == "critical" else "Slow"
            alert = _alert(
                args,
                f"Api{kind}BudgetBurn{speed}{long}",
                expr,
                duration,
                severity,
                f"The API burns its {kind.lower()} error budget {burn}x too fast ({long}/{short})",
                f"Share of {what} over {long} and {short} is above {threshold} ({burn}x the "
                f"{slo}% SLO's budget): at this rate the 30-day budget lasts {round(30 / burn, 1)} days.",
            )
            alert["labels"]["slo"] = kind.lower()
            alerts.append(alert)
    return alerts


def service_alerts(args: RuleArgs) -> list[dict[str, Any]]:
    ns = f'namespace="{args.namespace}"'
    return [
        _alert(
            args,
            "ApiHighErrorRate",
            f"api:request_errors:ratio_rate5m > {args.error_rate}",
            "5m",
            "critical",
            f"More than {args.error_rate:.0%} of API requests fail",
            f"Over 5 minutes more than {args.error_rate:.0%} of requests answered 5xx.",
        ),
        _alert(
            args,
            "ApiHighLatencyP99",
            f"histogram_quantile(0.99, sum by (le) (rate({LATENCY}_bucket{{{_selector(args)}}}[5m]))) "
            f"> {args.p99_latency_seconds}",
            "10m",
            "warning",
            "API p99 latency is above its limit",
            f"The 99th percentile of request latency is above {args.p99_latency_seconds}s.",
        ),
        _alert(
            args,
            "ApiPodCrashLooping",
            f'max_over_time(kube_pod_container_status_waiting_reason{{{ns},reason="CrashLoopBackOff"}}[5m]) >= 1',
            "10m",
            "critical",
            "Pod {{ $labels.pod }} is crash-looping",
            "A container of the API keeps restarting and backing off.",
        ),
        _alert(
            args,
            "ApiPodRestarting",
            f"increase(kube_pod_container_status_restarts_total{{{ns}}}[1h]) > 3",
            "0m",
            "warning",
            "Pod {{ $labels.pod }} restarts often",
            "Frequent restarts: out of memory, failing liveness probes or crashes.",
        ),
        _alert(
            args,
            "ApiAutoscalerAtMaximum",
            f"kube_horizontalpodautoscaler_status_current_replicas{{{ns}}} >= "
            f"kube_horizontalpodautoscaler_spec_max_replicas{{{ns}}}",
            "15m",
            "warning",
            "The API autoscaler has been at its maximum for 15 minutes",
            "Demand may exceed capacity: raise the maximum or look for a cause.",
        ),
        _alert(
            args,
            "ApiDisruptionBudgetBlocked",
            f"kube_poddisruptionbudget_status_pod_disruptions_allowed{{{ns}}} == 0",
            "1h",
            "warning",
            "No API pod may be disrupted for an hour",
            "Node drains and upgrades are blocked: too few healthy replicas.",
        ),
        _alert(
            args,
            "ApiCircuitBreakerOpen",
            f"max(circuit_breaker_state{{{ns}}}) == 2",
            "1m",
            "critical",
            "The API's circuit breaker to the inference upstream is open",
            "Completions fail fast with 503: the inference upstream keeps failing.",
        ),
        _alert(
            args,
            "ApiHighRateLimitedShare",
            f'sum(rate(rate_limit_decisions_total{{{ns},decision="limited"}}[5m])) / '
            f"sum(rate(rate_limit_decisions_total{{{ns}}}[5m])) > {args.rate_limited_share}",
            "10m",
            "warning",
            "Many requests are rate limited",
            "Clients hit their limits: abuse, a misbehaving client, or limits set too low.",
        ),
        _alert(
            args,
            "ApiAuthFailureSpike",
            f"sum(rate(auth_failures_total{{{ns}}}[5m])) > {args.auth_failures_per_second}",
            "5m",
            "warning",
            "Failed authentications spike",
            "Many requests with missing or wrong API keys: key guessing or a broken client.",
        ),
        _alert(
            args,
            "ApiBlockedRequestSpike",
            f"sum(rate(blocked_requests_total{{{ns}}}[5m])) > {args.blocked_per_second}",
            "5m",
            "warning",
            "Blocked requests spike",
            "Injection attempts or a client sending malformed requests.",
        ),
        _alert(
            args,
            "ApiCertificateExpiringSoon",
            f"(certmanager_certificate_expiration_timestamp_seconds{{{ns}}} - time()) / 86400 "
            f"< {args.certificate_days}",
            "1h",
            "warning",
            "Certificate {{ $labels.name }} expires soon",
            "cert-manager has not renewed the API's TLS certificate.",
        ),
        _alert(
            args,
            "ApiRedisUnavailable",
            f"max(rate_limiter_fallback{{{ns}}}) == 1",
            "5m",
            "warning",
            "Redis is unavailable to the API",
            "Requests are served without the cache, and each replica enforces its share of the rate limits alone.",
        ),
        _alert(
            args,
            "ApiUsageSettlementsPending",
            f"sum(usage_settlements_pending{{{ns}}}) > 0",
            "15m",
            "warning",
            "Usage settlements wait for the database",
            "Completions were served but their usage is still billed at the reservation: the database fails writes.",
        ),
        _alert(
            args,
            "ApiDatabasePoolSaturated",
            f'sum(db_pool_connections{{{ns},state="checked_out"}}) / sum(db_pool_connections{{{ns}}}) '
            f"> {args.pool_saturation}",
            "10m",
            "warning",
            "The database pool is nearly exhausted",
            "Requests will queue for connections: raise the pool or find slow queries.",
        ),
    ]


SECRET_EXPIRY = "projectai_secret_expiry_timestamp_seconds"


def secret_expiry_rules(args: RuleArgs) -> list[dict[str, Any]]:
    """The expiry dates the stack config records for third-party secrets, as series the
    expiry alert reads (Prometheus has no other way to know them)."""
    return [
        {"record": SECRET_EXPIRY, "expr": f"vector({expires})", "labels": {"secret": name, "namespace": args.namespace}}
        for name, expires in args.secret_expiry
    ]


def secret_alerts(args: RuleArgs) -> list[dict[str, Any]]:
    return [
        _alert(
            args,
            "SecretExpiringSoon",
            f'({SECRET_EXPIRY}{{namespace="{args.namespace}"}} - time()) / 86400 < {args.secret_warning_days}',
            "1h",
            "warning",
            "The {{ $labels.secret }} secret expires soon",
            f"A secret a third party issued expires within {args.secret_warning_days} days: get a new one, "
            "write it to Vault, and record its new expiry in the stack config.",
        )
    ]


def escalation_rules(args: RuleArgs) -> list[dict[str, Any]]:
    """Any critical alert of the team firing for `escalate_after` raises an escalation
    alert naming it (Alertmanager itself has no notion of "still firing after")."""
    firing = f'ALERTS{{alertstate="firing",severity="critical",team="{args.team}"}}'
    expr = f'max without (alertname, alertstate) (label_replace({firing}, "escalated", "$1", "alertname", "(.+)"))'
    return [
        _alert(
            args,
            "CriticalAlertUnresolved",
            expr,
            args.escalate_after,
            ESCALATION_SEVERITY,
            "{{ $labels.escalated }} is still firing; escalating",
            f"A critical alert has fired for {args.escalate_after} without being resolved.",
        )
    ]


def groups(args: RuleArgs) -> list[dict[str, Any]]:
    return [
        {"name": "project-ai-api-slo-recording", "interval": "30s", "rules": recording_rules(args)},
        {"name": "project-ai-api-slo-alerts", "rules": slo_alerts(args)},
        {"name": "project-ai-api-alerts", "rules": service_alerts(args)},
        {"name": "project-ai-api-escalation", "rules": escalation_rules(args)},
        {"name": "project-ai-secrets", "rules": [*secret_expiry_rules(args), *secret_alerts(args)]},
    ]
