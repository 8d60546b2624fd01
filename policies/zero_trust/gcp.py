"""Zero-trust rules for GCP: GKE clusters and node pools, Cloud SQL (and the Cloud SQL
standby Database Migration Service creates), Cloud Storage, firewall rules and KMS;
identities and paths to public exposure (service account keys, public bucket IAM, external IPs)."""

from __future__ import annotations

from collections.abc import Iterable

from policies.core.props import as_list, get, items
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
OPEN = ("0.0.0.0/0", "::/0")


def autopilot(resource: Resource) -> bool:
    """An Autopilot cluster: Google enforces Workload Identity, Dataplane V2 (so NetworkPolicy),
    shielded nodes with secure boot, and forbids node configuration; private nodes, the
    endpoint's authorized networks and the nodes' service account remain the cluster's own."""
    return resource.type == CLUSTER and get(resource.props, "enableAutopilot") is True


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
    description="GKE nodes are shielded, with secure boot.",
    severity="medium",
    remediation="Keep enableShieldedNodes: true and set nodeConfig.shieldedInstanceConfig.enableSecureBoot: true.",
    types=(CLUSTER, NODE_POOL),
)
def gke_shielded(resource: Resource, params: Params) -> Iterable[str]:
    if autopilot(resource):
        return  # Autopilot's nodes are always shielded, with secure boot
    if resource.type == CLUSTER and get(resource.props, "enableShieldedNodes") is False:
        yield "shielded nodes are off"
    has_nodes = resource.type == NODE_POOL or get(resource.props, "nodeConfig")
    if has_nodes and get(resource.props, "nodeConfig.shieldedInstanceConfig.enableSecureBoot") is not True:
        yield "secure boot is off"


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
    for block in items(config, "cidrBlocks"):
        if get(block, "cidrBlock") in OPEN:
            yield f"the control plane is open to {get(block, 'cidrBlock')}"


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
    account = str(get(resource.props, path or "nodeConfig.serviceAccount", "default"))
    if account == "default" or account.endswith("-compute@developer.gserviceaccount.com"):
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


def _covers(spec: str, port: int) -> bool:
    if "-" in spec:
        low, high = spec.split("-", 1)
        return int(low) <= port <= int(high)
    return int(spec) == port


@rule(
    PACK,
    name="gcp-firewall-no-open-admin-ports",
    description="No firewall rule opens an administrative port to the internet.",
    severity="critical",
    remediation="Restrict sourceRanges to known CIDRs, or reach the host through IAP (35.235.240.0/20).",
    types=(FIREWALL,),
    params=AdminPortParams,
)
def firewall_admin_ports(resource: Resource, params: AdminPortParams) -> Iterable[str]:
    if get(resource.props, "direction", "INGRESS") != "INGRESS" or get(resource.props, "disabled") is True:
        return
    if not any(source in OPEN for source in as_list(get(resource.props, "sourceRanges"))):
        return
    for allow in items(resource.props, "allows"):
        ports = [str(port) for port in as_list(get(allow, "ports"))]
        protocol = get(allow, "protocol", "all")
        tcp = protocol in ("all", "tcp")
        opened = [port for port in params.admin_ports if tcp and (not ports or any(_covers(p, port) for p in ports))]
        if opened:
            yield f"ports {opened} are open to the internet"


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


@rule(
    PACK,
    name="gcp-compute-no-public-ip",
    description="Compute instances get no external IP.",
    severity="high",
    remediation="Remove networkInterfaces[].accessConfigs; reach the VM through IAP and egress through Cloud NAT.",
    types=(COMPUTE_INSTANCE,),
)
def compute_no_public_ip(resource: Resource, params: Params) -> Iterable[str]:
    for index, interface in enumerate(items(resource.props, "networkInterfaces")):
        if items(interface, "accessConfigs"):
            yield f"network interface {index} has an access config (an external IP)"
