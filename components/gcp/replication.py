"""DatabaseReplication: the primary region's Aurora PostgreSQL replicated continuously
into a Cloud SQL standby in this project, by Google's Database Migration Service (DMS),
over the HA VPN to the primary's VPC (components/gcp/vpn.py), with an alert when the
replication falls further behind than the region's RPO.

**Why DMS, and not PostgreSQL's own logical replication.** Both decode the primary's WAL
(Aurora's `rds.logical_replication`). With publication and subscription, this program
would own everything around them: SQL jobs that create the publication on Aurora and the
subscription (holding the source's credentials) on Cloud SQL, across two clouds; the
replication slot's hygiene; a lag exporter, since Cloud Monitoring has no metric for a
subscription's lag; and the switchover (drop the subscription, reset every sequence,
repoint). DMS is a managed, continuous job that does the initial copy and the change
capture, restarts itself, reports its lag to Cloud Monitoring
(`datamigration.googleapis.com/migration_job/max_replica_sec_lag`, alerted on here)
and promotes the standby in one operation, which is what `ops dr` runs at a switchover.
What it costs, and what the rest of the project must know:

- The source needs pglogical: `rds.logical_replication=1` and `pglogical` in
  `shared_preload_libraries` in the primary's cluster parameter group
  (components/aws/database.py, `platform.crossCloudReplicas`); both are static, so they
  take effect at the writer's next reboot. DMS logs in as a replication user with
  `rds_superuser` and `rds_replication`, created on the primary once (README); its
  password is generated here, handed to DMS (which stores it encrypted) and exported as a
  secret for that one step, never in a stack file.
- The standby is DMS-managed: DMS creates the Cloud SQL instance from the destination
  connection profile's settings (private IP in the VPC only, TLS required) and keeps it a
  read-only replica until it is promoted. It is not a `gcp.sql.DatabaseInstance` of this
  program, so the zero-trust pack's Cloud SQL rules do not see it: `gcp-dms-private-tls`
  holds the profiles to the same (no public IP, TLS required, the source read over SSL).
- pglogical does not replicate DDL: a migration on the primary must reach the standby
  through `pglogical.replicate_ddl_command` (new tables joined to the replication set),
  or the job be restarted; users and roles are not replicated, and sequences may lag
  until promotion. Tables without a primary key get their inserts only.
- The region's app keeps its own Cloud SQL until a switchover promotes the standby.

**After the promotion** (`ops dr promote-standby`, then `promoted` here, from the stack's
`disasterRecovery.standbyPromoted`) the standby is a standalone writer and the job is
COMPLETED, which DMS cannot start again. The job and both profiles stay declared exactly
as they were, so a `pulumi up` has nothing to change on them: the job ignores its
`desiredState` (no `up` ever tries to start it again), all three are `protect`ed (the
engine refuses to delete or replace them, whatever the program says later) on top of
`deletion_policy: PREVENT` (the provider refuses to delete them), which the standby and
the job keep in every environment once promoted. The lag alert stays, disabled: a
completed job reports no lag, which its absence condition would page on forever. The
standby's objects belong to DMS's `cloudsqlexternalsync` role until the app's bootstrap
hands them to its owner group (components/vault/database.py, `adoption`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from components.labels import Ownership, cloud_tags

PORT = 5432
# The standby's administrator (Cloud SQL for PostgreSQL's), whose first password the
# destination profile sets; and the role DMS gives every object it copies.
STANDBY_ROOT_USER = "postgres"
MIGRATED_OBJECTS_OWNER = "cloudsqlexternalsync"
LAG_METRIC = "datamigration.googleapis.com/migration_job/max_replica_sec_lag"
JOB_RESOURCE = "datamigration.googleapis.com/MigrationJob"
# The lag is sampled every minute; it must stay above the RPO this long to page, so one
# burst of writes does not. No sample at all this long: the job is not replicating.
LAG_DURATION_SECONDS = 300
SILENCE_SECONDS = 600


def lag_threshold_seconds(rpo_seconds: int) -> float:
    """The lag above which a failover would lose more than the RPO allows."""
    return float(rpo_seconds)


@dataclass(frozen=True)
class DatabaseReplicationArgs:
    owner: Ownership
    # The DMS resources' id prefix, and where they live.
    name: str
    region: str
    # The VPC the standby gets its private address in (its private services range).
    network: pulumi.Input[str]
    # The primary's writer endpoint (its contract's databaseWriter), and DMS's user there.
    source_host: pulumi.Input[str]
    source_username: str
    # The standby's engine and machine type.
    database_version: str
    tier: str
    # The region's RPO target (disasterRecovery.rpoSeconds): the lag alert's threshold.
    rpo_seconds: int
    notification_channels: tuple[pulumi.Input[str], ...]
    deletion_protection: bool
    # False: the job is created, not started (the primary has no replication user yet).
    start: bool = True
    # The job was promoted: the standby is a writer the region serves from (see above).
    promoted: bool = False


class DatabaseReplication(pulumi.ComponentResource):
    source: gcp.databasemigrationservice.ConnectionProfile
    source_username: str
    standby: gcp.databasemigrationservice.ConnectionProfile
    job: gcp.databasemigrationservice.MigrationJob
    lag_alert: gcp.monitoring.AlertPolicy
    # DMS's password on the primary, and the standby's first root password: secrets.
    source_password: pulumi.Output[str]
    standby_root_password: pulumi.Output[str]
    # The standby's private address, once DMS has created it.
    standby_address: pulumi.Output[str | None]

    def __init__(self, name: str, args: DatabaseReplicationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:gcp:DatabaseReplication", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.source_username = args.source_username
        labels = cloud_tags(args.owner, "database")
        # Kept on a destroy in prod: the standby holds a copy of production's data; once
        # promoted, in any environment: it is the region's database.
        deletion_policy = "PREVENT" if args.deletion_protection or args.promoted else "DELETE"
        # Once promoted, the engine refuses to delete or replace any of the three.
        kept = pulumi.ResourceOptions(parent=self, protect=True) if args.promoted else child
        source_password = random.RandomPassword(f"{name}-source", length=40, special=False, opts=child)
        self.source_password = pulumi.Output.secret(source_password.result)
        root_password = random.RandomPassword(f"{name}-standby-root", length=40, special=False, opts=child)
        self.standby_root_password = pulumi.Output.secret(root_password.result)
        self.source = gcp.databasemigrationservice.ConnectionProfile(
            f"{name}-source",
            connection_profile_id=f"{args.name}-source",
            location=args.region,
            display_name=f"{args.name} source: the primary's Aurora writer",
            role="SOURCE",
            postgresql={
                "host": args.source_host,
                "port": PORT,
                "username": args.source_username,
                "password": self.source_password,
                # Aurora refuses plaintext (rds.force_ssl); encrypted as the app's own
                # connections are (sslmode=require).
                "ssl": {"type": "REQUIRED"},
            },
            labels=labels,
            opts=kept,
        )
        self.standby = gcp.databasemigrationservice.ConnectionProfile(
            f"{name}-standby",
            connection_profile_id=f"{args.name}-standby",
            location=args.region,
            display_name=f"{args.name} standby: Cloud SQL, managed by DMS",
            role="DESTINATION",
            cloudsql={
                "settings": {
                    "source_id": self.source.name,
                    "database_version": args.database_version,
                    "tier": args.tier,
                    # PostgreSQL 16+ defaults to Enterprise Plus, which refuses db-custom tiers.
                    "edition": "ENTERPRISE",
                    "data_disk_type": "PD_SSD",
                    "auto_storage_increase": True,
                    "activation_policy": "ALWAYS",
                    "root_password": self.standby_root_password,
                    "ip_config": {"enable_ipv4": False, "private_network": args.network, "require_ssl": True},
                    "user_labels": labels,
                }
            },
            labels=labels,
            deletion_policy=deletion_policy,
            opts=kept,
        )
        self.job = gcp.databasemigrationservice.MigrationJob(
            f"{name}-job",
            migration_job_id=args.name,
            location=args.region,
            display_name=f"{args.name}: the primary's database, continuously",
            type="CONTINUOUS",
            source=self.source.name,
            destination=self.standby.name,
            # The standby reaches the source from the VPC's peering, through the VPN.
            vpc_peering_connectivity={"vpc": args.network},
            desired_state="RUNNING" if args.start else "NOT_STARTED",
            labels=labels,
            deletion_policy=deletion_policy,
            # It connects once the way to the source exists (the VPN, in `opts.depends_on`),
            # which the SDK records on the component alone, not on its children. A promoted
            # job is COMPLETED: DMS refuses to start it again, so no `up` asks it to.
            opts=pulumi.ResourceOptions.merge(
                kept,
                pulumi.ResourceOptions(
                    depends_on=opts.depends_on if opts else None,
                    ignore_changes=["desiredState"] if args.promoted else None,
                ),
            ),
        )
        self.lag_alert = _lag_alert(name, args, child)
        # The profile's settings hold the root password; its address is no secret.
        self.standby_address = pulumi.Output.unsecret(
            self.standby.cloudsql.apply(lambda cloudsql: cloudsql.private_ip if cloudsql else None)
        )
        self.register_outputs({"job": self.job.name, "standby": self.standby_address})


def lag_filter(job_id: str) -> str:
    """The migration job's replication lag, in seconds."""
    return (
        f'resource.type = "{JOB_RESOURCE}" AND resource.labels.migration_job_id = "{job_id}" '
        f'AND metric.type = "{LAG_METRIC}"'
    )


def _lag_alert(name: str, args: DatabaseReplicationArgs, opts: pulumi.ResourceOptions) -> gcp.monitoring.AlertPolicy:
    per_minute = [{"alignment_period": "60s", "per_series_aligner": "ALIGN_MAX"}]
    return gcp.monitoring.AlertPolicy(
        f"{name}-lag",
        display_name=f"{args.name}: replication lag above the RPO ({args.rpo_seconds} s)",
        combiner="OR",
        severity="CRITICAL",
        conditions=[
            {
                "display_name": f"lag above {args.rpo_seconds} s for {LAG_DURATION_SECONDS // 60} minutes",
                "condition_threshold": {
                    "filter": lag_filter(args.name),
                    "comparison": "COMPARISON_GT",
                    "threshold_value": lag_threshold_seconds(args.rpo_seconds),
                    "duration": f"{LAG_DURATION_SECONDS}s",
                    "aggregations": per_minute,
                    "trigger": {"count": 1},
                },
            },
            {
                "display_name": f"no lag reported for {SILENCE_SECONDS // 60} minutes: the job is not replicating",
                "condition_absent": {
                    "filter": lag_filter(args.name),
                    "duration": f"{SILENCE_SECONDS}s",
                    "aggregations": per_minute,
                    "trigger": {"count": 1},
                },
            },
        ],
        notification_channels=list(args.notification_channels),
        # A promoted (COMPLETED) job reports no lag: the absence condition would page forever.
        enabled=not args.promoted,
        alert_strategy={"auto_close": "1800s"},
        documentation={
            "subject": f"{args.name}: replication behind the RPO",
            "mime_type": "text/markdown",
            "content": (
                f"The standby of the primary's database is more than {args.rpo_seconds} s behind, or the migration "
                "job reports nothing: a failover to this region now would lose more writes than its RPO allows. "
                "Check the job (`gcloud database-migration migration-jobs describe`), the HA VPN tunnels and the "
                "primary's replication slot. README, Disaster recovery."
            ),
        },
        user_labels=cloud_tags(args.owner, "database"),
        opts=opts,
    )
