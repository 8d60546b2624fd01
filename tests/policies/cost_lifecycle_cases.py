"""Cases for the cost pack's lifecycle and spot rules (policies/cost/lifecycle.py), and the
ways around them: disabled rules ("disabled", "Disabled ", "enabled"), numbers as text,
zero days, missing nested fields, a rule scoped to a prefix, a lifecycle on another
bucket than the versioned one, retain counts of 0 and of thousands, a dry-run cleanup,
a spot pool of one instance type. test_rules.py adds them to its table."""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.core.rule import Resource
from tests.policies.cases import DELETE, changed, resource
from tests.policies.relational_cases import RelationalCase

BUCKET = "aws:s3/bucket:Bucket"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
GCS = "gcp:storage/bucket:Bucket"
DLM = "aws:dlm/lifecyclePolicy:LifecyclePolicy"
SCHEDULE = "gcp:compute/resourcePolicy:ResourcePolicy"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_INSTANCE = "aws:rds/instance:Instance"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
PLAN = "aws:backup/plan:Plan"
LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
FOLDER_LOG_BUCKET = "gcp:logging/folderBucketConfig:FolderBucketConfig"
ECR = "aws:ecr/repository:Repository"
ECR_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
ECR_TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
AR = "gcp:artifactregistry/repository:Repository"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "gcp:container/nodePool:NodePool"
ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


def on(kind: str, props: dict[str, Any], name: str, *depends_on: Resource) -> Resource:
    return resource(kind, props, name, tuple(d.urn for d in depends_on))


# S3: expire logs after 30 days, abort uploads after 7, old versions after 30.
EXPIRE = {"id": "expire", "status": "Enabled", "filter": {"prefix": "logs/"}, "expiration": {"days": 30}}
ABORT = {"id": "abort", "status": "Enabled", "filter": {}, "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}
NONCURRENT = {"id": "old", "status": "Enabled", "noncurrentVersionExpiration": {"noncurrentDays": 30}}
TIER = {"id": "tier", "status": "Enabled", "transitions": [{"days": 0, "storageClass": "INTELLIGENT_TIERING"}]}

LOGS = resource(BUCKET, {"bucket": "project-ai-logs"}, "logs")
ASSETS = resource(BUCKET, {}, "assets")


def s3(*blocks: tuple[str, dict[str, Any], tuple[Resource, ...]]) -> list[Resource]:
    """The two buckets, and lifecycle/versioning resources as (kind, props, depends on)."""
    made = [
        on(kind, props, f"{kind.rsplit(':', 1)[1].lower()}-{i}", *deps) for i, (kind, props, deps) in enumerate(blocks)
    ]
    return [LOGS, ASSETS, *made]


def rules(*entries: dict[str, Any], bucket: Any = "project-ai-logs") -> dict[str, Any]:
    return {"bucket": bucket, "rules": list(entries)}


ENABLED = {"bucket": "project-ai-logs", "versioningConfiguration": {"status": "Enabled"}}

# GCS: delete after a year, keep three versions.
GCS_DELETE = {"action": {"type": "Delete"}, "condition": {"age": 365}}
GCS_VERSIONS = {"action": {"type": "Delete"}, "condition": {"numNewerVersions": 3, "withState": "ARCHIVED"}}
GCS_COLD = {"action": {"type": "SetStorageClass", "storageClass": "COLDLINE"}, "condition": {"age": 90}}
LIVE_ONLY = {"action": {"type": "Delete"}, "condition": {"age": 365, "withState": "LIVE"}}


def gcs(name: str, *lifecycle: dict[str, Any], versioned: Any = False) -> Resource:
    return resource(
        GCS, {"location": "EU", "lifecycleRules": list(lifecycle), "versioning": {"enabled": versioned}}, name
    )


# DLM: daily snapshots, 14 kept, copies to another region kept a week.
DAILY = {
    "name": "daily",
    "createRule": {"interval": 24, "intervalUnit": "HOURS", "times": "03:00"},
    "retainRule": {"count": 14},
    "crossRegionCopyRules": [
        {"target": "eu-west-1", "encrypted": True, "retainRule": {"interval": 7, "intervalUnit": "DAYS"}}
    ],
}


def dlm(name: str, *schedules: dict[str, Any], **extra: Any) -> Resource:
    details = {"policyType": "EBS_SNAPSHOT_MANAGEMENT", "resourceTypes": ["VOLUME"], "schedules": list(schedules)}
    return resource(
        DLM,
        {"description": name, "executionRoleArn": "arn:aws:iam::1:role/dlm", "policyDetails": details, **extra},
        name,
    )


def snapshot_schedule(name: str, retention: Any) -> Resource:
    policy: dict[str, Any] = {"schedule": {"dailySchedule": {"daysInCycle": 1, "startTime": "04:00"}}}
    if retention is not DELETE:
        policy["retentionPolicy"] = {"maxRetentionDays": retention, "onSourceDiskDelete": "APPLY_RETENTION_POLICY"}
    return resource(SCHEDULE, {"region": "europe-west1", "snapshotSchedulePolicy": policy}, name)


def sql(name: str, retained: Any, log_days: Any) -> Resource:
    backups = {"enabled": True, "pointInTimeRecoveryEnabled": True, "transactionLogRetentionDays": log_days}
    backups["backupRetentionSettings"] = {"retainedBackups": retained, "retentionUnit": "COUNT"}
    return resource(
        SQL,
        {"databaseVersion": "POSTGRES_16", "settings": {"tier": "db-custom-2-7680", "backupConfiguration": backups}},
        name,
    )


def plan(name: str, *plan_rules: dict[str, Any]) -> Resource:
    return resource(PLAN, {"name": name, "rules": list(plan_rules)}, name)


def plan_rule(name: str, lifecycle: Any, *copies: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"ruleName": name, "targetVaultName": "vault", "schedule": "cron(0 5 * * ? *)"}
    if lifecycle is not DELETE:
        entry["lifecycle"] = lifecycle
    if copies:
        entry["copyActions"] = list(copies)
    return entry


def ecr_policy(*selections: tuple[str, str, Any]) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": i + 1,
                    "selection": {"tagStatus": status, "countType": kind, "countNumber": number, "countUnit": "days"},
                    "action": {"type": "expire"},
                }
                for i, (status, kind, number) in enumerate(selections)
            ]
        }
    )


UNTAGGED = ecr_policy(("untagged", "sinceImagePushed", 7), ("any", "imageCountMoreThan", 50))
TAGGED_ONLY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": ["v"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 50,
                },
                "action": {"type": "expire"},
            },
            # Untagged, but with a count of 0: expires nothing.
            {
                "rulePriority": 2,
                "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 0},
                "action": {"type": "expire"},
            },
        ]
    }
)
API = resource(ECR, {"name": "project-ai/api"}, "api")
OPS = resource(ECR, {"name": "project-ai/ops"}, "ops")

AR_POLICIES = [
    {"id": "keep-releases", "action": "KEEP", "mostRecentVersions": {"keepCount": 50}},
    {"id": "untagged", "action": "DELETE", "condition": {"tagState": "UNTAGGED", "olderThan": "604800s"}},
]


def registry(name: str, policies: list[dict[str, Any]], **extra: Any) -> Resource:
    return resource(AR, {"location": "europe-west1", "format": "DOCKER", "cleanupPolicies": policies, **extra}, name)


def group(name: str, capacity: str, types: list[str], desired: Any, system: bool = False, **extra: Any) -> Resource:
    props: dict[str, Any] = {
        "clusterName": "dev",
        "capacityType": capacity,
        "instanceTypes": types,
        "scalingConfig": {"desiredSize": desired, "minSize": 1, "maxSize": 6},
        **extra,
    }
    if system:
        props["labels"] = {"node-role": "system"}
    return resource(NODE_GROUP, props, name)


def pool(name: str, spot: Any, minimum: int, system: bool = False) -> Resource:
    config: dict[str, Any] = {"machineType": "e2-standard-4", "spot": spot}
    if system:
        config["labels"] = {"node-role": "system"}
    props = {
        "cluster": "prod",
        "nodeConfig": config,
        "autoscaling": {"totalMinNodeCount": minimum, "totalMaxNodeCount": 6},
    }
    return resource(NODE_POOL, props, name)


SPOT_TEMPLATE = resource(LAUNCH_TEMPLATE, {"name": "batch", "instanceMarketOptions": {"marketType": "spot"}}, "batch")
PLAIN_TEMPLATE = resource(LAUNCH_TEMPLATE, {"name": "apps", "imageId": "ami-1"}, "apps-lt")

COST_LIFECYCLE_CASES = [
    RelationalCase(
        "cost-s3-lifecycle-rules",
        [
            *s3(
                (LIFECYCLE, rules(EXPIRE, ABORT, NONCURRENT), ()),
                (VERSIONING, ENABLED, ()),
                # An unknown bucket id: the one bucket it depends on. A transition at day 0 counts.
                (LIFECYCLE, rules(TIER, ABORT, bucket=UNKNOWN_STRING_VALUE), (ASSETS,)),
            ),
            # Inline (deprecated) rules on a bucket of its own.
            resource(
                BUCKET,
                {
                    "lifecycleRules": [
                        {"enabled": True, "expiration": {"days": "30"}, "abortIncompleteMultipartUploadDays": "3"},
                        {"enabled": "true", "noncurrentVersionExpiration": {"days": 14}},
                    ],
                    "versioning": {"enabled": True},
                },
                "inline",
            ),
        ],
        [
            *s3(
                # Versioned `logs`; the noncurrent rule is on `assets` (named by its auto-name).
                (VERSIONING, ENABLED, ()),
                (LIFECYCLE, rules({**EXPIRE, "status": "Disabled "}, {**ABORT, "status": "enabled"}), ()),
                (LIFECYCLE, rules(NONCURRENT, bucket="assets-0a1b2c3"), ()),
                # Zero days and missing nested fields expire nothing; abort only under a prefix.
                (
                    LIFECYCLE,
                    rules(
                        {
                            "id": "zero",
                            "status": "Enabled",
                            "expiration": {"days": 0},
                            "noncurrentVersionExpiration": {"noncurrentDays": 0},
                        },
                        {"id": "empty", "status": "Enabled", "expiration": {}, "abortIncompleteMultipartUpload": {}},
                        {**ABORT, "filter": {"prefix": "tmp/"}},
                        bucket="elsewhere",
                    ),
                    (),
                ),
            ),
            # A bucket that keeps old versions a year and parts a month.
            resource(
                BUCKET,
                {
                    "lifecycleRules": [
                        {"enabled": True, "expiration": {"days": 400}, "abortIncompleteMultipartUploadDays": 30},
                        {"enabled": False, "noncurrentVersionExpiration": {"days": 1}},
                        {"enabled": True, "noncurrentVersionExpiration": {"days": "365"}},
                    ],
                    "versioning": {"enabled": "true"},
                },
                "archive",
            ),
        ],
        [
            "bucket logs: no enabled lifecycle rule expires or transitions current or noncurrent objects",
            "bucket logs: no enabled rule over the whole bucket aborts incomplete multipart uploads",
            "bucket logs is versioned, but no enabled rule over the whole bucket expires noncurrent versions",
            "bucket assets: no enabled rule over the whole bucket aborts incomplete multipart uploads",
            "bucket archive: abortIncompleteMultipartUpload.daysAfterInitiation is 30 days, cap 7",
            "bucket archive: noncurrentVersionExpiration.noncurrentDays is 365 days, cap 90",
            "bucket elsewhere: no enabled lifecycle rule expires or transitions current or noncurrent objects",
            "bucket elsewhere: no enabled rule over the whole bucket aborts incomplete multipart uploads",
        ],
    ),
    RelationalCase(
        "cost-gcs-lifecycle-rules",
        [
            gcs("media", GCS_DELETE, GCS_VERSIONS, versioned=True),
            gcs("cold", GCS_COLD),
            # Age deletes old versions too when the rule does not keep to live objects.
            gcs("aged", {"action": {"type": "Delete"}, "condition": {"age": "30"}}, versioned="true"),
        ],
        [
            # Wrong casing, zero and missing conditions, a class change without a class.
            gcs(
                "odd",
                {"action": {"type": "delete"}, "condition": {"age": 30}},
                {"action": {"type": "Delete"}, "condition": {"age": 0, "numNewerVersions": "0"}},
                {"action": {"type": "Delete"}},
                {"action": {"type": "SetStorageClass"}, "condition": {"age": 30}},
            ),
            # Versioned, but the only Delete rule keeps to live objects.
            gcs("live", LIVE_ONLY, versioned=True),
            gcs(
                "slow",
                GCS_DELETE,
                {"action": {"type": "Delete"}, "condition": {"daysSinceNoncurrentTime": 400}},
                versioned=True,
            ),
        ],
        [
            "no lifecycle rule deletes or re-tiers objects on a condition (age, numNewerVersions ...)",
            "versioning is on, but no Delete rule bounds noncurrent versions "
            "(numNewerVersions or daysSinceNoncurrentTime)",
            "noncurrent versions are kept 365 days, cap 90",
        ],
    ),
    RelationalCase(
        "cost-snapshot-retention",
        [
            dlm("volumes", DAILY),
            dlm(
                "weekly",
                {**changed(DAILY, "retainRule", {"interval": 4, "intervalUnit": "WEEKS"}), "crossRegionCopyRules": []},
            ),
            dlm("off", changed(DAILY, "retainRule.count", 5000), state="DISABLED"),
            snapshot_schedule("disks", 14),
            resource(SCHEDULE, {"region": "europe-west1", "instanceSchedulePolicy": {"timeZone": "UTC"}}, "nightly"),
        ],
        [
            dlm("none", changed(DAILY, "retainRule.count", 0)),
            dlm(
                "huge", changed(changed(DAILY, "retainRule.count", "5000"), "crossRegionCopyRules.0.retainRule", DELETE)
            ),
            dlm("hourly", changed(changed(DAILY, "createRule.interval", 12), "retainRule.count", 100)),
            dlm(
                "unbounded",
                changed(DAILY, "retainRule", {"interval": 2, "intervalUnit": "YEARS"}),
                changed(DAILY, "retainRule", DELETE),
            ),
            snapshot_schedule("forever", DELETE),
            snapshot_schedule("long", "400"),
        ],
        [
            "schedule daily: retainRule.count is 0, expected 1 to 35",
            "schedule daily: keeps 5000 snapshots 24 hours apart (5000 days), cap 35",
            "schedule daily: the copy to eu-west-1 has no retainRule",
            "schedule daily: keeps 100 snapshots 12 hours apart (50 days), cap 35",
            "schedule daily: retainRule is 730 days, cap 35",
            "schedule daily: no retainRule",
            "the snapshot schedule has no retentionPolicy.maxRetentionDays: snapshots are kept forever",
            "retentionPolicy.maxRetentionDays is 400 days, cap 35",
        ],
    ),
    RelationalCase(
        "cost-database-backup-retention",
        [
            resource(RDS_CLUSTER, {"engine": "aurora-postgresql", "backupRetentionPeriod": 14}, "orders"),
            resource(RDS_INSTANCE, {"engine": "postgres", "backupRetentionPeriod": "35"}, "reports"),
            sql("main", 14, 7),
            # Missing nested fields: the provider's defaults (7 backups, 7 days).
            resource(SQL, {"settings": {"tier": "db-custom-2-7680"}}, "bare"),
        ],
        [
            resource(RDS_CLUSTER, {"engine": "aurora-postgresql", "backupRetentionPeriod": "36"}, "orders"),
            sql("main", 365, "35"),
        ],
        [
            "backupRetentionPeriod is 36 days, cap 35",
            "backupRetentionSettings.retainedBackups is 365, cap 35",
            "transactionLogRetentionDays is 35 days, cap 7",
        ],
    ),
    RelationalCase(
        "cost-backup-plan-retention",
        [
            plan(
                "daily",
                plan_rule(
                    "daily", {"deleteAfter": 35}, {"destinationVaultArn": "arn:dr", "lifecycle": {"deleteAfter": "14"}}
                ),
            )
        ],
        [
            plan(
                "daily",
                plan_rule("forever", DELETE),
                plan_rule("zero", {"deleteAfter": 0, "coldStorageAfter": 30}),
                plan_rule("year", {"deleteAfter": 365}, {"destinationVaultArn": "arn:dr"}),
            )
        ],
        [
            "rule forever: no lifecycle.deleteAfter: recovery points are kept forever",
            "rule zero: no lifecycle.deleteAfter: recovery points are kept forever",
            "rule year: lifecycle.deleteAfter is 365 days, cap 35",
            "rule year: the copy to arn:dr: no lifecycle.deleteAfter: recovery points are kept forever",
        ],
    ),
    RelationalCase(
        "cost-gcp-log-retention",
        [
            resource(LOG_BUCKET, {"bucketId": "_Default", "retentionDays": 30}, "default"),
            resource(LOG_BUCKET, {"bucketId": "audit", "retentionDays": "90"}, "audit"),
            # Unset or 0: Google's 30 days.
            resource(FOLDER_LOG_BUCKET, {"bucketId": "_Default", "retentionDays": 0}, "folder"),
        ],
        [
            resource(LOG_BUCKET, {"bucketId": "_Default", "retentionDays": 3650}, "default"),
            resource(LOG_BUCKET, {"bucketId": "odd", "retentionDays": "thirty"}, "odd"),
        ],
        ["retentionDays is 3650 days, cap 90", "retentionDays is 'thirty', expected 1 to 90"],
    ),
    RelationalCase(
        "cost-ecr-lifecycle",
        [
            API,
            OPS,
            on(ECR_POLICY, {"repository": "project-ai/api", "policy": UNTAGGED}, "api-lifecycle", API),
            # An unknown repository name: the one repository it depends on.
            on(ECR_POLICY, {"repository": UNKNOWN_STRING_VALUE, "policy": UNTAGGED}, "ops-lifecycle", OPS),
            resource(ECR_TEMPLATE, {"prefix": "project-ai", "lifecyclePolicy": UNTAGGED}, "replicas"),
        ],
        [
            API,
            OPS,
            # Depends on both, names `api`: `ops` has none.
            on(ECR_POLICY, {"repository": "project-ai/api", "policy": TAGGED_ONLY}, "api-lifecycle", API, OPS),
            resource(ECR_TEMPLATE, {"prefix": "project-ai"}, "replicas"),
        ],
        [
            "repository api's lifecycle policy expires no untagged images",
            "repository ops has no lifecycle policy",
            "repositories created from template project-ai get no lifecycle that expires untagged images",
        ],
    ),
    RelationalCase(
        "cost-artifact-registry-cleanup",
        [
            registry("images", AR_POLICIES),
            registry("proxy", [], mode="VIRTUAL_REPOSITORY"),
            registry("dry", AR_POLICIES, cleanupPolicyDryRun=False),
        ],
        [
            registry("kept", AR_POLICIES[:1]),
            registry("trial", AR_POLICIES, cleanupPolicyDryRun="true"),
            # DELETE without a condition, and a lowercase action.
            registry("bare", [{"id": "all", "action": "DELETE"}, {**AR_POLICIES[1], "action": "delete"}]),
        ],
        [
            "no cleanup policy deletes anything (action DELETE with a condition)",
            "cleanupPolicyDryRun is on: the cleanup policies delete nothing",
            "no cleanup policy deletes anything (action DELETE with a condition)",
        ],
    ),
    RelationalCase(
        "cost-spot-share",
        [
            # Spot apps beside an on-demand app pool; the system pool is not counted.
            group("system", "ON_DEMAND", ["m6i.large"], 3, system=True),
            group("apps", "ON_DEMAND", ["m6i.xlarge"], 2),
            group("apps-spot", "SPOT", ["m6i.xlarge", "m5.xlarge"], 4),
            pool("apps", False, 2),
            pool("apps-spot", True, 2),
        ],
        [
            # Every app pool is spot: an EKS group and an autoscaling group from a spot template.
            group("system", "ON_DEMAND", ["m6i.large"], "3", system=True),
            group("apps-spot", "SPOT", ["m6i.xlarge", "m5.xlarge"], "2", clusterName=UNKNOWN_STRING_VALUE),
            on(ASG, {"desiredCapacity": 2, "launchTemplate": {"name": "batch"}}, "batch", SPOT_TEMPLATE),
            SPOT_TEMPLATE,
            pool("apps", "true", 3),
        ],
        [
            "every app pool is spot (apps-spot, batch): a spot reclaim takes all app capacity at once",
            "every app pool is spot (apps): a spot reclaim takes all app capacity at once",
        ],
    ),
    RelationalCase(
        "cost-spot-node-groups",
        [
            group("apps", "SPOT", ["m6i.xlarge", "m5.xlarge"], 2),
            group("system", "ON_DEMAND", ["m6i.large"], 2, system=True),
            on(
                NODE_GROUP,
                {"capacityType": "ON_DEMAND", "launchTemplate": {"name": "apps", "version": "1"}},
                "lt",
                PLAIN_TEMPLATE,
            ),
            PLAIN_TEMPLATE,
        ],
        [
            # The same type twice is one type; no types is the launch template's one.
            group("apps", "SPOT", ["m6i.xlarge", "m6i.xlarge"], 2),
            group("bare", "SPOT", [], 2),
            on(
                NODE_GROUP,
                {"capacityType": "ON_DEMAND", "launchTemplate": {"id": UNKNOWN_STRING_VALUE}},
                "market",
                SPOT_TEMPLATE,
            ),
            SPOT_TEMPLATE,
        ],
        [
            "spot node group apps draws from 1 instance type(s) (m6i.xlarge), expected at least 2",
            "spot node group bare draws from 1 instance type(s) (the launch template's one type), expected at least 2",
            "node group market's launch template batch sets instanceMarketOptions (EKS rejects it): use capacityType",
        ],
    ),
]
