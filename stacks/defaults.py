"""Per-environment defaults, and per cloud for a region's platform. A stack file
overrides any of them, key by key."""

from typing import Any

_SHARED: dict[str, Any] = {
    "team": "ai-platform",
    "costCenter": "cc-ai-platform",
}

# The platform team's alert mailbox: budgets and replication lag alarms notify it.
ALERTS = "ai-platform-alerts@project-ai.dev"

_SMALL_PROMETHEUS = {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}

# The VPA recommender in every cluster that runs the API: what its pods' requests should
# be (recommendations only; stacks/cost.py). OpenCost is on wherever monitoring is.
_COST: dict[str, Any] = {"vpa": {"enabled": True}}

ENVIRONMENT_DEFAULTS: dict[str, dict[str, Any]] = {
    # A laptop cluster (kind, minikube): one replica, small requests, no canary.
    "local": {
        **_SHARED,
        "cost": _COST,
        "app": {
            "replicas": {"min": 1, "max": 2},
            "resources": {
                "requests": {"cpu": "100m", "memory": "128Mi"},
                "limits": {"cpu": "500m", "memory": "256Mi"},
            },
            "logLevel": "debug",
        },
        "delivery": {"strategy": "rolling"},
        "monitoring": {"retention": "1d", "storageSize": "5Gi", "prometheusResources": _SMALL_PROMETHEUS},
        # The mesh as everywhere else: dev-mode OpenBao's own root signs its intermediate
        # in the same run, so a laptop renders the whole mesh (and preflight checks it).
        "mesh": {"enabled": True, "tracingSamplingPercent": 100.0},
    },
    # Spot nodes and short retention: cheap, and disposable.
    "dev": {
        **_SHARED,
        "cost": _COST,
        "app": {
            "replicas": {"min": 1, "max": 3},
            "resources": {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"cpu": "1", "memory": "512Mi"},
            },
        },
        "delivery": {"strategy": "rolling"},
        "monitoring": {"retention": "3d", "storageSize": "10Gi", "prometheusResources": _SMALL_PROMETHEUS},
        "database": {
            "instanceClass": "db.t4g.medium",
            "instances": 1,
            "backupRetentionDays": 1,
            "deletionProtection": False,
        },
        "cache": {"nodeType": "cache.t4g.small", "replicas": 0},
        # The mesh as in staging and prod, so a change to it meets dev first.
        "mesh": {"enabled": True, "tracingSamplingPercent": 100.0},
        # Chaos Mesh and the experiments (components/chaos): a game day every Tuesday
        # night, so a change meets its failure modes before staging's Thursday one.
        "chaos": {"enabled": True, "gameDay": "0 1 * * 2"},
    },
    # Prod's shape at a smaller size, so a release rehearses the real thing.
    "staging": {
        **_SHARED,
        "cost": _COST,
        "app": {
            "replicas": {"min": 2, "max": 4},
            "resources": {
                "requests": {"cpu": "500m", "memory": "512Mi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            },
        },
        "delivery": {
            "strategy": "blueGreen",
            "blueGreen": {"autoPromotion": True, "scaleDownDelaySeconds": 300},
            # With a canary and the mesh: a tenth of GET and HEAD requests mirrored to it
            # in every step.
            "canary": {"mirrorPercent": 10, "mirrorSteps": "all"},
            "analysis": {"minSuccessRate": 0.99, "maxP99LatencySeconds": 1.0, "count": 3},
        },
        "monitoring": {"retention": "15d", "storageSize": "50Gi"},
        # Istio with Vault-signed workload certificates (stacks/mesh.py), as in prod.
        "mesh": {"enabled": True, "tracingSamplingPercent": 10.0},
        # Chaos Mesh's game day on prod's shape, every Thursday night. Never in prod: the
        # config refuses it there, and so does the zero-trust pack.
        "chaos": {"enabled": True, "gameDay": "0 1 * * 4"},
        "database": {"instanceClass": "db.r6g.large", "instances": 2, "backupRetentionDays": 7},
        "cache": {"nodeType": "cache.r6g.large", "replicas": 1},
    },
    "prod": {
        **_SHARED,
        "cost": _COST,
        "app": {
            "replicas": {"min": 3, "max": 10},
            "resources": {
                "requests": {"cpu": "500m", "memory": "512Mi"},
                "limits": {"cpu": "2", "memory": "1Gi"},
            },
        },
        "delivery": {
            "strategy": "canary",
            # With the mesh: a tenth of GET and HEAD requests mirrored to the canary in
            # its first step, before it answers users at a larger share.
            "canary": {"weights": [10, 50], "pauseSeconds": 120, "mirrorPercent": 10, "mirrorSteps": [1]},
            "analysis": {"minSuccessRate": 0.995, "maxP99LatencySeconds": 0.5, "count": 5, "failureLimit": 1},
            "rollbackWindowRevisions": 3,
        },
        # Two Prometheus replicas and three Alertmanagers (a gossip quorum), spread over nodes.
        "monitoring": {
            "retention": "30d",
            "storageSize": "200Gi",
            "prometheusReplicas": 2,
            "alertmanagerReplicas": 3,
            "prometheusResources": {
                "requests": {"cpu": "1", "memory": "4Gi"},
                "limits": {"cpu": "4", "memory": "8Gi"},
            },
        },
        "mesh": {"enabled": True, "tracingSamplingPercent": 1.0},
        "database": {"instanceClass": "db.r6g.xlarge", "instances": 3, "backupRetentionDays": 14},
        "cache": {"nodeType": "cache.r6g.large", "replicas": 2},
        # Aurora Global Database's figures: a secondary region is typically under a second
        # behind, and a managed failover takes about a minute. A planned switchover waits
        # for the replica to be within the RPO. A cross-cloud replica sets its own.
        "disasterRecovery": {"rpoSeconds": 1, "rtoSeconds": 60, "maxSwitchoverLagSeconds": 1},
    },
}

# A region's platform by cloud: node types and network shapes differ, so GCP's pools
# have no defaults (an AWS instance type is no GCP machine type).
_AWS_PLATFORM: dict[str, dict[str, Any]] = {
    "dev": {
        "systemPool": {"types": ["t3.medium"], "min": 1, "desired": 1, "max": 2},
        "appPool": {"types": ["t3.large", "m6i.large"], "min": 1, "desired": 1, "max": 3, "spot": True},
        "natPerZone": False,
        "logRetentionDays": 7,
        "budgetUsd": 1500,
        "alertEmails": [ALERTS],
        # The app nodes off at night and over the weekend, except the night before the
        # Tuesday game day (chaos.gameDay), whose experiments need them.
        "offHours": {"scaleDown": "0 20 * * 2-5", "scaleUp": "0 7 * * 1-5"},
    },
    "staging": {
        "systemPool": {"types": ["m6i.large"], "min": 2, "desired": 2, "max": 3},
        "appPool": {"types": ["m6i.large"], "min": 2, "desired": 2, "max": 4},
        "natPerZone": True,
        "logRetentionDays": 14,
        "budgetUsd": 4000,
        "alertEmails": [ALERTS],
        # As in dev, up the night before staging's Thursday game day.
        "offHours": {"scaleDown": "0 20 * * 1,2,4,5", "scaleUp": "0 7 * * 1-5"},
    },
    "prod": {
        "systemPool": {"types": ["m6i.large"], "min": 3, "desired": 3, "max": 3},
        "appPool": {"types": ["m6i.xlarge"], "min": 3, "desired": 3, "max": 12},
        "natPerZone": True,
        "logRetentionDays": 30,
        "budgetUsd": 15000,
        "alertEmails": [ALERTS],
    },
}

PLATFORM_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "aws": _AWS_PLATFORM,
    "gcp": {
        env: {"budgetUsd": platform["budgetUsd"], "alertEmails": platform["alertEmails"]}
        for env, platform in _AWS_PLATFORM.items()
    },
}


def environment_defaults(environment: object, cloud: object) -> dict[str, Any]:
    """The defaults a stack of this environment (and a region of this cloud) starts from;
    none for an unknown environment."""
    if not isinstance(environment, str) or environment not in ENVIRONMENT_DEFAULTS:
        return {}
    defaults = dict(ENVIRONMENT_DEFAULTS[environment])
    platform = PLATFORM_DEFAULTS.get(cloud, {}).get(environment) if isinstance(cloud, str) else None
    if platform is not None:
        defaults["platform"] = platform
    return defaults


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
