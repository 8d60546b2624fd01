"""Every metric a dashboard panel or an alert reads is one that exists: exported by the app
(its registry), a recording rule of ours, or a standard kube-state-metrics, cAdvisor,
kubelet or cert-manager metric."""

from __future__ import annotations

import json
import re

import pytest
from prometheus_client import REGISTRY

import app.metrics  # noqa: F401 - registers the app's metrics
from components.monitoring.dashboards import dashboards
from components.monitoring.rules import groups
from tests.conftest import local_rule_args

# With one recorded secret expiry, so its recording rule is among the rules.
ARGS = local_rule_args(secret_expiry=(("upstream-token", 1_800_000_000),))
STANDARD = {
    # kube-state-metrics
    "kube_pod_status_ready",
    "kube_pod_container_status_restarts_total",
    "kube_pod_container_status_waiting_reason",
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
    "kube_poddisruptionbudget_status_pod_disruptions_allowed",
    # cAdvisor (kubelet)
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    # cert-manager
    "certmanager_certificate_expiration_timestamp_seconds",
    # Prometheus itself
    "ALERTS",
}
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


def exported() -> set[str]:
    """Every sample name the app's registry can expose (counters as _total, histograms as
    _bucket, _count and _sum), whether or not a sample exists yet."""
    return set(REGISTRY._names_to_collectors)


def recorded() -> set[str]:
    return {rule["record"] for group in groups(ARGS) for rule in group["rules"] if "record" in rule}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords,
    label names (inside braces or by/without lists) or strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()[:1]
        word = match.group()
        if following == "(" or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def expressions() -> dict[str, str]:
    found = {}
    for file_name, content in dashboards("project-ai").items():
        for panel in json.loads(content)["panels"]:
            for index, target in enumerate(panel["targets"]):
                found[f"{file_name}: {panel['title']} #{index}"] = target["expr"]
    for group in groups(ARGS):
        for rule in group["rules"]:
            found[f"rule {rule.get('alert') or rule.get('record')}"] = rule["expr"]
    return found


def test_the_extractor_finds_metrics_and_nothing_else() -> None:
    expr = 'histogram_quantile(0.99, sum by (le) (rate(x_bucket{a="b:c"}[5m]))) > on (pod) y or vector(0)'
    assert metric_names(expr) == {"x_bucket", "y"}


@pytest.mark.parametrize(("where", "expr"), sorted(expressions().items()))
def test_every_metric_read_exists(where: str, expr: str) -> None:
    known = exported() | recorded() | STANDARD
    unknown = metric_names(expr) - known
    assert not unknown, f"{where} reads {sorted(unknown)}, which nothing exports"


def test_both_dashboards_have_the_panels_the_team_needs() -> None:
    titles = {
        name: [panel["title"] for panel in json.loads(content)["panels"]]
        for name, content in dashboards("project-ai").items()
    }
    assert len(titles["project-ai-api-overview.json"]) == 8
    assert "Blocked suspicious requests by reason" in titles["project-ai-api-security.json"]
