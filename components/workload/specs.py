"""Specs of the API's fixed companions: Service, Ingress, autoscaler, disruption budget.
None of them changes in a release."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.workload.args import AppServiceArgs, MeshWorkloadArgs
from components.workload.pod import HTTP_PORT_NAME
from components.workload.release import ROLLOUT_API

core = k8s.core.v1
meta = k8s.meta.v1
autoscaling = k8s.autoscaling.v2
networking = k8s.networking.v1


def service(selector: dict[str, str]) -> core.ServiceSpecArgs:
    return core.ServiceSpecArgs(
        type="ClusterIP",
        selector=selector,
        ports=[core.ServicePortArgs(name=HTTP_PORT_NAME, port=80, target_port=HTTP_PORT_NAME, protocol="TCP")],
    )


def ingress(args: AppServiceArgs, service_name: object) -> networking.IngressSpecArgs:
    """The API's versioned paths only: probes, /metrics and /openapi.json are not public."""
    backend = networking.IngressBackendArgs(
        service=networking.IngressServiceBackendArgs(
            name=service_name, port=networking.ServiceBackendPortArgs(name=HTTP_PORT_NAME)
        )
    )
    # Prefix matches whole path elements: /v1 and /v1/models, never /v10.
    paths = [
        networking.HTTPIngressPathArgs(path=f"/{version}", path_type="Prefix", backend=backend)
        for version in args.ingress.api_versions
    ]
    return networking.IngressSpecArgs(
        ingress_class_name=args.ingress.class_name,
        tls=[networking.IngressTLSArgs(hosts=[args.ingress.host], secret_name=args.ingress.tls_secret_name)],
        rules=[
            networking.IngressRuleArgs(
                host=args.ingress.host,
                http=networking.HTTPIngressRuleValueArgs(paths=paths),
            )
        ],
    )


def ingress_annotations(args: AppServiceArgs) -> dict[str, str]:
    return {
        "cert-manager.io/cluster-issuer": args.ingress.cluster_issuer,
        "nginx.ingress.kubernetes.io/ssl-redirect": "true",
        "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
        **args.ingress.annotations,
    }


def scale_target(strategy: str) -> tuple[str, str]:
    """(apiVersion, kind) of what runs the API's pods, and so what an autoscaler scales:
    the Deployment, or the Argo Rollout that replaces it for canary and blue-green."""
    return ("apps/v1", "Deployment") if strategy == "rolling" else (ROLLOUT_API, "Rollout")


def autoscaler(
    args: AppServiceArgs, api_version: str, kind: str, workload_name: object
) -> autoscaling.HorizontalPodAutoscalerSpecArgs:
    return autoscaling.HorizontalPodAutoscalerSpecArgs(
        scale_target_ref=autoscaling.CrossVersionObjectReferenceArgs(
            api_version=api_version, kind=kind, name=workload_name
        ),
        min_replicas=args.min_replicas,
        max_replicas=args.max_replicas,
        metrics=[
            autoscaling.MetricSpecArgs(
                type="Resource",
                resource=autoscaling.ResourceMetricSourceArgs(
                    name="cpu",
                    target=autoscaling.MetricTargetArgs(
                        type="Utilization", average_utilization=args.target_cpu_utilization
                    ),
                ),
            )
        ],
        behavior=behavior(args.scale_down_stabilization_seconds),
    )


def behavior(scale_down_stabilization_seconds: int) -> autoscaling.HorizontalPodAutoscalerBehaviorArgs:
    """How fast the API's replicas change, whichever autoscaler decides how many."""
    return autoscaling.HorizontalPodAutoscalerBehaviorArgs(
        # Scale down slowly: a dip between bursts should not drop capacity.
        scale_down=autoscaling.HPAScalingRulesArgs(
            stabilization_window_seconds=scale_down_stabilization_seconds,
            select_policy="Min",
            policies=[autoscaling.HPAScalingPolicyArgs(type="Percent", value=50, period_seconds=60)],
        ),
        scale_up=autoscaling.HPAScalingRulesArgs(
            stabilization_window_seconds=0,
            select_policy="Max",
            policies=[
                autoscaling.HPAScalingPolicyArgs(type="Percent", value=100, period_seconds=30),
                autoscaling.HPAScalingPolicyArgs(type="Pods", value=4, period_seconds=30),
            ],
        ),
    )


def disruption_budget(args: AppServiceArgs, selector: dict[str, str]) -> k8s.policy.v1.PodDisruptionBudgetSpecArgs:
    return k8s.policy.v1.PodDisruptionBudgetSpecArgs(
        selector=meta.LabelSelectorArgs(match_labels=selector),
        max_unavailable=args.max_unavailable,
        # A crash-looping pod must not block node drains.
        unhealthy_pod_eviction_policy="AlwaysAllow",
    )


def gateway_service(mesh: MeshWorkloadArgs) -> core.ServiceSpecArgs:
    """The mesh's ingress gateway, by name, for the Ingress's backend."""
    return core.ServiceSpecArgs(
        type="ExternalName",
        external_name=mesh.gateway_service,
        ports=[core.ServicePortArgs(name=HTTP_PORT_NAME, port=mesh.gateway_port, protocol="TCP")],
    )
