"""RootRotation: a CronJob that rotates the database root credential Vault holds, on a
schedule, through Vault's own `rotate-root` endpoint.

Vault Enterprise can schedule this itself; OpenBao and Vault Community cannot, so a
small job does it: it logs in with Kubernetes auth as its own ServiceAccount (a
projected, short-lived token for the Vault audience) and holds a policy that allows
exactly that one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.hardening import container_security, pod_security
from components.labels import Ownership, kubernetes_labels, pod_security_labels
from components.network_policies import EgressRule, default_deny, egress_to, egress_to_dns

core = k8s.core.v1
meta = k8s.meta.v1

TOKEN_DIR = "/var/run/secrets/vault"
# The CLI logs in, then rotates: `rotate-root` answers 204 and the old password is gone.
SCRIPT = (
    "set -eu\n"
    f'BAO_TOKEN="$(bao write -field=token "auth/$AUTH_MOUNT/login" role="$ROLE" jwt=@{TOKEN_DIR}/token)"\n'
    "export BAO_TOKEN\n"
    'bao write -f "$DATABASE_MOUNT/rotate-root/$CONNECTION"\n'
)


@dataclass(frozen=True)
class RootRotationArgs:
    owner: Ownership
    image: str
    vault_address: str
    vault_namespace: str | None
    auth_mount: str
    role: str
    audience: str
    database_mount: str
    connection: str
    schedule: str
    # Where the job may connect: the Vault server.
    vault_egress: EgressRule
    kubernetes_version: str
    namespace: str
    service_account: str
    run_as_user: int = 10001


class RootRotation(pulumi.ComponentResource):
    namespace: core.Namespace
    cron_job: k8s.batch.v1.CronJob

    def __init__(self, name: str, args: RootRotationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:vault:RootRotation", name, None, opts)
        labels = kubernetes_labels(args.owner, name="vault-root-rotator", instance=name, component="secrets")
        selector = {"app.kubernetes.io/name": "vault-root-rotator"}
        self.namespace = core.Namespace(
            f"{name}-namespace",
            metadata=meta.ObjectMetaArgs(
                name=args.namespace,
                labels={**labels, **pod_security_labels(args.kubernetes_version)},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])

        def metadata(object_name: str) -> meta.ObjectMetaArgs:
            return meta.ObjectMetaArgs(name=object_name, namespace=args.namespace, labels=labels)

        account = core.ServiceAccount(
            f"{name}-service-account",
            metadata=metadata(args.service_account),
            automount_service_account_token=False,
            opts=in_namespace,
        )
        specs = {
            "default-deny": default_deny(),
            "allow-dns": egress_to_dns(selector, None),
            "allow-egress-vault": egress_to(args.vault_egress, selector),
        }
        for policy, spec in specs.items():
            k8s.networking.v1.NetworkPolicy(f"{name}-{policy}", metadata=metadata(policy), spec=spec, opts=in_namespace)

        environment = {
            "BAO_ADDR": args.vault_address,
            "AUTH_MOUNT": args.auth_mount,
            "ROLE": args.role,
            "DATABASE_MOUNT": args.database_mount,
            "CONNECTION": args.connection,
            "HOME": "/tmp",
            **({"BAO_NAMESPACE": args.vault_namespace} if args.vault_namespace else {}),
        }
        pod = core.PodSpecArgs(
            service_account_name=account.metadata.name,
            automount_service_account_token=False,
            restart_policy="Never",
            security_context=pod_security(args.run_as_user),
            containers=[
                core.ContainerArgs(
                    name="rotate",
                    image=args.image,
                    command=["/bin/sh", "-c", SCRIPT],
                    env=[core.EnvVarArgs(name=key, value=value) for key, value in environment.items()],
                    security_context=container_security(args.run_as_user),
                    resources=core.ResourceRequirementsArgs(
                        requests={"cpu": "10m", "memory": "32Mi"}, limits={"cpu": "100m", "memory": "64Mi"}
                    ),
                    volume_mounts=[
                        core.VolumeMountArgs(name="vault-token", mount_path=TOKEN_DIR, read_only=True),
                        core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                    ],
                )
            ],
            volumes=[
                # A token for the Vault audience only, valid ten minutes: useless elsewhere.
                core.VolumeArgs(
                    name="vault-token",
                    projected=core.ProjectedVolumeSourceArgs(
                        sources=[
                            core.VolumeProjectionArgs(
                                service_account_token=core.ServiceAccountTokenProjectionArgs(
                                    path="token", audience=args.audience, expiration_seconds=600
                                )
                            )
                        ]
                    ),
                ),
                core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="16Mi")),
            ],
        )
        self.cron_job = k8s.batch.v1.CronJob(
            f"{name}-cron-job",
            metadata=metadata("vault-root-rotation"),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=args.schedule,
                time_zone="Etc/UTC",
                # Two rotations at once would race for the same password.
                concurrency_policy="Forbid",
                starting_deadline_seconds=3600,
                successful_jobs_history_limit=1,
                failed_jobs_history_limit=3,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=labels),
                    spec=k8s.batch.v1.JobSpecArgs(
                        backoff_limit=2,
                        active_deadline_seconds=300,
                        ttl_seconds_after_finished=86400,
                        template=core.PodTemplateSpecArgs(metadata=meta.ObjectMetaArgs(labels=labels), spec=pod),
                    ),
                ),
            ),
            opts=in_namespace,
        )
        self.register_outputs({"namespace": self.namespace.metadata.name, "schedule": args.schedule})
