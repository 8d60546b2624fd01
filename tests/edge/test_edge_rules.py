"""The edge's config checks, and what prod-global's rulesets declare against the app."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from app.settings import Settings
from components.edge.load_balancing import record_type
from components.edge.security import host_scope
from preflight.synth import Synthesizer
from stacks.model import EdgeConfig
from tests.conftest import ROOT

RULESET = "cloudflare:index/ruleset:Ruleset"


def prod_global_edge() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "Pulumi.prod-global.yaml").read_text())["config"]["projectai:edge"]


def test_prod_global_edge_config_is_valid() -> None:
    assert EdgeConfig.model_validate(prod_global_edge()).plan == "enterprise"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"regionPools": {"WEU": ["prod-eu", "prod"]}},
            "regionPools.WEU: ['prod-eu', 'prod'] is not an order of every origin",
        ),
        ({"countryPools": {"MX": ["prod", "prod", "prod-gcp"]}}, "countryPools.MX"),
        ({"plan": "business"}, "rateLimits.byApiKey: counting by the API key header needs Advanced Rate Limiting"),
        ({"hostname": "api.example.com"}, "is not in zone 'project-ai.dev'"),
        ({"regionPools": {}}, "regionPools: missing; geo steering"),
        ({"monitor": {"intervalSeconds": 10}}, "expected less than intervalSeconds"),
    ],
)
def test_edge_config_errors_are_clear(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        EdgeConfig.model_validate({**prod_global_edge(), **change})


@pytest.fixture(scope="module")
def rulesets(project_synthesizer: Synthesizer) -> dict[str, dict[str, Any]]:
    graph = project_synthesizer.synthesize("prod-global")
    return {r.inputs["phase"]: r.inputs for r in graph.resources if r.type == RULESET}


def test_rate_limits_stay_above_what_the_app_admits(rulesets: dict[str, dict[str, Any]]) -> None:
    settings = Settings()
    rules = {rule["ref"]: rule["ratelimit"] for rule in rulesets["http_ratelimit"]["rules"]}
    assert set(rules) == {"per-key-header", "per-key-bearer", "per-address"}
    per_route = [settings.rate_limit_default, *settings.rate_limits.values()]
    for ref, limit in rules.items():
        app = [settings.rate_limit_per_ip] if ref == "per-address" else per_route
        admitted = max(bucket.burst + bucket.per_second * limit["period"] for bucket in app)
        assert limit["requestsPerPeriod"] >= 2 * admitted, ref
        assert "cf.colo.id" in limit["characteristics"]


def test_custom_rules_refuse_unversioned_paths_and_other_methods(rulesets: dict[str, dict[str, Any]]) -> None:
    rules = {rule["ref"]: rule for rule in rulesets["http_request_firewall_custom"]["rules"]}
    assert rules["unversioned-paths"]["action"] == "block"
    assert 'starts_with(http.request.uri.path, "/v1/")' in rules["unversioned-paths"]["expression"]
    assert '"/openapi.json"' in rules["unversioned-paths"]["expression"]
    assert rules["methods"]["expression"].endswith('not http.request.method in {"GET" "HEAD" "POST"}')


def test_cache_bypasses_the_api_but_for_declared_gets_keyed_by_api_key(rulesets: dict[str, dict[str, Any]]) -> None:
    rules = rulesets["http_request_cache_settings"]["rules"]
    assert [rule["ref"] for rule in rules] == ["api-bypass", "docs", "cacheable-gets"]
    assert rules[0]["actionParameters"]["cache"] is False
    cacheable = rules[2]
    assert '{"/v2/models"}' in cacheable["expression"]  # /v1/models: the Worker's cache
    assert cacheable["actionParameters"]["cacheKey"]["customKey"]["header"]["includes"] == [
        "x-api-key",
        "authorization",
    ]


def test_every_api_hostname_has_a_proxied_record(project_synthesizer: Synthesizer) -> None:
    graph = project_synthesizer.synthesize("prod-global")
    records = {r.inputs["name"]: r.inputs for r in graph.resources if r.type == "cloudflare:index/dnsRecord:DnsRecord"}
    regional = {origin["ingressHostname"] for origin in graph.outputs["origins"]}
    assert set(records) == {"api.project-ai.dev", *regional}
    assert all(record["proxied"] is True and record["ttl"] == 1 for record in records.values())
    assert records["api.project-ai.dev"]["content"] == "api.us-east-1.project-ai.dev"


@pytest.mark.parametrize(
    ("address", "kind"),
    [("203.0.113.7", "A"), ("2001:db8::7", "AAAA"), ("a1b2-123.elb.us-east-1.amazonaws.com", "CNAME"), (None, "CNAME")],
)
def test_a_regional_record_follows_its_load_balancer_address(address: str | None, kind: str) -> None:
    assert record_type(address) == kind


def test_rules_cover_the_global_and_regional_hostnames_only(rulesets: dict[str, dict[str, Any]]) -> None:
    scope = host_scope("api.project-ai.dev", "project-ai.dev")
    assert scope == (
        '(http.host eq "api.project-ai.dev" or '
        '(starts_with(http.host, "api.") and ends_with(http.host, ".project-ai.dev")))'
    )
    for phase, ruleset in rulesets.items():
        for rule in ruleset["rules"]:
            if phase != "http_request_firewall_managed":
                assert rule["expression"].startswith(scope), (phase, rule["ref"])
