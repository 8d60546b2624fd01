"""`ops janitor aws | gcp`: unused resources, a dry run unless --apply."""

from __future__ import annotations

import argparse
import datetime
import difflib
import re
import sys
from collections.abc import Callable
from typing import Any

from ops import arguments as argtypes
from ops.audit import AuditLog

_ENVIRONMENT = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?")
_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_GCP_REGION = re.compile(r"[a-z]+-[a-z]+\d{1,2}")
_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")


def now() -> datetime.datetime:
    """The run's clock (tests replace it: no test waits days)."""
    return datetime.datetime.now(datetime.UTC)


def _environment(value: str) -> str:
    if not _ENVIRONMENT.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an environment name (letters, digits, '-', '_', '.'; at most 63), such as dev"
        )
    return value


def _aws_region(value: str) -> str:
    if not _AWS_REGION.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS region name (such as eu-west-1)")
    from ops.janitor.aws import known_regions

    regions = known_regions()
    if value not in regions:
        close = difflib.get_close_matches(value, regions, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS region{hint}")
    return value


def _gcp_region(value: str) -> str:
    if not _GCP_REGION.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Google Cloud region name (such as us-central1)")
    return value


def _project(value: str) -> str:
    if not _PROJECT.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a Google Cloud project id (6 to 30 of a-z, 0-9, '-', starting with a letter)"
        )
    return value


def register(groups: Any) -> None:
    janitor = groups.add_parser(
        "janitor",
        help="unused cloud resources: find, price and (with --apply) delete what is ours and idle",
        description="Finds unused resources (dry run by default). Deletes only with --apply, and only what carries "
        "the project's ownership tags (part-of=project-ai, managed-by=pulumi, team, environment) and has been idle "
        "for the grace period.",
    )
    clouds = janitor.add_subparsers(dest="cloud", required=True, metavar="CLOUD")

    def common(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--grace-days",
            type=argtypes.count(0, 3650),
            default=7,
            help="delete only what has been idle at least this many days (7)",
        )
        command.add_argument("--environment", type=_environment, help="delete only resources of this environment tag")
        command.add_argument(
            "--max-deletions",
            type=argtypes.count(0, 1000),
            default=10,
            help="refuse to delete anything when more than this would go (10): a guard against a mis-tagged account",
        )
        command.add_argument("--format", choices=("text", "json"), default="text", help="the report's form (text)")
        command.add_argument(
            "--timeout-seconds", type=argtypes.seconds(1, 300), default=20.0, help="each API call's bound (20 s)"
        )
        command.add_argument("--no-prices", action="store_true", help="leave the monthly estimate out")
        command.add_argument("--apply", action="store_true", help="delete; without it, only say what would be deleted")

    aws = clouds.add_parser("aws", help="EBS volumes, Elastic IPs, snapshots, load balancers, instances, ECR images")
    aws.add_argument(
        "--region", dest="regions", type=_aws_region, action="append", required=True, help="a region (repeatable)"
    )
    aws.add_argument("--profile", help="the AWS profile to use (default: the environment's credentials)")
    aws.add_argument(
        "--snapshot-age-days", type=argtypes.count(1, 3650), default=30, help="snapshots older than this (30)"
    )
    aws.add_argument(
        "--keep-snapshots", type=argtypes.count(1, 100), default=1, help="the newest snapshots kept per volume (1)"
    )
    aws.add_argument(
        "--image-age-days", type=argtypes.count(1, 3650), default=90, help="tagged ECR images older than this (90)"
    )
    aws.add_argument(
        "--keep-images", type=argtypes.count(1, 1000), default=10, help="the newest tagged images kept per repository"
    )
    common(aws)
    aws.set_defaults(run=_aws)

    gcp = clouds.add_parser("gcp", help="persistent disks and static addresses")
    gcp.add_argument("--project", type=_project, required=True, help="the project id")
    gcp.add_argument(
        "--region", dest="regions", type=_gcp_region, action="append", default=[], help="a region (repeatable; all)"
    )
    gcp.add_argument("--retries", type=argtypes.count(0, 10), default=3, help="retries of a failed call (3)")
    common(gcp)
    gcp.set_defaults(run=_gcp)


def _prices(arguments: argparse.Namespace) -> Any:
    from ops.janitor import pricing

    return pricing.NONE if arguments.no_prices else pricing.load()


def _run(
    arguments: argparse.Namespace, scope: str, prices: Any, janitors: Callable[[datetime.datetime], list[Any]]
) -> int:
    from ops.janitor.model import Rules
    from ops.janitor.sweep import Report, sweep

    moment = now()
    audit = AuditLog("janitor", dry_run=not arguments.apply, path=arguments.audit_log)
    rules = Rules(datetime.timedelta(days=arguments.grace_days), arguments.environment)
    report = Report(arguments.cloud, scope, not arguments.apply, prices)
    sweep(janitors(moment), rules, moment, arguments.apply, arguments.max_deletions, audit, report)
    report.write(sys.stdout, arguments.format)
    return report.exit_code


def _aws(arguments: argparse.Namespace) -> int:
    from ops.dr.aurora import boto3_clients
    from ops.janitor.aws import AwsJanitor, AwsSettings

    settings = AwsSettings(
        snapshot_age_days=arguments.snapshot_age_days,
        keep_snapshots=arguments.keep_snapshots,
        image_age_days=arguments.image_age_days,
        keep_images=arguments.keep_images,
    )
    clients = boto3_clients(arguments.profile, arguments.timeout_seconds)
    prices = _prices(arguments)
    regions = list(dict.fromkeys(arguments.regions))
    return _run(
        arguments,
        ", ".join(regions),
        prices,
        lambda moment: [AwsJanitor(clients, region, settings, moment, prices) for region in regions],
    )


def _gcp(arguments: argparse.Namespace) -> int:
    from ops.janitor.gcp import GcpJanitor, compute_client

    compute = compute_client(arguments.timeout_seconds)
    prices = _prices(arguments)
    regions = tuple(dict.fromkeys(arguments.regions))
    scope = f"{arguments.project} ({', '.join(regions) or 'every region'})"
    return _run(
        arguments,
        scope,
        prices,
        lambda moment: [GcpJanitor(compute, arguments.project, regions, moment, prices, arguments.retries)],
    )
