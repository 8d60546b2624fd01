"""The zone and its hardening: TLS 1.2 at least and 1.3 on, HTTPS only with HSTS, SSL
Full (strict) with Authenticated Origin Pulls, and DNSSEC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare

# A year, with subdomains: what HSTS preload lists ask for.
HSTS_MAX_AGE_SECONDS = 31_536_000
# Setting id -> value, as the zone settings API takes them.
SETTINGS: dict[str, Any] = {
    "min_tls_version": "1.2",
    "tls_1_3": "on",
    "always_use_https": "on",
    "ssl": "strict",
    "security_header": {
        "strict_transport_security": {
            "enabled": True,
            "max_age": HSTS_MAX_AGE_SECONDS,
            "include_subdomains": True,
            "preload": True,
            "nosniff": True,
        }
    },
}


@dataclass(frozen=True)
class ZoneHardeningArgs:
    account_id: str
    zone: str


class ZoneHardening(pulumi.ComponentResource):
    """The zone itself (protected: deleting it would take every record with it) and its settings."""

    def __init__(self, name: str, args: ZoneHardeningArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:edge:ZoneHardening", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.zone = cloudflare.Zone(
            name,
            account=cloudflare.ZoneAccountArgs(id=args.account_id),
            name=args.zone,
            type="full",
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.zone_id: pulumi.Output[str] = self.zone.id
        self.settings = [
            cloudflare.ZoneSetting(
                f"{name}-{setting_id.replace('_', '-')}",
                zone_id=self.zone_id,
                setting_id=setting_id,
                value=value,
                opts=child,
            )
            for setting_id, value in SETTINGS.items()
        ]
        # Each region's ingress verifies Cloudflare's client certificate (region bring-up):
        # with zone-level pulls on, nothing but this zone's proxy reaches an origin.
        self.origin_pulls = cloudflare.AuthenticatedOriginPullsSettings(
            f"{name}-origin-pulls", zone_id=self.zone_id, enabled=True, opts=child
        )
        self.dnssec = cloudflare.ZoneDnssec(f"{name}-dnssec", zone_id=self.zone_id, status="active", opts=child)
        self.register_outputs({"zoneId": self.zone_id, "dnssec": self.dnssec.ds})
