"""`ops dr status | switchover | failover | drill`."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from ops import arguments as argtypes
from ops.audit import AuditLog
from ops.steps import Clock, OpsError

# The prod stack's global database (stacks/platforms.py names it after the stack).
GLOBAL_CLUSTER = "project-ai-prod-global"
HOME_REGION = "us-east-1"
# The default bound on lag for a planned switchover: prod's RPO target.
MAX_LAG_SECONDS = 1.0
# prod-gcp's standby, replicated by DMS (components/gcp/replication.py names the job).
STANDBY_JOB = "projects/project-ai-prod/locations/us-central1/migrationJobs/project-ai-prod-gcp-replication"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_ARN = re.compile(r"arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]{0,62}")


def _region(value: str) -> str:
    if not _REGION.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS region name (such as eu-west-1)")
    return value


def _arn(value: str) -> str:
    if not _ARN.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<name>)"
        )
    return value


def _job(value: str) -> str:
    from ops.dr.standby import job_name_problem

    problem = job_name_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def register(groups: Any) -> None:
    dr = groups.add_parser("dr", help="disaster recovery: status, switchover, failover, promote-standby, drill")
    commands = dr.add_subparsers(dest="command", required=True, metavar="ACTION")

    def aws_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--global-cluster", default=GLOBAL_CLUSTER, help=f"default: {GLOBAL_CLUSTER}")
        command.add_argument(
            "--region",
            type=_region,
            help=f"where to ask for the global database ({HOME_REGION}; for a failover, the target's region, "
            "which answers when the writer's does not)",
        )
        command.add_argument("--profile", help="the AWS profile to use (default: the environment's credentials)")
        return command

    status = aws_command("status", "every member of the global database: writer, health, replication lag")
    status.set_defaults(run=_status)

    def changing(command: argparse.ArgumentParser) -> None:
        command.add_argument("--apply", action="store_true", help="act; without it, only say what would be done")

    switch = aws_command("switchover", "planned move of the writer to another region, with no data loss")
    switch.add_argument("--to", dest="target_region", type=_region, required=True, help="the region to write from")
    switch.add_argument(
        "--max-lag-seconds",
        type=argtypes.seconds(0, 86_400),
        default=MAX_LAG_SECONDS,
        help=f"wait until the target's lag is under this ({MAX_LAG_SECONDS:g} s)",
    )
    switch.add_argument(
        "--lag-wait-seconds", type=argtypes.seconds(0, 86_400), default=600.0, help="how long to wait for that (600 s)"
    )
    changing(switch)
    switch.set_defaults(run=_switchover)

    fail = aws_command("failover", "regional outage: promote a secondary region, accepting data loss")
    target = fail.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", dest="target_region", type=_region, help="the region to promote")
    target.add_argument(
        "--to-cluster", dest="target_arn", type=_arn, help="the cluster to promote, by ARN (needed to resume --detach)"
    )
    fail.add_argument("--force", action="store_true", help="fail over even though the writer looks healthy")
    fail.add_argument(
        "--detach",
        action="store_true",
        help="the primary's region is gone: take the target out of the global database (remove_from_global_cluster)",
    )
    edge = fail.add_argument_group("the edge (optional): disable the failed region's pool at Cloudflare")
    edge.add_argument("--edge-pool", help="the failed region's pool, such as project-ai-prod")
    edge.add_argument("--cloudflare-account-id", help="the account holding the pools")
    edge.add_argument(
        "--cloudflare-token-file",
        type=Path,
        help="a file holding an API token with Load Balancing: Monitors and Pools Edit",
    )
    changing(fail)
    fail.set_defaults(run=_failover)

    promote = aws_command(
        "promote-standby", "AWS cannot serve: promote prod-gcp's Cloud SQL standby (the DMS job) to a writer"
    )
    promote.add_argument("--job", type=_job, default=STANDBY_JOB, help=f"the migration job (default: {STANDBY_JOB})")
    promote.add_argument("--force", action="store_true", help="promote even though the job is not replicating")
    changing(promote)
    promote.set_defaults(run=_promote_standby)

    from ops.dr import drill

    drill_command = commands.add_parser(
        "drill", help="rehearse switchover and failover on local PostgreSQL, measuring RPO and RTO"
    )
    drill.add_arguments(drill_command)
    changing(drill_command)
    drill_command.set_defaults(run=lambda arguments: drill.run(arguments, _audit(arguments, "dr-drill")))


def _audit(arguments: argparse.Namespace, runbook: str) -> AuditLog:
    return AuditLog(runbook, dry_run=not getattr(arguments, "apply", False), path=arguments.audit_log)


def _database(arguments: argparse.Namespace, region: str | None = None) -> Any:
    from ops.dr.aurora import AuroraGlobal, boto3_clients

    asked = arguments.region or region or HOME_REGION
    return AuroraGlobal(arguments.global_cluster, asked, boto3_clients(arguments.profile))


def _status(arguments: argparse.Namespace) -> int:
    database = _database(arguments)
    state = database.state()
    members = []
    for member in state.members:
        described = member.describe()
        if not member.is_writer:
            described["lag_seconds"] = database.lag_seconds(member)
        members.append(described)
    print(json.dumps({"global_cluster": state.identifier, "status": state.status, "members": members}, indent=2))
    return 0 if state.writer is not None and state.writer.healthy else 1


def _switchover(arguments: argparse.Namespace) -> int:
    from ops.dr import runbooks

    runbook = runbooks.switchover(
        _database(arguments),
        arguments.target_region,
        arguments.max_lag_seconds,
        runbooks.Timing(lag_wait_seconds=arguments.lag_wait_seconds),
        Clock(),
    )
    runbook.run(_audit(arguments, runbook.name))
    return 0


def _edge(arguments: argparse.Namespace) -> Any:
    from ops.dr import runbooks
    from ops.dr.edge import EdgePools, cloudflare_client, read_token

    given = [arguments.edge_pool, arguments.cloudflare_account_id, arguments.cloudflare_token_file]
    if not any(given):
        return None
    if not all(given):
        raise OpsError("--edge-pool, --cloudflare-account-id and --cloudflare-token-file go together")
    client = cloudflare_client(read_token(arguments.cloudflare_token_file))
    return runbooks.EdgeTarget(EdgePools(client, arguments.cloudflare_account_id), arguments.edge_pool)


def _failover(arguments: argparse.Namespace) -> int:
    from ops.dr import runbooks
    from ops.dr.aurora import arn_region

    # The failed writer's region may not answer: ask the target's own region.
    database = _database(arguments, arguments.target_region or arn_region(arguments.target_arn))
    target_arn = arguments.target_arn or database.state().in_region(arguments.target_region).arn
    runbook = runbooks.failover(
        database, target_arn, arguments.force, arguments.detach, _edge(arguments), runbooks.Timing(), Clock()
    )
    runbook.run(_audit(arguments, runbook.name))
    return 0


def _promote_standby(arguments: argparse.Namespace) -> int:
    from ops.dr import runbooks
    from ops.dr.standby import Standby, dms_client

    # Aurora is asked whether it still serves: a promotion beside it makes a second writer.
    runbook = runbooks.promote_standby(
        Standby(arguments.job, dms_client()), _database(arguments), arguments.force, runbooks.Timing(), Clock()
    )
    runbook.run(_audit(arguments, runbook.name))
    return 0
