"""The client's address behind the ingress: X-Forwarded-For only through trusted hops."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address

Networks = tuple[IPv4Network | IPv6Network, ...]


def _trusted(address: str, trusted: Networks) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False  # not an address (a forged hop, "unknown"): never a proxy of ours
    return any(ip in network for network in trusted)


def client_address(peer: str | None, forwarded: str | None, trusted: Networks) -> str:
    """X-Forwarded-For counts only from a trusted proxy, read from the right: each proxy
    appends the address it saw, so the right-most entry that is not a trusted proxy is
    the client; anything to its left the client could have written."""
    peer = peer or "unknown"
    if not forwarded or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer
