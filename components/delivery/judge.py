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

Its Deployment, Service and NetworkPolicies are an ops service (components/ops_service.py),
the shape the chaos steady-state guard shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import ops_service
from components.delivery.args import JudgeArgs
from components.labels import Ownership
from components.network_policies import EgressRule
from components.ops_service import Caller, OpsServiceSpec

core = k8s.core.v1
networking = k8s.networking.v1

NAME = "canary-judge"


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
    return ops_service.service_selector(NAME, environment)


def service_host(namespace: str) -> str:
    return ops_service.service_host(NAME, namespace)


def spec(args: CanaryJudgeArgs) -> OpsServiceSpec:
    judge = args.judge
    return OpsServiceSpec(
        name=NAME,
        component="delivery",
        image=judge.image,
        args=(
            "canary",
            "serve",
            "--listen",
            "0.0.0.0",
            "--port",
            str(judge.port),
            "--prometheus",
            args.prometheus_address,
        ),
        port=judge.port,
        caller=Caller("rollouts-controller", judge.rollouts_namespace, judge.rollouts_labels),
        prometheus=EgressRule(
            "prometheus",
            (judge.prometheus_port,),
            namespace=judge.prometheus_namespace,
            pod_labels=dict(judge.prometheus_labels),
        ),
        run_as_user=judge.run_as_user,
        replicas=judge.replicas,
        node_local_dns=args.node_local_dns,
        meshed=args.meshed,
    )


class CanaryJudge(pulumi.ComponentResource):
    service_account: core.ServiceAccount
    deployment: k8s.apps.v1.Deployment
    service: core.Service
    network_policies: dict[str, networking.NetworkPolicy]
    url: str

    def __init__(self, name: str, args: CanaryJudgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:delivery:CanaryJudge", name, None, opts)
        created = ops_service.create(self, name, args.namespace, args.owner, spec(args))
        self.selector = created.selector
        self.service_account, self.deployment, self.service = (
            created.service_account,
            created.deployment,
            created.service,
        )
        self.network_policies = created.network_policies
        self.url = created.url
        self.register_outputs({"serviceName": NAME, "url": self.url})
