"""External Secrets Operator from its upstream chart, two ClusterSecretStores on Vault
(the KV v2 mount, and the database engine), and the ExternalSecrets that turn Vault
entries into the Kubernetes Secrets that pods and charts read.

The stores log in with Vault's Kubernetes auth as the operator's own ServiceAccount, with
a short-lived token for the Vault audience, and serve only the namespaces named here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import charts
from components.labels import Ownership, kubernetes_labels
from components.network_policies import EgressRule, IngressRule

CHART_REPOSITORY = "https://charts.external-secrets.io"
API_VERSION = "external-secrets.io/v1"
SERVICE_ACCOUNT = "external-secrets"
WEBHOOK_PORT = 10250
METRICS_PORT = 8080
# Pulumi waits for this condition, so pods that read the Secret start after it exists.
WAIT_FOR_READY = {"pulumi.com/waitFor": "condition=Ready"}


@dataclass(frozen=True)
class StoreArgs:
    vault_address: str
    vault_namespace: str | None
    auth_mount: str
    role: str
    audience: str
    kv_mount: str
    database_mount: str | None
    # Namespaces whose ExternalSecrets may use the stores: the KV store serves all of
    # them, the database store only the app's (its users may change the schema).
    namespaces: tuple[str, ...]
    database_namespace: str
    # `kubernetes` (Vault reviews the token with the API server) or `jwt` (Vault checks
    # it against the cluster's OIDC keys).
    auth_method: str = "kubernetes"


@dataclass(frozen=True)
class ExternalSecretsArgs:
    owner: Ownership
    chart_version: str
    stores: StoreArgs
    cluster: charts.Cluster
    namespace: str
    replicas: int
    # Where the operator reaches Vault.
    vault_egress: EgressRule | None = None


@dataclass(frozen=True)
class Entry:
    """One key of the target Secret: a property of a Vault entry."""

    key: str
    vault_path: str
    vault_property: str


@dataclass(frozen=True)
class SyncedSecret:
    name: str
    namespace: str
    store: str
    refresh_interval: str
    entries: tuple[Entry, ...] = ()
    # A Vault entry read whole, once per refresh: a dynamic secret's username and password
    # must come from the same read, or they belong to two different users.
    extract: str | None = None
    # Keys of the target Secret rendered from the values (ESO template v2), e.g. a URL.
    template: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class ExternalSecretsOperator(pulumi.ComponentResource):
    """The operator, and the stores every ExternalSecret of this project uses."""

    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    stores: dict[str, k8s.apiextensions.CustomResource]

    KV_STORE = "vault-kv"
    DATABASE_STORE = "vault-database"

    def __init__(self, name: str, args: ExternalSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:vault:ExternalSecretsOperator", name, None, opts)
        labels = kubernetes_labels(args.owner, name="external-secrets", instance=name, component="secrets")
        isolation = charts.Isolation(
            cluster=args.cluster,
            ingress=(
                *args.cluster.webhook_callers(WEBHOOK_PORT),
                IngressRule("metrics", (METRICS_PORT,), namespace=args.cluster.monitoring_namespace),
            ),
            egress=(args.vault_egress,) if args.vault_egress else (),
        )
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation)
        self.release = charts.release(
            f"{name}-release",
            "external-secrets",
            charts.Chart("external-secrets", CHART_REPOSITORY, args.chart_version),
            self.namespace.metadata.name,
            {
                "installCRDs": True,
                "replicaCount": args.replicas,
                "leaderElect": args.replicas > 1,
                "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT},
                "podLabels": labels,
                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "webhook": {"replicaCount": args.replicas},
                "certController": {"replicaCount": 1},
            },
            pulumi.ResourceOptions(parent=self),
        )
        after_release = pulumi.ResourceOptions(parent=self, depends_on=[self.release])
        stores = {self.KV_STORE: (args.stores.kv_mount, "v2", args.stores.namespaces)}
        if args.stores.database_mount:
            # The database engine is not a KV mount: "v1" makes ESO read `<mount>/<key>`
            # as is, so `creds/<role>` issues a new user on each refresh.
            database_only = (args.stores.database_namespace,)
            stores[self.DATABASE_STORE] = (args.stores.database_mount, "v1", database_only)
        self.stores = {
            store: k8s.apiextensions.CustomResource(
                f"{name}-{store}",
                api_version=API_VERSION,
                kind="ClusterSecretStore",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=store, labels=labels),
                spec=store_spec(args.stores, args.namespace, mount, version, namespaces),
                opts=after_release,
            )
            for store, (mount, version, namespaces) in stores.items()
        }
        self.register_outputs({"namespace": self.namespace.metadata.name, "stores": list(self.stores)})


def store_spec(
    args: StoreArgs, operator_namespace: str, mount: str, version: str, namespaces: tuple[str, ...]
) -> dict[str, Any]:
    vault: dict[str, Any] = {
        "server": args.vault_address,
        "path": mount,
        "version": version,
        "auth": _auth(args, operator_namespace),
    }
    if args.vault_namespace:
        vault["namespace"] = args.vault_namespace
    return {"provider": {"vault": vault}, "conditions": [{"namespaces": sorted(namespaces)}]}


def _auth(args: StoreArgs, operator_namespace: str) -> dict[str, Any]:
    """Log in as the operator's ServiceAccount, with a token for the Vault audience."""
    account = {"name": SERVICE_ACCOUNT, "namespace": operator_namespace}
    if args.auth_method == "jwt":
        token = {"serviceAccountRef": account, "audiences": [args.audience]}
        return {"jwt": {"path": args.auth_mount, "role": args.role, "kubernetesServiceAccountToken": token}}
    return {
        "kubernetes": {
            "mountPath": args.auth_mount,
            "role": args.role,
            "serviceAccountRef": {**account, "audiences": [args.audience]},
        }
    }


def external_secret(
    logical_name: str, secret: SyncedSecret, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    target: dict[str, Any] = {
        "name": secret.name,
        "creationPolicy": "Owner",
        "deletionPolicy": "Retain",
        "template": {"engineVersion": "v2", "metadata": {"labels": labels}, "type": "Opaque"},
    }
    if secret.template:
        target["template"]["data"] = secret.template
    return k8s.apiextensions.CustomResource(
        logical_name,
        api_version=API_VERSION,
        kind="ExternalSecret",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=secret.name, namespace=secret.namespace, labels=labels, annotations=WAIT_FOR_READY
        ),
        spec={
            # Rotated values reach the Secret within this interval; Reloader restarts the pods.
            "refreshInterval": secret.refresh_interval,
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": secret.store},
            "target": target,
            **({"data": [_data(entry) for entry in secret.entries]} if secret.entries else {}),
            **({"dataFrom": [{"extract": {"key": secret.extract}}]} if secret.extract else {}),
        },
        opts=opts,
    )


def _data(entry: Entry) -> dict[str, Any]:
    return {"secretKey": entry.key, "remoteRef": {"key": entry.vault_path, "property": entry.vault_property}}
