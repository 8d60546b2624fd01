"""CanaryJudge: the statistical canary judge beside the API (issue #17).

`python -m ops canary serve` from the ops image (ops/Dockerfile), as Argo Rollouts' web
metric provider: the `statistical-judge` AnalysisTemplate (analysis.statistical_judge)
asks it, every analysis interval, whether the canary's requests differ from the stable
version's, and it answers pass, fail or inconclusive from Prometheus.

In the app's namespace, denied by default like every pod there: the Rollouts
controller's pods alone may call it (8080), and it may reach only Prometheus and DNS.

**Outside the mesh, on purpose.** Its only caller, the Rollouts controller, is not in
the mesh: under the mesh-wide STRICT PeerAuthentication a sidecar on the judge would
refuse the controller's plaintext, and an AuthorizationPolicy can name no caller without
a mesh identity. Letting it in would take a PERMISSIVE port (which the zero-trust pack
refuses) or meshing the controller. So the judge's pods are not injected
(`sidecar.istio.io/inject: "false"`, a label Istio's injector honours); its NetworkPolicies
are what admit the controller alone. It holds no secret and serves only verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.delivery.args import JudgeArgs
from components.hardening import container_security, pod_security
from components.labels import Ownership, kubernetes_labels, selector_labels
from components.network_policies import EgressRule, egress_to, egress_to_dns, namespace_selector, ports

core = k8s.core.v1
meta = k8s.meta.v1
networking = k8s.networking.v1

NAME = "canary-judge"
HEALTH_PATH = "/healthz"
# Excludes a pod from sidecar injection (a label: Istio's injector reads it before the annotation).
NO_SIDECAR = {"sidecar.istio.io/inject": "false"}
TMP = "/tmp"


@dataclass(frozen=True)
class CanaryJudgeArgs:
    owner: Ownership
    namespace: str
    judge: JudgeArgs
    # The Prometheus the analysis queries (the judge asks the same one).
    prometheus_address: str
    # The cluster's node-local DNS cache, where it runs one.
    node_local_dns: str | None = None
    # True where the namespace is enrolled in the mesh: the judge's pods stay out of it.
    meshed: bool = False


def judge_selector(environment: str) -> dict[str, str]:
    """The judge's pods: what its Service selects and the controller's egress names."""
    return selector_labels(NAME, f"{NAME}-{environment}")


def service_host(namespace: str) -> str:
    return f"{NAME}.{namespace}.svc.cluster.local"


def container(args: CanaryJudgeArgs) -> core.ContainerArgs:
    judge = args.judge
    probe = core.HTTPGetActionArgs(path=HEALTH_PATH, port="http")
    return core.ContainerArgs(
        name=NAME,
        image=judge.image,
        # The image's ENTRYPOINT is `python -m ops`.
        args=[
            "canary",
            "serve",
            "--listen",
            "0.0.0.0",
            "--port",
            str(judge.port),
            "--prometheus",
            args.prometheus_address,
        ],
        ports=[core.ContainerPortArgs(name="http", container_port=judge.port, protocol="TCP")],
        readiness_probe=core.ProbeArgs(http_get=probe, period_seconds=10, timeout_seconds=2, failure_threshold=3),
        liveness_probe=core.ProbeArgs(
            http_get=probe, initial_delay_seconds=10, period_seconds=20, timeout_seconds=2, failure_threshold=3
        ),
        resources=core.ResourceRequirementsArgs(
            requests={"cpu": "50m", "memory": "128Mi"}, limits={"cpu": "500m", "memory": "256Mi"}
        ),
        security_context=container_security(judge.run_as_user),
        volume_mounts=[core.VolumeMountArgs(name="tmp", mount_path=TMP)],
    )


def pod_spec(args: CanaryJudgeArgs, service_account: pulumi.Input[str]) -> core.PodSpecArgs:
    return core.PodSpecArgs(
        service_account_name=service_account,
        # It calls no Kubernetes API.
        automount_service_account_token=False,
        security_context=pod_security(args.judge.run_as_user),
        containers=[container(args)],
        # The root filesystem is read-only: a small scratch directory for anything that writes one.
        volumes=[core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="16Mi"))],
    )


def network_policies(args: CanaryJudgeArgs, selector: dict[str, str]) -> dict[str, networking.NetworkPolicySpecArgs]:
    """The judge's paths, on top of the namespace's default deny: in from the Rollouts
    controller on its port; out to Prometheus and DNS."""
    judge = args.judge
    controller = networking.NetworkPolicyPeerArgs(
        namespace_selector=namespace_selector(judge.rollouts_namespace),
        pod_selector=meta.LabelSelectorArgs(match_labels=dict(judge.rollouts_labels)),
    )
    from_controller = networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress"],
        ingress=[networking.NetworkPolicyIngressRuleArgs(from_=[controller], ports=ports([judge.port]))],
    )
    prometheus = EgressRule(
        "prometheus",
        (judge.prometheus_port,),
        namespace=judge.prometheus_namespace,
        pod_labels=dict(judge.prometheus_labels),
    )
    return {
        f"{NAME}-allow-rollouts-controller": from_controller,
        f"{NAME}-allow-egress-prometheus": egress_to(prometheus, selector),
        f"{NAME}-allow-dns": egress_to_dns(selector, args.node_local_dns),
    }


class CanaryJudge(pulumi.ComponentResource):
    service_account: core.ServiceAccount
    deployment: k8s.apps.v1.Deployment
    service: core.Service
    network_policies: dict[str, networking.NetworkPolicy]
    url: str

    def __init__(self, name: str, args: CanaryJudgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:delivery:CanaryJudge", name, None, opts)
        instance = f"{NAME}-{args.owner.environment}"
        self.selector = selector = judge_selector(args.owner.environment)
        labels = kubernetes_labels(args.owner, name=NAME, instance=instance, component="delivery")
        child = pulumi.ResourceOptions(parent=self)

        def metadata(object_name: str) -> meta.ObjectMetaArgs:
            return meta.ObjectMetaArgs(name=object_name, namespace=args.namespace, labels=labels)

        # Its paths exist before its pods do.
        self.network_policies = {
            policy: networking.NetworkPolicy(f"{name}-{policy}", metadata=metadata(policy), spec=spec, opts=child)
            for policy, spec in network_policies(args, selector).items()
        }
        self.service_account = core.ServiceAccount(
            f"{name}-service-account", metadata=metadata(NAME), automount_service_account_token=False, opts=child
        )
        pod_labels = {**labels, **(NO_SIDECAR if args.meshed else {})}
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(NAME),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.judge.replicas,
                selector=meta.LabelSelectorArgs(match_labels=selector),
                revision_history_limit=3,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
                ),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=pod_labels),
                    spec=pod_spec(args, self.service_account.metadata.name),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.network_policies.values())),
        )
        self.service = core.Service(
            f"{name}-service",
            metadata=metadata(NAME),
            spec=core.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector,
                ports=[core.ServicePortArgs(name="http", port=args.judge.port, target_port="http", protocol="TCP")],
            ),
            opts=child,
        )
        self.url = f"http://{service_host(args.namespace)}:{args.judge.port}"
        self.register_outputs({"serviceName": NAME, "url": self.url})
