"""`ops chaos drill | guard | catalog`."""

from __future__ import annotations

from typing import Any


def register(groups: Any) -> None:
    from ops.chaos import catalog, drill, guard

    chaos = groups.add_parser("chaos", help="chaos engineering: local drills, the steady-state guard, the catalog")
    commands = chaos.add_subparsers(dest="command", required=True, metavar="ACTION")
    drill.register(commands)
    guard.register(commands)
    catalog.register(commands)
