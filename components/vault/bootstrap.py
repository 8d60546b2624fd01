"""DatabaseBootstrap: a Job that creates the app's database group roles once, with the
database's first root credential, before Vault issues users that join them.

It runs the API's own image (Python and psycopg), in the API's namespace and network
policies; the statements come from `components/vault/database.py` and are idempotent,
so a re-run changes nothing. The credential sits in a Secret only until Vault's first
root rotation makes it useless.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import secret_volume
from components.hardening import container_security, pod_security

core = k8s.core.v1
meta = k8s.meta.v1
# The credential Secret's key, and so the file the URL is read from.
URL_KEY = "url"
# Runs each statement of BOOTSTRAP_SQL (one per line) on the URL in the file BOOTSTRAP_URL_FILE.
SCRIPT = (
    "import os, pathlib, psycopg\n"
    "url = pathlib.Path(os.environ['BOOTSTRAP_URL_FILE']).read_text().strip()\n"
    "with psycopg.connect(url, autocommit=True) as connection:\n"
    "    for statement in filter(None, os.environ['BOOTSTRAP_SQL'].splitlines()):\n"
    "        connection.execute(statement)\n"
)


@dataclass(frozen=True)
class BootstrapArgs:
    namespace: str
    image: str
    labels: dict[str, str]
    # postgresql://user:password@host:port/database?sslmode=require (a secret).
    url: pulumi.Input[str]
    statements: tuple[str, ...]
    run_as_user: int


def database_bootstrap(name: str, args: BootstrapArgs, opts: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
    sql = "\n".join(args.statements)
    # A new Job (name) when the statements change; otherwise Pulumi leaves the done one be.
    version = hashlib.sha256(sql.encode()).hexdigest()[:8]
    secret = core.Secret(
        f"{name}-credential",
        metadata=meta.ObjectMetaArgs(name=f"{name}-credential", namespace=args.namespace, labels=args.labels),
        string_data={URL_KEY: pulumi.Output.secret(args.url)},
        opts=opts,
    )
    pod = core.PodSpecArgs(
        restart_policy="Never",
        automount_service_account_token=False,
        security_context=pod_security(args.run_as_user),
        containers=[
            core.ContainerArgs(
                name="bootstrap",
                image=args.image,
                command=["python", "-c", SCRIPT],
                env=[
                    core.EnvVarArgs(name="BOOTSTRAP_URL_FILE", value=f"{secret_volume.SECRETS_DIR}/{URL_KEY}"),
                    core.EnvVarArgs(name="BOOTSTRAP_SQL", value=sql),
                ],
                security_context=container_security(args.run_as_user),
                resources=core.ResourceRequirementsArgs(
                    requests={"cpu": "10m", "memory": "64Mi"}, limits={"cpu": "200m", "memory": "128Mi"}
                ),
                volume_mounts=[secret_volume.mount()],
            )
        ],
        volumes=[secret_volume.volume([secret.metadata.name])],
    )
    return k8s.batch.v1.Job(
        f"{name}-job",
        metadata=meta.ObjectMetaArgs(name=f"{name}-{version}", namespace=args.namespace, labels=args.labels),
        # Kept after it completes (no TTL), and never replaced by a later release: a re-run
        # would log in with a root password Vault has rotated since.
        spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=6,
            # Its first tries may meet the namespace's policies still being applied.
            active_deadline_seconds=900,
            template=core.PodTemplateSpecArgs(metadata=meta.ObjectMetaArgs(labels=args.labels), spec=pod),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[secret], ignore_changes=["spec"])),
    )
