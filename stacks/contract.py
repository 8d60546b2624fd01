"""The small contract a regional stack exports, and the only thing other stacks read.

Secondaries and the edge read these names through `StackReference.require_output`, so a
missing one fails at once. Keys are added here, in one place, as regions grow (cluster
name and database endpoints arrive with the regional platforms).
"""

from __future__ import annotations

import pulumi

from stacks.config import StackConfig

HEALTH_PATH = "/readyz"

ENVIRONMENT = "environment"
CLOUD = "cloud"
REGION = "region"
INGRESS_HOSTNAME = "ingressHostname"
HEALTH_PATH_OUTPUT = "healthPath"
KUBERNETES_VERSION = "kubernetesVersion"


def export_region_contract(config: StackConfig) -> None:
    assert config.ingress is not None, "validated by StackConfig for this role"
    pulumi.export(ENVIRONMENT, config.environment)
    pulumi.export(CLOUD, config.cloud)
    pulumi.export(REGION, config.region)
    pulumi.export(INGRESS_HOSTNAME, config.ingress.host)
    pulumi.export(HEALTH_PATH_OUTPUT, HEALTH_PATH)
    pulumi.export(KUBERNETES_VERSION, config.kubernetes.version)


def read_region_contract(stack: str) -> dict[str, pulumi.Output]:
    """The contract of another region stack, each key required."""
    reference = pulumi.StackReference(f"region-{stack}", stack_name=_qualified(stack))
    keys = (ENVIRONMENT, CLOUD, REGION, INGRESS_HOSTNAME, HEALTH_PATH_OUTPUT)
    return {key: reference.require_output(key) for key in keys}


def _qualified(stack: str) -> str:
    # A bare stack name means this project in the current organization.
    if "/" in stack:
        return stack
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}"
