"""The cost pack's storage lifecycle and spot rules (issue #21): what a lifecycle says,
not only that there is one (S3 and GCS buckets, snapshots, backups, logs, images), and
how much of the worker capacity is spot.

Lifecycle fields are read as the providers take them, and strictly: a rule counts when
it is enabled exactly as the API spells it (`Enabled`, `Delete`), and a number of days
when it is a whole number above zero ("30" as text is 30; 0, "", "thirty" are no bound).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import Field

from policies.core.props import as_list, get, items, json_document, known, names
from policies.core.rule import Params, Resource, Stack, rule
from policies.cost import PACK

S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_LIFECYCLES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
S3_VERSIONINGS = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
GCS_BUCKET = "gcp:storage/bucket:Bucket"
DLM_POLICY = "aws:dlm/lifecyclePolicy:LifecyclePolicy"
SNAPSHOT_SCHEDULE = "gcp:compute/resourcePolicy:ResourcePolicy"
RDS_DATABASES = ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster")
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
BACKUP_PLAN = "aws:backup/plan:Plan"
LOG_BUCKETS = (
    "gcp:logging/projectBucketConfig:ProjectBucketConfig",
    "gcp:logging/folderBucketConfig:FolderBucketConfig",
    "gcp:logging/organizationBucketConfig:OrganizationBucketConfig",
    "gcp:logging/billingAccountBucketConfig:BillingAccountBucketConfig",
)
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
ECR_TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
AR_REPOSITORY = "gcp:artifactregistry/repository:Repository"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "gcp:container/nodePool:NodePool"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
# DLM's and AWS Backup's retention units, in days.
_UNIT_DAYS = {"DAYS": 1, "WEEKS": 7, "MONTHS": 30, "YEARS": 365}


def _days(value: Any) -> int | None:
    """A whole number above zero (an int, or its digits as text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None


def _on(value: Any) -> bool:
    """True, or "true" (the engine may hand a boolean over as text)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _owners(attachment: Resource, key: str, candidates: list[Resource], name_key: str) -> list[Resource]:
    """The candidates `attachment` belongs to: the one its `key` names (policies.core.props
    `names`), else, while that is unknown, the one candidate it depends on."""
    value = known(attachment.props, key)
    named = [c for c in candidates if isinstance(value, str) and names(value, c, name_key)]
    if named:
        return named
    depended = [c for c in candidates if c.urn in attachment.dependencies]
    return depended if len(depended) == 1 else []


def _over(what: str, days: int, cap: int) -> str:
    return f"{what} is {days} days, cap {cap}"


# S3 ------------------------------------------------------------------------------------


class S3LifecycleParams(Params):
    # Days an incomplete multipart upload's parts (billed, invisible) may stay.
    max_abort_days: int = Field(7, ge=1)
    # Days an old version of a versioned bucket's object may stay.
    max_noncurrent_days: int = Field(90, ge=1)


def _inline_rules(bucket: Resource) -> list[dict[str, Any]]:
    """A bucket's own (deprecated) lifecycleRules, in BucketLifecycleConfiguration's shape."""
    rules = []
    for inline in items(bucket.props, "lifecycleRules"):
        rules.append(
            {
                "status": "Enabled" if _on(get(inline, "enabled")) else "Disabled",
                "prefix": get(inline, "prefix"),
                "filter": {"tags": get(inline, "tags")} if get(inline, "tags") else None,
                "expiration": get(inline, "expiration"),
                "transitions": get(inline, "transitions"),
                "noncurrentVersionExpiration": {"noncurrentDays": get(inline, "noncurrentVersionExpiration.days")},
                "noncurrentVersionTransitions": [
                    {"noncurrentDays": get(t, "days"), "storageClass": get(t, "storageClass")}
                    for t in items(inline, "noncurrentVersionTransitions")
                ],
                "abortIncompleteMultipartUpload": {
                    "daysAfterInitiation": get(inline, "abortIncompleteMultipartUploadDays")
                },
            }
        )
    return rules


def _whole_bucket(lifecycle_rule: Any) -> bool:
    """Whether the rule applies to every object: no prefix, tag or size filter."""
    if get(lifecycle_rule, "prefix"):
        return False
    scope = get(lifecycle_rule, "filter") or {}
    return not any(
        get(scope, key) for key in ("prefix", "tag", "tags", "and", "objectSizeGreaterThan", "objectSizeLessThan")
    )


def _expires_or_tiers(lifecycle_rule: Any) -> bool:
    if _days(get(lifecycle_rule, "expiration.days")) or get(lifecycle_rule, "expiration.date"):
        return True
    if _days(get(lifecycle_rule, "noncurrentVersionExpiration.noncurrentDays")):
        return True
    # A transition at day 0 (to Intelligent-Tiering, say) is a real one; the class is what counts.
    moves = [*items(lifecycle_rule, "transitions"), *items(lifecycle_rule, "noncurrentVersionTransitions")]
    return any(get(move, "storageClass") for move in moves)


def _s3_findings(name: str, rules: list[Any], versioned: bool, params: S3LifecycleParams) -> Iterable[str]:
    enabled = [r for r in rules if get(r, "status") == "Enabled"]
    if not any(_expires_or_tiers(r) for r in enabled):
        yield f"bucket {name}: no enabled lifecycle rule expires or transitions current or noncurrent objects"
    aborts = [
        days
        for r in enabled
        if _whole_bucket(r) and (days := _days(get(r, "abortIncompleteMultipartUpload.daysAfterInitiation")))
    ]
    if not aborts:
        yield f"bucket {name}: no enabled rule over the whole bucket aborts incomplete multipart uploads"
    elif min(aborts) > params.max_abort_days:
        yield f"bucket {name}: " + _over(
            "abortIncompleteMultipartUpload.daysAfterInitiation", min(aborts), params.max_abort_days
        )
    if versioned:
        noncurrent = [
            days
            for r in enabled
            if _whole_bucket(r) and (days := _days(get(r, "noncurrentVersionExpiration.noncurrentDays")))
        ]
        if not noncurrent:
            yield f"bucket {name} is versioned, but no enabled rule over the whole bucket expires noncurrent versions"
        elif min(noncurrent) > params.max_noncurrent_days:
            days = min(noncurrent)
            yield f"bucket {name}: " + _over(
                "noncurrentVersionExpiration.noncurrentDays", days, params.max_noncurrent_days
            )


@rule(
    PACK,
    name="cost-s3-lifecycle-rules",
    description=(
        "Every S3 lifecycle configuration, per bucket, has an enabled rule that expires or transitions objects, "
        "one over the whole bucket that aborts incomplete multipart uploads (within maxAbortDays), and, on a "
        "versioned bucket, one that expires noncurrent versions (within maxNoncurrentDays)."
    ),
    severity="medium",
    remediation=(
        "Give the bucket's BucketLifecycleConfiguration rules with status Enabled: an expiration or transition, "
        "abortIncompleteMultipartUpload.daysAfterInitiation (7) without a filter, and on a versioned bucket "
        "noncurrentVersionExpiration.noncurrentDays."
    ),
    params=S3LifecycleParams,
)
def s3_lifecycle_rules(stack: Stack, params: S3LifecycleParams) -> Iterable[tuple[str, str]]:
    buckets = stack.of_type(*S3_BUCKETS)
    # By the bucket's URN, or, for a bucket outside the stack, by the name the resource gives.
    rules: dict[str, list[Any]] = {}
    versioned: set[str] = set()
    where: dict[str, tuple[str, str]] = {b.urn: (b.urn, b.name) for b in buckets}

    def key(attachment: Resource) -> str:
        owners = _owners(attachment, "bucket", buckets, "bucket")
        if owners:
            return owners[0].urn
        named = str(known(attachment.props, "bucket") or attachment.name)
        where.setdefault(f"name:{named}", (attachment.urn, named))
        return f"name:{named}"

    for bucket in buckets:
        if items(bucket.props, "lifecycleRules"):
            rules.setdefault(bucket.urn, []).extend(_inline_rules(bucket))
        if _on(get(bucket.props, "versioning.enabled")):
            versioned.add(bucket.urn)
    for configuration in stack.of_type(*S3_LIFECYCLES):
        rules.setdefault(key(configuration), []).extend(items(configuration.props, "rules"))
    for versioning in stack.of_type(*S3_VERSIONINGS):
        if get(versioning.props, "versioningConfiguration.status") == "Enabled":
            versioned.add(key(versioning))
    # A bucket without any lifecycle is cost-bucket-lifecycle's finding.
    # In the stack's order of buckets, then the buckets outside it.
    order = [b.urn for b in buckets if b.urn in rules] + [k for k in rules if k.startswith("name:")]
    for owner in order:
        urn, name = where[owner]
        for message in _s3_findings(name, rules[owner], owner in versioned, params):
            yield urn, message


# GCS -----------------------------------------------------------------------------------


class GcsLifecycleParams(Params):
    # Days an old version of a versioned bucket's object may stay (daysSinceNoncurrentTime).
    max_noncurrent_days: int = Field(90, ge=1)


_GCS_CONDITIONS = ("age", "numNewerVersions", "daysSinceNoncurrentTime", "daysSinceCustomTime")
_GCS_DATES = ("createdBefore", "noncurrentTimeBefore", "customTimeBefore")


def _gcs_acts(lifecycle_rule: Any) -> bool:
    action = get(lifecycle_rule, "action.type")
    if action not in ("Delete", "SetStorageClass") or (
        action == "SetStorageClass" and not get(lifecycle_rule, "action.storageClass")
    ):
        return False
    condition = get(lifecycle_rule, "condition") or {}
    return any(_days(get(condition, key)) for key in _GCS_CONDITIONS) or any(get(condition, key) for key in _GCS_DATES)


def _gcs_noncurrent_days(lifecycle_rule: Any) -> int | None:
    """Days after which a Delete rule removes noncurrent versions (0: by count or date), or
    None when it does not bound them."""
    if get(lifecycle_rule, "action.type") != "Delete":
        return None
    condition = get(lifecycle_rule, "condition") or {}
    if days := _days(get(condition, "daysSinceNoncurrentTime")):
        return days
    if _days(get(condition, "numNewerVersions")) or get(condition, "noncurrentTimeBefore"):
        return 0
    # Age counts from creation, for old versions too unless the rule keeps to live objects.
    if (age := _days(get(condition, "age"))) and get(condition, "withState", "ANY") in ("ANY", "ARCHIVED"):
        return age
    return None


@rule(
    PACK,
    name="cost-gcs-lifecycle-rules",
    description=(
        "Every GCS bucket's lifecycle rules delete or re-tier objects on a condition (age, numNewerVersions, "
        "daysSinceNoncurrentTime ...), and a versioned bucket's bound its noncurrent versions."
    ),
    severity="medium",
    remediation=(
        "Add a lifecycleRules entry with action Delete or SetStorageClass and a condition such as age; on a "
        "versioned bucket, one with action Delete and numNewerVersions or daysSinceNoncurrentTime."
    ),
    types=(GCS_BUCKET,),
    params=GcsLifecycleParams,
)
def gcs_lifecycle_rules(resource: Resource, params: GcsLifecycleParams) -> Iterable[str]:
    rules = items(resource.props, "lifecycleRules")
    if not rules:
        return  # cost-bucket-lifecycle's finding
    if not any(_gcs_acts(r) for r in rules):
        yield "no lifecycle rule deletes or re-tiers objects on a condition (age, numNewerVersions ...)"
    if _on(get(resource.props, "versioning.enabled")):
        bounds = [days for r in rules if (days := _gcs_noncurrent_days(r)) is not None]
        if not bounds:
            yield (
                "versioning is on, but no Delete rule bounds noncurrent versions "
                "(numNewerVersions or daysSinceNoncurrentTime)"
            )
        elif min(bounds) > params.max_noncurrent_days:
            yield f"noncurrent versions are kept {min(bounds)} days, cap {params.max_noncurrent_days}"


# Snapshots and backups -------------------------------------------------------------------


class SnapshotParams(Params):
    # Days a snapshot may be kept; a DLM count is judged as that many snapshots.
    max_days: int = Field(35, ge=1)


def _retain_findings(where: str, retain: Any, create_hours: int | None, params: SnapshotParams) -> Iterable[str]:
    count, interval = get(retain, "count"), get(retain, "interval")
    if count is not None:
        if not _days(count):
            yield f"{where}: retainRule.count is {count!r}, expected 1 to {params.max_days}"
        elif create_hours and _days(count) * create_hours / 24 > params.max_days:
            kept = _days(count) * create_hours / 24
            yield f"{where}: keeps {count} snapshots {create_hours} hours apart ({kept:g} days), cap {params.max_days}"
        elif not create_hours and _days(count) > params.max_days:
            yield f"{where}: retainRule.count is {count}, cap {params.max_days}"
        return
    unit = _UNIT_DAYS.get(str(get(retain, "intervalUnit", "")))
    if interval is None or not _days(interval) or unit is None:
        yield f"{where}: no retain rule bounds the snapshots kept (count, or interval with intervalUnit)"
    elif _days(interval) * unit > params.max_days:
        yield f"{where}: " + _over("retainRule", _days(interval) * unit, params.max_days)


@rule(
    PACK,
    name="cost-snapshot-retention",
    description=(
        "Snapshot lifecycles keep a bounded number of snapshots: every DLM schedule (and its cross-region "
        "copies) has a retain rule within maxDays, and every GCP snapshot schedule a retention policy within it."
    ),
    severity="medium",
    remediation=(
        "Set retainRule.count (1 to maxDays for daily snapshots) or interval/intervalUnit on each DLM schedule; "
        "set snapshotSchedulePolicy.retentionPolicy.maxRetentionDays on the GCP resource policy."
    ),
    types=(DLM_POLICY, SNAPSHOT_SCHEDULE),
    params=SnapshotParams,
)
def snapshot_retention(resource: Resource, params: SnapshotParams) -> Iterable[str]:
    if resource.type == SNAPSHOT_SCHEDULE:
        if not get(resource.props, "snapshotSchedulePolicy"):
            return  # an instance schedule or placement policy: no snapshots
        days = get(resource.props, "snapshotSchedulePolicy.retentionPolicy.maxRetentionDays")
        if not _days(days):
            yield "the snapshot schedule has no retentionPolicy.maxRetentionDays: snapshots are kept forever"
        elif _days(days) > params.max_days:
            yield _over("retentionPolicy.maxRetentionDays", _days(days), params.max_days)
        return
    if (
        get(resource.props, "state") == "DISABLED"
        or get(resource.props, "policyDetails.policyType") == "EVENT_BASED_POLICY"
    ):
        return  # takes no snapshots of its own
    details = get(resource.props, "policyDetails") or {}
    schedules = items(details, "schedules")
    if not schedules:
        # A default policy: its retainInterval in days (DLM's default 7).
        days = get(details, "retainInterval", 7)
        if not _days(days) or _days(days) > params.max_days:
            yield f"policyDetails.retainInterval is {days!r}, expected 1 to {params.max_days}"
        return
    for index, schedule in enumerate(schedules):
        where = f"schedule {get(schedule, 'name') or index}"
        hours = (
            _days(get(schedule, "createRule.interval"))
            if get(schedule, "createRule.intervalUnit", "HOURS") == "HOURS"
            else None
        )
        if not get(schedule, "retainRule"):
            yield f"{where}: no retainRule"
        else:
            yield from _retain_findings(where, get(schedule, "retainRule"), hours, params)
        for copy in items(schedule, "crossRegionCopyRules"):
            target = get(copy, "target") or get(copy, "targetRegion") or "another region"
            retain = get(copy, "retainRule")
            if not retain:
                yield f"{where}: the copy to {target} has no retainRule"
            else:
                yield from _retain_findings(f"{where}: the copy to {target}", retain, None, params)


class DatabaseRetentionParams(Params):
    # Days (RDS) or daily backups (Cloud SQL) kept; the zero-trust pack sets the floor.
    max_days: int = Field(35, ge=1)
    # Days of Cloud SQL transaction logs (point-in-time recovery) kept.
    max_log_days: int = Field(7, ge=1)


@rule(
    PACK,
    name="cost-database-backup-retention",
    description=(
        "Databases keep automated backups no longer than the environment's cap: RDS/Aurora "
        "backupRetentionPeriod, Cloud SQL retainedBackups and transactionLogRetentionDays."
    ),
    severity="low",
    remediation=(
        "Lower backupRetentionPeriod (retainedBackups, transactionLogRetentionDays) to the cap; keep long-term "
        "copies in a backup plan with a lifecycle instead."
    ),
    types=(*RDS_DATABASES, SQL),
    params=DatabaseRetentionParams,
)
def database_backup_retention(resource: Resource, params: DatabaseRetentionParams) -> Iterable[str]:
    if resource.type != SQL:
        days = _days(get(resource.props, "backupRetentionPeriod"))
        if days and days > params.max_days:
            yield _over("backupRetentionPeriod", days, params.max_days)
        return
    backups = get(resource.props, "settings.backupConfiguration") or {}
    retained = _days(get(backups, "backupRetentionSettings.retainedBackups"))
    if retained and retained > params.max_days:
        yield f"backupRetentionSettings.retainedBackups is {retained}, cap {params.max_days}"
    logs = _days(get(backups, "transactionLogRetentionDays"))
    if logs and logs > params.max_log_days:
        yield _over("transactionLogRetentionDays", logs, params.max_log_days)


class BackupPlanParams(Params):
    max_days: int = Field(35, ge=1)


@rule(
    PACK,
    name="cost-backup-plan-retention",
    description="Every AWS Backup plan rule, and each of its copies, deletes recovery points within maxDays.",
    severity="medium",
    remediation="Set lifecycle.deleteAfter (days) on every rule and copy action, at or below maxDays.",
    types=(BACKUP_PLAN,),
    params=BackupPlanParams,
)
def backup_plan_retention(resource: Resource, params: BackupPlanParams) -> Iterable[str]:
    for index, plan_rule in enumerate(items(resource.props, "rules")):
        where = f"rule {get(plan_rule, 'ruleName') or index}"
        lifecycles = [(where, get(plan_rule, "lifecycle"))]
        lifecycles += [
            (f"{where}: the copy to {get(copy, 'destinationVaultArn') or 'another vault'}", get(copy, "lifecycle"))
            for copy in items(plan_rule, "copyActions")
        ]
        for what, lifecycle in lifecycles:
            days = _days(get(lifecycle, "deleteAfter"))
            if not days:
                yield f"{what}: no lifecycle.deleteAfter: recovery points are kept forever"
            elif days > params.max_days:
                yield f"{what}: " + _over("lifecycle.deleteAfter", days, params.max_days)


# Logs and images ---------------------------------------------------------------------------


class LogBucketParams(Params):
    max_days: int = Field(90, ge=1)


@rule(
    PACK,
    name="cost-gcp-log-retention",
    description="Every Cloud Logging bucket keeps logs no longer than the cap (CloudWatch: cost-log-retention).",
    severity="medium",
    remediation="Set retentionDays at or below maxDays (unset or 0 is Google's default, 30 days).",
    types=LOG_BUCKETS,
    params=LogBucketParams,
)
def gcp_log_retention(resource: Resource, params: LogBucketParams) -> Iterable[str]:
    value = get(resource.props, "retentionDays")
    days = 30 if value in (None, 0, "0") else _days(value)
    if days is None:
        yield f"retentionDays is {value!r}, expected 1 to {params.max_days}"
    elif days > params.max_days:
        yield _over("retentionDays", days, params.max_days) + ("" if value else " (Google's default)")


def _expires_untagged(policy: Any) -> bool:
    """Whether an ECR lifecycle policy (JSON text) has a rule that expires untagged images."""
    document = json_document(policy)
    return any(
        get(r, "action.type") == "expire"
        and get(r, "selection.tagStatus") in ("untagged", "any")
        and _days(get(r, "selection.countNumber"))
        for r in items(document, "rules")
    )


@rule(
    PACK,
    name="cost-ecr-lifecycle",
    description=(
        "Every ECR repository has a lifecycle policy that expires untagged images, and so does every repository "
        "creation template (for the repositories ECR creates from it)."
    ),
    severity="medium",
    remediation=(
        "Attach aws.ecr.LifecyclePolicy with a rule selecting tagStatus untagged (countNumber days or images) and "
        "action expire; set lifecyclePolicy on creation templates."
    ),
)
def ecr_lifecycle(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    repositories = stack.of_type(ECR_REPOSITORY)
    policies: dict[str, list[Resource]] = {r.urn: [] for r in repositories}
    for policy in stack.of_type(ECR_LIFECYCLE):
        for owner in _owners(policy, "repository", repositories, "name"):
            policies[owner.urn].append(policy)
    for repository in repositories:
        found = policies[repository.urn]
        if not found:
            yield repository.urn, f"repository {repository.name} has no lifecycle policy"
        elif not any(_expires_untagged(get(p.props, "policy")) for p in found):
            yield repository.urn, f"repository {repository.name}'s lifecycle policy expires no untagged images"
    for template in stack.of_type(ECR_TEMPLATE):
        if not _expires_untagged(get(template.props, "lifecyclePolicy")):
            prefix = get(template.props, "prefix", template.name)
            yield (
                template.urn,
                f"repositories created from template {prefix} get no lifecycle that expires untagged images",
            )


@rule(
    PACK,
    name="cost-artifact-registry-cleanup",
    description="Every Artifact Registry repository that stores images has a DELETE cleanup policy, not in dry run.",
    severity="medium",
    remediation=(
        "Add cleanupPolicies with action DELETE and a condition (tagState UNTAGGED, olderThan), and leave "
        "cleanupPolicyDryRun unset or false."
    ),
    types=(AR_REPOSITORY,),
)
def artifact_registry_cleanup(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "mode") == "VIRTUAL_REPOSITORY":
        return  # stores nothing of its own
    deletes = [
        p
        for p in items(resource.props, "cleanupPolicies")
        if get(p, "action") == "DELETE"
        and any(get(p, f"condition.{key}") for key in ("tagState", "olderThan", "newerThan"))
    ]
    if not deletes:
        yield "no cleanup policy deletes anything (action DELETE with a condition)"
    if _on(get(resource.props, "cleanupPolicyDryRun")):
        yield "cleanupPolicyDryRun is on: the cleanup policies delete nothing"


# Spot ------------------------------------------------------------------------------------


class SpotShareParams(Params):
    # Percent of the app pools' nodes (desired, else minimum) that are spot.
    min_spot_share: int = Field(0, ge=0, le=100)
    # An app tier that is all spot needs an on-demand app pool beside it (off in dev).
    on_demand_app_pool: bool = True


def _system(labels: Any) -> bool:
    return get(labels, "node-role") == "system"


def _pool_nodes(pool: Resource) -> int:
    zones = max(1, len(as_list(known(pool.props, "nodeLocations"))))
    autoscaling = get(pool.props, "autoscaling") or {}
    for value, per_zone in (
        (get(pool.props, "nodeCount"), True),
        (get(autoscaling, "totalMinNodeCount"), False),
        (get(autoscaling, "minNodeCount"), True),
        (get(pool.props, "initialNodeCount"), True),
    ):
        if _days(value):
            return _days(value) * (zones if per_zone else 1)
    return 1


def _template_spot(stack: Stack, group: Resource, spec: Any) -> bool:
    templates = stack.of_type(LAUNCH_TEMPLATE)
    name = get(spec, "name") or get(spec, "launchTemplateName")
    named = [t for t in templates if name and known(t.props, "name") == name]
    used = named or [t for t in templates if t.urn in group.dependencies]
    return len(used) == 1 and get(used[0].props, "instanceMarketOptions.marketType") == "spot"


def _capacity(stack: Stack) -> list[tuple[Resource, str, int, float]]:
    """The app pools: (resource, cluster, nodes, spot nodes)."""
    found: list[tuple[Resource, str, int, float]] = []
    for group in stack.of_type(NODE_GROUP):
        if _system(get(group.props, "labels")):
            continue
        nodes = (
            _days(get(group.props, "scalingConfig.desiredSize"))
            or _days(get(group.props, "scalingConfig.minSize"))
            or 1
        )
        spot = get(group.props, "capacityType") == "SPOT"
        found.append((group, str(known(group.props, "clusterName") or ""), nodes, nodes if spot else 0))
    for pool in stack.of_type(NODE_POOL):
        if _system(get(pool.props, "nodeConfig.labels")):
            continue
        nodes = _pool_nodes(pool)
        spot = any(_on(get(pool.props, f"nodeConfig.{key}")) for key in ("spot", "preemptible"))
        found.append((pool, str(known(pool.props, "cluster") or ""), nodes, nodes if spot else 0))
    for group in stack.of_type(AUTOSCALING_GROUP):
        nodes = _days(get(group.props, "desiredCapacity")) or _days(get(group.props, "minSize")) or 1
        mixed = get(group.props, "mixedInstancesPolicy")
        if mixed:
            distribution = get(mixed, "instancesDistribution") or {}
            base = min(nodes, int(get(distribution, "onDemandBaseCapacity", 0) or 0))
            percent = int(get(distribution, "onDemandPercentageAboveBaseCapacity", 100))
            spot = (nodes - base) * (100 - percent) / 100
        else:
            spot = nodes if _template_spot(stack, group, get(group.props, "launchTemplate")) else 0
        found.append((group, "", nodes, spot))
    return found


@rule(
    PACK,
    name="cost-spot-share",
    description=(
        "At least minSpotShare percent of the app pools' nodes (EKS node groups, GKE node pools, autoscaling "
        "groups; system pools aside) are spot, and an all-spot app tier has an on-demand pool beside it where "
        "the environment asks for one."
    ),
    severity="medium",
    remediation=(
        "Move app capacity to spot (capacityType SPOT, nodeConfig.spot, a spot launch template or "
        "mixedInstancesPolicy); in prod keep an on-demand app pool for when spot capacity is reclaimed."
    ),
    params=SpotShareParams,
)
def spot_share(stack: Stack, params: SpotShareParams) -> Iterable[tuple[str, str]]:
    pools = _capacity(stack)
    total = sum(nodes for _, _, nodes, _ in pools)
    spot = sum(spot for _, _, _, spot in pools)
    if total and spot * 100 < params.min_spot_share * total:
        share = spot * 100 / total
        yield (
            pools[0][0].urn,
            (
                f"spot is {share:.0f}% of the app pools' capacity ({spot:g} of {total} nodes), "
                f"minimum {params.min_spot_share}%"
            ),
        )
    if not params.on_demand_app_pool:
        return
    clusters: dict[str, list[tuple[Resource, int, float]]] = {}
    for pool, cluster, nodes, spot_nodes in pools:
        clusters.setdefault(cluster, []).append((pool, nodes, spot_nodes))
    for members in clusters.values():
        if all(spot_nodes >= nodes for _, nodes, spot_nodes in members):
            names = ", ".join(pool.name for pool, _, _ in members)
            yield members[0][0].urn, f"every app pool is spot ({names}): a spot reclaim takes all app capacity at once"


class SpotGroupParams(Params):
    # Instance types a spot node group draws from (EKS picks the deepest spot pools).
    min_instance_types: int = Field(2, ge=1)


@rule(
    PACK,
    name="cost-spot-node-groups",
    description=(
        "Spot EKS node groups draw from at least minInstanceTypes instance types, and take spot through "
        "capacityType, not their launch template's instanceMarketOptions (EKS rejects it)."
    ),
    severity="medium",
    remediation=(
        "List two or more interchangeable instanceTypes (same vCPU and memory) on the node group; drop "
        "instanceMarketOptions from its launch template and set capacityType SPOT."
    ),
    params=SpotGroupParams,
)
def spot_node_groups(stack: Stack, params: SpotGroupParams) -> Iterable[tuple[str, str]]:
    templates = stack.of_type(LAUNCH_TEMPLATE)
    for group in stack.of_type(NODE_GROUP):
        spec = get(group.props, "launchTemplate") or {}
        named = [t for t in templates if get(spec, "name") and known(t.props, "name") == get(spec, "name")]
        used = named or [t for t in templates if t.urn in group.dependencies and spec]
        for template in used:
            if get(template.props, "instanceMarketOptions"):
                yield (
                    group.urn,
                    (
                        f"node group {group.name}'s launch template {template.name} sets instanceMarketOptions "
                        "(EKS rejects it): use capacityType"
                    ),
                )
        if get(group.props, "capacityType") != "SPOT":
            continue
        kinds = sorted({str(kind) for kind in as_list(get(group.props, "instanceTypes"))})
        if len(kinds) < params.min_instance_types:
            shown = ", ".join(kinds) or "the launch template's one type"
            yield (
                group.urn,
                (
                    f"spot node group {group.name} draws from {len(kinds) or 1} instance type(s) ({shown}), "
                    f"expected at least {params.min_instance_types}"
                ),
            )
