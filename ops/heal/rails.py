"""The safety rails an action must pass before it may act: rate limits (per target, per
kind, in total, over a sliding window), the blast-radius bound (members of one scope
touched per window, as a count and as a share of the scope), and the edge's floor (never
the last healthy pool). Approval is decided by the catalog (catalog.KindRails.approval).

Every action taken counts, dry runs included, so that a dry run refuses what a real run
would refuse.
"""

from __future__ import annotations

import math

from ops.heal.catalog import Rails
from ops.heal.executors import Action, Impact

# (kind, target, scope, units) of each action in the window, from the store.
Touched = list[tuple[str, str, str, int]]


def refusal(rails: Rails, action: Action, impact: Impact, touched: Touched) -> str | None:
    """Why the rails refuse the action now, or None if it may go ahead."""
    bounds = rails.of(action.kind)
    window = f"in the last {rails.window_seconds:g} s"
    if impact.serving_after is not None and impact.serving_after < 1:
        return f"edge floor: {action.target} is the last healthy pool; taking it out leaves nothing serving"
    if len(touched) >= rails.total:
        return f"rate limit: {len(touched)} actions {window}; at most {rails.total} in total"
    same_kind = [touch for touch in touched if touch[0] == action.kind]
    if len(same_kind) >= bounds.per_kind:
        return f"rate limit: {len(same_kind)} {action.kind} actions {window}; at most {bounds.per_kind}"
    on_target = sum(1 for touch in same_kind if touch[1] == action.target)
    if on_target >= bounds.per_target:
        return f"rate limit: {action.kind} on {action.target} {on_target} times {window}; at most {bounds.per_target}"
    in_scope = sum(touch[3] for touch in same_kind if touch[2] == impact.scope)
    limit = bounds.max_units
    if impact.population:
        # At least one member: a workload of one replica may still have it restarted.
        limit = min(limit, max(1, math.floor(bounds.max_share * impact.population)))
    if in_scope + impact.units > limit:
        return (
            f"blast radius: {impact.scope} already had {in_scope} touched {window}, this adds {impact.units}; "
            f"at most {limit} (of {impact.population or 'uncounted'})"
        )
    return None
