"""`ops canary judge | serve`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ops import arguments as argtypes
from ops.canary.judge import FAIL, INCONCLUSIVE, Thresholds

# judge's exit codes: 0 pass, 1 fail, 3 inconclusive (2 is bad usage, as everywhere).
EXIT = {FAIL: 1, INCONCLUSIVE: 3}


def register(groups: Any) -> None:
    canary = groups.add_parser("canary", help="the statistical canary judge: canary against baseline")
    commands = canary.add_subparsers(dest="command", required=True, metavar="ACTION")

    def thresholds(command: argparse.ArgumentParser) -> None:
        defaults = Thresholds()
        command.add_argument("--prometheus", required=True, help="Prometheus's address, such as http://prometheus:9090")
        command.add_argument("--alpha", type=argtypes.fraction, default=defaults.alpha, help=f"({defaults.alpha})")
        command.add_argument(
            "--min-requests",
            type=argtypes.count(1, 10_000_000),
            default=defaults.min_requests,
            help=f"fewer on either side is inconclusive ({defaults.min_requests})",
        )
        command.add_argument(
            "--min-superiority",
            type=argtypes.fraction,
            default=defaults.min_superiority,
            help=f"latency fails only when P(canary slower) exceeds 0.5 by this ({defaults.min_superiority})",
        )
        command.add_argument(
            "--min-error-increase",
            type=argtypes.fraction,
            default=defaults.min_error_increase,
            help=f"errors fail only when the rate is higher by this ({defaults.min_error_increase})",
        )

    judge = commands.add_parser("judge", help="one verdict, printed as JSON; exit 0 pass, 1 fail, 3 inconclusive")
    judge.add_argument("--namespace", required=True)
    judge.add_argument("--canary", required=True, help="the canary's pod-template hash")
    judge.add_argument("--baseline", required=True, help="the stable version's pod-template hash")
    judge.add_argument("--window-seconds", type=argtypes.count(60, 3600), default=300, help="(300)")
    thresholds(judge)
    judge.set_defaults(run=_judge)

    serve = commands.add_parser("serve", help="Argo Rollouts' web metric provider: GET /v1/judge")
    serve.add_argument("--listen", default="127.0.0.1", help="the address to listen on (127.0.0.1; 0.0.0.0 in a pod)")
    serve.add_argument("--port", type=argtypes.count(1, 65535), default=8080, help="(8080)")
    thresholds(serve)
    serve.set_defaults(run=_serve)


def _thresholds(arguments: argparse.Namespace) -> Thresholds:
    return Thresholds(arguments.alpha, arguments.min_requests, arguments.min_superiority, arguments.min_error_increase)


def _judge(arguments: argparse.Namespace) -> int:
    from ops.canary.judge import judge
    from ops.canary.prometheus import Prometheus, queries
    from ops.steps import OpsError

    for pod_hash in (arguments.canary, arguments.baseline):
        try:
            queries(arguments.namespace, pod_hash, arguments.window_seconds)
        except ValueError as problem:
            raise OpsError(str(problem)) from None
    import time

    prometheus = Prometheus(arguments.prometheus)
    at = time.time()  # both arms over the very same window
    try:
        verdict = judge(
            prometheus.arm(arguments.namespace, arguments.canary, arguments.window_seconds, at),
            prometheus.arm(arguments.namespace, arguments.baseline, arguments.window_seconds, at),
            _thresholds(arguments),
        )
    finally:
        prometheus.close()
    print(json.dumps(verdict.as_json(), indent=2))
    return EXIT.get(verdict.verdict, 0)


def _serve(arguments: argparse.Namespace) -> int:
    from ops.canary.prometheus import Prometheus
    from ops.canary.server import JudgeServer

    server = JudgeServer((arguments.listen, arguments.port), Prometheus(arguments.prometheus), _thresholds(arguments))
    print(f"ops canary: judging on http://{arguments.listen}:{server.server_address[1]}/v1/judge", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
