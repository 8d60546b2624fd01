"""The edge's side of a regional outage: take the failed region's pool out of the load
balancer (Cloudflare's official Python SDK), so no user waits on its health checks.

Pools are account-wide and named `<prefix>-<stack>` by the edge stack
(components/edge/load_balancing.py); they are found by that name. Disabling a pool the
edge stack declares drifts from the program on purpose: `pulumi up -s prod-global`
enables it again once the region is back (the runbook's last step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ops.steps import OpsError, PreconditionFailed

POOL_PREFIX = "project-ai"


def pool_name(stack: str, prefix: str = POOL_PREFIX) -> str:
    return f"{prefix}-{stack}"


def read_token(path: Path) -> str:
    """The API token, from a file (never a flag or an environment variable, which leak
    into shell history and process listings)."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise OpsError(f"cannot read the Cloudflare API token file {path}: {error.strerror}") from error
    if not token or any(character.isspace() for character in token):
        raise OpsError(f"{path} must hold one Cloudflare API token on one line")
    return token


def cloudflare_client(token: str, base_url: str | None = None, timeout_seconds: float = 20.0, retries: int = 2) -> Any:
    import cloudflare

    # Short timeouts: an edge API that hangs must not hold the runbook for minutes.
    return cloudflare.Cloudflare(api_token=token, base_url=base_url, timeout=timeout_seconds, max_retries=retries)


class EdgePools:
    def __init__(self, client: Any, account_id: str) -> None:
        self.client, self.account_id = client, account_id

    def _call(self, what: str, call: Any) -> Any:
        import cloudflare

        try:
            return call()
        except cloudflare.APIError as error:
            raise OpsError(f"Cloudflare refused to {what}: {error}") from error

    def _pools(self) -> list[Any]:
        return self._call("list pools", lambda: list(self.client.load_balancers.pools.list(account_id=self.account_id)))

    def others_enabled(self, name: str) -> dict[str, Any]:
        """Refuses to disable a pool when no other would serve: a wrong name must not take
        the last healthy region off the edge."""
        pools = self._pools()
        if not any(pool.name == name for pool in pools):
            self.find(name)  # says which pools there are
        others = sorted(str(pool.name) for pool in pools if pool.name != name and pool.enabled)
        if not others:
            raise PreconditionFailed(f"{name} is the last enabled pool: disabling it would leave the edge nothing")
        return {"pool": name, "still_enabled": others}

    def find(self, name: str) -> Any:
        pools = self._pools()
        for pool in pools:
            if pool.name == name:
                return pool
        known = ", ".join(sorted(str(pool.name) for pool in pools)) or "none"
        raise OpsError(f"no load-balancer pool named {name!r} in account {self.account_id} (pools: {known})")

    def enabled(self, name: str) -> bool:
        return bool(self.find(name).enabled)

    def set_enabled(self, name: str, enabled: bool) -> None:
        pool = self.find(name)
        self._call(
            f"{'enable' if enabled else 'disable'} pool {name}",
            lambda: self.client.load_balancers.pools.edit(pool.id, account_id=self.account_id, enabled=enabled),
        )
