"""A key ring per region and keys that rotate every 90 days."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

ROTATION = "7776000s"  # 90 days


def key_ring(name: str, region: str, parent: pulumi.Resource) -> gcp.kms.KeyRing:
    # Key rings cannot be deleted: the name is the stack's for good.
    return gcp.kms.KeyRing(f"{name}-keys", name=name, location=region, opts=pulumi.ResourceOptions(parent=parent))


def rotating_key(
    name: str, ring: gcp.kms.KeyRing, labels: dict[str, str], parent: pulumi.Resource
) -> gcp.kms.CryptoKey:
    return gcp.kms.CryptoKey(
        f"{name}-key",
        name=name,
        key_ring=ring.id,
        purpose="ENCRYPT_DECRYPT",
        rotation_period=ROTATION,
        labels=labels,
        opts=pulumi.ResourceOptions(parent=parent),
    )
