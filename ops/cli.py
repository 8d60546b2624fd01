"""`python -m ops`: one CLI, a subcommand group per concern (`ops dr ...`).

Exit codes: 0 done (or a clean dry run), 1 a step failed, 2 bad usage or a refused
precondition (nothing changed), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ops.steps import OpsError, PreconditionFailed


def parser() -> argparse.ArgumentParser:
    from ops import smoke
    from ops.anomaly import cli as anomalies
    from ops.canary import cli as canary
    from ops.chaos import cli as chaos
    from ops.commitments import cli as commitments
    from ops.dr import cli as dr
    from ops.forecast import cli as forecast
    from ops.heal import cli as heal
    from ops.insight import cli as insight
    from ops.janitor import cli as janitor
    from ops.rightsize import cli as rightsize

    root = argparse.ArgumentParser(
        prog="ops",
        description="Project-AI operations: disaster recovery, the canary judge, chaos engineering, "
        "the blue-green smoke test, anomaly detection, forecasting and the insight service. "
        "Commands that change something are dry runs unless given --apply.",
    )
    root.add_argument(
        "--audit-log",
        type=Path,
        metavar="FILE",
        help="also append each step's JSON audit line to FILE (they always go to stderr)",
    )
    groups = root.add_subparsers(dest="group", required=True, metavar="COMMAND")
    anomalies.register(groups)
    dr.register(groups)
    canary.register(groups)
    chaos.register(groups)
    heal.register(groups)
    smoke.register(groups)
    forecast.register(groups)
    insight.register(groups)
    janitor.register(groups)
    rightsize.register(groups)
    commitments.register(groups)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        return arguments.run(arguments)
    except PreconditionFailed as refused:
        print(f"ops: refused: {refused}", file=sys.stderr)
        return 2
    except OpsError as failed:
        print(f"ops: error: {failed}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ops: interrupted; run the same command again to resume (done steps are skipped)", file=sys.stderr)
        return 130
