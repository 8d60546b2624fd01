"""Cache rules: documentation and static assets cached, API responses bypass the cache,
except GETs declared cacheable, which are cached per API key for a short time."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from components.edge.security import API_KEY_HEADER, quoted, under_any

DOCS_SECONDS = 300
STATIC_EXTENSIONS = ("css", "js", "png", "svg", "ico", "woff2", "json")


@dataclass(frozen=True)
class EdgeCacheArgs:
    zone_id: pulumi.Input[str]
    # Which requests are the API's: an expression on http.host (security.host_scope).
    scope: str
    versioned_prefixes: tuple[str, ...]
    # Unversioned documents: the OpenAPI document.
    docs_paths: tuple[str, ...]
    cacheable_gets: tuple[str, ...]
    cacheable_seconds: int


class EdgeCache(pulumi.ComponentResource):
    def __init__(self, name: str, args: EdgeCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:edge:EdgeCache", name, None, opts)
        scope = args.scope
        api = under_any(args.versioned_prefixes)
        # Later rules override earlier ones where both match: bypass first, exceptions after.
        rules = [
            cloudflare.RulesetRuleArgs(
                ref="api-bypass",
                description="API responses are never cached",
                expression=f"{scope} and ({api})",
                action="set_cache_settings",
                action_parameters=cloudflare.RulesetRuleActionParametersArgs(cache=False),
            ),
            cloudflare.RulesetRuleArgs(
                ref="docs",
                description="The OpenAPI document and static assets",
                expression=(
                    f'{scope} and http.request.method in {{"GET" "HEAD"}} and '
                    f"(http.request.uri.path in {{{quoted(args.docs_paths)}}} or "
                    f'(starts_with(http.request.uri.path, "/static/") and '
                    f"http.request.uri.path.extension in {{{quoted(STATIC_EXTENSIONS)}}}))"
                ),
                action="set_cache_settings",
                action_parameters=cloudflare.RulesetRuleActionParametersArgs(
                    cache=True,
                    edge_ttl=cloudflare.RulesetRuleActionParametersEdgeTtlArgs(
                        mode="override_origin", default=DOCS_SECONDS
                    ),
                    browser_ttl=cloudflare.RulesetRuleActionParametersBrowserTtlArgs(mode="respect_origin"),
                ),
            ),
        ]
        if args.cacheable_gets:
            rules.append(
                cloudflare.RulesetRuleArgs(
                    ref="cacheable-gets",
                    description="GETs declared cacheable: per API key, briefly",
                    expression=(
                        f'{scope} and http.request.method eq "GET" and '
                        f"http.request.uri.path in {{{quoted(args.cacheable_gets)}}}"
                    ),
                    action="set_cache_settings",
                    action_parameters=cloudflare.RulesetRuleActionParametersArgs(
                        cache=True,
                        edge_ttl=cloudflare.RulesetRuleActionParametersEdgeTtlArgs(
                            mode="override_origin", default=args.cacheable_seconds
                        ),
                        browser_ttl=cloudflare.RulesetRuleActionParametersBrowserTtlArgs(mode="bypass"),
                        # One entry per key: one caller never sees another's answer.
                        cache_key=cloudflare.RulesetRuleActionParametersCacheKeyArgs(
                            cache_deception_armor=True,
                            custom_key=cloudflare.RulesetRuleActionParametersCacheKeyCustomKeyArgs(
                                header=cloudflare.RulesetRuleActionParametersCacheKeyCustomKeyHeaderArgs(
                                    includes=[API_KEY_HEADER, "authorization"]
                                )
                            ),
                        ),
                    ),
                )
            )
        self.ruleset = cloudflare.Ruleset(
            f"{name}-cache",
            zone_id=args.zone_id,
            kind="zone",
            phase="http_request_cache_settings",
            name="project-ai cache rules",
            description="Docs and assets cached; the API bypasses, but for declared GETs",
            rules=rules,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"ruleset": self.ruleset.id})
