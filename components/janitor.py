"""Janitor: `ops janitor` (ops/janitor) on a schedule, in the region's own cluster: a
CronJob of the ops image that finds the region's unused resources and, where `apply` is
on, deletes what is the project's own, idle past the grace period, of this environment.

- **Its own namespace**, Pod Security `restricted`, denied by default: it reaches DNS,
  the cloud's APIs on 443 and the node's credential endpoint, nothing else. On AWS the
  APIs it calls (EC2, ELB, ECR) answer at the VPC's interface endpoints (private DNS), so
  its HTTPS goes to the VPC's range only; on GCP, Compute answers at Google's public
  addresses (Private Google Access), so 443 anywhere but private ranges.
- **Non-root on a read-only root**, no Kubernetes API token (it calls no Kubernetes API),
  bounded resources, one run at a time (`Forbid`), a deadline, short history.
- **Its cloud identity**: on AWS an IAM role through EKS Pod Identity (the agent on
  169.254.170.23 hands out its credentials); on GCP a service account through Workload
  Identity (the GKE metadata server). Both read the few lists the janitor makes; the
  deleting permissions exist only where `apply` is on: on AWS only on resources tagged
  `part-of=project-ai`, `managed-by=pulumi` and this environment (IAM checks the tags
  too, not only the janitor). GCP IAM cannot condition a disk's deletion on its labels:
  there the janitor's own ownership rule is the guard, on this project alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.aws.eks import POD_IDENTITY_TRUST
from components.hardening import container_security, pod_security
from components.labels import MANAGED_BY, PART_OF, Ownership, cloud_tags, kubernetes_labels, pod_security_labels
from components.mesh import traffic
from components.network_policies import EgressRule, default_deny, egress_to, egress_to_dns
from components.ops_service import OPS_USER, TMP

core = k8s.core.v1
meta = k8s.meta.v1

NAME = "project-ai-janitor"
NAMESPACE = NAME
SERVICE_ACCOUNT = NAME
# Where EKS Pod Identity's agent serves credentials, and GKE's metadata server (its port
# 80 address, and 988 where GKE Dataplane V2 serves Workload Identity).
POD_IDENTITY_AGENT = "169.254.170.23/32"
GKE_METADATA = (("gke-metadata", "169.254.169.254/32", 80), ("gke-metadata-dpv2", "169.254.169.252/32", 988))
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10")
# The first-seen mark on an Elastic IP (ops/janitor/aws.py FIRST_SEEN).
FIRST_SEEN = "janitor-first-seen"

Cloud = Literal["aws", "gcp"]


@dataclass(frozen=True)
class JanitorArgs:
    owner: Ownership
    cloud: Cloud
    region: str
    # The ops image, pinned by digest.
    image: str
    kubernetes_version: str
    # Delete (else a dry run: the report in the job's log, nothing changed).
    apply: bool
    schedule: str
    time_zone: str = "Etc/UTC"
    grace_days: int = 7
    max_deletions: int = 10
    snapshot_age_days: int = 30
    keep_snapshots: int = 1
    image_age_days: int = 90
    keep_images: int = 10
    deadline_seconds: int = 1800
    timeout_seconds: float = 20.0
    # AWS: the account, the cluster (its Pod Identity association) and the VPC's range
    # (where the interface endpoints answer).
    account_id: str | None = None
    cluster_name: pulumi.Input[str] | None = None
    vpc_cidr: str | None = None
    # GCP: the project.
    project: str | None = None
    node_local_dns: str | None = None
    namespace: str = NAMESPACE
    # The stack's mesh (its CRDs installed), where it runs one: the namespace stays outside
    # it (no sidecar: a Job's pod must end) and denies everything there, as every
    # namespace with workloads does (the zero-trust pack checks it).
    mesh: pulumi.Resource | None = None

    def __post_init__(self) -> None:
        if self.cloud == "aws" and not (self.account_id and self.cluster_name is not None and self.vpc_cidr):
            raise ValueError("the janitor on AWS needs the account id, the cluster's name and the VPC's CIDR")
        if self.cloud == "gcp" and not self.project:
            raise ValueError("the janitor on GCP needs the project id")


def command(args: JanitorArgs) -> list[str]:
    """After the image's ENTRYPOINT (`python -m ops`)."""
    scope = ["--project", args.project or ""] if args.cloud == "gcp" else []
    aws_only = (
        [
            "--snapshot-age-days",
            str(args.snapshot_age_days),
            "--keep-snapshots",
            str(args.keep_snapshots),
            "--image-age-days",
            str(args.image_age_days),
            "--keep-images",
            str(args.keep_images),
        ]
        if args.cloud == "aws"
        else []
    )
    return [
        "janitor",
        args.cloud,
        *scope,
        "--region",
        args.region,
        "--environment",
        args.owner.environment,
        "--grace-days",
        str(args.grace_days),
        "--max-deletions",
        str(args.max_deletions),
        "--timeout-seconds",
        f"{args.timeout_seconds:g}",
        *aws_only,
        "--format",
        "json",
        *(["--apply"] if args.apply else []),
    ]


def egress(args: JanitorArgs) -> tuple[EgressRule, ...]:
    if args.cloud == "aws":
        return (
            EgressRule("aws-endpoints", (443,), cidr=args.vpc_cidr),
            EgressRule("pod-identity-agent", (80,), cidr=POD_IDENTITY_AGENT),
        )
    return (
        EgressRule("google-apis", (443,), cidr="0.0.0.0/0", except_cidrs=PRIVATE_RANGES),
        *(EgressRule(name, (port,), cidr=cidr) for name, cidr, port in GKE_METADATA),
    )


def _owned(args: JanitorArgs) -> dict[str, Any]:
    return {
        "StringEquals": {
            "aws:ResourceTag/part-of": PART_OF,
            "aws:ResourceTag/managed-by": MANAGED_BY,
            "aws:ResourceTag/environment": args.owner.environment,
        }
    }


def aws_policy(args: JanitorArgs) -> dict[str, Any]:
    """Read what the janitor lists, in its region; where it applies, delete (and mark)
    only what carries the project's ownership tags of this environment."""
    region, account = args.region, args.account_id
    repositories = f"arn:aws:ecr:{region}:{account}:repository/*"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "List",
            "Effect": "Allow",
            # EC2's and ELB's Describe calls take no resource: bound to the region instead.
            "Action": [
                "ec2:DescribeAddresses",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeSnapshots",
                "ec2:DescribeVolumes",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "ListImages",
            "Effect": "Allow",
            "Action": ["ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:ListTagsForResource"],
            "Resource": repositories,
        },
    ]
    if args.apply:
        statements += [
            {
                "Sid": "DeleteOwned",
                "Effect": "Allow",
                "Action": [
                    "ec2:DeleteSnapshot",
                    "ec2:DeleteVolume",
                    "ec2:ReleaseAddress",
                    "ec2:TerminateInstances",
                    "elasticloadbalancing:DeleteLoadBalancer",
                    "ecr:BatchDeleteImage",
                ],
                "Resource": [
                    f"arn:aws:ec2:{region}:{account}:volume/*",
                    f"arn:aws:ec2:{region}::snapshot/*",
                    f"arn:aws:ec2:{region}:{account}:elastic-ip/*",
                    f"arn:aws:ec2:{region}:{account}:instance/*",
                    f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/*",
                    repositories,
                ],
                "Condition": _owned(args),
            },
            {
                # The first-seen mark of an idle Elastic IP (AWS does not say when one was allocated).
                "Sid": "MarkOwnedAddresses",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": f"arn:aws:ec2:{region}:{account}:elastic-ip/*",
                "Condition": {**_owned(args), "ForAllValues:StringEquals": {"aws:TagKeys": [FIRST_SEEN]}},
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def gcp_permissions(apply: bool) -> list[str]:
    """Exactly what ops/janitor/gcp.py calls (aggregated lists; deletes and their operations)."""
    read = ["compute.addresses.list", "compute.disks.list", "compute.globalAddresses.list"]
    if not apply:
        return read
    deleting = (
        "compute.addresses.delete",
        "compute.disks.delete",
        "compute.globalAddresses.delete",
        "compute.globalOperations.get",
        "compute.regionOperations.get",
        "compute.zoneOperations.get",
    )
    return sorted([*read, *deleting])


def gcp_account_id(environment: str) -> str:
    """A service account id: 6 to 30 of [a-z0-9-]."""
    return f"janitor-{environment}"[:30].rstrip("-")


class Janitor(pulumi.ComponentResource):
    """Takes its providers through `opts.providers` (the cloud's and the cluster's
    Kubernetes): each child picks the one of its package from this component."""

    namespace: core.Namespace
    service_account: core.ServiceAccount
    cron_job: k8s.batch.v1.CronJob

    def __init__(self, name: str, args: JanitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:janitor:Janitor", name, None, opts)
        labels = kubernetes_labels(
            args.owner, name=NAME, instance=f"{NAME}-{args.owner.environment}", component="janitor"
        )
        selector = {"app.kubernetes.io/name": NAME}
        child = pulumi.ResourceOptions(parent=self)
        self.namespace = core.Namespace(
            f"{name}-namespace",
            metadata=meta.ObjectMetaArgs(
                name=args.namespace, labels={**labels, **pod_security_labels(args.kubernetes_version)}
            ),
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])

        def metadata(object_name: str, annotations: dict[str, pulumi.Input[str]] | None = None) -> meta.ObjectMetaArgs:
            return meta.ObjectMetaArgs(
                name=object_name, namespace=args.namespace, labels=labels, annotations=annotations
            )

        specs = {
            "default-deny": default_deny(),
            "allow-dns": egress_to_dns(selector, args.node_local_dns),
            **{f"allow-egress-{rule.name}": egress_to(rule, selector) for rule in egress(args)},
        }
        policies = [
            k8s.networking.v1.NetworkPolicy(f"{name}-{policy}", metadata=metadata(policy), spec=spec, opts=in_namespace)
            for policy, spec in specs.items()
        ]
        if args.mesh is not None:
            traffic.allow_nothing(
                f"{name}-allow-nothing",
                args.namespace,
                labels,
                pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, args.mesh]),
            )
        identity, annotations = self._identity(name, args)
        self.service_account = core.ServiceAccount(
            f"{name}-service-account",
            metadata=metadata(SERVICE_ACCOUNT, annotations),
            automount_service_account_token=False,
            opts=in_namespace,
        )
        pod = core.PodSpecArgs(
            service_account_name=self.service_account.metadata.name,
            # It calls no Kubernetes API. (Pod Identity's webhook mounts its own token, of the
            # pods.eks.amazonaws.com audience; GKE's metadata server needs none in the pod.)
            automount_service_account_token=False,
            restart_policy="Never",
            security_context=pod_security(OPS_USER),
            containers=[
                core.ContainerArgs(
                    name="janitor",
                    image=args.image,
                    args=command(args),
                    env=[core.EnvVarArgs(name="HOME", value=TMP)],
                    security_context=container_security(OPS_USER),
                    resources=core.ResourceRequirementsArgs(
                        requests={"cpu": "50m", "memory": "128Mi"}, limits={"cpu": "500m", "memory": "384Mi"}
                    ),
                    volume_mounts=[core.VolumeMountArgs(name="tmp", mount_path=TMP)],
                )
            ],
            volumes=[core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="16Mi"))],
        )
        self.cron_job = k8s.batch.v1.CronJob(
            f"{name}-cron-job",
            metadata=metadata(NAME),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=args.schedule,
                time_zone=args.time_zone,
                # Two sweeps at once would judge (and delete) the same resources twice.
                concurrency_policy="Forbid",
                starting_deadline_seconds=3600,
                successful_jobs_history_limit=3,
                failed_jobs_history_limit=3,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=labels),
                    spec=k8s.batch.v1.JobSpecArgs(
                        # A failed sweep waits for the next schedule: its report is in the log.
                        backoff_limit=0,
                        active_deadline_seconds=args.deadline_seconds,
                        ttl_seconds_after_finished=7 * 86400,
                        template=core.PodTemplateSpecArgs(metadata=meta.ObjectMetaArgs(labels=labels), spec=pod),
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, *policies, *identity]),
        )
        self.register_outputs(
            {"namespace": args.namespace, "schedule": args.schedule, "apply": args.apply, "cloud": args.cloud}
        )

    def _identity(
        self, name: str, args: JanitorArgs
    ) -> tuple[list[pulumi.Resource], dict[str, pulumi.Input[str]] | None]:
        """The cloud identity the pods get, and the ServiceAccount's annotations for it."""
        child = pulumi.ResourceOptions(parent=self)
        if args.cloud == "aws":
            tags = cloud_tags(args.owner, "janitor")
            role = aws.iam.Role(f"{name}-role", assume_role_policy=POD_IDENTITY_TRUST, tags=tags, opts=child)
            policy = aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=json.dumps(aws_policy(args)), opts=child)
            association = aws.eks.PodIdentityAssociation(
                f"{name}-identity",
                cluster_name=args.cluster_name,  # type: ignore[arg-type]
                namespace=args.namespace,
                service_account=SERVICE_ACCOUNT,
                role_arn=role.arn,
                tags=tags,
                opts=child,
            )
            return [policy, association], None
        project = args.project or ""
        account = gcp.serviceaccount.Account(
            f"{name}-account",
            account_id=gcp_account_id(args.owner.environment),
            display_name="ops janitor (unused resources)",
            project=project,
            opts=child,
        )
        role = gcp.projects.IAMCustomRole(
            f"{name}-role",
            role_id=f"projectAiJanitor{args.owner.environment.title().replace('-', '').replace('_', '')}",
            title="Project-AI janitor",
            description="Lists disks and addresses; deletes them only where the janitor applies",
            permissions=gcp_permissions(args.apply),
            project=project,
            opts=child,
        )
        member = account.email.apply(lambda email: f"serviceAccount:{email}")
        grant = gcp.projects.IAMMember(f"{name}-grant", project=project, role=role.name, member=member, opts=child)
        workload = gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=f"serviceAccount:{project}.svc.id.goog[{args.namespace}/{SERVICE_ACCOUNT}]",
            opts=child,
        )
        return [grant, workload], {"iam.gke.io/gcp-service-account": account.email}
