"""`ops heal serve | approve | stats | drill`: the self-healing Alertmanager receiver, and its drill."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ops import arguments as argtypes


def register(groups: Any) -> None:
    heal = groups.add_parser("heal", help="self-healing: Alertmanager's alerts to runbook actions, within safety rails")
    commands = heal.add_subparsers(dest="command", required=True, metavar="ACTION")

    def state(command: argparse.ArgumentParser) -> None:
        command.add_argument("--state-dir", type=Path, required=True, help="where decisions and outcomes are kept")
        command.add_argument("--catalog", type=Path, help="the runbook catalog (the packaged ops/heal/runbooks.yaml)")

    serve = commands.add_parser("serve", help="the webhook receiver; a dry run (decisions only) unless --apply")
    state(serve)
    serve.add_argument("--token-file", type=Path, required=True, help="the bearer token Alertmanager sends")
    serve.add_argument("--approval-token-file", type=Path, help="enables POST /v1/approvals/ID with this token")
    serve.add_argument("--apply", action="store_true", help="act (without it: audit what would be done)")
    serve.add_argument("--listen", default="127.0.0.1", help="the address to listen on (127.0.0.1; 0.0.0.0 in a pod)")
    serve.add_argument("--port", type=argtypes.count(0, 65535), default=8080, help="(8080; 0: any free port)")
    serve.add_argument("--kubernetes", choices=("in-cluster", "off"), default="in-cluster", help="(in-cluster)")
    serve.add_argument("--kubeconfig", type=Path, help="use this kubeconfig instead of the pod's service account")
    serve.add_argument("--cloudflare-token-file", type=Path, help="enables edge pool removal")
    serve.add_argument("--cloudflare-account-id", help="the account holding the load-balancer pools")
    serve.add_argument("--pagerduty-key-file", type=Path, help="enables incidents: the Events API v2 routing key")
    serve.add_argument("--timeout-seconds", type=argtypes.seconds(0.5, 60), default=10.0, help="per API call (10)")
    serve.set_defaults(run=_serve)

    approve = commands.add_parser("approve", help="release a decision held for approval (its id is in the audit line)")
    approve.add_argument("id")
    state(approve)
    approve.set_defaults(run=_approve)

    stats = commands.add_parser("stats", help="each (alert, action) pair's outcomes: success, score, MTTR")
    state(stats)
    stats.set_defaults(run=_stats)

    from ops.heal import drill

    drill.register(commands)


def _catalog(arguments: argparse.Namespace) -> Any:
    from ops.heal import catalog

    return catalog.load(arguments.catalog or catalog.CATALOG)


def _healer(arguments: argparse.Namespace, executors: dict[str, Any], apply: bool) -> Any:
    from collections import deque

    from ops.audit import AuditLog
    from ops.heal.healer import Healer
    from ops.heal.store import Store

    # A long-running server keeps only its recent lines in memory; the file has them all.
    audit = AuditLog("heal", dry_run=not apply, path=arguments.audit_log, lines=deque(maxlen=1000))  # type: ignore[arg-type]
    return Healer(_catalog(arguments), executors, Store(arguments.state_dir), audit)


def _executors(arguments: argparse.Namespace) -> dict[str, Any]:
    from ops.heal.executors import by_kind
    from ops.steps import PreconditionFailed

    found: list[Any] = []
    if arguments.kubernetes != "off":
        from ops.heal.kube import Kubernetes, api_client

        timeout = arguments.timeout_seconds
        found.append(Kubernetes(api_client(kubeconfig=arguments.kubeconfig), min(3.0, timeout), timeout))
    if (arguments.cloudflare_token_file is None) != (arguments.cloudflare_account_id is None):
        raise PreconditionFailed("give both --cloudflare-token-file and --cloudflare-account-id, or neither")
    if arguments.cloudflare_token_file is not None:
        from ops.dr.edge import cloudflare_client
        from ops.heal.credentials import read_secret
        from ops.heal.edge_pools import Edge

        token = read_secret(arguments.cloudflare_token_file, "Cloudflare API token")
        client = cloudflare_client(token, timeout_seconds=arguments.timeout_seconds, retries=0)
        found.append(Edge(client, arguments.cloudflare_account_id))
    if arguments.pagerduty_key_file is not None:
        from ops.heal.credentials import read_secret
        from ops.heal.pagerduty import PagerDuty

        key = read_secret(arguments.pagerduty_key_file, "PagerDuty routing key")
        found.append(PagerDuty(key, timeout_seconds=arguments.timeout_seconds))
    return by_kind(found)


def _serve(arguments: argparse.Namespace) -> int:
    from ops.heal.credentials import BearerToken
    from ops.heal.server import HealServer

    webhook = BearerToken(arguments.token_file, "webhook token")
    approvals = None
    if arguments.approval_token_file is not None:
        approvals = BearerToken(arguments.approval_token_file, "approval token")
    healer = _healer(arguments, _executors(arguments), arguments.apply)
    server = HealServer((arguments.listen, arguments.port), healer, webhook, approvals)
    mode = "acting" if arguments.apply else "dry run (give --apply to act)"
    print(f"ops heal: {mode}; alerts on http://{arguments.listen}:{server.server_address[1]}/v1/alerts", flush=True)
    healer.start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        healer.stop()
        healer.store.close()
    return 0


def _approve(arguments: argparse.Namespace) -> int:
    from ops.heal.store import StoreError
    from ops.steps import PreconditionFailed

    healer = _healer(arguments, {}, apply=False)
    try:
        pending = healer.approve(arguments.id, by="cli")
    except StoreError as refused:
        raise PreconditionFailed(str(refused)) from None
    finally:
        healer.store.close()
    print(f"approved {pending.id}: {pending.action.kind} on {pending.action.target}; the receiver carries it out")
    return 0


def _stats(arguments: argparse.Namespace) -> int:
    import time

    from ops.heal import learning
    from ops.heal.store import Store

    store = Store(arguments.state_dir)
    try:
        table = learning.records(store.attempts(), _catalog(arguments).rails.outcome_seconds, time.time())
    finally:
        store.close()
    print(learning.report(table))
    return 0
