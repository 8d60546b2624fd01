"""Zero-trust rules for GCP: GKE clusters and node pools, Cloud SQL (and the Cloud SQL
standby Database Migration Service creates), Memorystore, Cloud Storage, firewall rules and
KMS; identities and paths to public exposure (service account keys, public bucket IAM,
external IPs, basic roles, the default compute service account)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from policies.core.props import as_list, get, items, json_document
from policies.core.rule import Params, Resource, rule
from policies.zero_trust import PACK

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
DMS_PROFILE = "gcp:databasemigrationservice/connectionProfile:ConnectionProfile"
# The SSL modes of a DMS source profile that encrypt (REQUIRED without verifying the
# server's certificate, SERVER_ONLY and SERVER_CLIENT with it).
DMS_SSL_TYPES = ("REQUIRED", "SERVER_ONLY", "SERVER_CLIENT")
BUCKET = "gcp:storage/bucket:Bucket"
FIREWALL = "gcp:compute/firewall:Firewall"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
SERVICE_ACCOUNT_KEY = "gcp:serviceaccount/key:Key"
BUCKET_IAM_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
BUCKET_IAM_BINDING = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
COMPUTE_INSTANCE = "gcp:compute/instance:Instance"
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


def open_range(ranges: Iterable[Any]) -> str | None:
    """The internet ("0.0.0.0/0" or "::/0") if these CIDRs cover all of it, however spelled:
    "::0/0", "0.0.0.0/00", or halves such as 0.0.0.0/1 with 128.0.0.0/1."""
    by_version: dict[int, list[Any]] = {4: [], 6: []}
    for text in ranges:
        try:
            network = ipaddress.ip_network(str(text).strip(), strict=False)
        except ValueError:
            continue
        by_version[network.version].append(network)
    for networks in by_version.values():
        collapsed = list(ipaddress.collapse_addresses(networks))
        if collapsed and collapsed[0].prefixlen == 0:
            return str(collapsed[0])
    return None


def default_compute_account(email: Any) -> bool:
    """The Compute Engine default service account: unset, "default", or its address (Editor on the project)."""
    account = str(email or "default")
    return account == "default" or account.endswith("-compute@developer.gserviceaccount.com")


def autopilot(resource: Resource) -> bool:
    """An Autopilot cluster: Google enforces Workload Identity, Dataplane V2 (so NetworkPolicy),
    shielded nodes with secure boot, and forbids node configuration; private nodes, the
    endpoint's authorized networks and the nodes' service account remain the cluster's own."""
    return resource.type == CLUSTER and get(resource.props, "enableAutopilot") is True


def node_configs(resource: Resource) -> list[tuple[str, Any]]:
    """(where, nodeConfig) of every node configuration a Standard cluster or node pool declares:
    a NodePool's, the cluster's own (its default pool, unless removed) and its inline nodePools' (a way to
    declare pools that a rule reading only NodePool resources would miss). Autopilot has none."""
    if resource.type == NODE_POOL:
        return [("nodeConfig", get(resource.props, "nodeConfig") or {})]
    if autopilot(resource):
        return []
    # With removeDefaultNodePool the cluster's own nodeConfig is a throwaway pool's, deleted
    # as soon as the cluster exists: no node runs with it.
    config = None if get(resource.props, "removeDefaultNodePool") is True else get(resource.props, "nodeConfig")
    found = [("nodeConfig", config)] if config else []
    for index, pool in enumerate(items(resource.props, "nodePools")):
        found.append((f"nodePools[{index}].nodeConfig", get(pool, "nodeConfig") or {}))
    return found


@rule(
    PACK,
    name="gcp-gke-private-nodes",
    description="GKE nodes have private IPs only.",
    severity="high",
    remediation="Set privateClusterConfig.enablePrivateNodes: true (with a masterIpv4CidrBlock).",
    types=(CLUSTER,),
)
def gke_private_nodes(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "privateClusterConfig.enablePrivateNodes") is not True:
        yield "nodes are not private"


@rule(
    PACK,
    name="gcp-gke-workload-identity",
    description="GKE uses Workload Identity, so pods never see node credentials.",
    severity="high",
    remediation="Set workloadIdentityConfig.workloadPool: <project>.svc.id.goog.",
    types=(CLUSTER,),
)
def gke_workload_identity(resource: Resource, params: Params) -> Iterable[str]:
    if autopilot(resource):
        return  # always on in Autopilot
    if not get(resource.props, "workloadIdentityConfig.workloadPool"):
        yield "Workload Identity is off"


@rule(
    PACK,
    name="gcp-gke-shielded-nodes",
    description="GKE nodes are shielded, with secure boot and integrity monitoring.",
    severity="medium",
    remediation=(
        "Keep enableShieldedNodes: true and set nodeConfig.shieldedInstanceConfig.enableSecureBoot: true "
        "(and leave enableIntegrityMonitoring unset or true), on node pools and inline nodePools alike."
    ),
    types=(CLUSTER, NODE_POOL),
)
def gke_shielded(resource: Resource, params: Params) -> Iterable[str]:
    if autopilot(resource):
        return  # Autopilot's nodes are always shielded, with secure boot
    if resource.type == CLUSTER and get(resource.props, "enableShieldedNodes") is False:
        yield "shielded nodes are off"
    for where, config in node_configs(resource):
        prefix = "" if where == "nodeConfig" else f"{where}: "
        if get(config, "shieldedInstanceConfig.enableSecureBoot") is not True:
            yield f"{prefix}secure boot is off"
        # On by default: only an explicit false turns it off.
        if get(config, "shieldedInstanceConfig.enableIntegrityMonitoring") is False:
            yield f"{prefix}integrity monitoring is off"


@rule(
    PACK,
    name="gcp-gke-no-legacy-abac",
    description="GKE has legacy ABAC off (RBAC only).",
    severity="high",
    remediation="Set enableLegacyAbac: false.",
    types=(CLUSTER,),
)
def gke_legacy_abac(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "enableLegacyAbac") is True:
        yield "legacy ABAC is on"


@rule(
    PACK,
    name="gcp-gke-no-client-certificate",
    description="GKE issues no client certificate (a credential that cannot be revoked).",
    severity="high",
    remediation="Set masterAuth.clientCertificateConfig.issueClientCertificate: false.",
    types=(CLUSTER,),
)
def gke_client_certificate(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "masterAuth.clientCertificateConfig.issueClientCertificate") is True:
        yield "a client certificate is issued"


@rule(
    PACK,
    name="gcp-gke-master-authorized-networks",
    description="The GKE control plane accepts only authorized networks, none of them the internet.",
    severity="critical",
    remediation="Set masterAuthorizedNetworksConfig.cidrBlocks to your VPN or office ranges.",
    types=(CLUSTER,),
)
def gke_authorized_networks(resource: Resource, params: Params) -> Iterable[str]:
    config = get(resource.props, "masterAuthorizedNetworksConfig")
    if config is None:
        yield "master authorized networks are off"
        return
    if get(config, "gcpPublicCidrsAccessEnabled") is True:
        yield "every Google Cloud public IP may reach the control plane (gcpPublicCidrsAccessEnabled)"
    opened = open_range(get(block, "cidrBlock") for block in items(config, "cidrBlocks"))
    if opened:
        yield f"the control plane is open to {opened}"


@rule(
    PACK,
    name="gcp-gke-network-policy",
    description="GKE enforces NetworkPolicies (Dataplane V2 or the network policy add-on).",
    severity="high",
    remediation="Set datapathProvider: ADVANCED_DATAPATH (Dataplane V2), or networkPolicy.enabled: true.",
    types=(CLUSTER,),
)
def gke_network_policy(resource: Resource, params: Params) -> Iterable[str]:
    if autopilot(resource):
        return  # Autopilot always runs Dataplane V2, which enforces NetworkPolicies
    dataplane_v2 = get(resource.props, "datapathProvider") == "ADVANCED_DATAPATH"
    if not dataplane_v2 and get(resource.props, "networkPolicy.enabled") is not True:
        yield "NetworkPolicies are not enforced"


@rule(
    PACK,
    name="gcp-gke-no-default-service-account",
    description="Node pools run as a dedicated service account, not the Compute Engine default.",
    severity="high",
    remediation=(
        "Set nodeConfig.serviceAccount (on Autopilot, clusterAutoscaling.autoProvisioningDefaults.serviceAccount) "
        "to a least-privilege service account's email."
    ),
    types=(NODE_POOL, CLUSTER),
)
def gke_service_account(resource: Resource, params: Params) -> Iterable[str]:
    # Autopilot's nodes run as the auto-provisioning defaults' account (the Compute Engine
    # default unless set): Autopilot does not choose a least-privilege one.
    path = "clusterAutoscaling.autoProvisioningDefaults.serviceAccount" if autopilot(resource) else None
    if path is None and resource.type == CLUSTER and not get(resource.props, "nodeConfig"):
        return
    if default_compute_account(get(resource.props, path or "nodeConfig.serviceAccount")):
        yield "nodes run as the default compute service account"


@rule(
    PACK,
    name="gcp-sql-no-public-ip",
    description="Cloud SQL has no public IPv4 address.",
    severity="critical",
    remediation="Set settings.ipConfiguration.ipv4Enabled: false with a privateNetwork.",
    types=(SQL,),
)
def sql_private(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "settings.ipConfiguration.ipv4Enabled", True) is not False:
        yield "the instance has a public IPv4 address"


@rule(
    PACK,
    name="gcp-sql-ssl-required",
    description="Cloud SQL accepts only encrypted connections.",
    severity="high",
    remediation="Set settings.ipConfiguration.sslMode: ENCRYPTED_ONLY (or TRUSTED_CLIENT_CERTIFICATE_REQUIRED).",
    types=(SQL,),
)
def sql_ssl(resource: Resource, params: Params) -> Iterable[str]:
    mode = get(resource.props, "settings.ipConfiguration.sslMode")
    if mode not in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"):
        yield f"sslMode is {mode or 'unset'}"


@rule(
    PACK,
    name="gcp-dms-private-tls",
    description=(
        "Database Migration Service: the Cloud SQL instance a destination profile creates has no public IPv4 "
        "address and accepts only encrypted connections; a PostgreSQL source is read over SSL."
    ),
    severity="critical",
    remediation=(
        "On a cloudsql destination set settings.ipConfig: {enableIpv4: false, privateNetwork: <the VPC>, "
        "requireSsl: true}; on a postgresql source set ssl.type: REQUIRED (or SERVER_ONLY, SERVER_CLIENT)."
    ),
    types=(DMS_PROFILE,),
)
def dms_private_tls(resource: Resource, params: Params) -> Iterable[str]:
    # The standby DMS creates is no gcp.sql.DatabaseInstance: the two rules above miss it.
    settings = get(resource.props, "cloudsql.settings")
    if settings is not None:
        if get(settings, "ipConfig.enableIpv4", True) is not False:
            yield "the Cloud SQL destination has a public IPv4 address"
        if not get(settings, "ipConfig.privateNetwork"):
            yield "the Cloud SQL destination has no private network"
        if get(settings, "ipConfig.requireSsl") is not True:
            yield "the Cloud SQL destination accepts unencrypted connections (requireSsl is not true)"
    postgresql = get(resource.props, "postgresql")
    if postgresql is not None and get(postgresql, "ssl.type") not in DMS_SSL_TYPES:
        yield f"the PostgreSQL source is read without SSL (ssl.type is {get(postgresql, 'ssl.type') or 'unset'})"


@rule(
    PACK,
    name="gcp-bucket-uniform-access",
    description="Buckets use uniform bucket-level access (no object ACLs).",
    severity="medium",
    remediation="Set uniformBucketLevelAccess: true.",
    types=(BUCKET,),
)
def bucket_uniform(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "uniformBucketLevelAccess") is not True:
        yield "uniform bucket-level access is off"


@rule(
    PACK,
    name="gcp-bucket-public-access-prevention",
    description="Buckets enforce public access prevention.",
    severity="critical",
    remediation="Set publicAccessPrevention: enforced.",
    types=(BUCKET,),
)
def bucket_public(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "publicAccessPrevention") != "enforced":
        yield f"publicAccessPrevention is {get(resource.props, 'publicAccessPrevention', 'inherited')}"


class AdminPortParams(Params):
    admin_ports: tuple[int, ...] = (22, 3389, 5432, 6379, 6443, 10250)


# Protocols named by IP protocol number, as the API also takes them.
PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "132": "sctp"}
PORTED_PROTOCOLS = ("tcp", "udp", "sctp")
ALL_PORTS = (0, 65535)
HIGHEST_PORT = 65535


def _protocol(allow: Any) -> str:
    name = str(get(allow, "protocol", "all")).strip().lower()
    return PROTOCOL_NUMBERS.get(name, name)


def _port_spans(allow: Any) -> list[tuple[int, int]]:
    """The ports an allow block opens, as (low, high) spans: every port when none is listed."""
    spans = []
    for spec in as_list(get(allow, "ports")):
        low, _, high = str(spec).strip().partition("-")
        if low.isdigit() and (high or low).isdigit():
            spans.append((int(low), int(high or low)))
    return spans or [ALL_PORTS]


def _every_port(spans: list[tuple[int, int]]) -> bool:
    """Whether the spans together cover ports 1-65535 ("0-32767" with "32768-65535", say)."""
    reach = 1
    for low, high in sorted(spans):
        if low > reach:
            break
        reach = max(reach, high + 1)
    return reach > HIGHEST_PORT


def _live(resource: Resource, direction: str) -> bool:
    return (
        str(get(resource.props, "direction", "INGRESS")).upper() == direction
        and get(resource.props, "disabled") is not True
    )


@rule(
    PACK,
    name="gcp-firewall-no-open-admin-ports",
    description="No firewall rule opens an administrative port to the internet (IPv4 or IPv6).",
    severity="critical",
    remediation="Restrict sourceRanges to known CIDRs, or reach the host through IAP (35.235.240.0/20).",
    types=(FIREWALL,),
    params=AdminPortParams,
)
def firewall_admin_ports(resource: Resource, params: AdminPortParams) -> Iterable[str]:
    if not _live(resource, "INGRESS") or not open_range(as_list(get(resource.props, "sourceRanges"))):
        return
    for allow in items(resource.props, "allows"):
        if _protocol(allow) not in ("all", "tcp"):
            continue
        spans = _port_spans(allow)
        opened = [port for port in params.admin_ports if any(low <= port <= high for low, high in spans)]
        if opened:
            yield f"ports {opened} are open to the internet"


@rule(
    PACK,
    name="gcp-firewall-no-open-egress",
    description=(
        "No firewall rule allows egress to the whole internet (0.0.0.0/0 or ::/0) on every protocol or every port."
    ),
    severity="high",
    remediation=(
        "List the destination ports the workload needs (443, for example) and narrow destinationRanges; "
        "leave the rest to a low-priority deny-all egress rule."
    ),
    types=(FIREWALL,),
)
def firewall_open_egress(resource: Resource, params: Params) -> Iterable[str]:
    if not _live(resource, "EGRESS"):
        return
    # Without destinationRanges an egress rule applies to every destination.
    destinations = as_list(get(resource.props, "destinationRanges"))
    opened = open_range(destinations) if destinations else "0.0.0.0/0"
    if not opened:
        return
    for allow in items(resource.props, "allows"):
        protocol = _protocol(allow)
        if protocol == "all":
            yield f"egress to {opened} on every protocol"
        elif protocol in PORTED_PROTOCOLS and _every_port(_port_spans(allow)):
            yield f"egress to {opened} on every {protocol} port"


@rule(
    PACK,
    name="gcp-kms-rotation",
    description="KMS keys rotate at most every 90 days.",
    severity="medium",
    remediation="Set rotationPeriod to 7776000s (90 days) or less.",
    types=(CRYPTO_KEY,),
)
def kms_rotation(resource: Resource, params: Params) -> Iterable[str]:
    period = str(get(resource.props, "rotationPeriod", ""))
    if not period.endswith("s") or not period[:-1].isdigit() or int(period[:-1]) > 7776000:
        yield f"rotationPeriod is {period or 'unset'}"


@rule(
    PACK,
    name="gcp-no-service-account-keys",
    description="No service account has a key: identities get short-lived credentials.",
    severity="high",
    remediation=(
        "Delete the gcp.serviceaccount.Key; use Workload Identity in GKE, an attached service account "
        "elsewhere in Google Cloud, and Workload Identity Federation for CI."
    ),
    types=(SERVICE_ACCOUNT_KEY,),
)
def no_service_account_keys(resource: Resource, params: Params) -> Iterable[str]:
    yield "a service account key (long-lived credentials)"


@rule(
    PACK,
    name="gcp-storage-not-public",
    description="No bucket IAM grant names allUsers or allAuthenticatedUsers.",
    severity="critical",
    remediation="Grant the role to named service accounts or groups; serve public content through a CDN instead.",
    types=(BUCKET_IAM_MEMBER, BUCKET_IAM_BINDING),
)
def storage_not_public(resource: Resource, params: Params) -> Iterable[str]:
    members = as_list(get(resource.props, "member")) + as_list(get(resource.props, "members"))
    for member in members:
        if str(member) in PUBLIC_MEMBERS:
            yield f"{member} is granted {get(resource.props, 'role', 'a role')}"


# Instances, and the templates that create them.
VM_TYPES = (
    COMPUTE_INSTANCE,
    "gcp:compute/instanceTemplate:InstanceTemplate",
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
    "gcp:compute/instanceFromTemplate:InstanceFromTemplate",
)


@rule(
    PACK,
    name="gcp-compute-no-public-ip",
    description="Compute instances, and the templates that create them, get no external IP.",
    severity="high",
    remediation="Remove networkInterfaces[].accessConfigs; reach the VM through IAP and egress through Cloud NAT.",
    types=VM_TYPES,
)
def compute_no_public_ip(resource: Resource, params: Params) -> Iterable[str]:
    for index, interface in enumerate(items(resource.props, "networkInterfaces")):
        if items(interface, "accessConfigs"):
            yield f"network interface {index} has an access config (an external IP)"


# --- Issue #19: backups, Memorystore, basic roles, the default compute service account ---


class SqlBackupParams(Params):
    min_retained_backups: int = 7


@rule(
    PACK,
    name="gcp-sql-backups",
    description=(
        "Cloud SQL keeps automated backups with point-in-time recovery (the binary log on MySQL), "
        "retaining at least minRetainedBackups of them."
    ),
    severity="high",
    remediation=(
        "Set settings.backupConfiguration: {enabled: true, pointInTimeRecoveryEnabled: true (binaryLogEnabled: true "
        "on MySQL), backupRetentionSettings.retainedBackups: 7 or more}."
    ),
    types=(SQL,),
    params=SqlBackupParams,
)
def sql_backups(resource: Resource, params: SqlBackupParams) -> Iterable[str]:
    # A read replica has no backups of its own: its primary's restore it.
    if get(resource.props, "masterInstanceName") or get(resource.props, "instanceType") == "READ_REPLICA_INSTANCE":
        return
    backup = get(resource.props, "settings.backupConfiguration")
    if get(backup, "enabled") is not True:
        yield "automated backups are off"
        return
    if str(get(resource.props, "databaseVersion", "")).upper().startswith("MYSQL"):
        if get(backup, "binaryLogEnabled") is not True:
            yield "the binary log is off: no point-in-time recovery"
    elif get(backup, "pointInTimeRecoveryEnabled") is not True:
        yield "point-in-time recovery is off"
    retained = get(backup, "backupRetentionSettings.retainedBackups", 7)  # the API's default
    if isinstance(retained, int) and retained < params.min_retained_backups:
        yield f"{retained} backups are retained, at least {params.min_retained_backups} expected"


# Flag values as the engines read them: PostgreSQL takes on/true/yes/1 alike.
FLAG_SPELLINGS = {"true": "on", "yes": "on", "1": "on", "false": "off", "no": "off", "0": "off"}
# Per engine: (flag, the value it must have, whether unset is the engine's safe default).
# Audit trail: who connected and when, lock waits, checkpoints, temporary files, pgAudit;
# per-statement statistics stay off (they flood the log); MySQL's local_infile and SQL
# Server's cross-database ownership chaining and contained users stay off.
SQL_FLAGS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "POSTGRES": (
        ("log_connections", "on", False),
        ("log_disconnections", "on", False),
        ("log_lock_waits", "on", False),
        ("log_checkpoints", "on", False),  # on by default from PostgreSQL 15: see _unset_ok
        ("log_temp_files", "0", False),
        ("cloudsql.enable_pgaudit", "on", False),
        ("log_executor_stats", "off", True),
        ("log_parser_stats", "off", True),
        ("log_planner_stats", "off", True),
        ("log_statement_stats", "off", True),
    ),
    "MYSQL": (("local_infile", "off", True),),
    "SQLSERVER": (
        ("cross db ownership chaining", "off", True),
        ("contained database authentication", "off", True),
    ),
}


def _unset_ok(version: str, flag: str, default_safe: bool) -> bool:
    if flag == "log_checkpoints":
        major = version.removeprefix("POSTGRES_").split("_")[0]
        return major.isdigit() and int(major) >= 15
    return default_safe


def _flag_value(value: str, expected: str) -> str:
    """A boolean flag's value in on/off spelling; a number as written."""
    return FLAG_SPELLINGS.get(value, value) if expected in ("on", "off") else value


@rule(
    PACK,
    name="gcp-sql-database-flags",
    description=(
        "Cloud SQL's database flags keep an audit trail and the engine's risky features off: PostgreSQL logs "
        "connections, disconnections, lock waits, checkpoints and temporary files and runs pgAudit; MySQL keeps "
        "local_infile off; SQL Server keeps cross db ownership chaining and contained database authentication off."
    ),
    severity="medium",
    remediation=(
        "Set settings.databaseFlags: on PostgreSQL log_connections, log_disconnections, log_lock_waits, "
        "log_checkpoints and cloudsql.enable_pgaudit on, log_temp_files 0, the log_*_stats flags off or unset; "
        "on MySQL local_infile off; on SQL Server cross db ownership chaining and contained database "
        "authentication off."
    ),
    types=(SQL,),
)
def sql_database_flags(resource: Resource, params: Params) -> Iterable[str]:
    version = str(get(resource.props, "databaseVersion", "")).strip().upper()
    required = next((flags for engine, flags in SQL_FLAGS.items() if version.startswith(engine)), ())
    values: dict[str, list[str]] = {}
    for flag in items(resource.props, "settings.databaseFlags"):
        name = str(get(flag, "name", "")).strip().lower()
        value = str(get(flag, "value", "")).strip().lower()
        values.setdefault(name, []).append(value)
    for name, expected, default_safe in required:
        found = values.get(name)
        if found is None:
            if not _unset_ok(version, name, default_safe):
                yield f"{name} is unset, expected {expected}"
        # Every occurrence counts: a second entry may not undo the first.
        elif any(_flag_value(value, expected) != expected for value in found):
            yield f"{name} is {', '.join(found)}, expected {expected}"


REDIS = "gcp:redis/instance:Instance"
REDIS_CLUSTER = "gcp:redis/cluster:Cluster"
VALKEY = "gcp:memorystore/instance:Instance"
# Per type: the TLS mode that encrypts in transit, and the property and values that turn authentication on.
MEMORYSTORE_SECURITY: dict[str, tuple[str, str, tuple[Any, ...]]] = {
    REDIS: ("SERVER_AUTHENTICATION", "authEnabled", (True,)),
    REDIS_CLUSTER: ("TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION", "authorizationMode", ("AUTH_MODE_IAM_AUTH",)),
    VALKEY: ("SERVER_AUTHENTICATION", "authorizationMode", ("IAM_AUTH", "TOKEN_AUTH")),
}


@rule(
    PACK,
    name="gcp-memorystore-encryption",
    description="Memorystore (Redis, Redis Cluster, Valkey) encrypts in transit and requires authentication.",
    severity="high",
    remediation=(
        "Redis: transitEncryptionMode SERVER_AUTHENTICATION and authEnabled true; Redis Cluster: "
        "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION and authorizationMode AUTH_MODE_IAM_AUTH; Valkey: "
        "SERVER_AUTHENTICATION and authorizationMode IAM_AUTH."
    ),
    types=tuple(MEMORYSTORE_SECURITY),
)
def memorystore_encryption(resource: Resource, params: Params) -> Iterable[str]:
    tls, auth, on = MEMORYSTORE_SECURITY[resource.type]
    mode = get(resource.props, "transitEncryptionMode")
    if mode != tls:
        yield f"in-transit encryption is off (transitEncryptionMode is {mode or 'unset'}), expected {tls}"
    if get(resource.props, auth) not in on:
        yield f"clients are not authenticated ({auth} is {get(resource.props, auth, 'unset')})"


@rule(
    PACK,
    name="gcp-memorystore-persistence",
    description="Memorystore survives a node's loss: a replica (STANDARD_HA, replicaCount) or RDB/AOF persistence.",
    severity="medium",
    remediation=(
        "Redis: tier STANDARD_HA, or persistenceConfig.persistenceMode RDB; Redis Cluster and Valkey: "
        "replicaCount 1 or more, or persistenceConfig.mode RDB or AOF."
    ),
    types=tuple(MEMORYSTORE_SECURITY),
)
def memorystore_persistence(resource: Resource, params: Params) -> Iterable[str]:
    if resource.type == REDIS:
        replicated = get(resource.props, "tier") == "STANDARD_HA"
        mode = get(resource.props, "persistenceConfig.persistenceMode")
    else:
        replicated = (get(resource.props, "replicaCount") or 0) >= 1
        mode = get(resource.props, "persistenceConfig.mode")
    if not replicated and mode not in ("RDB", "AOF"):
        yield f"no replica and no persistence (persistence mode {mode or 'unset'}): a node's loss loses the data"


IAM_TYPES = tuple(
    f"gcp:{scope}/iAM{kind}:IAM{kind}"
    for scope in ("projects", "folder", "organizations")
    for kind in ("Member", "Binding", "Policy")
)
BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
# Principals that are people (or everyone): Google accounts, groups, whole domains, workforce identities.
HUMAN_PREFIXES = (
    "user:",
    "group:",
    "domain:",
    "principal://iam.googleapis.com/locations/global/workforcepools/",
    "principalset://iam.googleapis.com/locations/global/workforcepools/",
)


def _grants(resource: Resource) -> list[tuple[Any, list[Any]]]:
    """(role, members) of an IAM member, binding or policy."""
    if resource.type.endswith("IAMPolicy"):
        policy = json_document(get(resource.props, "policyData")) or {}
        return [(get(b, "role"), as_list(get(b, "members"))) for b in items(policy, "bindings")]
    members = as_list(get(resource.props, "member")) + as_list(get(resource.props, "members"))
    return [(get(resource.props, "role"), members)]


@rule(
    PACK,
    name="gcp-iam-no-basic-roles",
    description=(
        "No project, folder or organization grants a basic role (owner, editor, viewer) to people, groups, "
        "domains or everyone."
    ),
    severity="high",
    remediation=(
        "Grant predefined or custom roles that name the permissions needed (roles/container.developer, "
        "roles/cloudsql.client...), to groups."
    ),
    types=IAM_TYPES,
)
def iam_no_basic_roles(resource: Resource, params: Params) -> Iterable[str]:
    for role, members in _grants(resource):
        if str(role).strip().lower() not in BASIC_ROLES:
            continue
        for member in members:
            text = str(member).strip()
            if text in PUBLIC_MEMBERS or text.lower().startswith(HUMAN_PREFIXES):
                yield f"{text} is granted the basic role {role}"


FULL_ACCESS_SCOPES = ("cloud-platform", "https://www.googleapis.com/auth/cloud-platform")


@rule(
    PACK,
    name="gcp-no-default-service-account-broad-scopes",
    description=(
        "No VM or instance template runs as the Compute Engine default service account with the cloud-platform "
        "scope (full access to every Cloud API)."
    ),
    severity="high",
    remediation=(
        "Set serviceAccount.email to a dedicated least-privilege service account (its IAM roles then bound what "
        "it may do), or narrow serviceAccount.scopes."
    ),
    types=VM_TYPES,
)
def no_default_account_broad_scopes(resource: Resource, params: Params) -> Iterable[str]:
    # No serviceAccount block: the VM has no identity at all (or, from a template, the template's).
    for account in items(resource.props, "serviceAccount"):
        scopes = [str(scope).strip().lower().rstrip("/") for scope in as_list(get(account, "scopes"))]
        if default_compute_account(get(account, "email")) and any(scope in FULL_ACCESS_SCOPES for scope in scopes):
            yield "runs as the default compute service account with the cloud-platform scope"
