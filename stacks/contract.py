"""The contract a regional stack exports, and the only thing other stacks read.

Version 1:

| output | what |
|---|---|
| `contractVersion` | 1; raised when a key changes meaning or disappears |
| `environment`, `cloud`, `region` | where the region is |
| `ingressHostname`, `healthPath` | what the edge balances across and probes |
| `kubernetesVersion`, `clusterName` | the region's cluster |
| `databaseWriter`, `databaseReader` | PostgreSQL endpoints (host names or private addresses) |
| `globalDatabaseId` | the Aurora global database the region belongs to; only where there is one |
| `registryUrl` | where the region's nodes pull the API's images from |
| `registryReplicas` | regions the registry replicates to; only where the region owns one (AWS) |
| `ingressAddress` | the ingress load balancer's DNS name (AWS) or address (GCP): the edge's record |
|  | of `ingressHostname` points there; only where the workload runs, null until assigned |
| `disasterRecovery` | `{rpoSeconds, rtoSeconds, maxSwitchoverLagSeconds}`: the region's targets (`ops dr` |
|  | reads them); only where the stack sets them (every production region) |
| `accountId` | the AWS account the region deploys to; only on AWS |
| `vpnGatewayId`, `vpnGatewayAsn` | the VPN gateway replicas on another cloud connect to, and its BGP ASN; |
|  | only on a primary with `platform.crossCloudReplicas` |
| `replicationCidrs` | the ranges its database admits those replicas from (5432 only); likewise |

Secondaries and the edge read these names through `StackReference.require_output`, so
a missing one fails at once.
"""

from __future__ import annotations

from typing import Any

import pulumi

from stacks.model import RegionStack

CONTRACT_VERSION = 1
# Public (the Ingress routes only versioned paths): status only, from the cached readiness.
HEALTH_PATH = "/v1/health"

VERSION = "contractVersion"
ENVIRONMENT = "environment"
CLOUD = "cloud"
REGION = "region"
INGRESS_HOSTNAME = "ingressHostname"
HEALTH_PATH_OUTPUT = "healthPath"
KUBERNETES_VERSION = "kubernetesVersion"
CLUSTER_NAME = "clusterName"
DATABASE_WRITER = "databaseWriter"
DATABASE_READER = "databaseReader"
GLOBAL_DATABASE = "globalDatabaseId"
REGISTRY_URL = "registryUrl"
REGISTRY_REPLICAS = "registryReplicas"
INGRESS_ADDRESS = "ingressAddress"
DISASTER_RECOVERY = "disasterRecovery"
ACCOUNT_ID = "accountId"
VPN_GATEWAY = "vpnGatewayId"
VPN_GATEWAY_ASN = "vpnGatewayAsn"
REPLICATION_CIDRS = "replicationCidrs"
# What every region exports, and every reader may rely on.
KEYS = (
    VERSION,
    ENVIRONMENT,
    CLOUD,
    REGION,
    INGRESS_HOSTNAME,
    HEALTH_PATH_OUTPUT,
    KUBERNETES_VERSION,
    CLUSTER_NAME,
    DATABASE_WRITER,
    DATABASE_READER,
    REGISTRY_URL,
)
# Exported only where it exists; a reader that needs one requires it by name.
OPTIONAL_KEYS = (
    GLOBAL_DATABASE,
    REGISTRY_REPLICAS,
    INGRESS_ADDRESS,
    DISASTER_RECOVERY,
    ACCOUNT_ID,
    VPN_GATEWAY,
    VPN_GATEWAY_ASN,
    REPLICATION_CIDRS,
)
# What a region replicating its primary's database across clouds reads of it.
CROSS_CLOUD_SOURCE_KEYS = (ACCOUNT_ID, VPN_GATEWAY, VPN_GATEWAY_ASN, REPLICATION_CIDRS)


def export_region_contract(config: RegionStack, platform: dict[str, Any]) -> None:
    """Exports every key; `platform` holds the cluster, database and registry values."""
    values = {
        VERSION: CONTRACT_VERSION,
        ENVIRONMENT: config.environment,
        CLOUD: config.cloud,
        REGION: config.region,
        INGRESS_HOSTNAME: config.ingress.host,
        HEALTH_PATH_OUTPUT: HEALTH_PATH,
        KUBERNETES_VERSION: config.kubernetes.version,
        DISASTER_RECOVERY: disaster_recovery(config),
        **platform,
    }
    missing = sorted(set(KEYS) - set(values))
    assert not missing, f"the region contract misses {missing}"
    for key in KEYS:
        pulumi.export(key, values[key])
    for key in OPTIONAL_KEYS:
        if values.get(key) is not None:
            pulumi.export(key, values[key])


def disaster_recovery(config: RegionStack) -> dict[str, int] | None:
    """The region's RPO and RTO targets, as the stack file names them."""
    targets = config.disaster_recovery
    return targets.targets() if targets is not None else None


def read_region_contract(stack: str, also_require: tuple[str, ...] = ()) -> dict[str, pulumi.Output]:
    """The contract of another region stack: every key of `KEYS`, and the optional keys
    in `also_require`, each required; the other optional keys as they are (None where
    the stack exports none, e.g. one last deployed before the key existed)."""
    reference = pulumi.StackReference(f"region-{stack}", stack_name=_qualified(stack))
    optional = {key: reference.get_output(key) for key in OPTIONAL_KEYS if key not in also_require}
    return {**optional, **{key: reference.require_output(key) for key in (*KEYS, *also_require)}}


def _qualified(stack: str) -> str:
    # A bare stack name means this project in the current organization.
    if "/" in stack:
        return stack
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}"
