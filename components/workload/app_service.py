"""AppService: the Project-AI API as a hardened, autoscaled, network-isolated workload,
released all at once (rolling), by canary or blue-green."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import secret_volume
from components.delivery.judge import CanaryJudge
from components.labels import (
    kubernetes_labels,
    label_value,
    ownership_labels,
    pod_security_labels,
    selector_labels,
)
from components.workload import network, pod, release, specs
from components.workload.args import AppServiceArgs

core = k8s.core.v1
meta = k8s.meta.v1

COMPONENT = "api"
# The setting that tells the app where its secret files are.
SECRETS_DIR_SETTING = "APP_SECRETS_DIR"
VERSION_LABEL = "app.kubernetes.io/version"
# The setting that tells the app where its flag file is, and the file's name.
FLAGS_FILE_SETTING = "APP_FLAGS_FILE"
FLAG_FILE = "flags.json"
# Second Service of each strategy: canary pods, or the blue-green preview.
SECOND_SERVICE = {"canary": "canary", "blueGreen": "preview"}


class AppService(pulumi.ComponentResource):
    """Namespace, identity, migration Job, Deployment or Rollout, Services, HPA (unless
    KEDA scales the workload), PDB, Ingress and NetworkPolicies."""

    namespace: core.Namespace
    service_account: core.ServiceAccount
    config_map: core.ConfigMap
    flags_config_map: core.ConfigMap | None
    migration: k8s.batch.v1.Job
    workload: k8s.apps.v1.Deployment | k8s.apiextensions.CustomResource
    service: core.Service
    second_service: core.Service | None
    gateway_service: core.Service | None
    analysis_templates: dict[str, k8s.apiextensions.CustomResource]
    # The statistical canary judge, where the canary has one.
    judge: CanaryJudge | None
    # None where KEDA's ScaledObject (components/scaling) scales the workload instead.
    autoscaler: k8s.autoscaling.v2.HorizontalPodAutoscaler | None
    disruption_budget: k8s.policy.v1.PodDisruptionBudget
    ingress: k8s.networking.v1.Ingress
    network_policies: dict[str, k8s.networking.v1.NetworkPolicy]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: AppServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:workload:AppService", name, None, opts)
        strategy = args.delivery.strategy
        instance = f"{args.name}-{args.owner.environment}"
        self.selector = selector_labels(args.name, instance)
        # The version label sits on pods and the migration Job only: everything else is
        # the same from one release to the next, so a release changes nothing else.
        self.labels = labels = kubernetes_labels(args.owner, name=args.name, instance=instance, component=COMPONENT)
        pod_labels = {**labels, VERSION_LABEL: label_value(args.version)}
        job_labels = {
            **ownership_labels(args.owner),
            **network.family_labels(args.name),
            "app.kubernetes.io/component": "migration",
            VERSION_LABEL: label_value(args.version),
        }

        def metadata(object_name: str | None = None) -> meta.ObjectMetaArgs:
            return meta.ObjectMetaArgs(name=object_name, namespace=args.namespace, labels=labels)

        self.namespace = core.Namespace(
            f"{name}-namespace",
            metadata=meta.ObjectMetaArgs(
                name=args.namespace,
                labels={
                    **labels,
                    **pod_security_labels(args.cluster.kubernetes_version),
                    **(args.mesh.namespace_labels if args.mesh else {}),
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Everything else lives in the namespace, so it waits for it.
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        # The Secrets the pods read (`secrets`), created by the caller in the namespace.
        prepared = args.setup(self.namespace) if args.setup else []

        self.service_account = core.ServiceAccount(
            f"{name}-service-account",
            metadata=metadata(args.name),
            automount_service_account_token=False,
            opts=in_namespace,
        )
        # Auto-named on purpose: a settings change gives a new ConfigMap name, which
        # changes the pod template and so rolls the pods onto the new settings.
        secrets_dir = {SECRETS_DIR_SETTING: secret_volume.SECRETS_DIR} if args.secrets or args.migration_secrets else {}
        # The flags the other way round: one name, changed in place (not immutable), so a
        # flag change reaches the running pods' mounted file without a rollout.
        self.flags_config_map = None
        flags_file = {}
        if args.flags is not None:
            self.flags_config_map = core.ConfigMap(
                f"{name}-flags",
                metadata=metadata(f"{args.name}-flags"),
                data={FLAG_FILE: args.flags},
                opts=in_namespace,
            )
            flags_file = {FLAGS_FILE_SETTING: f"{pod.FLAGS_DIR}/{FLAG_FILE}"}
        self.config_map = core.ConfigMap(
            f"{name}-settings",
            metadata=meta.ObjectMetaArgs(namespace=args.namespace, labels=labels),
            data={"PORT": str(args.port), **secrets_dir, **flags_file, **args.settings},
            immutable=True,
            opts=in_namespace,
        )
        self.network_policies = {
            policy_name: k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}", metadata=metadata(policy_name), spec=spec, opts=in_namespace
            )
            for policy_name, spec in network.policies(args, self.selector).items()
        }
        self.migration = release.migration_job(
            name,
            args,
            job_labels,
            self.service_account.metadata.name,
            self.config_map.metadata.name,
            # Its pod needs DNS and the database before it can do anything.
            pulumi.ResourceOptions(
                parent=self, depends_on=[self.namespace, *prepared, *self.network_policies.values()]
            ),
        )
        self.service = core.Service(
            f"{name}-service", metadata=metadata(args.name), spec=specs.service(self.selector), opts=in_namespace
        )
        self.second_service = None
        if strategy in SECOND_SERVICE:
            self.second_service = core.Service(
                f"{name}-{SECOND_SERVICE[strategy]}-service",
                metadata=metadata(f"{args.name}-{SECOND_SERVICE[strategy]}"),
                spec=specs.service(self.selector),
                opts=in_namespace,
            )
        # In the mesh the controller forwards to the ingress gateway (an Ingress names a
        # Service of its own namespace: this one names the gateway's).
        self.gateway_service = None
        backend = self.service.metadata.name
        if args.mesh is not None:
            self.gateway_service = core.Service(
                f"{name}-mesh-gateway-service",
                metadata=metadata(f"{args.name}-gateway"),
                spec=specs.gateway_service(args.mesh),
                opts=in_namespace,
            )
            backend = self.gateway_service.metadata.name
        self.ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=meta.ObjectMetaArgs(
                name=args.name, namespace=args.namespace, labels=labels, annotations=specs.ingress_annotations(args)
            ),
            spec=specs.ingress(args, backend),
            opts=in_namespace,
        )

        template = core.PodTemplateSpecArgs(
            metadata=meta.ObjectMetaArgs(labels=pod_labels),
            spec=pod.pod_spec(
                args,
                self.service_account.metadata.name,
                self.config_map.metadata.name,
                self.selector,
                self.flags_config_map.metadata.name if self.flags_config_map else None,
            ),
        )
        workload_metadata = meta.ObjectMetaArgs(
            name=args.name, namespace=args.namespace, labels=labels, annotations=args.workload_annotations or None
        )
        # The workload changes only once the release's migration has completed.
        after_migration = [self.namespace, *prepared, self.migration]
        self.analysis_templates = {}
        self.judge = None
        if strategy == "rolling":
            self.workload = release.deployment(
                name,
                args,
                workload_metadata,
                self.selector,
                template,
                pulumi.ResourceOptions(parent=self, depends_on=after_migration),
            )
        else:
            assert self.second_service is not None
            preview_url = f"http://{args.name}-{SECOND_SERVICE[strategy]}.{args.namespace}.svc"
            smoke_labels = {
                **ownership_labels(args.owner),
                **network.family_labels(args.name),
                "app.kubernetes.io/component": network.SMOKE_TEST,
            }
            self.judge = release.canary_judge(name, args, args.cluster.node_local_dns, in_namespace)
            self.analysis_templates = release.analysis_templates(
                name, args, labels, smoke_labels, preview_url, in_namespace, self.judge.url if self.judge else None
            )
            companions = [self.service, self.second_service, self.ingress, *self.analysis_templates.values()]
            companions += [self.judge] if self.judge else []
            self.workload = release.rollout(
                name,
                args,
                workload_metadata,
                self.selector,
                template,
                (args.name, f"{args.name}-{SECOND_SERVICE[strategy]}"),
                args.name,
                pulumi.ResourceOptions(parent=self, depends_on=[*after_migration, *companions]),
            )

        self.autoscaler = None
        if not args.external_autoscaler:
            self.autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-autoscaler",
                metadata=metadata(args.name),
                spec=specs.autoscaler(args, *specs.scale_target(strategy), args.name),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, self.workload]),
            )
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-disruption-budget",
            metadata=metadata(args.name),
            spec=specs.disruption_budget(args, self.selector),
            opts=in_namespace,
        )
        self.url = pulumi.Output.from_input(f"https://{args.ingress.host}")
        self.register_outputs(
            {
                "namespace": self.namespace.metadata.name,
                "serviceName": self.service.metadata.name,
                "url": self.url,
                "labels": self.labels,
                "selector": self.selector,
            }
        )
