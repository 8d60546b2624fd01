"""Artifact Registry for the API's images: immutable tags, vulnerability scanning, and
cleanup of what no release needs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.labels import Ownership, cloud_tags


@dataclass(frozen=True)
class ArtifactRegistryArgs:
    owner: Ownership
    region: str
    repository: str
    keep_tagged: int = 50


def artifact_registry(
    name: str, args: ArtifactRegistryArgs, opts: pulumi.ResourceOptions
) -> gcp.artifactregistry.Repository:
    return gcp.artifactregistry.Repository(
        f"{name}-repository",
        location=args.region,
        repository_id=args.repository,
        format="DOCKER",
        docker_config={"immutable_tags": True},
        # Scanning follows the project's Container Scanning API (enabled for the project).
        vulnerability_scanning_config={"enablement_config": "INHERITED"},
        cleanup_policies=[
            {"id": "keep-releases", "action": "KEEP", "most_recent_versions": {"keep_count": args.keep_tagged}},
            {"id": "untagged", "action": "DELETE", "condition": {"tag_state": "UNTAGGED", "older_than": "604800s"}},
        ],
        labels=cloud_tags(args.owner, "registry"),
        opts=opts,
    )
