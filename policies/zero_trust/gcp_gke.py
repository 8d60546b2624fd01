"""Zero-trust rules for GKE at CIS GKE depth: Secrets encrypted with a Cloud KMS key, nodes
kept current (release channel, auto-repair and auto-upgrade) on Container-Optimized OS, the
kubelet's unauthenticated read-only port closed, a PID limit per pod, the GKE metadata
server in front of the nodes' metadata, logs and metrics on, and no alpha clusters.

Autopilot: Google repairs, upgrades, chooses the image and runs the metadata server itself,
and forbids node configuration; the rules that concern those skip it. Secrets encryption,
opening the read-only port (Autopilot can, through nodePoolAutoConfig), logging and alpha
features remain the cluster's own."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from policies.core.props import as_list, get, items
from policies.core.rule import Params, Resource, rule
from policies.zero_trust import PACK
from policies.zero_trust.gcp import CLUSTER, NODE_POOL, autopilot, node_configs

NAP_DEFAULTS = "clusterAutoscaling.autoProvisioningDefaults"


def _text(value: Any) -> str:
    """An enum-like value as the API compares it: "true", True and " TRUE " alike."""
    return str(value).strip().upper()


@rule(
    PACK,
    name="gcp-gke-secrets-encryption",
    description="GKE encrypts Secrets at the application layer with a Cloud KMS key (Standard and Autopilot).",
    severity="high",
    remediation=(
        "Set databaseEncryption: {state: ENCRYPTED, keyName: <a Cloud KMS key id>}, and grant GKE's service "
        "agent roles/cloudkms.cryptoKeyEncrypterDecrypter on that key."
    ),
    types=(CLUSTER,),
)
def gke_secrets_encryption(resource: Resource, params: Params) -> Iterable[str]:
    # Autopilot encrypts etcd with Google's keys only, as Standard does: the KMS layer is the program's.
    state = get(resource.props, "databaseEncryption.state")
    if state is None or _text(state) != "ENCRYPTED":
        yield f"Secrets are not encrypted with a Cloud KMS key (databaseEncryption.state is {state or 'unset'})"
    elif not get(resource.props, "databaseEncryption.keyName"):
        yield "databaseEncryption is ENCRYPTED but names no Cloud KMS key (keyName)"


def _management(resource: Resource) -> list[tuple[str, Any]]:
    """(where, management) of a node pool, the cluster's inline pools and node auto-provisioning."""
    if resource.type == NODE_POOL:
        return [("", get(resource.props, "management"))]
    found = [
        (f"nodePools[{i}]: ", get(pool, "management")) for i, pool in enumerate(items(resource.props, "nodePools"))
    ]
    return [*found, (f"{NAP_DEFAULTS}: ", get(resource.props, f"{NAP_DEFAULTS}.management"))]


@rule(
    PACK,
    name="gcp-gke-node-auto-repair-upgrade",
    description="GKE node pools repair and upgrade their nodes automatically.",
    severity="medium",
    remediation=(
        "Leave management.autoRepair and management.autoUpgrade unset or true on node pools, inline nodePools "
        "and clusterAutoscaling.autoProvisioningDefaults."
    ),
    types=(CLUSTER, NODE_POOL),
)
def gke_node_auto_management(resource: Resource, params: Params) -> Iterable[str]:
    if autopilot(resource):
        return  # Autopilot repairs and upgrades its nodes itself
    for where, management in _management(resource):
        # Both are on by default: only an explicit false turns them off.
        if get(management, "autoRepair") is False:
            yield f"{where}node auto-repair is off"
        if get(management, "autoUpgrade") is False:
            yield f"{where}node auto-upgrade is off"


RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE", "EXTENDED")


@rule(
    PACK,
    name="gcp-gke-release-channel",
    description="A GKE Standard cluster is enrolled in a release channel, which keeps its version patched.",
    severity="medium",
    remediation="Set releaseChannel.channel: REGULAR (or RAPID, STABLE, EXTENDED).",
    types=(CLUSTER,),
)
def gke_release_channel(resource: Resource, params: Params) -> Iterable[str]:
    if autopilot(resource):
        return  # Autopilot is always enrolled
    channel = get(resource.props, "releaseChannel.channel")
    if channel is None or _text(channel) not in RELEASE_CHANNELS:
        yield f"the cluster is in no release channel (releaseChannel.channel is {channel or 'unset'})"


class NodeImageParams(Params):
    # Windows node pools would add WINDOWS_LTSC_CONTAINERD here.
    image_types: tuple[str, ...] = ("COS_CONTAINERD",)


@rule(
    PACK,
    name="gcp-gke-node-image-cos",
    description="GKE nodes run Container-Optimized OS with containerd (a minimal, read-only, auto-patched image).",
    severity="medium",
    remediation=(
        "Set nodeConfig.imageType (and clusterAutoscaling.autoProvisioningDefaults.imageType) to COS_CONTAINERD, "
        "or leave it unset."
    ),
    types=(CLUSTER, NODE_POOL),
    params=NodeImageParams,
)
def gke_node_image(resource: Resource, params: NodeImageParams) -> Iterable[str]:
    allowed = {_text(image) for image in params.image_types}
    found = [(f"{where}.imageType", get(config, "imageType")) for where, config in node_configs(resource)]
    if resource.type == CLUSTER and not autopilot(resource):
        found.append((f"{NAP_DEFAULTS}.imageType", get(resource.props, f"{NAP_DEFAULTS}.imageType")))
    for where, image in found:
        # Unset, GKE chooses COS_CONTAINERD.
        if image is not None and _text(image) not in allowed:
            yield f"{where} is {image}, expected one of {sorted(allowed)}"


READONLY_PORT = "insecureKubeletReadonlyPortEnabled"


@rule(
    PACK,
    name="gcp-gke-kubelet-readonly-port-off",
    description=(
        "GKE Standard turns the kubelet's unauthenticated read-only port (10255) off explicitly, for the cluster's "
        "new pools and on every node pool (left unset, the GKE version's default applies, which opens it on older "
        "versions); Autopilot does not open it."
    ),
    severity="high",
    remediation=(
        "Set nodeConfig.kubeletConfig.insecureKubeletReadonlyPortEnabled: FALSE on every node pool (and inline "
        "pool), and on the cluster nodePoolDefaults.nodeConfigDefaults.insecureKubeletReadonlyPortEnabled: FALSE "
        "(on Autopilot leave nodePoolAutoConfig.nodeKubeletConfig.insecureKubeletReadonlyPortEnabled unset or FALSE)."
    ),
    types=(CLUSTER, NODE_POOL),
)
def gke_kubelet_readonly_port(resource: Resource, params: Params) -> Iterable[str]:
    found = [
        (f"{where}.kubeletConfig", get(config, f"kubeletConfig.{READONLY_PORT}"))
        for where, config in node_configs(resource)
    ]
    if resource.type == CLUSTER:
        auto = (
            "nodePoolAutoConfig.nodeKubeletConfig",
            get(resource.props, f"nodePoolAutoConfig.nodeKubeletConfig.{READONLY_PORT}"),
        )
        defaults = (
            "nodePoolDefaults.nodeConfigDefaults",
            get(resource.props, f"nodePoolDefaults.nodeConfigDefaults.{READONLY_PORT}"),
        )
        # The defaults of the cluster's new pools: what a pool the cluster declares falls back to.
        fallback = auto if autopilot(resource) else defaults
        found = [(where, fallback[1] if value is None else value) for where, value in found]
        found.append(fallback)
        if not autopilot(resource) and auto[1] is not None:
            found.append(auto)  # node auto-provisioning's pools
    # Autopilot's node configuration is Google's: only an explicit opening is the program's doing.
    google_default = autopilot(resource)
    for where, value in found:
        if value is not None and _text(value) != "FALSE":
            yield f"{where} opens the kubelet read-only port ({READONLY_PORT} is {value})"
        elif value is None and not google_default:
            yield f"{where} leaves the kubelet read-only port to the GKE version's default, expected FALSE"


class PodPidsParams(Params):
    max_pod_pids: int = 4096


@rule(
    PACK,
    name="gcp-gke-pod-pids-limit",
    description="GKE Standard nodes cap the processes a pod may run (so a fork bomb cannot exhaust the node).",
    severity="medium",
    remediation="Set nodeConfig.kubeletConfig.podPidsLimit (1024 to maxPodPids, 4096 by default) on every node pool.",
    types=(CLUSTER, NODE_POOL),
    params=PodPidsParams,
)
def gke_pod_pids_limit(resource: Resource, params: PodPidsParams) -> Iterable[str]:
    configs = node_configs(resource)
    # A Standard cluster that declares no pool keeps its default pool, configured by GKE's defaults.
    standard = resource.type == CLUSTER and not autopilot(resource)
    if standard and not configs and get(resource.props, "removeDefaultNodePool") is not True:
        configs = [("the default node pool's nodeConfig", {})]
    for where, config in configs:
        limit = get(config, "kubeletConfig.podPidsLimit")
        if limit is None:
            yield f"{where} sets no podPidsLimit"
        elif not isinstance(limit, int) or isinstance(limit, bool) or limit > params.max_pod_pids:
            yield f"{where} podPidsLimit is {limit}, at most {params.max_pod_pids} expected"


@rule(
    PACK,
    name="gcp-gke-metadata-server",
    description=(
        "GKE node pools keep the GKE metadata server in front of the node's metadata (no GCE_METADATA) and "
        "the legacy metadata endpoints off."
    ),
    severity="high",
    remediation=(
        "Set nodeConfig.workloadMetadataConfig.mode: GKE_METADATA (or leave it unset with Workload Identity on the "
        "cluster), and do not set the disable-legacy-endpoints metadata to false."
    ),
    types=(CLUSTER, NODE_POOL),
)
def gke_metadata_server(resource: Resource, params: Params) -> Iterable[str]:
    for where, config in node_configs(resource):
        mode = get(config, "workloadMetadataConfig.mode")
        # Unset, a pool of a Workload Identity cluster (gcp-gke-workload-identity) runs the metadata server.
        if mode is not None and _text(mode) not in ("GKE_METADATA", "UNSPECIFIED", "MODE_UNSPECIFIED"):
            yield f"{where}.workloadMetadataConfig.mode is {mode}: pods reach the node's metadata and credentials"
        legacy = get(config, "metadata.disable-legacy-endpoints")
        if legacy is not None and _text(legacy) != "TRUE":
            yield f"{where} turns the legacy metadata endpoints on (disable-legacy-endpoints is {legacy})"


SYSTEM_COMPONENTS = "SYSTEM_COMPONENTS"


@rule(
    PACK,
    name="gcp-gke-logging-monitoring",
    description="GKE sends its logs to Cloud Logging and its metrics to Cloud Monitoring, system components included.",
    severity="medium",
    remediation=(
        "Leave loggingService and monitoringService unset (or logging.googleapis.com/kubernetes, "
        "monitoring.googleapis.com/kubernetes); list SYSTEM_COMPONENTS in loggingConfig.enableComponents and "
        "monitoringConfig.enableComponents when you set them."
    ),
    types=(CLUSTER,),
)
def gke_logging_monitoring(resource: Resource, params: Params) -> Iterable[str]:
    for kind in ("logging", "monitoring"):
        service = get(resource.props, f"{kind}Service")
        if service is not None and str(service).strip().lower() == "none":
            yield f"{kind}Service is none: the cluster's {kind} is off"
        # Listed, the components replace the defaults: without SYSTEM_COMPONENTS (or empty) they turn it off.
        listed = get(resource.props, f"{kind}Config.enableComponents")
        if listed is None:
            continue
        components = [_text(c) for c in as_list(listed)]
        if SYSTEM_COMPONENTS not in components:
            yield f"{kind}Config.enableComponents leaves out {SYSTEM_COMPONENTS} ({components or 'none'})"


@rule(
    PACK,
    name="gcp-gke-no-alpha-features",
    description="GKE clusters run no Kubernetes alpha features (unsupported, unpatched, deleted after 30 days).",
    severity="medium",
    remediation="Set enableKubernetesAlpha: false (or leave it unset); try alpha features in a throwaway cluster.",
    types=(CLUSTER,),
)
def gke_no_alpha(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "enableKubernetesAlpha") is True:
        yield "Kubernetes alpha features are on (enableKubernetesAlpha)"
