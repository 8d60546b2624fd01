"""The Cloudflare edge: zone hardening, global load balancing, security and caching."""
