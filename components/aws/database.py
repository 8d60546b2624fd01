"""AuroraPostgres: Aurora PostgreSQL, encrypted with its own rotating KMS key, in private
subnets, never public, reachable only from the cluster's nodes on 5432 and only over
TLS; in prod with deletion protection, long backups and Performance Insights, and the
primary of an Aurora global database that a secondary region can join. A primary that
replicas on another cloud copy (prod-gcp's Database Migration Service) decodes its WAL
for them: logical replication on, with pglogical (DMS reads through it), and its
security group admits their ranges on 5432.

The master password is generated, handed to Vault as the database engine's first root
credential, and written write-only: Vault rotates it, and Pulumi never puts it back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.access import service_access
from components.aws.kms import rotating_key
from components.labels import Ownership, cloud_tags

ENGINE = "aurora-postgresql"
PORT = 5432


@dataclass(frozen=True)
class AuroraArgs:
    owner: Ownership
    identifier: str
    engine_version: str
    instance_class: str
    instances: int
    database_name: str
    subnet_ids: pulumi.Input[list[str]]
    vpc_id: pulumi.Input[str]
    # Security groups allowed to connect (the EKS cluster's).
    client_security_group_ids: tuple[pulumi.Input[str], ...]
    backup_retention_days: int
    deletion_protection: bool
    performance_insights: bool
    # The primary of a global database (prod), so secondary regions can join it.
    global_database: bool = False
    # Where Vault's database engine connects from (its network, peered or routed).
    vault_cidrs: tuple[str, ...] = ()
    # A secondary region: the global database to join (its data comes from the primary;
    # it has no credentials of its own).
    join_global: pulumi.Input[str] | None = None
    # Replicas on another cloud read this database by logical decoding (pglogical), from
    # these ranges; empty: no such replicas.
    logical_replica_cidrs: tuple[str, ...] = ()


def _family(engine_version: str) -> str:
    return f"aurora-postgresql{engine_version.split('.')[0]}"


# What a logical replica (Google's Database Migration Service) needs of the source:
# logical decoding, and pglogical loaded at start (pg_stat_statements, the default, kept).
# Both are static: they take effect when the writer reboots ("pending-reboot").
LOGICAL_REPLICATION = (
    ("rds.logical_replication", "1"),
    ("shared_preload_libraries", "pg_stat_statements,pglogical"),
)


class AuroraPostgres(pulumi.ComponentResource):
    cluster: aws.rds.Cluster
    security_group: aws.ec2.SecurityGroup
    writer: pulumi.Output[str]
    reader: pulumi.Output[str]
    global_cluster: aws.rds.GlobalCluster | None
    master_password: pulumi.Output[str]

    def __init__(self, name: str, args: AuroraArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:aws:AuroraPostgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cloud_tags(args.owner, "database")
        key = rotating_key(f"{args.identifier}-database", "Aurora storage and Performance Insights", tags, self)
        subnets = aws.rds.SubnetGroup(f"{name}-subnets", subnet_ids=args.subnet_ids, tags=tags, opts=child)
        self.security_group = security_group = service_access(
            name,
            "PostgreSQL",
            PORT,
            args.vpc_id,
            args.client_security_group_ids,
            tags,
            self,
            cidrs={
                "Vault's database engine": args.vault_cidrs,
                "replicas on another cloud (Database Migration Service)": args.logical_replica_cidrs,
            },
        )
        dynamic = [
            aws.rds.ClusterParameterGroupParameterArgs(name=key_name, value=value)
            for key_name, value in (
                ("rds.force_ssl", "1"),
                ("idle_in_transaction_session_timeout", "60000"),
                ("statement_timeout", "60000"),
                ("log_min_duration_statement", "1000"),
                ("log_lock_waits", "1"),
            )
        ]
        static = [
            aws.rds.ClusterParameterGroupParameterArgs(name=key_name, value=value, apply_method="pending-reboot")
            for key_name, value in (LOGICAL_REPLICATION if args.logical_replica_cidrs else ())
        ]
        parameters = aws.rds.ClusterParameterGroup(
            f"{name}-parameters",
            family=_family(args.engine_version),
            description="TLS only; bounded idle transactions and statements; slow queries logged",
            parameters=dynamic + static,
            tags=tags,
            opts=child,
        )
        self.global_cluster = None
        if args.global_database:
            self.global_cluster = aws.rds.GlobalCluster(
                f"{name}-global",
                global_cluster_identifier=f"{args.identifier}-global",
                engine=ENGINE,
                engine_version=args.engine_version,
                database_name=args.database_name,
                storage_encrypted=True,
                deletion_protection=args.deletion_protection,
                tags=tags,
                opts=child,
            )
        password = random.RandomPassword(f"{name}-master", length=40, special=False, opts=child)
        self.master_password = pulumi.Output.secret(password.result)
        primary = args.join_global is None
        global_id = args.join_global if not primary else (self.global_cluster.id if self.global_cluster else None)
        self.cluster = aws.rds.Cluster(
            f"{name}-cluster",
            cluster_identifier=args.identifier,
            engine=ENGINE,
            engine_version=args.engine_version,
            database_name=args.database_name if primary else None,
            master_username="project_ai_admin" if primary else None,
            master_password_wo=self.master_password if primary else None,
            master_password_wo_version=1 if primary else None,
            global_cluster_identifier=global_id,
            # A secondary forwards the app's writes to the primary (DML; roles and DDL
            # happen on the primary and replicate).
            enable_global_write_forwarding=True if not primary else None,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group.id],
            db_cluster_parameter_group_name=parameters.name,
            storage_encrypted=True,
            kms_key_id=key.arn,
            backup_retention_period=args.backup_retention_days,
            preferred_backup_window="03:00-04:00",
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.deletion_protection,
            final_snapshot_identifier=f"{args.identifier}-final" if args.deletion_protection else None,
            enabled_cloudwatch_logs_exports=["postgresql"],
            iam_database_authentication_enabled=True,
            tags=tags,
            opts=child,
        )
        instances = []
        for index in range(args.instances):
            instance = aws.rds.ClusterInstance(
                f"{name}-{index}",
                identifier=f"{args.identifier}-{index}",
                cluster_identifier=self.cluster.id,
                engine=ENGINE,
                instance_class=args.instance_class,
                publicly_accessible=False,
                performance_insights_enabled=args.performance_insights,
                performance_insights_kms_key_id=key.arn if args.performance_insights else None,
                auto_minor_version_upgrade=True,
                tags=tags,
                opts=child,
            )
            instances.append(instance)
        # The cluster is "available" before any instance is: who connects waits for them.
        self.writer = pulumi.Output.all(self.cluster.endpoint, *(i.id for i in instances)).apply(lambda v: v[0])
        self.reader = pulumi.Output.all(self.cluster.reader_endpoint, *(i.id for i in instances)).apply(lambda v: v[0])
        self.register_outputs(
            {
                "writer": self.cluster.endpoint,
                "reader": self.cluster.reader_endpoint,
                "port": PORT,
                "globalCluster": self.global_cluster.id if self.global_cluster else None,
            }
        )
