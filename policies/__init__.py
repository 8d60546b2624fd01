"""CrossGuard policy packs (zero-trust, cost) and the engine they share with preflight."""
