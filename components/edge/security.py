"""Security at the edge: the managed WAF in block mode, custom rules refusing what never
belongs on the API, rate limits above the app's own, and bot protection the plan allows."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

# Cloudflare's own ids of its managed rulesets, and of the OWASP set's anomaly-score rule.
CLOUDFLARE_MANAGED_RULESET = "efb7b8c949ac4650a09736fc376e9aee"
OWASP_CORE_RULESET = "4814384a9e5d4991b9815dcfc25d2f1f"
OWASP_ANOMALY_SCORE_RULE = "6179ae15870a4bb7b2d480d4843b323c"
# The header carrying the API key, besides `Authorization: Bearer` (app/api/deps.py).
API_KEY_HEADER = "x-api-key"
KEY_PREFIX = "pai_"


@dataclass(frozen=True)
class RateLimit:
    """Requests one client may make in `period_seconds`, at the edge."""

    requests: int
    period_seconds: int
    mitigation_seconds: int


@dataclass(frozen=True)
class EdgeSecurityArgs:
    zone_id: pulumi.Input[str]
    # Which requests are the API's: an expression on http.host (host_scope).
    scope: str
    # Path prefixes the API serves (/v1/, /v2/) and unversioned paths it serves publicly.
    versioned_prefixes: tuple[str, ...]
    public_paths: tuple[str, ...]
    # Methods the API serves; anything else is refused at the edge.
    methods: tuple[str, ...]
    per_key: RateLimit | None  # None: the plan cannot count by header
    per_address: RateLimit
    plan: str


def quoted(values: tuple[str, ...]) -> str:
    """Values as a Cloudflare rule expression's set members: `"a" "b"`."""
    return " ".join(f'"{value}"' for value in values)


def under_any(prefixes: tuple[str, ...]) -> str:
    """An expression true for a path under any of the prefixes."""
    return " or ".join(f'starts_with(http.request.uri.path, "{prefix}")' for prefix in prefixes)


def host_scope(hostname: str, zone: str) -> str:
    """The API's hostnames: the global one, and every region's `api.<region>.<zone>`."""
    prefix = hostname.removesuffix(f".{zone}")
    return f'(http.host eq "{hostname}" or (starts_with(http.host, "{prefix}.") and ends_with(http.host, ".{zone}")))'


class EdgeSecurity(pulumi.ComponentResource):
    def __init__(self, name: str, args: EdgeSecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:edge:EdgeSecurity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        scope = args.scope
        # Managed WAF: every rule on, in block mode; OWASP blocks from its anomaly score.
        self.managed = cloudflare.Ruleset(
            f"{name}-waf-managed",
            zone_id=args.zone_id,
            kind="zone",
            phase="http_request_firewall_managed",
            name="project-ai managed WAF",
            description="Cloudflare Managed Ruleset and OWASP Core Ruleset, blocking",
            rules=[
                cloudflare.RulesetRuleArgs(
                    ref="cloudflare-managed",
                    description="Cloudflare Managed Ruleset",
                    expression="true",
                    action="execute",
                    action_parameters=cloudflare.RulesetRuleActionParametersArgs(
                        id=CLOUDFLARE_MANAGED_RULESET,
                        overrides=cloudflare.RulesetRuleActionParametersOverridesArgs(action="block"),
                    ),
                ),
                cloudflare.RulesetRuleArgs(
                    ref="owasp-core",
                    description="OWASP Core Ruleset: block from the anomaly score",
                    expression="true",
                    action="execute",
                    action_parameters=cloudflare.RulesetRuleActionParametersArgs(
                        id=OWASP_CORE_RULESET,
                        overrides=cloudflare.RulesetRuleActionParametersOverridesArgs(
                            rules=[
                                cloudflare.RulesetRuleActionParametersOverridesRuleArgs(
                                    id=OWASP_ANOMALY_SCORE_RULE, action="block", score_threshold=40
                                )
                            ]
                        ),
                    ),
                ),
            ],
            opts=child,
        )
        versioned = under_any(args.versioned_prefixes)
        public = f"http.request.uri.path in {{{quoted(args.public_paths)}}}"
        self.custom = cloudflare.Ruleset(
            f"{name}-waf-custom",
            zone_id=args.zone_id,
            kind="zone",
            phase="http_request_firewall_custom",
            name="project-ai custom rules",
            description="Refuse what never belongs on the API",
            rules=[
                cloudflare.RulesetRuleArgs(
                    ref="unversioned-paths",
                    description="Only versioned paths and the OpenAPI document: no /metrics, probes or admin paths",
                    expression=f"{scope} and not ({versioned}) and not {public}",
                    action="block",
                ),
                cloudflare.RulesetRuleArgs(
                    ref="methods",
                    description=f"Only {', '.join(args.methods)}",
                    expression=f"{scope} and not http.request.method in {{{quoted(args.methods)}}}",
                    action="block",
                ),
            ],
            opts=child,
        )
        self.rate_limits = cloudflare.Ruleset(
            f"{name}-rate-limits",
            zone_id=args.zone_id,
            kind="zone",
            phase="http_ratelimit",
            name="project-ai rate limits",
            description="Flood guards above the app's own limits: the app stays the authority",
            rules=self._rate_limit_rules(args, scope),
            opts=child,
        )
        # API clients are automated by design: no challenge (bot fight mode) in front of an
        # API. What the plan allows instead: AI crawlers blocked, and on Enterprise the
        # bot score kept current for rules and analytics.
        enterprise = args.plan == "enterprise"
        self.bots = cloudflare.BotManagement(
            f"{name}-bots",
            zone_id=args.zone_id,
            fight_mode=False,
            enable_js=False,
            ai_bots_protection="block",
            auto_update_model=True if enterprise else None,
            opts=child,
        )
        self.register_outputs({"managed": self.managed.id, "custom": self.custom.id, "rateLimits": self.rate_limits.id})

    @staticmethod
    def _rate_limit_rules(args: EdgeSecurityArgs, scope: str) -> list[cloudflare.RulesetRuleArgs]:
        def rule(ref: str, description: str, expression: str, key: str, limit: RateLimit) -> cloudflare.RulesetRuleArgs:
            return cloudflare.RulesetRuleArgs(
                ref=ref,
                description=description,
                expression=expression,
                action="block",
                ratelimit=cloudflare.RulesetRuleRatelimitArgs(
                    # cf.colo.id is required: counters are per data center.
                    characteristics=["cf.colo.id", key],
                    period=limit.period_seconds,
                    requests_per_period=limit.requests,
                    mitigation_timeout=limit.mitigation_seconds,
                ),
            )

        rules = []
        if args.per_key is not None:
            rules += [
                rule(
                    "per-key-header",
                    f"Per API key ({API_KEY_HEADER})",
                    f'{scope} and any(starts_with(http.request.headers["{API_KEY_HEADER}"][*], "{KEY_PREFIX}"))',
                    f'http.request.headers["{API_KEY_HEADER}"]',
                    args.per_key,
                ),
                rule(
                    "per-key-bearer",
                    "Per API key (Authorization: Bearer)",
                    f'{scope} and any(starts_with(http.request.headers["authorization"][*], "Bearer {KEY_PREFIX}"))',
                    'http.request.headers["authorization"]',
                    args.per_key,
                ),
            ]
        rules.append(rule("per-address", "Per client address", scope, "ip.src", args.per_address))
        return rules
