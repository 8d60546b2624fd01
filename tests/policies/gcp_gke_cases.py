"""Cases for the GKE rules at CIS GKE depth (policies/zero_trust/gcp_gke.py), Cloud SQL's
database flags, and the shielded nodes rule's integrity monitoring and inline pools. Each bad
case tries a way around a rule (inline nodePools, node auto-provisioning, mixed case, other
spellings, booleans for enum strings, a flag listed twice, Autopilot's own settings); each
good case is a legitimate design, Autopilot included. test_rules.py adds them to its table."""

from __future__ import annotations

from typing import Any

from policies.core.rule import Resource
from tests.policies.cases import DELETE, changed, resource
from tests.policies.relational_cases import AUTOPILOT, RelationalCase

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
KEY = "projects/p/locations/europe-west1/keyRings/gke/cryptoKeys/secrets"
NAP = "clusterAutoscaling.autoProvisioningDefaults"
READONLY = "insecureKubeletReadonlyPortEnabled"
KUBELET = {READONLY: "FALSE", "podPidsLimit": 4096}
LEGACY_ON = {"disable-legacy-endpoints": "false"}
# A Standard cluster as components/gcp/gke.py declares it: pools apart, defaults that close the port.
STANDARD: dict[str, Any] = {
    "privateClusterConfig": {"enablePrivateNodes": True},
    "workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"},
    "releaseChannel": {"channel": "REGULAR"},
    "databaseEncryption": {"state": "ENCRYPTED", "keyName": KEY},
    "removeDefaultNodePool": True,
    "nodeConfig": {
        "serviceAccount": "nodes@p.iam.gserviceaccount.com",
        "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
        "kubeletConfig": {"podPidsLimit": 4096},
    },
    "nodePoolDefaults": {"nodeConfigDefaults": {READONLY: "FALSE"}},
}
POOL: dict[str, Any] = {
    "management": {"autoRepair": True, "autoUpgrade": True},
    "nodeConfig": {
        "imageType": "COS_CONTAINERD",
        "serviceAccount": "nodes@p.iam.gserviceaccount.com",
        "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
        "kubeletConfig": KUBELET,
    },
}
# An Autopilot cluster that also encrypts Secrets with its own key and closes the read-only port.
AUTOPILOT_HARDENED: dict[str, Any] = {
    **AUTOPILOT,
    "databaseEncryption": {"state": "ENCRYPTED", "keyName": KEY},
    "nodePoolAutoConfig": {"nodeKubeletConfig": {READONLY: "FALSE"}},
}


def cluster(props: dict[str, Any], name: str = "cluster") -> Resource:
    return resource(CLUSTER, props, name)


def pool(props: dict[str, Any], name: str = "pool") -> Resource:
    return resource(NODE_POOL, props, name)


def inline(*pools: dict[str, Any], base: dict[str, Any] = STANDARD) -> dict[str, Any]:
    """The cluster declaring its pools inline (nodePools), not as NodePool resources."""
    return changed(base, "nodePools", [{"name": f"inline-{i}", **p} for i, p in enumerate(pools)])


SQL = "gcp:sql/databaseInstance:DatabaseInstance"
AUDIT_FLAGS = {
    "log_connections": "on",
    "log_disconnections": "on",
    "log_lock_waits": "on",
    "log_temp_files": "0",
    "cloudsql.enable_pgaudit": "on",
}


def sql(version: str, flags: dict[str, str] | list[tuple[str, str]], name: str = "db") -> Resource:
    pairs = flags.items() if isinstance(flags, dict) else flags
    props = {"databaseVersion": version, "settings": {"databaseFlags": [{"name": n, "value": v} for n, v in pairs]}}
    return resource(SQL, props, name)


GCP_GKE_CASES = [
    RelationalCase(
        "gcp-gke-secrets-encryption",
        [cluster(STANDARD), cluster(AUTOPILOT_HARDENED, "autopilot")],
        [
            cluster(changed(STANDARD, "databaseEncryption", DELETE), "unset"),
            cluster(changed(STANDARD, "databaseEncryption.state", "DECRYPTED"), "decrypted"),
            # Encrypted in name only: no key of the program's.
            cluster(changed(STANDARD, "databaseEncryption", {"state": "encrypted"}), "no-key"),
            # Autopilot encrypts with Google's keys only: not an exception.
            cluster(AUTOPILOT, "autopilot"),
        ],
        [
            "Secrets are not encrypted with a Cloud KMS key (databaseEncryption.state is unset)",
            "Secrets are not encrypted with a Cloud KMS key (databaseEncryption.state is DECRYPTED)",
            "databaseEncryption is ENCRYPTED but names no Cloud KMS key (keyName)",
            "Secrets are not encrypted with a Cloud KMS key (databaseEncryption.state is unset)",
        ],
    ),
    RelationalCase(
        "gcp-gke-node-auto-repair-upgrade",
        [
            pool(POOL),
            pool(changed(POOL, "management", DELETE), "defaults"),  # both on by default
            cluster(inline({"management": {"autoRepair": True}}), "inline"),
            cluster(changed(AUTOPILOT, NAP, {"management": {"autoRepair": False}}), "autopilot"),  # Google's nodes
        ],
        [
            pool(changed(POOL, "management.autoRepair", False), "no-repair"),
            cluster(inline(POOL, {"management": {"autoUpgrade": False}}), "inline"),
            # Node auto-provisioning's pools: a way around the NodePool resource.
            cluster(changed(STANDARD, f"{NAP}.management", {"autoRepair": False, "autoUpgrade": False}), "nap"),
        ],
        [
            "node auto-repair is off",
            "nodePools[1]: node auto-upgrade is off",
            f"{NAP}: node auto-repair is off",
            f"{NAP}: node auto-upgrade is off",
        ],
    ),
    RelationalCase(
        "gcp-gke-release-channel",
        [
            cluster(STANDARD),
            cluster(changed(STANDARD, "releaseChannel.channel", "stable"), "lower-case"),
            cluster(changed(AUTOPILOT, "releaseChannel", DELETE), "autopilot"),  # always enrolled
        ],
        [
            cluster(changed(STANDARD, "releaseChannel", DELETE), "unset"),
            cluster(changed(STANDARD, "releaseChannel.channel", "UNSPECIFIED"), "unspecified"),
        ],
        [
            "the cluster is in no release channel (releaseChannel.channel is unset)",
            "the cluster is in no release channel (releaseChannel.channel is UNSPECIFIED)",
        ],
    ),
    RelationalCase(
        "gcp-gke-node-image-cos",
        [
            pool(POOL),
            pool(changed(POOL, "nodeConfig.imageType", DELETE), "default"),  # GKE chooses COS_CONTAINERD
            pool(changed(POOL, "nodeConfig.imageType", "cos_containerd"), "lower-case"),
            cluster(STANDARD),
            cluster(AUTOPILOT_HARDENED, "autopilot"),
        ],
        [
            pool(changed(POOL, "nodeConfig.imageType", "UBUNTU_CONTAINERD"), "ubuntu"),
            cluster(inline({"nodeConfig": {"imageType": "COS"}}), "inline-docker"),
            cluster(changed(STANDARD, f"{NAP}.imageType", "UBUNTU_CONTAINERD"), "nap"),
        ],
        [
            "nodeConfig.imageType is UBUNTU_CONTAINERD, expected one of ['COS_CONTAINERD']",
            "nodePools[0].nodeConfig.imageType is COS, expected one of ['COS_CONTAINERD']",
            f"{NAP}.imageType is UBUNTU_CONTAINERD, expected one of ['COS_CONTAINERD']",
        ],
    ),
    RelationalCase(
        "gcp-gke-kubelet-readonly-port-off",
        [
            pool(POOL),
            pool(changed(POOL, f"nodeConfig.kubeletConfig.{READONLY}", False), "boolean"),
            cluster(STANDARD),
            # Inline pools that say nothing inherit the cluster's defaults.
            cluster(inline({"nodeConfig": {"machineType": "e2-standard-4"}}), "inline"),
            cluster(AUTOPILOT_HARDENED, "autopilot"),
            cluster(AUTOPILOT, "autopilot-unset"),  # Google's node configuration
        ],
        [
            pool(changed(POOL, "nodeConfig.kubeletConfig", {"podPidsLimit": 4096}), "unset"),
            pool(changed(POOL, f"nodeConfig.kubeletConfig.{READONLY}", True), "boolean"),
            # The cluster's defaults close the port; one inline pool opens it again.
            cluster(inline({"nodeConfig": {"kubeletConfig": {READONLY: " true"}}}), "inline"),
            cluster(changed(STANDARD, "nodePoolDefaults", DELETE), "no-defaults"),
            # Node auto-provisioning's pools on a Standard cluster.
            cluster(changed(STANDARD, "nodePoolAutoConfig.nodeKubeletConfig", {READONLY: "TRUE"}), "nap"),
            cluster(changed(AUTOPILOT_HARDENED, f"nodePoolAutoConfig.nodeKubeletConfig.{READONLY}", "TRUE"), "ap"),
        ],
        [
            "nodeConfig.kubeletConfig leaves the kubelet read-only port to the GKE version's default, expected FALSE",
            f"nodeConfig.kubeletConfig opens the kubelet read-only port ({READONLY} is True)",
            f"nodePools[0].nodeConfig.kubeletConfig opens the kubelet read-only port ({READONLY} is  true)",
            "nodePoolDefaults.nodeConfigDefaults leaves the kubelet read-only port to the GKE version's default, "
            "expected FALSE",
            f"nodePoolAutoConfig.nodeKubeletConfig opens the kubelet read-only port ({READONLY} is TRUE)",
            f"nodePoolAutoConfig.nodeKubeletConfig opens the kubelet read-only port ({READONLY} is TRUE)",
        ],
    ),
    RelationalCase(
        "gcp-gke-pod-pids-limit",
        [
            pool(POOL),
            cluster(STANDARD),
            # Pools apart, the default pool removed: nothing on the cluster to limit.
            cluster(changed(STANDARD, "nodeConfig", DELETE), "pools-apart"),
            cluster(AUTOPILOT_HARDENED, "autopilot"),  # Autopilot sets its own limit
        ],
        [
            pool(changed(POOL, "nodeConfig.kubeletConfig", {READONLY: "FALSE"}), "unset"),
            pool(changed(POOL, "nodeConfig.kubeletConfig.podPidsLimit", 65536), "too-many"),
            cluster(inline({"nodeConfig": {"machineType": "e2-standard-4"}}), "inline"),
            # A cluster that keeps its default pool, configured by GKE's defaults.
            cluster({"releaseChannel": {"channel": "REGULAR"}}, "default-pool"),
        ],
        [
            "nodeConfig sets no podPidsLimit",
            "nodeConfig podPidsLimit is 65536, at most 4096 expected",
            "nodePools[0].nodeConfig sets no podPidsLimit",
            "the default node pool's nodeConfig sets no podPidsLimit",
        ],
    ),
    RelationalCase(
        "gcp-gke-metadata-server",
        [
            pool(POOL),
            pool(changed(POOL, "nodeConfig.workloadMetadataConfig", DELETE), "default"),
            pool(changed(POOL, "nodeConfig.metadata", {"disable-legacy-endpoints": "TRUE"}), "legacy-off"),
            cluster(STANDARD),
            cluster(AUTOPILOT_HARDENED, "autopilot"),
        ],
        [
            pool(changed(POOL, "nodeConfig.workloadMetadataConfig.mode", "GCE_METADATA"), "gce"),
            cluster(inline({"nodeConfig": {"workloadMetadataConfig": {"mode": "gce_metadata"}}}), "inline"),
            # A cluster that keeps its default pool: its own nodeConfig runs nodes.
            cluster(
                changed(changed(STANDARD, "removeDefaultNodePool", False), "nodeConfig.metadata", LEGACY_ON), "legacy"
            ),
        ],
        [
            "nodeConfig.workloadMetadataConfig.mode is GCE_METADATA: pods reach the node's metadata and credentials",
            "nodePools[0].nodeConfig.workloadMetadataConfig.mode is gce_metadata: pods reach the node's metadata "
            "and credentials",
            "nodeConfig turns the legacy metadata endpoints on (disable-legacy-endpoints is false)",
        ],
    ),
    RelationalCase(
        "gcp-gke-shielded-nodes",
        [
            pool(POOL),
            pool(changed(POOL, "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring", DELETE), "default"),
            cluster(inline(POOL), "inline"),
        ],
        [
            pool(changed(POOL, "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring", False), "no-integrity"),
            # Secure boot off in a pool declared inline, not as a NodePool.
            cluster(inline(POOL, {"nodeConfig": {"machineType": "e2-standard-4"}}), "inline"),
        ],
        ["integrity monitoring is off", "nodePools[1].nodeConfig: secure boot is off"],
    ),
    RelationalCase(
        "gcp-gke-logging-monitoring",
        [
            cluster(STANDARD),
            cluster(
                {
                    **STANDARD,
                    "loggingService": "logging.googleapis.com/kubernetes",
                    "loggingConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "WORKLOADS"]},
                    "monitoringConfig": {"managedPrometheus": {"enabled": True}},  # components left to defaults
                },
                "explicit",
            ),
            cluster(changed(AUTOPILOT, "monitoringConfig.enableComponents", ["system_components"]), "autopilot"),
        ],
        [
            cluster({**STANDARD, "loggingService": "NONE ", "monitoringService": "none"}, "off"),
            cluster(changed(STANDARD, "loggingConfig.enableComponents", []), "no-components"),
            cluster(changed(AUTOPILOT, "monitoringConfig.enableComponents", ["APISERVER"]), "autopilot"),
        ],
        [
            "loggingService is none: the cluster's logging is off",
            "monitoringService is none: the cluster's monitoring is off",
            "loggingConfig.enableComponents leaves out SYSTEM_COMPONENTS (none)",
            "monitoringConfig.enableComponents leaves out SYSTEM_COMPONENTS (['APISERVER'])",
        ],
    ),
    RelationalCase(
        "gcp-gke-no-alpha-features",
        [cluster(STANDARD), cluster(changed(STANDARD, "enableKubernetesAlpha", False), "off")],
        [cluster(changed(AUTOPILOT, "enableKubernetesAlpha", True), "alpha")],
        ["Kubernetes alpha features are on (enableKubernetesAlpha)"],
    ),
    RelationalCase(
        "gcp-sql-database-flags",
        [
            sql("POSTGRES_16", AUDIT_FLAGS),  # log_checkpoints is on by default from PostgreSQL 15
            sql("POSTGRES_14", {**AUDIT_FLAGS, "log_checkpoints": "on"}, "pg14"),
            # PostgreSQL's other spellings of on, and a name in capitals.
            sql("POSTGRES_16", {**AUDIT_FLAGS, "log_connections": "TRUE", "LOG_LOCK_WAITS": "1"}, "spelled"),
            sql("MYSQL_8_0", {}, "mysql"),  # local_infile is off by default
            sql("SQLSERVER_2022_STANDARD", {"contained database authentication": "off"}, "sqlserver"),
        ],
        [
            sql("POSTGRES_16", {}, "bare"),
            sql("POSTGRES_14", AUDIT_FLAGS, "pg14"),
            # A second entry that undoes the first.
            sql("POSTGRES_16", [*AUDIT_FLAGS.items(), ("log_connections", "off")], "twice"),
            sql("POSTGRES_16", {**AUDIT_FLAGS, "log_temp_files": "-1", "log_statement_stats": "on"}, "noisy"),
            sql("MYSQL_8_0", {"local_infile": "ON"}, "mysql"),
            sql("SQLSERVER_2019_STANDARD", {"cross db ownership chaining": "on"}, "sqlserver"),
        ],
        [
            "log_connections is unset, expected on",
            "log_disconnections is unset, expected on",
            "log_lock_waits is unset, expected on",
            "log_temp_files is unset, expected 0",
            "cloudsql.enable_pgaudit is unset, expected on",
            "log_checkpoints is unset, expected on",
            "log_connections is on, off, expected on",
            "log_temp_files is -1, expected 0",
            "log_statement_stats is on, expected off",
            "local_infile is on, expected off",
            "cross db ownership chaining is on, expected off",
        ],
    ),
]
