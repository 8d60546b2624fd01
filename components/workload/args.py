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
