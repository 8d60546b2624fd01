"""The Aurora global database, as on-call sees it and moves it (boto3).

- `state()`: every member cluster, which one writes, each one's health as its own region
  answers (a region that does not answer is `unreachable`, not an error), and each
  secondary's replication lag from CloudWatch (`AuroraGlobalDBReplicationLag`).
- Planned move: `switchover_global_cluster`, no data loss; Aurora waits for the target to
  catch up, and the runbook first waits until the lag is under its bound.
- Regional outage: `failover_global_cluster` with `AllowDataLoss`, to a secondary.
- Where the primary's region is gone so completely that the global control plane cannot
  act: `remove_from_global_cluster` on the secondary, which then stands alone as a
  writer (the global database is rebuilt from it afterwards).

Calls carry short timeouts and few retries: a frozen endpoint costs seconds, not the night.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from ops.steps import OpsError

# A cluster's health, from its status as its own region reports it. Only "down" lets a
# writer be failed over without --force; "unknown" (a status we cannot judge, an API that
# refused us) is never taken for "down".
HEALTHY, DOWN, UNKNOWN = "healthy", "down", "unknown"
SERVING = {
    "available",
    "backing-up",
    "maintenance",
    "modifying",
    "renaming",
    "upgrading",
    "resetting-master-credentials",
}
NOT_SERVING = {
    "stopped",
    "stopping",
    "failed",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "incompatible-network",
    "incompatible-parameters",
    "incompatible-restore",
    "migration-failed",
    "storage-full",
    "missing",
}
# The region does not answer at all: what a regional outage looks like from outside.
_SILENT = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)
LAG_METRIC = "AuroraGlobalDBReplicationLag"  # milliseconds, reported by each secondary
LAG_WINDOW = datetime.timedelta(minutes=3)

# (service, region) -> a boto3 client; tests pass moto's or a stubbed one.
Clients = Callable[[str, str], Any]


def boto3_clients(
    profile: str | None = None, timeout_seconds: float = 20.0, attempts: int = 3, endpoint_url: str | None = None
) -> Clients:
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=profile)
    except ProfileNotFound as error:
        raise OpsError(f"no AWS profile named {profile!r} (~/.aws/config): {error}") from error
    config = Config(
        connect_timeout=min(5.0, timeout_seconds),
        read_timeout=timeout_seconds,
        retries={"total_max_attempts": attempts, "mode": "standard"},
    )
    cache: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str) -> Any:
        if (service, region) not in cache:
            cache[service, region] = session.client(
                service, region_name=region, config=config, endpoint_url=endpoint_url
            )
        return cache[service, region]

    return client


def arn_region(arn: str) -> str:
    # arn:aws:rds:<region>:<account>:cluster:<id>
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "rds":
        raise OpsError(f"not an RDS cluster ARN: {arn!r}")
    return parts[3]


@dataclass(frozen=True)
class Member:
    arn: str
    region: str
    identifier: str
    is_writer: bool
    # The cluster's status as its own region reports it, or "unreachable: ...".
    status: str
    health: str = UNKNOWN
    # A secondary's link to the writer ("connected", "pending-resync"), where reported.
    synchronization: str | None = None

    @property
    def healthy(self) -> bool:
        return self.health == HEALTHY

    def describe(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "cluster": self.identifier,
            "role": "writer" if self.is_writer else "secondary",
            "status": self.status,
            "health": self.health,
            **({"synchronization": self.synchronization} if self.synchronization else {}),
        }


@dataclass(frozen=True)
class GlobalState:
    identifier: str
    status: str
    members: tuple[Member, ...]
    # A switchover or failover under way: the cluster it moves the writer to.
    moving_to: str | None = None

    @property
    def writer(self) -> Member | None:
        return next((member for member in self.members if member.is_writer), None)

    def in_region(self, region: str) -> Member:
        for member in self.members:
            if member.region == region:
                return member
        regions = ", ".join(sorted(member.region for member in self.members)) or "none"
        raise OpsError(f"global database {self.identifier} has no member in {region} (members: {regions})")

    def member(self, arn: str) -> Member | None:
        return next((member for member in self.members if member.arn == arn), None)


class AuroraGlobal:
    def __init__(self, identifier: str, home_region: str, clients: Clients) -> None:
        # Any region of the global database answers for it; `home_region` is where we ask.
        self.identifier, self.home_region, self.clients = identifier, home_region, clients

    def _global(self) -> dict[str, Any]:
        try:
            found = self.clients("rds", self.home_region).describe_global_clusters(
                GlobalClusterIdentifier=self.identifier
            )["GlobalClusters"]
        except ClientError as error:
            raise OpsError(f"cannot read global database {self.identifier} in {self.home_region}: {error}") from error
        except BotoCoreError as error:
            raise OpsError(f"{self.home_region} did not answer for {self.identifier}: {error}") from error
        if not found:
            raise OpsError(f"global database {self.identifier} not found from {self.home_region}")
        return found[0]

    def _status(self, arn: str) -> tuple[str, str]:
        """The cluster's status and health, as its own region answers."""
        region = arn_region(arn)
        try:
            clusters = self.clients("rds", region).describe_db_clusters(DBClusterIdentifier=arn)["DBClusters"]
        except _SILENT as error:
            return f"unreachable: {error}", DOWN
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "DBClusterNotFoundFault":
                return "missing", DOWN
            # The region's API failing (5xx) is an outage; a refusal (access, throttling) is not.
            failing = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
            return f"unreachable: {error}", DOWN if failing else UNKNOWN
        except BotoCoreError as error:
            return f"unreadable: {error}", UNKNOWN
        status = clusters[0]["Status"] if clusters else "missing"
        return status, HEALTHY if status in SERVING else DOWN if status in NOT_SERVING else UNKNOWN

    def state(self) -> GlobalState:
        described = self._global()
        members = []
        for entry in described.get("GlobalClusterMembers", []):
            status, health = self._status(entry["DBClusterArn"])
            members.append(
                Member(
                    arn=entry["DBClusterArn"],
                    region=arn_region(entry["DBClusterArn"]),
                    identifier=entry["DBClusterArn"].rsplit(":", 1)[-1],
                    is_writer=bool(entry.get("IsWriter")),
                    status=status,
                    health=health,
                    synchronization=entry.get("SynchronizationStatus"),
                )
            )
        moving = described.get("FailoverState") or {}
        moving_to = moving.get("ToDbClusterArn") if moving.get("Status") in ("pending", "failing-over") else None
        return GlobalState(self.identifier, described.get("Status", "unknown"), tuple(members), moving_to)

    def lag_seconds(self, member: Member, now: datetime.datetime | None = None) -> float | None:
        """The secondary's worst replication lag over the last minutes, or None when
        CloudWatch has no recent figure (which the runbook treats as unknown, not zero)."""
        now = now or datetime.datetime.now(datetime.UTC)
        try:
            points = self.clients("cloudwatch", member.region).get_metric_statistics(
                Namespace="AWS/RDS",
                MetricName=LAG_METRIC,
                Dimensions=[{"Name": "DBClusterIdentifier", "Value": member.identifier}],
                StartTime=now - LAG_WINDOW,
                EndTime=now,
                Period=60,
                Statistics=["Maximum"],
            )["Datapoints"]
        except (ClientError, BotoCoreError):
            return None
        if not points:
            return None
        latest = max(points, key=lambda point: point["Timestamp"])
        return latest["Maximum"] / 1000.0

    def _under_way(self, target_arn: str) -> bool:
        """A move to `target_arn` already under way (a resumed run): nothing to ask for.
        A move to another cluster is refused: two moves must never race."""
        moving_to = self.state().moving_to
        if moving_to is not None and moving_to != target_arn:
            raise OpsError(f"a move of the writer to {moving_to} is under way; wait for it, then run again")
        return moving_to == target_arn

    def switchover(self, target: Member) -> None:
        if not self._under_way(target.arn):
            self.clients("rds", self.home_region).switchover_global_cluster(
                GlobalClusterIdentifier=self.identifier, TargetDbClusterIdentifier=target.arn
            )

    def failover(self, target: Member) -> None:
        # AllowDataLoss: the writer's region is out; what it had not shipped is lost (RPO).
        if not self._under_way(target.arn):
            self.clients("rds", target.region).failover_global_cluster(
                GlobalClusterIdentifier=self.identifier, TargetDbClusterIdentifier=target.arn, AllowDataLoss=True
            )

    def writes_from(self, region: str) -> bool:
        """The move is over: the writer is in `region`, serving, and the global database is
        no longer switching or failing over."""
        state = self.state()
        writer = state.writer
        return writer is not None and writer.region == region and writer.healthy and state.status == "available"

    def detach(self, arn: str) -> None:
        self.clients("rds", arn_region(arn)).remove_from_global_cluster(
            GlobalClusterIdentifier=self.identifier, DbClusterIdentifier=arn
        )

    def detached(self, arn: str) -> bool:
        """The cluster no longer belongs to the global database: it writes alone. Asked
        of the cluster itself, since a detached one is no member to find by region."""
        try:
            clusters = self.clients("rds", arn_region(arn)).describe_db_clusters(DBClusterIdentifier=arn)["DBClusters"]
        except (ClientError, BotoCoreError) as error:
            raise OpsError(f"cannot read cluster {arn}: {error}") from error
        return bool(clusters) and not clusters[0].get("GlobalClusterIdentifier")
