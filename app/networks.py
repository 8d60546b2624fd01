"""Which address ranges are internal: the only ones a proxy of ours can sit in. Standard
library only, so the Pulumi program's config validation uses the same rule as the app."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

# RFC 6598 shared address space: some clusters give pods addresses from it.
SHARED_ADDRESS_SPACE = IPv4Network("100.64.0.0/10")
INTERNAL = "private, loopback or 100.64.0.0/10"


def internal(network: IPv4Network | IPv6Network) -> bool:
    if network.is_private or network.is_loopback:
        return True
    return isinstance(network, IPv4Network) and network.subnet_of(SHARED_ADDRESS_SPACE)
