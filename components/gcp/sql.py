"""CloudSqlPostgres: Cloud SQL for PostgreSQL on a private IP only, TLS required,
automated backups with point-in-time recovery, highly available across zones in prod.
The root password is generated and write-only: Vault rotates it from then on."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from components.labels import Ownership, cloud_tags


@dataclass(frozen=True)
class CloudSqlArgs:
    owner: Ownership
    name: str
    region: str
    database_version: str
    tier: str
    high_availability: bool
    network: pulumi.Input[str]
    backup_retention_days: int
    deletion_protection: bool
    database: str = "project_ai"


class CloudSqlPostgres(pulumi.ComponentResource):
    instance: gcp.sql.DatabaseInstance
    root_password: pulumi.Output[str]

    def __init__(self, name: str, args: CloudSqlArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:gcp:CloudSqlPostgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(f"{name}-root", length=40, special=False, opts=child)
        self.root_password = pulumi.Output.secret(password.result)
        flags = {
            "log_min_duration_statement": "1000",
            "idle_in_transaction_session_timeout": "60000",
            "log_lock_waits": "on",
            "cloudsql.iam_authentication": "on",
            # The audit trail: who connected and left, temporary files, and (pgAudit) changes
            # to roles and schemas.
            "log_connections": "on",
            "log_disconnections": "on",
            "log_temp_files": "0",
            "cloudsql.enable_pgaudit": "on",
            "pgaudit.log": "role,ddl",
        }
        self.instance = gcp.sql.DatabaseInstance(
            f"{name}-instance",
            name=args.name,
            region=args.region,
            database_version=args.database_version,
            root_password_wo=self.root_password,
            root_password_wo_version="1",
            deletion_protection=args.deletion_protection,
            settings={
                "tier": args.tier,
                # PostgreSQL 16+ defaults to Enterprise Plus, which refuses db-custom tiers.
                "edition": "ENTERPRISE",
                "availability_type": "REGIONAL" if args.high_availability else "ZONAL",
                "ip_configuration": {
                    "ipv4_enabled": False,
                    "private_network": args.network,
                    "ssl_mode": "ENCRYPTED_ONLY",
                },
                "backup_configuration": {
                    "enabled": True,
                    "point_in_time_recovery_enabled": True,
                    "transaction_log_retention_days": min(args.backup_retention_days, 7),
                    "backup_retention_settings": {"retained_backups": args.backup_retention_days},
                },
                "database_flags": [{"name": key, "value": value} for key, value in flags.items()],
                "insights_config": {"query_insights_enabled": True},
                "deletion_protection_enabled": args.deletion_protection,
                "user_labels": cloud_tags(args.owner, "database"),
            },
            # The private IP exists only once private service access is peered: the
            # instance waits for what the component waits for (`opts.depends_on`), which
            # the SDK records on the component alone, not on its children.
            opts=pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None),
        )
        gcp.sql.Database(f"{name}-database", name=args.database, instance=self.instance.name, opts=child)
        self.register_outputs({"privateIp": self.instance.private_ip_address})
