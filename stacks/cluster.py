"""The `cluster` role: the API into the cluster of the current kube context (the local stack)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from stacks import api, contract
from stacks.model import ClusterStack
from stacks.vault import configured_database


def build(config: ClusterStack) -> None:
    # An explicit provider, so nothing lands in a cluster by accident through the
    # default provider; with no context set it uses kubeconfig's current context.
    provider = k8s.Provider("cluster", context=config.kubernetes.context)
    args = api.api_deployment_args(config, configured_database(config))
    api.deploy(config, args, pulumi.ResourceOptions(providers=[provider]))
    pulumi.export(contract.HEALTH_PATH_OUTPUT, contract.HEALTH_PATH)
    pulumi.export(contract.KUBERNETES_VERSION, config.kubernetes.version)
