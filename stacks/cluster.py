"""The `cluster` role: the API into the cluster of the current kube context (the local stack)."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_kubernetes as k8s

from components.delivery import ArgoRollouts, ArgoRolloutsArgs
from components.monitoring.api_monitors import ApiMonitors, ApiMonitorsArgs
from components.monitoring.dashboards import ApiDashboards, ApiDashboardsArgs
from components.monitoring.stack import MonitoringStack
from components.workload import AppService
from stacks import contract, vault
from stacks.config import StackConfig
from stacks.monitoring import monitoring_stack_args, rule_args
from stacks.workload import app_service_args, cluster_facts, ownership


def platform(
    config: StackConfig, on_cluster: pulumi.ResourceOptions, secrets: vault.SyncedSecrets
) -> list[pulumi.Resource]:
    """What the API needs installed first: the Rollouts controller, the monitoring stack."""
    installed: list[pulumi.Resource] = []
    if config.delivery.strategy != "rolling":
        # Rollouts need their controller (and its CRDs) before they can be created.
        installed.append(
            ArgoRollouts(
                "argo-rollouts",
                ArgoRolloutsArgs(
                    owner=ownership(config),
                    chart_version=config.delivery.argo_rollouts_chart_version,
                    replicas=2 if config.environment == "prod" else 1,
                    cluster=cluster_facts(config),
                ),
                on_cluster,
            )
        )
    if config.monitoring.enabled:
        installed.append(
            MonitoringStack(
                "monitoring",
                dataclasses.replace(monitoring_stack_args(config), setup=secrets.setup(config.monitoring.namespace)),
                on_cluster,
            )
        )
    return installed


def build(config: StackConfig) -> None:
    # An explicit provider, so nothing lands in a cluster by accident through the
    # default provider; with no context set it uses kubeconfig's current context.
    provider = k8s.Provider("cluster", context=config.kubernetes.context)
    api = deploy(config, pulumi.ResourceOptions(providers=[provider]), vault.configured_side(config))
    pulumi.export("namespace", api.namespace.metadata.name)
    pulumi.export("url", api.url)
    pulumi.export(contract.HEALTH_PATH_OUTPUT, contract.HEALTH_PATH)
    pulumi.export(contract.KUBERNETES_VERSION, config.kubernetes.version)


def deploy(config: StackConfig, on_cluster: pulumi.ResourceOptions, side: vault.ClusterSide) -> AppService:
    """Everything that runs the API on a cluster: Vault integration, the platform
    controllers, the API itself, its monitors and dashboards. Shared by the `cluster`
    role and every region."""
    secrets = vault.integrate(config, on_cluster, side)
    installed = platform(config, on_cluster, secrets)
    names = vault.secret_names(config, side)
    api_args = dataclasses.replace(
        app_service_args(config),
        secrets=names.app,
        migration_secrets=names.migration,
        secret_files=vault.secret_files(config, side),
        workload_annotations=vault.workload_annotations(config, side),
    )
    api = AppService(
        "api",
        dataclasses.replace(api_args, setup=secrets.setup(api_args.namespace)),
        pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=installed)),
    )
    if config.monitoring.enabled:
        after_api = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[*installed, api]))
        monitors = ApiMonitorsArgs(api_args.namespace, api.labels, api.selector, rule_args(config))
        ApiMonitors(api_args.name, monitors, after_api)
        boards = ApiDashboardsArgs(api_args.namespace, config.monitoring.namespace, api.labels)
        ApiDashboards(api_args.name, boards, after_api)
    return api
