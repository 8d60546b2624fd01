"""Zero-trust rules for AWS databases and file systems beyond encryption and backups:
minor-version patches, Multi-AZ in production, IAM database authentication, audit logs
exported to CloudWatch, and EFS encryption."""

from __future__ import annotations

from collections.abc import Iterable

from policies.core.props import as_list, get
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK
from policies.zero_trust.aws import (
    RDS_CLUSTER,
    RDS_CLUSTER_INSTANCE,
    RDS_INSTANCE,
    REPLICATION_GROUP,
    EnvironmentParams,
    known,
)
from policies.zero_trust.aws_stores import CACHE_CLUSTER

FILE_SYSTEM = "aws:efs/fileSystem:FileSystem"


def _engine(resource: Resource) -> str:
    return str(known(resource.props, "engine") or "").strip().lower()


@rule(
    PACK,
    name="aws-auto-minor-version-upgrade",
    description=(
        "RDS instances, Aurora instances, Multi-AZ DB clusters and ElastiCache clusters and replication groups "
        "take minor engine versions (security patches) automatically."
    ),
    severity="medium",
    remediation="Leave autoMinorVersionUpgrade unset or true; pin the major version only.",
    types=(RDS_INSTANCE, RDS_CLUSTER_INSTANCE, RDS_CLUSTER, CACHE_CLUSTER, REPLICATION_GROUP),
)
def auto_minor_version_upgrade(resource: Resource, params: Params) -> Iterable[str]:
    # ElastiCache clusters take the flag as a string.
    if str(get(resource.props, "autoMinorVersionUpgrade", True)).strip().lower() == "false":
        yield "autoMinorVersionUpgrade is false: minor versions (security patches) are not applied"


def _aurora_findings(stack: Stack, cluster: Resource) -> Iterable[str]:
    """An Aurora cluster spans zones through its instances: one instance, or all in one zone,
    is a single-AZ database. Instances declared elsewhere (none here) cannot be judged."""
    instances = stack.attached(cluster, RDS_CLUSTER_INSTANCE)
    if len(instances) == 1:
        yield f"Aurora cluster {cluster.name} has one instance: no failover to another Availability Zone"
    zones = {known(i.props, "availabilityZone") for i in instances}
    if len(instances) > 1 and len(zones) == 1 and None not in zones:
        yield f"Aurora cluster {cluster.name} has every instance in {zones.pop()}"


@rule(
    PACK,
    name="aws-rds-multi-az",
    description=(
        "In the listed environments (environments: prod), RDS instances are Multi-AZ and Aurora clusters have "
        "instances in at least two Availability Zones."
    ),
    severity="medium",
    remediation=(
        "Set multiAz: true on RDS instances; give an Aurora cluster at least two ClusterInstances and leave "
        "availabilityZone unset (or set different zones)."
    ),
    params=EnvironmentParams,
)
def rds_multi_az(stack: Stack, params: EnvironmentParams) -> Iterable[tuple[str, str]]:
    if params.environment not in params.environments:
        return
    for instance in stack.of_type(RDS_INSTANCE):
        if known(instance.props, "multiAz") is not True:
            yield instance.urn, f"RDS instance {instance.name} is not Multi-AZ ({params.environment})"
    for cluster in stack.of_type(RDS_CLUSTER):
        # Serverless v1 and Multi-AZ DB clusters span zones by themselves.
        if _engine(cluster).startswith("aurora") and str(known(cluster.props, "engineMode") or "") != "serverless":
            for finding in _aurora_findings(stack, cluster):
                yield cluster.urn, f"{finding} ({params.environment})"


# Engines that take IAM database authentication (RDS and Aurora MySQL, MariaDB, PostgreSQL).
IAM_AUTH_ENGINES = ("mysql", "mariadb", "postgres", "aurora", "aurora-mysql", "aurora-postgresql")


@rule(
    PACK,
    name="aws-rds-iam-authentication",
    description=(
        "MySQL, MariaDB and PostgreSQL databases (RDS and Aurora) accept IAM authentication, so clients connect "
        "with short-lived tokens rather than stored passwords."
    ),
    severity="medium",
    remediation="Set iamDatabaseAuthenticationEnabled: true and grant clients rds-db:connect on their database user.",
    types=(RDS_INSTANCE, RDS_CLUSTER),
)
def rds_iam_authentication(resource: Resource, params: Params) -> Iterable[str]:
    engine = _engine(resource)
    if engine in IAM_AUTH_ENGINES and get(resource.props, "iamDatabaseAuthenticationEnabled") is not True:
        yield f"iamDatabaseAuthenticationEnabled is not true ({engine})"


# The log each engine's audit trail is in.
AUDIT_LOGS = {
    "postgres": "postgresql",
    "aurora-postgresql": "postgresql",
    "mysql": "audit",
    "mariadb": "audit",
    "aurora": "audit",
    "aurora-mysql": "audit",
    "sqlserver": "error",
    "oracle": "audit",
}


@rule(
    PACK,
    name="aws-rds-log-exports",
    description=(
        "RDS instances and Aurora/Multi-AZ clusters export their audit log to CloudWatch Logs: postgresql "
        "(PostgreSQL), audit (MySQL, MariaDB, Oracle), error (SQL Server); other engines at least one log."
    ),
    severity="medium",
    remediation=(
        "Set enabledCloudwatchLogsExports to include the engine's audit log (['postgresql'], ['audit', 'error', "
        "'slowquery'], ...), with the audit plugin or pgaudit configured in the parameter group."
    ),
    types=(RDS_INSTANCE, RDS_CLUSTER),
)
def rds_log_exports(resource: Resource, params: Params) -> Iterable[str]:
    exported = [str(log).strip().lower() for log in as_list(get(resource.props, "enabledCloudwatchLogsExports"))]
    engine = _engine(resource)
    # The engine's own entry, else its family's (sqlserver-se, oracle-ee, aurora-mysql under aurora).
    wanted = AUDIT_LOGS.get(engine) or next((log for e, log in AUDIT_LOGS.items() if engine.startswith(f"{e}-")), None)
    if wanted and wanted not in exported:
        yield f"the {wanted} log is not exported to CloudWatch Logs (enabledCloudwatchLogsExports)"
    elif not wanted and not exported:
        yield "no log is exported to CloudWatch Logs (enabledCloudwatchLogsExports)"


@rule(
    PACK,
    name="aws-efs-encrypted",
    description="EFS file systems are encrypted at rest.",
    severity="high",
    remediation="Set encrypted: true, with kmsKeyId for a customer-managed key (encryption is fixed at creation).",
    types=(FILE_SYSTEM,),
)
def efs_encrypted(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "encrypted") is not True:
        yield "encrypted is not true: the file system is stored unencrypted"
