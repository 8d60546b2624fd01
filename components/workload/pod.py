"""Pod specs: the API's (probes, spreading, graceful drain) and the migration Job's, both
hardened the same way."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components import secret_volume
from components.hardening import container_security, pod_security
from components.workload.args import AppServiceArgs

core = k8s.core.v1
meta = k8s.meta.v1

HTTP_PORT_NAME = "http"
TMP_VOLUME = "tmp"
# The flags ConfigMap's volume: a directory, not a subPath, so the kubelet swaps the file
# in place when the ConfigMap changes and the app reads the new flags without a restart.
FLAGS_VOLUME = "flags"
FLAGS_DIR = "/etc/project-ai/flags"
MIGRATE_COMMAND = ["python", "-m", "app", "migrate"]


def _http_probe(path: str, period: int, failures: int) -> core.ProbeArgs:
    return core.ProbeArgs(
        http_get=core.HTTPGetActionArgs(path=path, port=HTTP_PORT_NAME),
        period_seconds=period,
        timeout_seconds=2,
        failure_threshold=failures,
    )


def _base_container(args: AppServiceArgs, config_map_name: object, secrets: tuple[str, ...]) -> dict:
    """Settings from the ConfigMap's environment; secrets only as files (SECRETS_DIR)."""
    return {
        "image": args.image,
        "image_pull_policy": "IfNotPresent",
        "env_from": [core.EnvFromSourceArgs(config_map_ref=core.ConfigMapEnvSourceArgs(name=config_map_name))],
        "resources": core.ResourceRequirementsArgs(
            requests={"cpu": args.requests.cpu, "memory": args.requests.memory},
            limits={"cpu": args.limits.cpu, "memory": args.limits.memory},
        ),
        "security_context": container_security(args.run_as_user),
        "volume_mounts": [
            core.VolumeMountArgs(name=TMP_VOLUME, mount_path="/tmp"),
            *([secret_volume.mount()] if secrets else []),
            *(
                core.VolumeMountArgs(name=secret, mount_path=directory, read_only=True)
                for secret, directory in args.secret_files
            ),
        ],
    }


def _volumes(args: AppServiceArgs, secrets: tuple[str, ...]) -> list[core.VolumeArgs]:
    return [
        core.VolumeArgs(name=TMP_VOLUME, empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
        *([secret_volume.volume(secrets)] if secrets else []),
        *(
            core.VolumeArgs(
                name=secret,
                secret=core.SecretVolumeSourceArgs(secret_name=secret, default_mode=secret_volume.FILE_MODE),
            )
            for secret, _ in args.secret_files
        ),
    ]


def container(args: AppServiceArgs, config_map_name: object, flags: bool = False) -> core.ContainerArgs:
    base = _base_container(args, config_map_name, args.secrets)
    if flags:
        base["volume_mounts"] = [
            *base["volume_mounts"],
            core.VolumeMountArgs(name=FLAGS_VOLUME, mount_path=FLAGS_DIR, read_only=True),
        ]
    return core.ContainerArgs(
        name="api",
        ports=[core.ContainerPortArgs(name=HTTP_PORT_NAME, container_port=args.port)],
        # Startup gets up to 60 s (30 x 2 s) to warm caches before liveness counts.
        startup_probe=_http_probe("/startupz", period=2, failures=30),
        liveness_probe=_http_probe("/livez", period=10, failures=3),
        readiness_probe=_http_probe("/readyz", period=5, failures=2),
        # Endpoints controllers and ingress controllers learn of a terminating pod a
        # little late; keep serving through that window before SIGTERM. The sleep
        # action needs no shell in the image.
        lifecycle=core.LifecycleArgs(
            pre_stop=core.LifecycleHandlerArgs(sleep=core.SleepActionArgs(seconds=args.pre_stop_seconds))
        )
        if args.pre_stop_seconds
        else None,
        **base,
    )


def _spread(topology_key: str, selector: dict[str, str], revision_label: str) -> core.TopologySpreadConstraintArgs:
    return core.TopologySpreadConstraintArgs(
        max_skew=1,
        topology_key=topology_key,
        # ScheduleAnyway: a lost zone must not leave replicas unschedulable.
        when_unsatisfiable="ScheduleAnyway",
        label_selector=meta.LabelSelectorArgs(match_labels=selector),
        # Count each ReplicaSet on its own, so a rollout spreads its new pods too.
        match_label_keys=[revision_label],
    )


def _revision_label(args: AppServiceArgs) -> str:
    """The label that tells one revision's pods from another's: Deployments set
    pod-template-hash, Argo Rollouts rollouts-pod-template-hash."""
    return "pod-template-hash" if args.delivery.strategy == "rolling" else "rollouts-pod-template-hash"


def pod_spec(
    args: AppServiceArgs,
    service_account: object,
    config_map_name: object,
    selector: dict[str, str],
    flags_config_map_name: object | None = None,
) -> core.PodSpecArgs:
    flags = flags_config_map_name is not None
    flags_volume = core.VolumeArgs(
        name=FLAGS_VOLUME,
        config_map=core.ConfigMapVolumeSourceArgs(name=flags_config_map_name, default_mode=secret_volume.FILE_MODE),
    )
    return core.PodSpecArgs(
        service_account_name=service_account,
        automount_service_account_token=False,
        # preStop pause plus the app's own drain of in-flight requests.
        termination_grace_period_seconds=args.pre_stop_seconds + args.shutdown_seconds,
        security_context=pod_security(args.run_as_user),
        containers=[container(args, config_map_name, flags)],
        volumes=[*_volumes(args, args.secrets), *([flags_volume] if flags else [])],
        topology_spread_constraints=[
            _spread("topology.kubernetes.io/zone", selector, _revision_label(args)),
            _spread("kubernetes.io/hostname", selector, _revision_label(args)),
        ],
        affinity=core.AffinityArgs(
            pod_anti_affinity=core.PodAntiAffinityArgs(
                preferred_during_scheduling_ignored_during_execution=[
                    core.WeightedPodAffinityTermArgs(
                        weight=100,
                        pod_affinity_term=core.PodAffinityTermArgs(
                            topology_key="kubernetes.io/hostname",
                            label_selector=meta.LabelSelectorArgs(match_labels=selector),
                        ),
                    )
                ]
            )
        ),
    )


def migration_pod_spec(args: AppServiceArgs, service_account: object, config_map_name: object) -> core.PodSpecArgs:
    """The release's image running `python -m app migrate` once, hardened like the API."""
    return core.PodSpecArgs(
        service_account_name=service_account,
        automount_service_account_token=False,
        restart_policy="Never",
        security_context=pod_security(args.run_as_user),
        containers=[
            core.ContainerArgs(
                name="migrate",
                command=MIGRATE_COMMAND,
                **_base_container(args, config_map_name, args.migration_secrets),
            )
        ],
        volumes=_volumes(args, args.migration_secrets),
    )
