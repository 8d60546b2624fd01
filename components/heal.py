"""SelfHealing: `ops heal serve` (ops/heal), the Alertmanager webhook receiver that maps
the API's alerts to runbook actions, in the app's namespace (issue #20).

An ops service (components/ops_service.py) with what the others lack:

- **A Kubernetes API token**, projected (not automounted), for a ServiceAccount whose
  Role in the app's namespace grants exactly what ops/heal/kube.py calls, on the app's
  own objects where a name is known in advance: delete a pod (its controller makes
  another; never create one), read its ReplicaSet, read and abort the app's Rollout,
  raise the floor of its autoscaler, pin a flag in its flags ConfigMap. No list, watch,
  Secret or wildcard.
- **Secrets as files** (components/secret_volume.py), synced from Vault like the API's:
  the webhook token Alertmanager presents (the same Vault entry reaches Alertmanager's
  namespace), the token for approvals over HTTP, and where those actions are on, the
  Cloudflare API token (load-balancer pools) and the PagerDuty routing key.
- **Its decisions and outcomes on a small volume** (sqlite: approvals waiting, each
  action's success rate and MTTR, which order the candidates), and its audit trail
  there too (besides the log), so a restart forgets nothing.

Its NetworkPolicies admit Alertmanager's pods alone, on its port; it reaches the API
server, DNS and, where Cloudflare or PagerDuty is on, HTTPS. It is a dry run (decisions
audited, nothing done) unless `apply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import ops_service
from components.labels import Ownership, kubernetes_labels
from components.monitoring.alerting import HEAL_SECRET, HEAL_TOKEN_KEY, HealingArgs
from components.network_policies import API_SERVER_PORTS, EgressRule
from components.ops_service import OPS_USER, Caller, OpsServiceSpec, StateVolume
from components.secret_volume import SECRETS_DIR
from components.vault.external_secrets import Entry, ExternalSecretsOperator, SyncedSecret
from components.vault.policies import Layout

core = k8s.core.v1
meta = k8s.meta.v1
rbac = k8s.rbac.v1

# Its app.kubernetes.io/name.
NAME = "project-ai-heal"
PORT = 9103
STATE_PATH = "/var/lib/heal"
ALERTS_PATH = "/v1/alerts"
# The Secret the receiver reads, and its keys: one file each in SECRETS_DIR.
SECRET = NAME
WEBHOOK_TOKEN = "webhook-token"
APPROVAL_TOKEN = "approval-token"
CLOUDFLARE_TOKEN = "cloudflare-api-token"
PAGERDUTY_KEY = "pagerduty-routing-key"
# Alertmanager's pods, as the operator labels them.
ALERTMANAGER_LABELS = {"app.kubernetes.io/name": "alertmanager"}
# The alerts ops/heal/runbooks.yaml has runbooks for (tests/components/test_heal.py
# checks the two agree): Alertmanager sends these to the receiver.
HEALED_ALERTS = (
    "ApiAutoscalerAtMaximum",
    "ApiAvailabilityBudgetBurnFast1h",
    "ApiCircuitBreakerOpen",
    "ApiDatabasePoolSaturated",
    "ApiHighErrorRate",
    "ApiHighLatencyP99",
    "ApiPodCrashLooping",
    "CriticalAlertUnresolved",
)

Autoscaler = Literal["HorizontalPodAutoscaler", "ScaledObject"]


@dataclass(frozen=True)
class SelfHealingArgs:
    owner: Ownership
    # The app's namespace: where the receiver runs and acts.
    namespace: str
    # The API's objects it acts on: its name (Rollout, autoscaler), its flags ConfigMap.
    app_name: str
    # The ops image, pinned by digest.
    image: str
    # Act (else a dry run: decisions audited, nothing done).
    apply: bool
    alertmanager_namespace: str
    # The API server's endpoints (charts.Cluster.api_server_cidrs).
    api_server_cidrs: tuple[str, ...]
    # An Argo Rollout runs the API (canary, blue-green): abort is possible.
    rollout: bool
    # What scales the API: its HPA, or KEDA's ScaledObject (predictive scaling).
    autoscaler: Autoscaler = "HorizontalPodAutoscaler"
    # The Cloudflare account of the load-balancer pools; None: no edge action.
    cloudflare_account_id: str | None = None
    # Open PagerDuty incidents.
    incidents: bool = False
    timeout_seconds: float = 10.0
    state_size: str = "1Gi"
    storage_class: str | None = None
    node_local_dns: str | None = None
    # True where the namespace is enrolled in the mesh: the receiver's pods stay out of it.
    meshed: bool = False
    # What must exist first (its namespace, the Secrets); filled in by the caller.
    ready: tuple[pulumi.Resource, ...] = ()


def flags_config_map(app_name: str) -> str:
    """The API's flags ConfigMap (components/workload/app_service.py)."""
    return f"{app_name}-flags"


def keda_hpa(app_name: str) -> str:
    """The HPA KEDA makes for a ScaledObject of that name (what kube.py reads its replicas from)."""
    return f"keda-hpa-{app_name}"


def url(namespace: str) -> str:
    """Where Alertmanager posts."""
    return f"http://{ops_service.service_host(NAME, namespace)}:{PORT}{ALERTS_PATH}"


def healing(namespace: str) -> HealingArgs:
    """Alertmanager's side: the receiver's URL and the alerts it takes."""
    return HealingArgs(url=url(namespace), alerts=HEALED_ALERTS)


def _file(key: str) -> str:
    return f"{SECRETS_DIR}/{key}"


def command(args: SelfHealingArgs) -> tuple[str, ...]:
    account = args.cloudflare_account_id
    edge = ("--cloudflare-token-file", _file(CLOUDFLARE_TOKEN), "--cloudflare-account-id", account) if account else ()
    return (
        # A root option: every decision's audit line also goes to the state volume.
        "--audit-log",
        f"{STATE_PATH}/audit.jsonl",
        "heal",
        "serve",
        "--state-dir",
        STATE_PATH,
        "--token-file",
        _file(WEBHOOK_TOKEN),
        "--approval-token-file",
        _file(APPROVAL_TOKEN),
        "--listen",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--kubernetes",
        "in-cluster",
        "--timeout-seconds",
        f"{args.timeout_seconds:g}",
        *edge,
        *(("--pagerduty-key-file", _file(PAGERDUTY_KEY)) if args.incidents else ()),
        *(("--apply",) if args.apply else ()),
    )


def egress(args: SelfHealingArgs) -> tuple[EgressRule, ...]:
    """The API server; HTTPS where Cloudflare or PagerDuty is called (their addresses are theirs)."""
    cidrs = enumerate(args.api_server_cidrs)
    api_server = tuple(EgressRule(f"api-server-{index}", API_SERVER_PORTS, cidr=cidr) for index, cidr in cidrs)
    https = args.cloudflare_account_id is not None or args.incidents
    return api_server + ((EgressRule("https", (443,), cidr="0.0.0.0/0"),) if https else ())


def spec(args: SelfHealingArgs) -> OpsServiceSpec:
    if not args.api_server_cidrs:
        raise ValueError("the self-healing receiver calls the Kubernetes API: expected the API server's CIDRs")
    return OpsServiceSpec(
        name=NAME,
        component="self-healing",
        image=args.image,
        args=command(args),
        port=PORT,
        caller=Caller("alertmanager", args.alertmanager_namespace, ALERTMANAGER_LABELS),
        prometheus=None,
        egress=egress(args),
        run_as_user=OPS_USER,
        node_local_dns=args.node_local_dns,
        meshed=args.meshed,
        state=StateVolume(STATE_PATH, args.state_size, args.storage_class),
        secrets=(SECRET,),
        kubernetes_api=True,
    )


def _grant(groups: str, resources: str, verbs: tuple[str, ...], names: tuple[str, ...] = ()) -> rbac.PolicyRuleArgs:
    return rbac.PolicyRuleArgs(
        api_groups=[groups], resources=[resources], verbs=list(verbs), resource_names=list(names) or None
    )


def role_rules(args: SelfHealingArgs) -> list[rbac.PolicyRuleArgs]:
    """What ops/heal/kube.py calls, and nothing else: pods and ReplicaSets have generated
    names (any in the namespace); the app's own objects are named."""
    app = args.app_name
    rules = [
        # Restart: read the pod and its owner, delete it (its controller makes another).
        _grant("", "pods", ("get", "delete")),
        _grant("apps", "replicasets", ("get",)),
    ]
    if args.rollout:
        # Abort: what `kubectl argo rollouts abort` does, a patch of status.abort.
        rules += [
            _grant("argoproj.io", "rollouts", ("get",), (app,)),
            _grant("argoproj.io", "rollouts/status", ("patch",), (app,)),
        ]
    if args.autoscaler == "ScaledObject":
        # Scale out: the ScaledObject's bounds; the replicas from the HPA KEDA made.
        # (`get` on the app's own name too: the runbook's HPA candidate then finds none and steps aside.)
        rules += [
            _grant("keda.sh", "scaledobjects", ("get", "patch"), (app,)),
            _grant("autoscaling", "horizontalpodautoscalers", ("get",), (keda_hpa(app), app)),
        ]
    else:
        # (`get` on a ScaledObject: the runbook's KEDA candidate then finds none and steps aside.)
        rules += [
            _grant("autoscaling", "horizontalpodautoscalers", ("get", "patch"), (app,)),
            _grant("keda.sh", "scaledobjects", ("get",), (app,)),
        ]
    # Shed load: pin a flag in the flags ConfigMap the API reads.
    rules.append(_grant("", "configmaps", ("get", "patch"), (flags_config_map(app),)))
    return rules


@dataclass(frozen=True)
class HealSecrets:
    """What the Vault integration syncs for the receiver (components/vault/integration.py)."""

    namespace: str
    alertmanager_namespace: str
    edge: bool
    incidents: bool


def tokens_path(layout: Layout) -> str:
    """The stack's own entry: its webhook and approval tokens (the program writes it)."""
    return f"{layout.app}/{layout.scope}/heal"


def cloudflare_path(layout: Layout) -> str:
    """An API token allowed to edit load-balancer pools: not cert-manager's DNS token."""
    return f"{layout.app}/cloudflare-edge"


def synced_secrets(secrets: HealSecrets, layout: Layout, refresh: str) -> list[SyncedSecret]:
    """The receiver's Secret, and Alertmanager's copy of the webhook token."""
    kv = ExternalSecretsOperator.KV_STORE
    tokens = tokens_path(layout)
    entries = [Entry(WEBHOOK_TOKEN, tokens, "webhook-token"), Entry(APPROVAL_TOKEN, tokens, "approval-token")]
    if secrets.edge:
        entries.append(Entry(CLOUDFLARE_TOKEN, cloudflare_path(layout), "api-token"))
    if secrets.incidents:
        # The service Alertmanager pages: one routing key, one place to change it.
        entries.append(Entry(PAGERDUTY_KEY, f"{layout.monitoring}/pagerduty", "routing-key"))
    return [
        SyncedSecret(SECRET, secrets.namespace, kv, refresh, entries=tuple(entries)),
        SyncedSecret(
            HEAL_SECRET,
            secrets.alertmanager_namespace,
            kv,
            refresh,
            entries=(Entry(HEAL_TOKEN_KEY, tokens, "webhook-token"),),
        ),
    ]


def generated_tokens(opts: pulumi.ResourceOptions) -> dict[str, pulumi.Input[str]]:
    """The tokens' values, generated once. Not renewed on the rotation schedule: the
    receiver accepts one webhook token, and Alertmanager does not retry a 401, so the
    minutes between the two Secrets' syncs would lose notifications."""
    return {
        token: random.RandomPassword(f"heal-{token}", length=48, special=False, opts=opts).result
        for token in ("webhook-token", "approval-token")
    }


class SelfHealing(pulumi.ComponentResource):
    service_account: core.ServiceAccount
    role: rbac.Role
    role_binding: rbac.RoleBinding
    deployment: k8s.apps.v1.Deployment
    service: core.Service
    state_claim: core.PersistentVolumeClaim | None
    network_policies: Mapping[str, k8s.networking.v1.NetworkPolicy]
    url: str

    def __init__(self, name: str, args: SelfHealingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:heal:SelfHealing", name, None, opts)
        labels = kubernetes_labels(
            args.owner, name=NAME, instance=f"{NAME}-{args.owner.environment}", component="self-healing"
        )
        metadata: dict[str, Any] = {"name": NAME, "namespace": args.namespace, "labels": labels}
        # Its permissions exist before its pods do.
        after_ready = pulumi.ResourceOptions(parent=self, depends_on=list(args.ready))
        self.role = rbac.Role(
            f"{name}-role", metadata=meta.ObjectMetaArgs(**metadata), rules=role_rules(args), opts=after_ready
        )
        self.role_binding = rbac.RoleBinding(
            f"{name}-role-binding",
            metadata=meta.ObjectMetaArgs(**metadata),
            role_ref=rbac.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=NAME),
            subjects=[rbac.SubjectArgs(kind="ServiceAccount", name=NAME, namespace=args.namespace)],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.ready, self.role]),
        )
        created = ops_service.create(
            self, name, args.namespace, args.owner, spec(args), (*args.ready, self.role_binding)
        )
        self.service_account, self.deployment, self.service = (
            created.service_account,
            created.deployment,
            created.service,
        )
        self.state_claim, self.network_policies = created.state_claim, created.network_policies
        self.url = url(args.namespace)
        self.register_outputs({"serviceName": NAME, "url": self.url, "apply": args.apply})
