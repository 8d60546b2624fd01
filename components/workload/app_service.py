"""AppService: the Project-AI API as a hardened, autoscaled, network-isolated workload."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.labels import kubernetes_labels, selector_labels
from components.workload import network, pod
from components.workload.args import AppServiceArgs

core = k8s.core.v1
meta = k8s.meta.v1

COMPONENT = "api"
PSA_LEVEL = "restricted"


class AppService(pulumi.ComponentResource):
    """Namespace, identity, Deployment, Service, HPA, PDB, Ingress and NetworkPolicies."""

    namespace: core.Namespace
    service_account: core.ServiceAccount
    config_map: core.ConfigMap
    deployment: k8s.apps.v1.Deployment
    service: core.Service
    autoscaler: k8s.autoscaling.v2.HorizontalPodAutoscaler
    disruption_budget: k8s.policy.v1.PodDisruptionBudget
    ingress: k8s.networking.v1.Ingress
    network_policies: dict[str, k8s.networking.v1.NetworkPolicy]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: AppServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:workload:AppService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        instance = f"{args.name}-{args.owner.environment}"
        self.selector = selector_labels(args.name, instance)
        labels = kubernetes_labels(
            args.owner, name=args.name, instance=instance, component=COMPONENT, version=args.version
        )

        def metadata(object_name: str | None = None) -> meta.ObjectMetaArgs:
            return meta.ObjectMetaArgs(name=object_name, namespace=args.namespace, labels=labels)

        psa_version = f"v{args.kubernetes_version}"
        self.namespace = core.Namespace(
            f"{name}-namespace",
            metadata=meta.ObjectMetaArgs(
                name=args.namespace,
                labels={
                    **labels,
                    **{
                        f"pod-security.kubernetes.io/{mode}{suffix}": value
                        for mode in ("enforce", "audit", "warn")
                        for suffix, value in (("", PSA_LEVEL), ("-version", psa_version))
                    },
                },
            ),
            opts=child,
        )
        # Everything else lives in the namespace, so it waits for it.
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])

        self.service_account = core.ServiceAccount(
            f"{name}-service-account",
            metadata=metadata(args.name),
            automount_service_account_token=False,
            opts=in_namespace,
        )
        # Auto-named on purpose: a settings change gives a new ConfigMap name, which
        # changes the pod template and so rolls the pods onto the new settings.
        self.config_map = core.ConfigMap(
            f"{name}-settings",
            metadata=meta.ObjectMetaArgs(namespace=args.namespace, labels=labels),
            data={"PORT": str(args.port), **args.settings},
            immutable=True,
            opts=in_namespace,
        )
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(args.name),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # No `replicas`: the HPA owns the count, and a fixed value here would
                # reset it on every `pulumi up`.
                selector=meta.LabelSelectorArgs(match_labels=self.selector),
                revision_history_limit=5,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge="25%"),
                ),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=labels),
                    spec=pod.pod_spec(
                        args, self.service_account.metadata.name, self.config_map.metadata.name, self.selector
                    ),
                ),
            ),
            opts=in_namespace,
        )
        self.service = core.Service(
            f"{name}-service",
            metadata=metadata(args.name),
            spec=core.ServiceSpecArgs(
                type="ClusterIP",
                selector=self.selector,
                ports=[
                    core.ServicePortArgs(
                        name=pod.HTTP_PORT_NAME, port=80, target_port=pod.HTTP_PORT_NAME, protocol="TCP"
                    )
                ],
            ),
            opts=in_namespace,
        )
        self.autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-autoscaler",
            metadata=metadata(args.name),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=self.deployment.metadata.name
                ),
                min_replicas=args.min_replicas,
                max_replicas=args.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=args.target_cpu_utilization
                            ),
                        ),
                    )
                ],
                behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                    # Scale down slowly: a dip between bursts should not drop capacity.
                    scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=args.scale_down_stabilization_seconds,
                        select_policy="Min",
                        policies=[k8s.autoscaling.v2.HPAScalingPolicyArgs(type="Percent", value=50, period_seconds=60)],
                    ),
                    scale_up=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=0,
                        select_policy="Max",
                        policies=[
                            k8s.autoscaling.v2.HPAScalingPolicyArgs(type="Percent", value=100, period_seconds=30),
                            k8s.autoscaling.v2.HPAScalingPolicyArgs(type="Pods", value=4, period_seconds=30),
                        ],
                    ),
                ),
            ),
            opts=in_namespace,
        )
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-disruption-budget",
            metadata=metadata(args.name),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                selector=meta.LabelSelectorArgs(match_labels=self.selector),
                max_unavailable=args.max_unavailable,
                # A crash-looping pod must not block node drains.
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            opts=in_namespace,
        )
        self.ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=meta.ObjectMetaArgs(
                name=args.name,
                namespace=args.namespace,
                labels=labels,
                annotations={
                    "cert-manager.io/cluster-issuer": args.ingress.cluster_issuer,
                    "nginx.ingress.kubernetes.io/ssl-redirect": "true",
                    "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
                },
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=args.ingress.class_name,
                tls=[
                    k8s.networking.v1.IngressTLSArgs(
                        hosts=[args.ingress.host], secret_name=args.ingress.tls_secret_name
                    )
                ],
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=args.ingress.host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path="/",
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name=self.service.metadata.name,
                                            port=k8s.networking.v1.ServiceBackendPortArgs(name=pod.HTTP_PORT_NAME),
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
            ),
            opts=in_namespace,
        )
        self.network_policies = {
            policy_name: k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata=metadata(policy_name),
                spec=spec,
                opts=in_namespace,
            )
            for policy_name, spec in network.policies(args, self.selector).items()
        }
        self.url = pulumi.Output.from_input(f"https://{args.ingress.host}")
        self.register_outputs(
            {
                "namespace": self.namespace.metadata.name,
                "serviceName": self.service.metadata.name,
                "url": self.url,
            }
        )
