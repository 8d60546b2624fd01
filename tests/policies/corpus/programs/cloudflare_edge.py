"""A Cloudflare edge for an API: the zone with strict TLS, HTTPS only, TLS 1.2 minimum
and 1.3 on, a medium security level and the browser integrity check, authenticated
origin pulls, the managed WAF rulesets in block mode, a custom WAF rule and a rate
limit, proxied records, a load balancer over two health-checked origin pools, and a
Worker whose API key is a secret binding."""

import pulumi_cloudflare as cloudflare

ACCOUNT = "0123456789abcdef0123456789abcdef"

zone = cloudflare.Zone("shop", account={"id": ACCOUNT}, name="shop.example.com", type="full")
for setting, value in (
    ("ssl", "strict"),
    ("always_use_https", "on"),
    ("min_tls_version", "1.2"),
    ("tls_1_3", "on"),
    ("security_level", "medium"),
    ("browser_check", "on"),
    ("automatic_https_rewrites", "on"),
):
    cloudflare.ZoneSetting(setting, zone_id=zone.id, setting_id=setting, value=value)
cloudflare.AuthenticatedOriginPullsSettings("shop", zone_id=zone.id, enabled=True)

cloudflare.Ruleset(
    "managed-waf",
    zone_id=zone.id,
    kind="zone",
    name="managed WAF",
    phase="http_request_firewall_managed",
    rules=[
        {
            "action": "execute",
            "expression": "true",
            "description": "Cloudflare Managed Ruleset",
            "enabled": True,
            "action_parameters": {"id": "efb7b8c949ac4650a09736fc376e9aee"},
        },
        {
            "action": "execute",
            "expression": "true",
            "description": "OWASP Core Ruleset",
            "enabled": True,
            "action_parameters": {"id": "4814384a9e5d4991b9815dcfc25d2f1f"},
        },
    ],
)
cloudflare.Ruleset(
    "custom-waf",
    zone_id=zone.id,
    kind="zone",
    name="custom WAF",
    phase="http_request_firewall_custom",
    rules=[
        {
            "action": "block",
            "expression": '(http.request.uri.path starts_with "/admin" and ip.src.country ne "DE")',
            "description": "admin only from the office country",
            "enabled": True,
        }
    ],
)
cloudflare.Ruleset(
    "rate-limit",
    zone_id=zone.id,
    kind="zone",
    name="rate limits",
    phase="http_ratelimit",
    rules=[
        {
            "action": "block",
            "expression": '(http.request.uri.path starts_with "/api/login")',
            "description": "login attempts",
            "enabled": True,
            "ratelimit": {
                "characteristics": ["ip.src", "cf.colo.id"],
                "period": 60,
                "requests_per_period": 20,
                "mitigation_timeout": 600,
            },
        }
    ],
)

monitor = cloudflare.LoadBalancerMonitor(
    "api-health",
    account_id=ACCOUNT,
    type="https",
    method="GET",
    path="/healthz",
    expected_codes="200",
    interval=60,
    retries=2,
    timeout=5,
)
pools = [
    cloudflare.LoadBalancerPool(
        f"api-{region}",
        account_id=ACCOUNT,
        name=f"api-{region}",
        monitor=monitor.id,
        origins=[{"name": f"api-{region}", "address": f"api-{region}.origin.example.com", "enabled": True}],
        check_regions=["WEU"],
    )
    for region in ("eu-west", "eu-central")
]
cloudflare.LoadBalancer(
    "api",
    zone_id=zone.id,
    name="api.shop.example.com",
    default_pools=[pool.id for pool in pools],
    fallback_pool=pools[1].id,
    steering_policy="dynamic_latency",
    proxied=True,
)

cloudflare.DnsRecord(
    "www",
    zone_id=zone.id,
    name="www.shop.example.com",
    type="CNAME",
    content="api.shop.example.com",
    proxied=True,
    ttl=1,
)
cloudflare.DnsRecord(
    "api-origin-eu-west",
    zone_id=zone.id,
    name="origin.shop.example.com",
    type="A",
    content="198.51.100.20",
    proxied=True,
    ttl=1,
)
cloudflare.DnsRecord("spf", zone_id=zone.id, name="shop.example.com", type="TXT", content='"v=spf1 -all"', ttl=3600)

cloudflare.WorkersScript(
    "edge-auth",
    account_id=ACCOUNT,
    script_name="edge-auth",
    main_module="worker.js",
    content="export default { async fetch(request, env) { return fetch(request); } };",
    compatibility_date="2025-06-01",
    bindings=[
        {"name": "AUTH_API_KEY", "type": "secret_text", "text": "synced-from-vault"},
        {"name": "UPSTREAM", "type": "plain_text", "text": "https://api.shop.example.com"},
    ],
)
