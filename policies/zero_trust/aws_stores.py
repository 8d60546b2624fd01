"""Zero-trust rules for AWS data stores: backups and point-in-time recovery (RDS, Aurora,
ElastiCache, DynamoDB), TLS forced by RDS parameter groups, encryption at rest (EBS, SQS,
SNS, CloudWatch Logs) and Secrets Manager rotation."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policies.core.props import get, items
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK
from policies.zero_trust.aws import (
    INSTANCE,
    LAUNCH_TEMPLATE,
    RDS_CLUSTER,
    RDS_INSTANCE,
    REPLICATION_GROUP,
    known,
    names,
)

PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
SERVERLESS_CACHE = "aws:elasticache/serverlessCache:ServerlessCache"
VOLUME = "aws:ebs/volume:Volume"
ENCRYPTION_BY_DEFAULT = "aws:ebs/encryptionByDefault:EncryptionByDefault"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
SPOT_INSTANCE = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TABLE = "aws:dynamodb/table:Table"


def _true(value: Any) -> bool:
    """True, or "true" (launch templates take their EBS flags as strings)."""
    return str(value).lower() == "true"


class BackupParams(Params):
    # Days of automated backups (and so of point-in-time recovery) every database keeps.
    min_retention_days: int = 7


@rule(
    PACK,
    name="aws-rds-backups",
    description=(
        "RDS instances and Aurora/Multi-AZ clusters keep automated backups, and so point-in-time recovery, "
        "for at least minRetentionDays (7)."
    ),
    severity="high",
    remediation="Set backupRetentionPeriod to at least minRetentionDays (7; up to 35) and a preferredBackupWindow.",
    types=(RDS_INSTANCE, RDS_CLUSTER),
    params=BackupParams,
)
def rds_backups(resource: Resource, params: BackupParams) -> Iterable[str]:
    # A read replica's recovery is its source's (RDS for PostgreSQL replicas take no backups).
    if get(resource.props, "replicateSourceDb"):
        return
    days = get(resource.props, "backupRetentionPeriod")
    if days is not None and days <= 0:
        yield "automated backups are off (backupRetentionPeriod 0): no point-in-time recovery"
    elif (days if days is not None else 1) < params.min_retention_days:
        shown = f"{days:g} day(s)" if days is not None else "unset (AWS keeps 1 day)"
        yield f"backupRetentionPeriod is {shown}, expected at least {params.min_retention_days}"


def _tls_parameter(engine: str) -> tuple[str, tuple[str, ...]] | None:
    """The parameter that refuses clients without TLS, and the values that turn it on."""
    if "postgres" in engine or engine.startswith("sqlserver"):
        return "rds.force_ssl", ("1",)
    if "mysql" in engine or engine in ("mariadb", "aurora"):
        return "require_secure_transport", ("1", "on")
    return None  # Oracle and Db2 take TLS through option groups and their own listeners.


def _default_forces_tls(database: Resource, group: Resource | None) -> bool:
    """RDS for PostgreSQL 15 and later forces TLS unless a group turns it off (Aurora does not)."""
    if str(get(database.props, "engine", "")).lower() != "postgres":
        return False
    version = str(get(group.props, "family", "")) if group else ""
    version = version or str(get(database.props, "engineVersion", ""))
    major = re.search(r"(\d+)", version)
    return bool(major) and int(major.group(1)) >= 15


def _parameter_group(stack: Stack, database: Resource, key: str, kind: str) -> tuple[str | None, Resource | None]:
    """The group a database names (None: the engine's default), and that group if the
    stack declares it; while the name is unknown, the one group of its kind it depends on."""
    groups = stack.of_type(kind)
    try:
        value = get(database.props, key)
    except UnknownValueError:
        depended = [g for g in groups if g.urn in database.dependencies]
        return (depended[0].name, depended[0]) if len(depended) == 1 else ("(unknown)", None)
    if value is None:
        return None, None
    return str(value), next((g for g in groups if names(str(value), g, "name")), None)


def _tls_findings(stack: Stack, database: Resource) -> Iterator[str]:
    wanted = _tls_parameter(str(get(database.props, "engine", "")).lower())
    if wanted is None:
        return
    parameter, on = wanted
    cluster = database.type == RDS_CLUSTER
    key = "dbClusterParameterGroupName" if cluster else "parameterGroupName"
    named, group = _parameter_group(stack, database, key, CLUSTER_PARAMETER_GROUP if cluster else PARAMETER_GROUP)
    if named is not None and group is None and not named.startswith("default."):
        return  # a group declared elsewhere: its parameters cannot be read here
    settings = [
        get(p, "value")
        for p in items(group.props if group else {}, "parameters")
        if str(get(p, "name", "")).strip().lower() == parameter
    ]
    off = [value for value in settings if str(value).strip().lower() not in on]
    if off:
        yield f"{parameter} is {off[0]} in parameter group {named}: clients may connect without TLS"
    elif not settings and not _default_forces_tls(database, group):
        where = f"parameter group {named} does not set it" if group else "the engine's default group leaves it off"
        yield f"{parameter} is not {on[0]} ({where}): clients may connect without TLS"


@rule(
    PACK,
    name="aws-rds-tls-required",
    description=(
        "Every RDS instance and Aurora/Multi-AZ cluster refuses clients without TLS through its parameter group: "
        "rds.force_ssl 1 (PostgreSQL, SQL Server), require_secure_transport ON (MySQL, MariaDB)."
    ),
    severity="high",
    remediation=(
        "Give the database a parameter group (ClusterParameterGroup for clusters) that sets rds.force_ssl=1 "
        "or require_secure_transport=ON, and name it in parameterGroupName / dbClusterParameterGroupName."
    ),
)
def rds_tls_required(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for database in stack.of_type(RDS_INSTANCE, RDS_CLUSTER):
        try:
            findings = list(_tls_findings(stack, database))
        except UnknownValueError:
            continue  # not known until deployment: the other databases are still judged
        for finding in findings:
            yield database.urn, f"{database.name}: {finding}"


class SnapshotParams(Params):
    min_snapshot_days: int = 1


@rule(
    PACK,
    name="aws-elasticache-backups",
    description=(
        "Redis and Valkey caches (replication groups, single-node clusters, serverless caches) keep automatic "
        "snapshots for at least minSnapshotDays (1)."
    ),
    severity="medium",
    remediation="Set snapshotRetentionLimit to at least minSnapshotDays (1), with a snapshotWindow.",
    types=(REPLICATION_GROUP, CACHE_CLUSTER, SERVERLESS_CACHE),
    params=SnapshotParams,
)
def elasticache_backups(resource: Resource, params: SnapshotParams) -> Iterable[str]:
    # Memcached keeps no snapshots; a group's member cluster takes the group's.
    memcached = str(get(resource.props, "engine", "redis")).lower() == "memcached"
    if memcached or (resource.type == CACHE_CLUSTER and get(resource.props, "replicationGroupId")):
        return
    days = get(resource.props, "snapshotRetentionLimit", 0)
    if days < params.min_snapshot_days:
        yield f"snapshotRetentionLimit is {days:g}, expected at least {params.min_snapshot_days} day(s)"


class EbsParams(Params):
    # The account turns on EBS encryption by default outside this program.
    account_encryption_by_default: bool = False


def _block_devices(resource: Resource) -> Iterator[tuple[str, Any]]:
    """(which, encrypted) for each EBS volume a resource creates. A root volume no
    rootBlockDevice (or mapping) encrypts is made from the AMI's snapshot, which the
    common AMIs leave unencrypted."""
    if resource.type == VOLUME:
        yield "the volume", get(resource.props, "encrypted")
    elif resource.type == LAUNCH_TEMPLATE:
        mappings = [m for m in items(resource.props, "blockDeviceMappings") if get(m, "ebs")]
        if not mappings:
            yield "the root volume (no block device mapping: the AMI's snapshot decides)", None
        for mapping in mappings:
            yield f"volume {get(mapping, 'deviceName', '?')}", get(mapping, "ebs.encrypted")
    else:
        # An instance launched from a template takes its volumes from it.
        if get(resource.props, "rootBlockDevice") or not get(resource.props, "launchTemplate"):
            yield "the root volume", get(resource.props, "rootBlockDevice.encrypted")
        for device in items(resource.props, "ebsBlockDevices"):
            yield f"volume {get(device, 'deviceName', '?')}", get(device, "encrypted")


@rule(
    PACK,
    name="aws-ebs-encrypted",
    description=(
        "EBS volumes are encrypted: volumes, instances' root and EBS block devices, launch templates' and launch "
        "configurations' block device mappings, unless the stack (or the account) turns on encryption by default."
    ),
    severity="high",
    remediation=(
        "Set encrypted: true (kmsKeyId for a customer-managed key) on each volume and block device mapping, or "
        "declare aws.ebs.EncryptionByDefault(enabled=True) for the region."
    ),
    params=EbsParams,
)
def ebs_encrypted(stack: Stack, params: EbsParams) -> Iterable[tuple[str, str]]:
    by_default = [r for r in stack.of_type(ENCRYPTION_BY_DEFAULT) if known(r.props, "enabled") is not False]
    if params.account_encryption_by_default or by_default:
        return
    for resource in stack.of_type(VOLUME, INSTANCE, SPOT_INSTANCE, LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION):
        try:
            devices = list(_block_devices(resource))
        except UnknownValueError:
            continue  # not known until deployment: the other resources are still judged
        for where, encrypted in devices:
            if not _true(encrypted):
                yield resource.urn, f"{resource.name}: {where} is not encrypted"


class QueueParams(Params):
    # Require a customer-managed KMS key, not SQS-managed encryption (SSE-SQS).
    require_kms: bool = False


@rule(
    PACK,
    name="aws-sqs-encrypted",
    description=(
        "SQS queues encrypt messages at rest: SSE-SQS (the default for new queues) is not switched off, or a "
        "KMS key is set (required with requireKms)."
    ),
    severity="medium",
    remediation="Set kmsMasterKeyId to a customer-managed KMS key, or leave sqsManagedSseEnabled true.",
    types=(QUEUE,),
    params=QueueParams,
)
def sqs_encrypted(resource: Resource, params: QueueParams) -> Iterable[str]:
    if get(resource.props, "kmsMasterKeyId"):
        return
    if params.require_kms:
        yield "no kmsMasterKeyId: a customer-managed KMS key is required"
    elif get(resource.props, "sqsManagedSseEnabled") is False:
        yield "messages are stored unencrypted (sqsManagedSseEnabled false, no kmsMasterKeyId)"


@rule(
    PACK,
    name="aws-sns-encrypted",
    description="SNS topics encrypt messages at rest with a KMS key.",
    severity="medium",
    remediation="Set kmsMasterKeyId to a customer-managed KMS key whose policy lets the publishing services use it.",
    types=(TOPIC,),
)
def sns_encrypted(resource: Resource, params: Params) -> Iterable[str]:
    if not get(resource.props, "kmsMasterKeyId"):
        yield "no kmsMasterKeyId: messages are stored unencrypted"


@rule(
    PACK,
    name="aws-cloudwatch-logs-encrypted",
    description="CloudWatch log groups are encrypted with a customer-managed KMS key.",
    severity="medium",
    remediation=(
        "Set kmsKeyId to a KMS key whose policy lets logs.<region>.amazonaws.com use it for this log group "
        "(Condition kms:EncryptionContext:aws:logs:arn)."
    ),
    types=(LOG_GROUP,),
)
def cloudwatch_logs_encrypted(resource: Resource, params: Params) -> Iterable[str]:
    if not get(resource.props, "kmsKeyId"):
        yield "no kmsKeyId: the log group is not encrypted with a customer-managed key"


class RotationParams(Params):
    # The longest a secret may go between rotations.
    max_days: int = 90


def _rotation_days(rotation: Resource) -> float | None:
    """Days between rotations: automaticallyAfterDays, or a rate(N days) schedule."""
    days = get(rotation.props, "rotationRules.automaticallyAfterDays")
    if days is not None:
        return float(days)
    rate = re.fullmatch(r"rate\((\d+) days?\)", str(get(rotation.props, "rotationRules.scheduleExpression", "")))
    return float(rate.group(1)) if rate else None


def _names_secret(value: str, secret: Resource) -> bool:
    """A secretId names the secret: its name, or its ARN (which ends in the name and six
    random characters)."""
    name = value.split(":secret:", 1)[-1]
    bare = re.sub(r"-[A-Za-z0-9]{6}$", "", name)
    return value == known(secret.props, "arn") or names(name, secret, "name") or names(bare, secret, "name")


def _rotations_of(stack: Stack) -> dict[str, list[Resource]]:
    """Each secret's rotations, by URN: a rotation belongs to the secret its secretId
    names; while that is unknown (or names no secret of the stack), to the one secret it
    depends on."""
    secrets = stack.of_type(SECRET)
    found: dict[str, list[Resource]] = {secret.urn: [] for secret in secrets}
    for rotation in stack.of_type(SECRET_ROTATION):
        value = known(rotation.props, "secretId")
        named = [s for s in secrets if isinstance(value, str) and _names_secret(value, s)]
        depended = [s for s in secrets if s.urn in rotation.dependencies]
        for secret in named or (depended if len(depended) == 1 else []):
            found[secret.urn].append(rotation)
    return found


@rule(
    PACK,
    name="aws-secretsmanager-rotation",
    description="Every Secrets Manager secret rotates automatically, at least every maxDays (90).",
    severity="medium",
    remediation=(
        "Add aws.secretsmanager.SecretRotation(secret_id=<the secret>) with a rotation Lambda (or managed "
        "rotation) and rotationRules.automaticallyAfterDays at most maxDays."
    ),
    params=RotationParams,
)
def secretsmanager_rotation(stack: Stack, params: RotationParams) -> Iterable[tuple[str, str]]:
    rotations_of = _rotations_of(stack)
    for secret in stack.of_type(SECRET):
        rotations = rotations_of[secret.urn]
        if not rotations:
            yield secret.urn, f"secret {secret.name} has no rotation"
        for rotation in rotations:
            if known(rotation.props, "rotationEnabled") is False:
                yield secret.urn, f"secret {secret.name}'s rotation is switched off (rotationEnabled false)"
                continue
            days = _rotation_days(rotation)
            if days is not None and days > params.max_days:
                expected = f"expected at most {params.max_days}"
                yield secret.urn, f"secret {secret.name} rotates every {days:g} days, {expected}"


@rule(
    PACK,
    name="aws-dynamodb-backups",
    description="DynamoDB tables, and each replica of a global table, have point-in-time recovery.",
    severity="high",
    remediation="Set pointInTimeRecovery: {enabled: true}, and pointInTimeRecovery: true on every replica.",
    types=(TABLE,),
)
def dynamodb_backups(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "pointInTimeRecovery.enabled") is not True:
        yield "point-in-time recovery is off (pointInTimeRecovery.enabled)"
    for replica in items(resource.props, "replicas"):
        if get(replica, "pointInTimeRecovery") is not True:
            yield f"point-in-time recovery is off on the replica in {get(replica, 'regionName', '?')}"
