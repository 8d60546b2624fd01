"""What changes in a release: the migration Job and the pod template of the Deployment
(rolling) or the Argo Rollout (canary, blue-green), plus the Rollout's fixed companions
(analysis templates and the second Service)."""

from __future__ import annotations

import re

import pulumi
import pulumi_kubernetes as k8s

from components.delivery import analysis
from components.delivery import rollout as strategies
from components.delivery.args import DeliveryArgs
from components.delivery.judge import CanaryJudge, CanaryJudgeArgs
from components.workload import pod
from components.workload.args import AppServiceArgs

core = k8s.core.v1
meta = k8s.meta.v1

ROLLOUT_API = "argoproj.io/v1alpha1"
MAX_NAME = 63


def job_name(app_name: str, version: str) -> str:
    """`<app>-migrate-<version>`: one Job per release, so each release migrates once."""
    suffix = re.sub(r"[^a-z0-9-]", "-", version.lower()).strip("-")
    return f"{app_name}-migrate-{suffix}"[:MAX_NAME].rstrip("-")


def migration_job(
    name: str,
    args: AppServiceArgs,
    labels: dict[str, str],
    service_account: object,
    config_map_name: object,
    opts: pulumi.ResourceOptions,
) -> k8s.batch.v1.Job:
    """Runs before the workload changes (it depends on the Job, and Pulumi waits for a Job
    to complete). Migrations must be expand/contract: the old version serves meanwhile."""
    # Pulumi waits for a Job to complete (10 minutes by default): wait as long as it may run.
    wait = f"{args.delivery.migration_deadline_seconds + 120}s"
    opts = pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create=wait, update=wait))
    )
    return k8s.batch.v1.Job(
        f"{name}-migration",
        metadata=meta.ObjectMetaArgs(name=job_name(args.name, args.version), namespace=args.namespace, labels=labels),
        spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=2,
            active_deadline_seconds=args.delivery.migration_deadline_seconds,
            # Kept a day for its logs, then collected.
            ttl_seconds_after_finished=86400,
            template=core.PodTemplateSpecArgs(
                metadata=meta.ObjectMetaArgs(labels=labels),
                spec=pod.migration_pod_spec(args, service_account, config_map_name),
            ),
        ),
        opts=opts,
    )


def deployment(
    name: str,
    args: AppServiceArgs,
    metadata: meta.ObjectMetaArgs,
    selector: dict[str, str],
    template: core.PodTemplateSpecArgs,
    opts: pulumi.ResourceOptions,
) -> k8s.apps.v1.Deployment:
    return k8s.apps.v1.Deployment(
        f"{name}-deployment",
        metadata=metadata,
        spec=k8s.apps.v1.DeploymentSpecArgs(
            # No `replicas`: the HPA owns the count, and a fixed value here would
            # reset it on every `pulumi up`.
            selector=meta.LabelSelectorArgs(match_labels=selector),
            revision_history_limit=5,
            strategy=k8s.apps.v1.DeploymentStrategyArgs(
                type="RollingUpdate",
                rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge="25%"),
            ),
            template=template,
        ),
        opts=opts,
    )


def analysis_templates(
    name: str,
    args: AppServiceArgs,
    labels: dict[str, str],
    smoke_labels: dict[str, str],
    preview_url: str,
    opts: pulumi.ResourceOptions,
    judge_url: str | None = None,
) -> dict[str, k8s.apiextensions.CustomResource]:
    """The Prometheus templates; blue-green's smoke test; with `judge_url` (the canary's
    statistical judge), the template that asks it."""
    delivery: DeliveryArgs = args.delivery
    specs = {
        analysis.SUCCESS_RATE: analysis.success_rate(args.namespace, delivery.analysis),
        analysis.LATENCY: analysis.latency_p99(args.namespace, delivery.analysis),
    }
    judge = delivery.canary.judge
    if delivery.strategy == "canary" and judge is not None and judge_url is not None:
        url = f"{judge_url}{analysis.judge_query(args.namespace, delivery.analysis.interval_seconds)}"
        specs[analysis.STATISTICAL_JUDGE] = analysis.statistical_judge(url, delivery.analysis, judge.timeout_seconds)
    if delivery.strategy == "blueGreen":
        if delivery.blue_green.smoke_test_image is None:
            raise ValueError("blue-green delivery needs the ops image for its smoke test (smoke_test_image)")
        specs[analysis.SMOKE_TEST] = analysis.smoke_test(
            preview_url,
            delivery.blue_green.smoke_test_secret_name,
            delivery.blue_green.smoke_test_image,
            smoke_labels,
        )
    return {
        template: k8s.apiextensions.CustomResource(
            f"{name}-analysis-{template}",
            api_version=ROLLOUT_API,
            kind="AnalysisTemplate",
            metadata=meta.ObjectMetaArgs(name=template, namespace=args.namespace, labels=labels),
            spec=spec,
            opts=opts,
        )
        for template, spec in specs.items()
    }


def canary_judge(
    name: str, args: AppServiceArgs, node_local_dns: str | None, opts: pulumi.ResourceOptions
) -> CanaryJudge | None:
    """The statistical judge, where a canary is configured with one."""
    delivery = args.delivery
    if delivery.strategy != "canary" or delivery.canary.judge is None:
        return None
    return CanaryJudge(
        f"{name}-canary-judge",
        CanaryJudgeArgs(
            owner=args.owner,
            namespace=args.namespace,
            judge=delivery.canary.judge,
            prometheus_address=delivery.analysis.prometheus_address,
            node_local_dns=node_local_dns,
            meshed=args.mesh is not None,
        ),
        opts,
    )


def rollout(
    name: str,
    args: AppServiceArgs,
    metadata: meta.ObjectMetaArgs,
    selector: dict[str, str],
    template: core.PodTemplateSpecArgs,
    services: tuple[str, str],
    ingress_name: str,
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """An Argo Rollout in place of the Deployment: the same pod template, released by steps."""
    delivery = args.delivery
    main_service, second_service = services
    if delivery.strategy == "canary":
        mesh = args.mesh
        istio = (
            strategies.IstioRouting(
                mesh.virtual_service, mesh.route, mesh.destination_rule, mesh.stable_subset, mesh.canary_subset
            )
            if mesh
            else None
        )
        strategy = strategies.canary(delivery.canary, main_service, second_service, ingress_name, istio)
    else:
        strategy = strategies.blue_green(delivery.blue_green, main_service, second_service)
    return k8s.apiextensions.CustomResource(
        f"{name}-rollout",
        api_version=ROLLOUT_API,
        kind="Rollout",
        metadata=metadata,
        spec={
            # No `replicas`: the HPA owns the count.
            "selector": meta.LabelSelectorArgs(match_labels=selector),
            "revisionHistoryLimit": 5,
            # Going back to a recent revision skips steps and analysis: a rollback is fast.
            "rollbackWindow": {"revisions": delivery.rollback_window_revisions},
            "progressDeadlineSeconds": 600,
            "progressDeadlineAbort": True,
            "template": template,
            "strategy": strategy,
        },
        opts=opts,
    )
