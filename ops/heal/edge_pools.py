"""Taking a failing region's pool out at the edge (Cloudflare, through ops/dr/edge.py's
EdgePools), never the last healthy one: the assessment counts the project's other pools
that are enabled and that Cloudflare's own health checks call healthy (a pool whose
health cannot be read counts as not healthy: the floor fails safe)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ops.dr.edge import POOL_PREFIX, EdgePools
from ops.heal.executors import DISABLE_EDGE_POOL, Action, ExecutorError, Impact
from ops.steps import OpsError


class Edge:
    kinds = frozenset({DISABLE_EDGE_POOL})

    def __init__(self, client: Any, account_id: str, prefix: str = POOL_PREFIX) -> None:
        self.client, self.account_id, self.prefix = client, account_id, prefix
        self.pools = EdgePools(client, account_id)

    def _healthy(self, pool: Any) -> bool:
        import cloudflare

        try:
            health = self.client.load_balancers.pools.health.get(pool.id, account_id=self.account_id)
        except cloudflare.APIError:
            return False
        return bool(health.pop_health and health.pop_health.healthy)

    def assess(self, action: Action) -> Impact:
        import cloudflare

        name = action.params["pool"]
        try:
            pools = list(self.client.load_balancers.pools.list(account_id=self.account_id))
        except cloudflare.APIError as error:
            raise ExecutorError(f"Cloudflare did not list the pools: {type(error).__name__}") from None
        target = next((pool for pool in pools if pool.name == name), None)
        if target is None:
            raise ExecutorError(f"no load-balancer pool named {name!r} in account {self.account_id}")
        ours = [pool for pool in pools if str(pool.name).startswith(f"{self.prefix}-")]
        others = sorted(str(pool.name) for pool in ours if pool.name != name and pool.enabled and self._healthy(pool))
        return Impact(
            "edge",
            units=1,
            population=len(ours),
            serving_after=len(others),
            done=not target.enabled,
            facts={"healthy_others": others},
        )

    def execute(self, action: Action) -> Mapping[str, Any]:
        try:
            self.pools.set_enabled(action.params["pool"], False)
        except OpsError as error:
            raise ExecutorError(str(error)) from None
        return {"disabled_pool": action.params["pool"]}
