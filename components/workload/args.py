"""Typed arguments of AppService: plain values, validated upstream by stacks/config.py,
and the hook that prepares its namespace."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.charts import Cluster, NamespaceSetup
from components.delivery.args import DeliveryArgs
from components.labels import Ownership
from components.network_policies import EgressRule


@dataclass(frozen=True)
class Compute:
    cpu: str
    memory: str


@dataclass(frozen=True)
class IngressArgs:
    host: str
    class_name: str
    tls_secret_name: str
    cluster_issuer: str
    # Namespace of the ingress controller: the only source of external traffic.
    controller_namespace: str
    # The API's versions: only their path prefixes are public. Probes, metrics and the
    # OpenAPI document stay in the cluster.
    api_versions: tuple[str, ...] = ("v1", "v2")
    # Annotations the controller in front needs on the Ingress (a region's: verify
    # Cloudflare's client certificate).
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MeshWorkloadArgs:
    """The API's namespace in the service mesh (components/mesh): its pods get sidecars,
    and every caller speaks mutual TLS to them."""

    # What enrols the namespace (`istio.enrolment_labels()`).
    namespace_labels: dict[str, str]
    # External traffic arrives through the mesh's ingress gateway, which the edge
    # controller forwards to: the Ingress's backend is the gateway's Service.
    gateway_namespace: str
    gateway_service: str
    # The sidecars' way to istiod (xDS) and istio-csr (certificates).
    control_plane: tuple[EgressRule, ...]
    gateway_port: int = 80
    # The sidecar serves its own (Envoy's and the agent's) metrics here, in plaintext:
    # the agent's port, never captured. The app's metrics stay behind mutual TLS.
    sidecar_metrics_port: int = 15020
    # Argo Rollouts' Istio routing: the VirtualService and its route, the DestinationRule
    # and its subsets (MeshPolicies creates them).
    virtual_service: str = "api"
    route: str = "primary"
    destination_rule: str = "api"
    stable_subset: str = "stable"
    canary_subset: str = "canary"


@dataclass(frozen=True)
class AppServiceArgs:
    owner: Ownership
    name: str
    namespace: str
    image: str
    version: str
    ingress: IngressArgs
    min_replicas: int
    max_replicas: int
    requests: Compute
    limits: Compute
    port: int
    run_as_user: int
    target_cpu_utilization: int
    scale_down_stabilization_seconds: int
    pre_stop_seconds: int
    shutdown_seconds: int
    max_unavailable: int
    # The cluster: its version (PSA labels pin to it), monitoring namespace, DNS cache.
    cluster: Cluster
    delivery: DeliveryArgs
    egress: tuple[EgressRule, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)
    # Secrets (synced from Vault) whose keys become read-only files in SECRETS_DIR of
    # every API pod, each named like the setting it holds (APP_DATABASE_URL, ...).
    secrets: tuple[str, ...] = ()
    # The migration Job's: its own database user's Secret in place of the runtime one
    # (that user may change the schema), since two Secrets must not write one file.
    migration_secrets: tuple[str, ...] = ()
    # Secrets mounted as files, read-only: (Secret name, directory), e.g. a CA bundle.
    secret_files: tuple[tuple[str, str], ...] = ()
    # On the Deployment or Rollout itself (not its pods), e.g. for the controller that
    # restarts the pods when those Secrets change.
    workload_annotations: dict[str, str] = field(default_factory=dict)
    # Creates the Secrets the pods read (`secrets`) in the namespace, once it exists.
    setup: NamespaceSetup | None = None
    # flagd's flag file (stacks/model.py, flagd_file), in a ConfigMap of its own mounted
    # read-only into every API pod; APP_FLAGS_FILE names it. None: no flags.
    flags: str | None = None
    # The service mesh, where the cluster runs one.
    mesh: MeshWorkloadArgs | None = None
    # KEDA's ScaledObject (components/scaling) scales the workload: no HPA of its own, as
    # two autoscalers on one target fight over its replicas.
    external_autoscaler: bool = False
