"""`janitor` (JanitorConfig in stacks/model.py): the scheduled `ops janitor` on a region's
cluster (components/janitor.py), with its cloud identity. Off by default; a dry run
unless `apply`.

It runs the ops image by digest: its own, else the canary judge's, else the chaos
steady-state guard's (the same image everywhere a stack runs one).

Its cloud resources (the IAM role and its Pod Identity association, or the GCP service
account and its grants) go through the platform's own provider for the cloud.
"""

from __future__ import annotations

import pulumi

from components.janitor import Janitor, JanitorArgs
from stacks.model import AwsRegionStack, GcpRegionStack, ImageConfig, JanitorConfig, RegionStack
from stacks.platforms import RegionalPlatform
from stacks.workload import node_local_dns, ownership


def janitor_image(config: RegionStack, janitor: JanitorConfig) -> ImageConfig:
    judge = config.delivery.canary.judge
    image = janitor.image or (judge.image if judge else None) or config.chaos.guard_image
    if image is None:
        raise ValueError(
            "janitor.image: missing; expected the ops image by digest "
            "(or delivery.canary.judge.image or chaos.guardImage, which it then shares)"
        )
    return image


def janitor_args(
    config: RegionStack, cluster_name: pulumi.Input[str], mesh: pulumi.Resource | None = None
) -> JanitorArgs | None:
    """The job's arguments, or None where it is off."""
    janitor = config.janitor
    if not janitor.enabled:
        return None
    common = {
        "owner": ownership(config),
        "region": config.region,
        "image": janitor_image(config, janitor).reference,
        "kubernetes_version": config.kubernetes.version,
        "apply": janitor.apply,
        "schedule": janitor.schedule,
        "time_zone": janitor.time_zone,
        "grace_days": janitor.grace_days,
        "max_deletions": janitor.max_deletions,
        "snapshot_age_days": janitor.snapshot_age_days,
        "keep_snapshots": janitor.keep_snapshots,
        "image_age_days": janitor.image_age_days,
        "keep_images": janitor.keep_images,
        "deadline_seconds": janitor.deadline_seconds,
        "node_local_dns": node_local_dns(config),
        "mesh": mesh,
    }
    if isinstance(config, AwsRegionStack):
        return JanitorArgs(
            cloud="aws",
            account_id=config.platform.account_id,
            cluster_name=cluster_name,
            vpc_cidr=config.platform.cidr,
            **common,
        )
    if isinstance(config, GcpRegionStack):
        return JanitorArgs(cloud="gcp", project=config.platform.project, **common)
    raise TypeError(f"janitor: a region of no known cloud ({type(config).__name__})")


def deploy(config: RegionStack, platform: RegionalPlatform, mesh: pulumi.Resource | None = None) -> Janitor | None:
    """The job; `mesh`: the stack's Istio, where it runs one (its namespace then denies all)."""
    args = janitor_args(config, platform.cluster_name, mesh)
    if args is None:
        return None
    providers = [platform.cloud_provider, platform.provider]
    return Janitor("janitor", args, pulumi.ResourceOptions(providers=providers))
