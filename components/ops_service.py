"""A small HTTP service of the ops image (ops/Dockerfile) beside the platform, in one
shape for all: the canary judge (components/delivery/judge.py), the chaos
steady-state guard (components/chaos/guard.py) and the insight service
(components/insight.py, the one with a state volume) and the self-healing receiver
(components/heal.py, the one with secrets and a Kubernetes API token).

Each runs `python -m ops <group> <command>` as uid 10001 on a read-only root. By default
it holds no secret and mounts no ServiceAccount token (it calls no Kubernetes API); one
that needs them declares them: Secrets as read-only files (components/secret_volume.py),
a token projected where Kubernetes clients look for it. Its namespace denies everything
by default; its own NetworkPolicies admit one caller on its port (pods of one namespace,
by their labels) and let it reach DNS and its upstreams alone (Prometheus, or those it
names: the API server, HTTPS APIs).

Where its namespace is enrolled in the mesh it stays out of it (`NO_SIDECAR`): its
callers (the Rollouts controller, the Chaos Mesh controller) have no mesh identity, so a
sidecar under the mesh-wide STRICT PeerAuthentication would refuse their plaintext, and
an AuthorizationPolicy can name no caller without one. The NetworkPolicies are what
admit the caller alone.

`create` adds the objects as children of the component that owns them, under the same
logical names each owner always had, so moving an owner onto this module changes no URN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import secret_volume
from components.hardening import container_security, pod_security
from components.labels import Ownership, kubernetes_labels, selector_labels
from components.network_policies import EgressRule, egress_to, egress_to_dns, namespace_selector, ports

core = k8s.core.v1
meta = k8s.meta.v1
networking = k8s.networking.v1

HEALTH_PATH = "/healthz"
# Excludes a pod from sidecar injection (a label: Istio's injector reads it before the annotation).
NO_SIDECAR = {"sidecar.istio.io/inject": "false"}
TMP = "/tmp"
# The state volume's name in the pod, and its claim's suffix.
STATE = "state"
# The ops image's user (ops/Dockerfile).
OPS_USER = 10001
# Where Kubernetes clients read the pod's token, CA and namespace (the kubelet's automount path).
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
API_TOKEN = "kube-api-access"
# The kubelet renews a projected token at 80 % of its life; clients re-read the file.
API_TOKEN_SECONDS = 3600


@dataclass(frozen=True)
class Caller:
    """The only pods that may call the service: by their namespace and pod labels."""

    # In its NetworkPolicy's name: `<service>-allow-<name>`.
    name: str
    namespace: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class StateVolume:
    """A small disk of the service's own, for what it must keep across restarts and
    reschedules (the insight service's learned models): a ReadWriteOnce claim. A pod on
    another node cannot mount it while the old one holds it, so such a service is
    replaced, not surged: the old pod stops before the new one starts (`Recreate`)."""

    mount_path: str
    size: str
    # Unset: the cluster's default StorageClass.
    storage_class: str | None = None


@dataclass(frozen=True)
class OpsServiceSpec:
    # The objects' name (Deployment, Service, ServiceAccount) and the container's.
    name: str
    # Its app.kubernetes.io/component label.
    component: str
    # The ops image, pinned by digest.
    image: str
    # After the image's ENTRYPOINT (`python -m ops`): the command and its options.
    args: tuple[str, ...]
    port: int
    caller: Caller
    # Prometheus, where it reads it.
    prometheus: EgressRule | None
    run_as_user: int = OPS_USER
    replicas: int = 1
    # The cluster's node-local DNS cache, where it runs one.
    node_local_dns: str | None = None
    # True where the namespace is enrolled in the mesh: the pods stay out of it.
    meshed: bool = False
    requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "50m", "memory": "128Mi"})
    limits: Mapping[str, str] = field(default_factory=lambda: {"cpu": "500m", "memory": "256Mi"})
    # Unset: the service keeps nothing beyond its scratch directory.
    state: StateVolume | None = None
    # Upstreams besides Prometheus and DNS (the API server, HTTPS APIs), each a NetworkPolicy.
    egress: tuple[EgressRule, ...] = ()
    # Secrets it reads, as files in secret_volume.SECRETS_DIR.
    secrets: tuple[str, ...] = ()
    # True: its ServiceAccount's token is projected for the Kubernetes API (its Role says what for).
    kubernetes_api: bool = False


@dataclass(frozen=True)
class OpsService:
    """What `create` made, for the owner to expose as its own attributes."""

    selector: dict[str, str]
    service_account: core.ServiceAccount
    deployment: k8s.apps.v1.Deployment
    service: core.Service
    network_policies: dict[str, networking.NetworkPolicy]
    url: str
    # Its state volume's claim, where it has one.
    state_claim: core.PersistentVolumeClaim | None = None


def service_selector(name: str, environment: str) -> dict[str, str]:
    """The service's pods: what its Service selects, and what its caller's egress names."""
    return selector_labels(name, f"{name}-{environment}")


def service_host(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.cluster.local"


def container(spec: OpsServiceSpec) -> core.ContainerArgs:
    probe = core.HTTPGetActionArgs(path=HEALTH_PATH, port="http")
    return core.ContainerArgs(
        name=spec.name,
        image=spec.image,
        # The image's ENTRYPOINT is `python -m ops`.
        args=list(spec.args),
        ports=[core.ContainerPortArgs(name="http", container_port=spec.port, protocol="TCP")],
        readiness_probe=core.ProbeArgs(http_get=probe, period_seconds=10, timeout_seconds=2, failure_threshold=3),
        liveness_probe=core.ProbeArgs(
            http_get=probe, initial_delay_seconds=10, period_seconds=20, timeout_seconds=2, failure_threshold=3
        ),
        resources=core.ResourceRequirementsArgs(requests=dict(spec.requests), limits=dict(spec.limits)),
        security_context=container_security(spec.run_as_user),
        volume_mounts=[
            core.VolumeMountArgs(name="tmp", mount_path=TMP),
            *([core.VolumeMountArgs(name=STATE, mount_path=spec.state.mount_path)] if spec.state else []),
            *([secret_volume.mount()] if spec.secrets else []),
            *(
                [core.VolumeMountArgs(name=API_TOKEN, mount_path=SERVICE_ACCOUNT_DIR, read_only=True)]
                if spec.kubernetes_api
                else []
            ),
        ],
    )


def api_token_volume() -> core.VolumeArgs:
    """What the kubelet's automount would mount, declared: a token of the API server's
    audience that expires and is renewed, the cluster's CA and the pod's namespace."""
    return core.VolumeArgs(
        name=API_TOKEN,
        projected=core.ProjectedVolumeSourceArgs(
            sources=[
                core.VolumeProjectionArgs(
                    service_account_token=core.ServiceAccountTokenProjectionArgs(
                        path="token", expiration_seconds=API_TOKEN_SECONDS
                    )
                ),
                core.VolumeProjectionArgs(
                    config_map=core.ConfigMapProjectionArgs(
                        name="kube-root-ca.crt", items=[core.KeyToPathArgs(key="ca.crt", path="ca.crt")]
                    )
                ),
                core.VolumeProjectionArgs(
                    downward_api=core.DownwardAPIProjectionArgs(
                        items=[
                            core.DownwardAPIVolumeFileArgs(
                                path="namespace",
                                field_ref=core.ObjectFieldSelectorArgs(field_path="metadata.namespace"),
                            )
                        ]
                    )
                ),
            ]
        ),
    )


def pod_spec(spec: OpsServiceSpec, service_account: pulumi.Input[str]) -> core.PodSpecArgs:
    return core.PodSpecArgs(
        service_account_name=service_account,
        # Never the automounted token: one that calls the Kubernetes API projects its own (below).
        automount_service_account_token=False,
        security_context=pod_security(spec.run_as_user),
        containers=[container(spec)],
        # The root filesystem is read-only: a small scratch directory for anything that writes one.
        volumes=[
            core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="16Mi")),
            *(
                [
                    core.VolumeArgs(
                        name=STATE,
                        persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(
                            claim_name=state_claim(spec.name)
                        ),
                    )
                ]
                if spec.state
                else []
            ),
            *([secret_volume.volume(spec.secrets)] if spec.secrets else []),
            *([api_token_volume()] if spec.kubernetes_api else []),
        ],
    )


def state_claim(name: str) -> str:
    return f"{name}-{STATE}"


def deployment_strategy(spec: OpsServiceSpec) -> k8s.apps.v1.DeploymentStrategyArgs:
    """A surge for a stateless service (no gap); replaced for one with a state volume."""
    if spec.state is not None:
        return k8s.apps.v1.DeploymentStrategyArgs(type="Recreate")
    return k8s.apps.v1.DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
    )


def network_policies(spec: OpsServiceSpec, selector: dict[str, str]) -> dict[str, networking.NetworkPolicySpecArgs]:
    """The service's paths, on top of its namespace's default deny: in from its caller on
    its port; out to DNS, Prometheus where it reads it, and its other upstreams."""
    caller = networking.NetworkPolicyPeerArgs(
        namespace_selector=namespace_selector(spec.caller.namespace),
        pod_selector=meta.LabelSelectorArgs(match_labels=dict(spec.caller.labels)),
    )
    from_caller = networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress"],
        ingress=[networking.NetworkPolicyIngressRuleArgs(from_=[caller], ports=ports([spec.port]))],
    )
    upstreams = ((spec.prometheus,) if spec.prometheus else ()) + spec.egress
    return {
        f"{spec.name}-allow-{spec.caller.name}": from_caller,
        **{f"{spec.name}-allow-egress-{rule.name}": egress_to(rule, selector) for rule in upstreams},
        f"{spec.name}-allow-dns": egress_to_dns(selector, spec.node_local_dns),
    }


def create(
    owner_resource: pulumi.Resource,
    logical_name: str,
    namespace: str,
    owner: Ownership,
    spec: OpsServiceSpec,
    ready: Sequence[pulumi.Resource] = (),
) -> OpsService:
    """The service's objects, children of `owner_resource`, named after `logical_name`,
    each after `ready` (what must exist first: its namespace)."""
    selector = service_selector(spec.name, owner.environment)
    labels = kubernetes_labels(
        owner, name=spec.name, instance=f"{spec.name}-{owner.environment}", component=spec.component
    )
    child = pulumi.ResourceOptions(parent=owner_resource, depends_on=list(ready) or None)

    def metadata(object_name: str) -> meta.ObjectMetaArgs:
        return meta.ObjectMetaArgs(name=object_name, namespace=namespace, labels=labels)

    # Its paths exist before its pods do.
    policies = {
        policy: networking.NetworkPolicy(f"{logical_name}-{policy}", metadata=metadata(policy), spec=body, opts=child)
        for policy, body in network_policies(spec, selector).items()
    }
    service_account = core.ServiceAccount(
        f"{logical_name}-service-account",
        metadata=metadata(spec.name),
        automount_service_account_token=False,
        opts=child,
    )
    claims = []
    if spec.state is not None:
        claims.append(
            core.PersistentVolumeClaim(
                f"{logical_name}-{STATE}",
                metadata=metadata(state_claim(spec.name)),
                spec=core.PersistentVolumeClaimSpecArgs(
                    access_modes=["ReadWriteOnce"],
                    storage_class_name=spec.state.storage_class,
                    resources=core.VolumeResourceRequirementsArgs(requests={"storage": spec.state.size}),
                ),
                opts=child,
            )
        )
    pod_labels = {**labels, **(NO_SIDECAR if spec.meshed else {})}
    deployment = k8s.apps.v1.Deployment(
        f"{logical_name}-deployment",
        metadata=metadata(spec.name),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=spec.replicas,
            selector=meta.LabelSelectorArgs(match_labels=selector),
            revision_history_limit=3,
            strategy=deployment_strategy(spec),
            template=core.PodTemplateSpecArgs(
                metadata=meta.ObjectMetaArgs(labels=pod_labels),
                spec=pod_spec(spec, service_account.metadata.name),
            ),
        ),
        opts=pulumi.ResourceOptions(parent=owner_resource, depends_on=[*ready, *policies.values(), *claims]),
    )
    service = core.Service(
        f"{logical_name}-service",
        metadata=metadata(spec.name),
        spec=core.ServiceSpecArgs(
            type="ClusterIP",
            selector=selector,
            ports=[core.ServicePortArgs(name="http", port=spec.port, target_port="http", protocol="TCP")],
        ),
        opts=child,
    )
    url = f"http://{service_host(spec.name, namespace)}:{spec.port}"
    return OpsService(selector, service_account, deployment, service, policies, url, next(iter(claims), None))


def prometheus_admission(
    parent: pulumi.Resource,
    name: str,
    service: str,
    namespace: str,
    selector: Mapping[str, str],
    prometheus: tuple[str, Mapping[str, str], int],
    labels: Mapping[str, str],
    ready: Sequence[pulumi.Resource],
) -> k8s.networking.v1.NetworkPolicy:
    """`allow-ingress-<service>` in Prometheus's namespace (`prometheus`: its namespace, pod
    labels and port): its pods take one ops service's queries (its pods in `namespace`, by
    `selector`), on its port only."""
    prometheus_namespace, prometheus_labels, prometheus_port = prometheus
    admitted = f"allow-ingress-{service}"
    caller = networking.NetworkPolicyPeerArgs(
        namespace_selector=namespace_selector(namespace),
        pod_selector=meta.LabelSelectorArgs(match_labels=dict(selector)),
    )
    return networking.NetworkPolicy(
        f"{name}-{admitted}",
        metadata=meta.ObjectMetaArgs(name=admitted, namespace=prometheus_namespace, labels=dict(labels)),
        spec=networking.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels=dict(prometheus_labels)),
            policy_types=["Ingress"],
            ingress=[networking.NetworkPolicyIngressRuleArgs(from_=[caller], ports=ports([prometheus_port]))],
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(ready)),
    )
