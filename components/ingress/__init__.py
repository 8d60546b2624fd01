from components.ingress.origin import (
    CLOUDFLARE_IPV4,
    CLOUDFLARE_IPV6,
    ORIGIN_PULL_CA,
    AcmeIssuerArgs,
    EdgeOrigin,
    EdgeOriginArgs,
)

__all__ = ["CLOUDFLARE_IPV4", "CLOUDFLARE_IPV6", "ORIGIN_PULL_CA", "AcmeIssuerArgs", "EdgeOrigin", "EdgeOriginArgs"]
