"""The `cluster` role: the API into the cluster of the current kube context (the local stack)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.delivery import ArgoRollouts, ArgoRolloutsArgs
from components.workload import AppService
from stacks import contract
from stacks.config import StackConfig
from stacks.workload import app_service_args, ownership


def build(config: StackConfig) -> None:
    # An explicit provider, so nothing lands in a cluster by accident through the
    # default provider; with no context set it uses kubeconfig's current context.
    provider = k8s.Provider("cluster", context=config.kubernetes.context)
    on_cluster = pulumi.ResourceOptions(providers=[provider])
    depends_on = []
    if config.delivery.strategy != "rolling":
        # Rollouts need their controller (and its CRDs) before they can be created.
        rollouts = ArgoRollouts(
            "argo-rollouts",
            ArgoRolloutsArgs(
                owner=ownership(config),
                chart_version=config.delivery.argo_rollouts_chart_version,
                replicas=2 if config.environment == "prod" else 1,
            ),
            on_cluster,
        )
        depends_on.append(rollouts)
    api = AppService(
        "api",
        app_service_args(config),
        pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=depends_on)),
    )
    pulumi.export("namespace", api.namespace.metadata.name)
    pulumi.export("url", api.url)
    pulumi.export(contract.HEALTH_PATH_OUTPUT, contract.HEALTH_PATH)
    pulumi.export(contract.KUBERNETES_VERSION, config.kubernetes.version)
