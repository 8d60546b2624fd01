"""Zero-trust rules for the Cloudflare edge: TLS settings, managed WAF rules, proxied API
records, authenticated origin pulls, protections switched on (rules and zone settings),
health-checked load balancer pools and Worker secrets (pulumi-cloudflare 6.x types and
engine names)."""

from __future__ import annotations

import fnmatch
import re
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
    if get(overrides, "sensitivityLevel") == "eoff":
        found.append("sets every rule's sensitivity to eoff (essentially off)")
    for kind, key, label in (("categories", "category", "category"), ("rules", "id", "rule")):
        for entry in items(overrides, kind):
            what = f"{label} {get(entry, key)!r}"
            if get(entry, "enabled") is False:
                found.append(f"disables {what}")
            elif get(entry, "action") in DISARMING:
                found.append(f"sets {what} to {get(entry, 'action')}")
            elif get(entry, "sensitivityLevel") == "eoff":
                found.append(f"sets {what}'s sensitivity to eoff")
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


# --- Issue #19: protections switched on, health-checked pools, Worker secrets ---

# Phases whose rules protect: WAF custom and managed rules, rate limits, DDoS, Super Bot Fight Mode.
SECURITY_PHASES = (
    "http_request_firewall_custom",
    MANAGED_PHASE,
    "http_response_firewall_managed",
    "http_ratelimit",
    "ddos_l7",
    "ddos_l4",
    "http_request_sbfm",
)
# What a skip rule may skip beyond rulesets (which cloudflare-waf-managed-rulesets-enforced judges).
SKIPPABLE = ("phases", "products", "rules")


def _always(expression: Any) -> bool:
    return str(expression).replace(" ", "").strip("()").lower() == "true"


@rule(
    PACK,
    name="cloudflare-ruleset-rules-enabled",
    description=(
        "Rules in security phases (WAF custom and managed, rate limiting, DDoS, bot fight) are switched on: not "
        "disabled, not log-only, not skipping protections for every request, and no override disarms a managed "
        "ruleset's rules."
    ),
    severity="high",
    remediation=(
        "Remove enabled: false and action log from the rule; narrow a skip rule's expression to the traffic it "
        "must exempt; drop overrides with enabled: false, action log or sensitivityLevel eoff."
    ),
    types=(RULESET,),
)
def ruleset_rules_enabled(resource: Resource, params: Params) -> Iterable[str]:
    phase = get(resource.props, "phase")
    if phase not in SECURITY_PHASES:
        return
    enforced = ManagedWafParams().ruleset_ids  # judged by cloudflare-waf-managed-rulesets-enforced
    for index, entry in enumerate(items(resource.props, "rules")):
        action = get(entry, "action")
        if phase == MANAGED_PHASE and action == "execute" and get(entry, "actionParameters.id") in enforced:
            continue
        where = f"rule {get(entry, 'ref') or index}"
        if get(entry, "enabled") is False:
            yield f"{where} is disabled"
            continue
        if action == "log":
            yield f"{where} only logs (action log)"
        elif action == "execute":
            for found in _disabling_overrides(get(entry, "actionParameters.overrides")):
                yield f"{where} {found} of ruleset {get(entry, 'actionParameters.id')}"
        elif action == "skip" and _always(get(entry, "expression")):
            skipped = [key for key in SKIPPABLE if as_list(get(entry, f"actionParameters.{key}"))]
            if skipped:
                yield f"{where} skips {', '.join(skipped)} for every request"


# Setting id -> the values that switch the protection off.
PROTECTION_OFF = {
    "security_level": ("off", "essentially_off"),
    "browser_check": ("off",),
    "waf": ("off",),
}


class ZoneProtectionParams(Params):
    # Settings a zone may switch off (browser_check for an API whose clients send no browser headers).
    allowed_off: tuple[str, ...] = ()


def _hsts_off(value: Any) -> str | None:
    hsts = get(value, "strict_transport_security") or get(value, "strictTransportSecurity")
    if get(hsts, "enabled") is not True:
        return "HSTS is off (security_header strict_transport_security.enabled is not true)"
    max_age = get(hsts, "max_age", get(hsts, "maxAge", 0))
    if not isinstance(max_age, int) or max_age <= 0:
        return f"HSTS max_age is {max_age}: browsers forget it at once"
    return None


@rule(
    PACK,
    name="cloudflare-zone-protections-on",
    description=(
        "Zone settings that protect are not switched off: security_level, browser_check, waf and HSTS in "
        "security_header (ssl, always_use_https and TLS versions: cloudflare-zone-tls-settings)."
    ),
    severity="high",
    remediation=(
        "Set security_level to low or higher, browser_check and waf to on, and "
        "security_header.strict_transport_security.enabled: true with a max_age; or list the setting in allowedOff."
    ),
    types=(ZONE_SETTING,),
    params=ZoneProtectionParams,
)
def zone_protections_on(resource: Resource, params: ZoneProtectionParams) -> Iterable[str]:
    setting, value = get(resource.props, "settingId"), get(resource.props, "value")
    if setting in params.allowed_off:
        return
    if setting == "security_header":
        problem = _hsts_off(value)
        if problem:
            yield problem
    elif setting in PROTECTION_OFF and str(value).strip().lower() in PROTECTION_OFF[setting]:
        yield f"{setting} is {value!r}: the protection is switched off"


POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
LOAD_BALANCER = "cloudflare:index/loadBalancer:LoadBalancer"


def _monitored(pool: Resource) -> bool:
    # The monitor's id is computed: unknown in preview, but the input is there all the same.
    keys = list(pool.props)
    return "monitor" in keys or "monitorGroup" in keys


@rule(
    PACK,
    name="cloudflare-load-balancer-health-checked",
    description=(
        "Load balancer pools are health-checked by a monitor, so traffic leaves a failed origin; only the pool of "
        "last resort (the fallback) may go unmonitored."
    ),
    severity="medium",
    remediation=(
        "Set monitor (or monitorGroup) on every cloudflare.LoadBalancerPool a load balancer steers to; at most one "
        "unmonitored pool per load balancer, as its fallbackPool."
    ),
)
def load_balancer_health_checked(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    # Pool ids are computed, so a load balancer's pools are found by its dependencies; which
    # one is the fallback is not known in preview, so one unmonitored pool is taken as it.
    pools = stack.of_type(POOL)
    steered: set[str] = set()
    for balancer in stack.of_type(LOAD_BALANCER):
        own = [pool for pool in pools if pool.urn in balancer.dependencies]
        steered.update(pool.urn for pool in own)
        unmonitored = [pool.name for pool in own if not _monitored(pool)]
        if own and len(unmonitored) == len(own):
            yield balancer.urn, f"load balancer {balancer.name} health-checks none of its pools"
        elif len(unmonitored) > 1:
            names = ", ".join(sorted(unmonitored))
            yield balancer.urn, f"load balancer {balancer.name} has {len(unmonitored)} unmonitored pools ({names})"
    for pool in pools:
        if pool.urn not in steered and not _monitored(pool):
            yield pool.urn, f"pool {pool.name} has no monitor"


WORKER_SCRIPTS = ("cloudflare:index/workersScript:WorkersScript", "cloudflare:index/workerScript:WorkerScript")
# Bindings whose value anyone with access to the dashboard or the script's settings reads.
PLAIN_BINDINGS = ("plain_text", "json")
# Well-known credential formats: private keys, AWS access keys, GitHub, Slack, Stripe and
# Google API keys, JWTs.
SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36}|\bxox[abposr]-"
    r"|\b[sr]k_live_[0-9A-Za-z]{16,}|\bAIza[0-9A-Za-z_-]{35}|\beyJ[\w-]+\.eyJ[\w-]+\."
)


class WorkerSecretParams(Params):
    # Binding names that hold secrets: shell-style patterns matched without case.
    secret_names: tuple[str, ...] = (
        "*secret*",
        "*token*",
        "*passw*",
        "*api_key*",
        "*apikey*",
        "*private_key*",
        "*credential*",
    )


@rule(
    PACK,
    name="cloudflare-worker-no-plaintext-secrets",
    description="Worker bindings that hold secrets are secret_text, never plain_text or json (readable in clear).",
    severity="high",
    remediation=(
        "Bind the value with type secret_text (or a secrets_store_secret), and feed it from a Pulumi secret; "
        "keep plain_text for configuration only."
    ),
    types=WORKER_SCRIPTS,
    params=WorkerSecretParams,
)
def worker_no_plaintext_secrets(resource: Resource, params: WorkerSecretParams) -> Iterable[str]:
    for binding in items(resource.props, "bindings"):
        kind, name = get(binding, "type"), str(get(binding, "name", ""))
        if kind not in PLAIN_BINDINGS:
            continue
        if any(fnmatch.fnmatchcase(name.lower(), pattern.lower()) for pattern in params.secret_names):
            yield f"{kind} binding {name!r} is named like a secret: expected secret_text"
        elif SECRET_VALUE.search(str(get(binding, "text" if kind == "plain_text" else "json", ""))):
            yield f"{kind} binding {name!r} holds a credential in clear: expected secret_text"
