"""Zero-trust rules for the Cloudflare edge: TLS settings and managed WAF rules."""

from __future__ import annotations

from collections.abc import Iterable

from policies.core.props import get
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK

ZONE = "cloudflare:index/zone:Zone"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
RULESET = "cloudflare:index/ruleset:Ruleset"
# Setting id -> the value the edge must have.
REQUIRED_SETTINGS = {"ssl": "strict", "always_use_https": "on", "min_tls_version": "1.2"}


@rule(
    PACK,
    name="cloudflare-zone-tls-settings",
    description="Zone settings keep SSL strict, always-use-HTTPS on and TLS 1.2 at least.",
    severity="high",
    remediation="Set ssl=strict, always_use_https=on and min_tls_version=1.2 (or 1.3).",
    types=(ZONE_SETTING,),
)
def zone_tls_settings(resource: Resource, params: Params) -> Iterable[str]:
    setting, value = get(resource.props, "settingId"), get(resource.props, "value")
    if setting == "min_tls_version" and value in ("1.2", "1.3"):
        return
    if setting in REQUIRED_SETTINGS and value != REQUIRED_SETTINGS[setting]:
        yield f"{setting} is {value!r}, expected {REQUIRED_SETTINGS[setting]!r}"


@rule(
    PACK,
    name="cloudflare-zone-settings-declared",
    description="Every zone declares ssl, always_use_https and min_tls_version, so nothing is left to defaults.",
    severity="high",
    remediation="Add a cloudflare.ZoneSetting for each of ssl, always_use_https and min_tls_version.",
)
def zone_settings_declared(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for zone in stack.of_type(ZONE):
        declared = {get(s.props, "settingId") for s in stack.attached(zone, ZONE_SETTING)}
        missing = sorted(set(REQUIRED_SETTINGS) - declared)
        if missing:
            yield zone.urn, f"zone {zone.name} leaves {', '.join(missing)} to defaults"


@rule(
    PACK,
    name="cloudflare-waf-managed-rules",
    description="Every zone runs the managed WAF rules.",
    severity="high",
    remediation="Add a zone Ruleset in phase http_request_firewall_managed that executes the managed ruleset.",
)
def waf_managed(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for zone in stack.of_type(ZONE):
        phases = {get(r.props, "phase") for r in stack.attached(zone, RULESET)}
        if "http_request_firewall_managed" not in phases:
            yield zone.urn, f"zone {zone.name} has no managed WAF ruleset"
