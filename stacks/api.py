"""Turns the typed stack config into the API's deployment on a cluster, for every role
that runs the API (`cluster`, `region`), and exports what it tells the deployer."""

from __future__ import annotations

import dataclasses

import pulumi

from components.api_deployment import ApiDeployment, ApiDeploymentArgs
from components.delivery import ArgoRolloutsArgs
from components.ingress.origin import client_certificate_annotations
from components.vault.integration import CacheEndpoint, DatabaseEndpoint
from stacks.chaos import chaos_args
from stacks.cost import opencost_args, opencost_secrets, right_sizing_args
from stacks.heal import self_healing_args
from stacks.insight import insight_args
from stacks.mesh import GATEWAY_PORT, mesh_args
from stacks.model import RegionStack, WorkloadStack, flagd_file
from stacks.monitoring import monitoring_stack_args, rule_args
from stacks.origin import CERT_MANAGER_NAMESPACE, edge_origin_args
from stacks.scaling import keda_args, predictive_scaling_args
from stacks.vault import vault_integration_args
from stacks.workload import app_service_args, cluster_facts, controller_replicas, judge_egress, ownership


def api_deployment_args(
    config: WorkloadStack,
    database: DatabaseEndpoint | None,
    cache: CacheEndpoint | None = None,
    oidc_issuer: pulumi.Input[str] | None = None,
    # Databases the app reaches that its Vault engine does not name (a secondary's).
    other_databases: tuple[pulumi.Input[str], ...] = (),
) -> ApiDeploymentArgs:
    monitoring = config.monitoring.enabled
    rollouts = None
    if config.delivery.strategy != "rolling":
        rollouts = ArgoRolloutsArgs(
            owner=ownership(config),
            chart_version=config.delivery.argo_rollouts_chart_version,
            replicas=controller_replicas(config),
            cluster=cluster_facts(config),
            egress=judge_egress(config),
        )
    vault = vault_integration_args(config, database, cache, oidc_issuer)
    # OpenCost's Secrets (GCP's pricing key) come from Vault like every other.
    vault = dataclasses.replace(vault, other_secrets=opencost_secrets(config, vault.layout, vault.refresh_interval))
    # The stack's flags, as the flag file the API reads (and its tests read too).
    scaling = config.predictive_scaling
    # With predictive scaling KEDA's ScaledObject owns the replica count: no CPU HPA beside it.
    api = dataclasses.replace(
        app_service_args(config), flags=flagd_file(config.flags), external_autoscaler=scaling.enabled
    )
    insight = insight_args(config, config.insight)
    if insight is not None and scaling.enabled:
        # The peak KEDA scales on looks as far ahead as the lead time.
        insight = dataclasses.replace(insight, peak_window_seconds=scaling.lead_time_minutes * 60)
    origin = None
    if isinstance(config, RegionStack):
        # A region is an origin of the Cloudflare edge: it installs its own ingress
        # controller and cert-manager (a `cluster` stack's are prerequisites, README).
        origin = edge_origin_args(config)
        vault = dataclasses.replace(vault, cloudflare_dns_namespace=CERT_MANAGER_NAMESPACE)
        ingress = dataclasses.replace(
            api.ingress, annotations=client_certificate_annotations(config.ingress.controller_namespace)
        )
        api = dataclasses.replace(api, ingress=ingress)
    mesh = mesh_args(config, vault, api, database, cache, other_databases)
    chaos = chaos_args(config, api, database, cache, other_databases)
    if mesh is not None and mesh.istio is not None and origin is not None:
        # The edge controller forwards to the mesh's ingress gateway, not to the pods.
        origin = dataclasses.replace(origin, app_namespace=mesh.workload.gateway_namespace, app_port=GATEWAY_PORT)
    return ApiDeploymentArgs(
        vault=vault,
        api=api,
        mesh=mesh,
        rollouts=rollouts,
        monitoring=monitoring_stack_args(config) if monitoring else None,
        rules=rule_args(config) if monitoring else None,
        origin=origin,
        chaos=chaos,
        insight=insight,
        keda=keda_args(config, scaling) if scaling.enabled else None,
        predictive_scaling=predictive_scaling_args(config, scaling) if scaling.enabled else None,
        self_healing=self_healing_args(config, config.self_healing),
        opencost=opencost_args(config, config.cost),
        right_sizing=right_sizing_args(config, config.cost),
    )


def deploy(config: WorkloadStack, args: ApiDeploymentArgs, on_cluster: pulumi.ResourceOptions) -> ApiDeployment:
    """The API on the cluster `on_cluster` names, and the stack outputs that locate it."""
    deployment = ApiDeployment("api", args, on_cluster)
    vault = deployment.vault
    pulumi.export(
        "vault",
        {"address": vault.address, "kvMount": args.vault.layout.kv_mount, "authMount": args.vault.login.auth_mount},
    )
    pulumi.export("namespace", deployment.api.namespace.metadata.name)
    pulumi.export("url", deployment.api.url)
    if deployment.mesh_pki is not None:
        # For the organisation root's operators to sign (not part of the region contract).
        pulumi.export("meshIntermediateCsr", deployment.mesh_pki.intermediate.csr)
    return deployment
