"""ContainerRegistry: ECR repositories that scan on push, keep tags immutable, encrypt
with KMS, and expire what no release needs: the API's, and others beside it (the ops
image), replicated together by one rule (ECR holds one replication configuration per
registry)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.labels import Ownership, cloud_tags


@dataclass(frozen=True)
class RegistryArgs:
    owner: Ownership
    repository: str
    # Tagged images kept (releases to roll back to); untagged ones go after a week.
    keep_tagged: int = 50
    # Regions whose clusters pull from a replica of this repository (the same account).
    replicate_to: tuple[str, ...] = ()
    # More repositories with the same settings, by short name (`ops` → `<prefix>/ops`).
    others: tuple[str, ...] = ()


def lifecycle(keep_tagged: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Untagged layers a week after they were pushed",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 7,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the newest {keep_tagged} tagged images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_tagged},
                    "action": {"type": "expire"},
                },
            ]
        }
    )


class ContainerRegistry(pulumi.ComponentResource):
    repository: aws.ecr.Repository
    others: dict[str, aws.ecr.Repository]

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:aws:ContainerRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.repository = self._repository(name, args.repository, args, child)
        prefix = args.repository.rsplit("/", 1)[0]
        self.others = {
            other: self._repository(f"{name}-{other}", f"{prefix}/{other}", args, child) for other in args.others
        }
        # One rule for them all: the API's name alone, or the prefix they share.
        replicated = f"{prefix}/" if args.others else args.repository
        if args.replicate_to:
            # Every push lands in the other regions too, so their nodes pull locally.
            aws.ecr.ReplicationConfiguration(
                f"{name}-replication",
                replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                    rules=[
                        aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                            destinations=[
                                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                                    region=region, registry_id=self.repository.registry_id
                                )
                                for region in args.replicate_to
                            ],
                            repository_filters=[
                                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                                    filter=replicated, filter_type="PREFIX_MATCH"
                                )
                            ],
                        )
                    ]
                ),
                opts=child,
            )
        self.register_outputs({"url": self.repository.repository_url})

    def _repository(
        self, name: str, repository: str, args: RegistryArgs, child: pulumi.ResourceOptions
    ) -> aws.ecr.Repository:
        created = aws.ecr.Repository(
            f"{name}-repository",
            name=repository,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")],
            tags=cloud_tags(args.owner, "registry"),
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle", repository=created.name, policy=lifecycle(args.keep_tagged), opts=child
        )
        return created


def replica_settings(
    name: str, owner: Ownership, prefix: str, opts: pulumi.ResourceOptions, keep_tagged: int = 50
) -> None:
    """In a region that receives replicas: the repositories ECR creates there get the
    source's settings (immutable tags, KMS, lifecycle, tags), and every push is scanned."""
    aws.ecr.RepositoryCreationTemplate(
        f"{name}-replica-template",
        prefix=prefix,
        applied_fors=["REPLICATION"],
        description="Replicas of the primary region's repositories",
        image_tag_mutability="IMMUTABLE",
        encryption_configurations=[
            aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(encryption_type="KMS")
        ],
        lifecycle_policy=lifecycle(keep_tagged),
        resource_tags=cloud_tags(owner, "registry"),
        opts=opts,
    )
    aws.ecr.RegistryScanningConfiguration(
        f"{name}-scanning",
        scan_type="BASIC",
        rules=[
            aws.ecr.RegistryScanningConfigurationRuleArgs(
                scan_frequency="SCAN_ON_PUSH",
                repository_filters=[
                    aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(
                        filter=f"{prefix}*", filter_type="WILDCARD"
                    )
                ],
            )
        ],
        opts=opts,
    )
