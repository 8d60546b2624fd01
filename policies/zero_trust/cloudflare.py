"""Zero-trust rules for the Cloudflare edge: TLS settings, managed WAF rules, proxied API
records and authenticated origin pulls (pulumi-cloudflare 6.x types and engine names)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any, Literal

from policies.core.props import as_list, get, items
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


# The zone phase that runs Cloudflare's managed WAF rulesets.
MANAGED_PHASE = "http_request_firewall_managed"


@rule(
    PACK,
    name="cloudflare-waf-managed-rules",
    description="Every zone runs the managed WAF rules.",
    severity="high",
    remediation=f"Add a zone Ruleset in phase {MANAGED_PHASE} that executes the managed ruleset.",
)
def waf_managed(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for zone in stack.of_type(ZONE):
        phases = {get(r.props, "phase") for r in stack.attached(zone, RULESET)}
        if MANAGED_PHASE not in phases:
            yield zone.urn, f"zone {zone.name} has no managed WAF ruleset"


# --- Issue #15: API records proxied, managed WAF enforced, TLS minimum, origin pulls ---

DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
AOP_SETTINGS = "cloudflare:index/authenticatedOriginPullsSettings:AuthenticatedOriginPullsSettings"
AOP_HOSTNAME = "cloudflare:index/authenticatedOriginPulls:AuthenticatedOriginPulls"
PROXIABLE = ("A", "AAAA", "CNAME")
# The well-known ids of Cloudflare's managed WAF rulesets (developers.cloudflare.com/waf/managed-rules).
CLOUDFLARE_MANAGED = "efb7b8c949ac4650a09736fc376e9aee"
OWASP_CORE = "4814384a9e5d4991b9815dcfc25d2f1f"
# Override actions that leave a managed rule matching but no longer stopping anything.
DISARMING = ("log", "skip")
TLS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")


class ProxiedParams(Params):
    # Which A/AAAA/CNAME records carry the API: shell-style patterns matched, without
    # case, against the record's `name` ("api.project-ai.dev", "api", "*"). Every one
    # of them by default.
    api_names: tuple[str, ...] = ("*",)
    # Records meant to resolve to the origin directly (patterns as above).
    unproxied_names: tuple[str, ...] = ()


@rule(
    PACK,
    name="cloudflare-api-records-proxied",
    description=(
        "DNS records (A, AAAA, CNAME) for the API hostnames are proxied, so every request meets the edge's WAF and TLS."
    ),
    severity="high",
    remediation=(
        "Set proxied=True on the cloudflare.DnsRecord, or list the name in unproxiedNames if it must resolve "
        "to the origin."
    ),
    types=(DNS_RECORD,),
    params=ProxiedParams,
)
def api_records_proxied(resource: Resource, params: ProxiedParams) -> Iterable[str]:
    kind, name = get(resource.props, "type"), get(resource.props, "name")
    if str(kind).upper() not in PROXIABLE or not isinstance(name, str):
        return

    def matches(patterns: tuple[str, ...]) -> bool:
        return any(fnmatch.fnmatchcase(name.lower(), pattern.lower()) for pattern in patterns)

    if matches(params.api_names) and not matches(params.unproxied_names) and get(resource.props, "proxied") is not True:
        yield f"{kind} record {name!r} is not proxied"


class ManagedWafParams(Params):
    # The managed rulesets every zone executes in block mode.
    ruleset_ids: tuple[str, ...] = (CLOUDFLARE_MANAGED, OWASP_CORE)


def _ruleset_label(ruleset_id: str) -> str:
    return {CLOUDFLARE_MANAGED: "Cloudflare Managed Ruleset", OWASP_CORE: "OWASP Core Ruleset"}.get(
        ruleset_id, f"ruleset {ruleset_id}"
    )


def _disabling_overrides(overrides: Any) -> list[str]:
    """What an execute rule's `actionParameters.overrides` turns off."""
    found = []
    if get(overrides, "enabled") is False:
        found.append("disables every rule")
    if get(overrides, "action") in DISARMING:
        found.append(f"sets every rule to {get(overrides, 'action')}")
    for kind, key, label in (("categories", "category", "category"), ("rules", "id", "rule")):
        for entry in items(overrides, kind):
            what = f"{label} {get(entry, key)!r}"
            if get(entry, "enabled") is False:
                found.append(f"disables {what}")
            elif get(entry, "action") in DISARMING:
                found.append(f"sets {what} to {get(entry, 'action')}")
    return found


@rule(
    PACK,
    name="cloudflare-waf-managed-rulesets-enforced",
    description=(
        "Every zone executes the Cloudflare Managed and OWASP Core rulesets, and no override disables or downgrades "
        "their rules."
    ),
    severity="high",
    remediation=(
        f"In the zone's {MANAGED_PHASE} Ruleset, add an enabled execute rule for each managed ruleset "
        "id; drop overrides with enabled=false or action log, and skip rules that skip them."
    ),
    params=ManagedWafParams,
)
def waf_managed_enforced(stack: Stack, params: ManagedWafParams) -> Iterable[tuple[str, str]]:
    for zone in stack.of_type(ZONE):
        executed: set[str] = set()
        for ruleset in stack.attached(zone, RULESET):
            if get(ruleset.props, "phase") != MANAGED_PHASE:
                continue
            for index, entry in enumerate(items(ruleset.props, "rules")):
                action, enabled = get(entry, "action"), get(entry, "enabled")
                target = get(entry, "actionParameters.id")
                where = f"ruleset {ruleset.name} rule {index}"
                if action == "execute" and target in params.ruleset_ids:
                    if enabled is False:
                        yield ruleset.urn, f"{where} executes the {_ruleset_label(target)} but is disabled"
                        continue
                    executed.add(target)
                    for found in _disabling_overrides(get(entry, "actionParameters.overrides")):
                        yield ruleset.urn, f"{where} {found} of the {_ruleset_label(target)}"
                elif action == "skip" and enabled is not False:
                    skipped = as_list(get(entry, "actionParameters.rulesets"))
                    if get(entry, "actionParameters.ruleset") == "current":
                        skipped = list(params.ruleset_ids)
                    for target in [t for t in params.ruleset_ids if t in skipped]:
                        yield ruleset.urn, f"{where} skips the {_ruleset_label(target)}"
        for target in params.ruleset_ids:
            if target not in executed:
                yield zone.urn, f"zone {zone.name} does not execute the {_ruleset_label(target)}"


class TlsMinimumParams(Params):
    minimum_version: Literal["1.2", "1.3"] = "1.2"
    require_tls_1_3: bool = True


@rule(
    PACK,
    name="cloudflare-tls-minimum",
    description="Every zone declares a minimum TLS version of at least 1.2 and turns TLS 1.3 on.",
    severity="high",
    remediation="Add cloudflare.ZoneSetting min_tls_version=1.2 (or 1.3) and tls_1_3=on for the zone.",
    params=TlsMinimumParams,
)
def tls_minimum(stack: Stack, params: TlsMinimumParams) -> Iterable[tuple[str, str]]:
    floor = TLS_VERSIONS.index(params.minimum_version)
    for zone in stack.of_type(ZONE):
        settings = {get(s.props, "settingId"): s for s in stack.attached(zone, ZONE_SETTING)}
        minimum = settings.get("min_tls_version")
        if minimum is None:
            yield zone.urn, f"zone {zone.name} does not declare min_tls_version"
        else:
            value = get(minimum.props, "value")
            if value not in TLS_VERSIONS or TLS_VERSIONS.index(value) < floor:
                yield minimum.urn, f"zone {zone.name} allows TLS {value}, below {params.minimum_version}"
        if params.require_tls_1_3:
            tls13 = settings.get("tls_1_3")
            if tls13 is None:
                yield zone.urn, f"zone {zone.name} does not turn tls_1_3 on"
            elif get(tls13.props, "value") not in ("on", "zrt"):
                yield tls13.urn, f"zone {zone.name} has tls_1_3 {get(tls13.props, 'value')!r}, expected 'on'"


@rule(
    PACK,
    name="cloudflare-origin-pulls",
    description=(
        "Every zone turns authenticated origin pulls on, so origins can accept only Cloudflare's client certificate."
    ),
    severity="high",
    remediation=(
        "Add cloudflare.AuthenticatedOriginPullsSettings(enabled=True) for the zone (or the zone setting "
        "tls_client_auth=on), and have each origin's ingress verify Cloudflare's origin-pull certificate."
    ),
)
def origin_pulls(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for zone in stack.of_type(ZONE):
        on = False
        for setting in stack.attached(zone, AOP_SETTINGS):
            if get(setting.props, "enabled") is True:
                on = True
            else:
                yield setting.urn, f"zone {zone.name} turns authenticated origin pulls off"
        for setting in stack.attached(zone, ZONE_SETTING):
            if get(setting.props, "settingId") == "tls_client_auth":
                if get(setting.props, "value") == "on":
                    on = True
                else:
                    yield setting.urn, f"zone {zone.name} has tls_client_auth {get(setting.props, 'value')!r}"
        for hostnames in stack.attached(zone, AOP_HOSTNAME):
            configs = items(hostnames.props, "configs")
            if configs and all(get(c, "enabled") is True for c in configs):
                on = True
        if not on:
            yield zone.urn, f"zone {zone.name} does not turn authenticated origin pulls on"
