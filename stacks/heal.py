"""`selfHealing` (SelfHealingConfig): the self-healing receiver (`ops heal serve`,
components/heal.py), its Secrets and Alertmanager's route to it. Off by default.

It takes Alertmanager's alerts (the monitoring stack must be on) and runs the ops image
by digest: its own, else the canary judge's, as the insight service does.
"""

from __future__ import annotations

from components.heal import HealSecrets, SelfHealingArgs, healing
from components.monitoring.alerting import HealingArgs
from stacks.model import ImageConfig, SelfHealingConfig, WorkloadStack
from stacks.workload import cluster_facts, node_local_dns, ownership


def heal_image(config: WorkloadStack, heal: SelfHealingConfig) -> ImageConfig:
    judge = config.delivery.canary.judge
    image = heal.image or (judge.image if judge else None)
    if image is None:
        raise ValueError(
            "selfHealing.image: missing; expected the ops image by digest "
            "(or delivery.canary.judge.image, which it then shares)"
        )
    return image


def _enabled(config: WorkloadStack, heal: SelfHealingConfig) -> bool:
    if heal.enabled and not config.monitoring.enabled:
        raise ValueError(
            "selfHealing.enabled: Alertmanager sends the receiver its alerts; expected monitoring.enabled: true"
        )
    return heal.enabled


def self_healing_args(config: WorkloadStack, heal: SelfHealingConfig) -> SelfHealingArgs | None:
    """The receiver's arguments, or None where it is off."""
    if not _enabled(config, heal):
        return None
    cidrs = cluster_facts(config).api_server_cidrs
    if not cidrs:
        raise ValueError(
            "selfHealing.enabled: the receiver calls the Kubernetes API; expected kubernetes.apiServerCidrs "
            "(the API server's endpoints, for its NetworkPolicy)"
        )
    return SelfHealingArgs(
        owner=ownership(config),
        namespace=config.app.namespace,
        app_name=config.app.name,
        image=heal_image(config, heal).reference,
        apply=heal.apply,
        alertmanager_namespace=config.monitoring.namespace,
        api_server_cidrs=cidrs,
        rollout=config.delivery.strategy != "rolling",
        autoscaler="ScaledObject" if config.predictive_scaling.enabled else "HorizontalPodAutoscaler",
        cloudflare_account_id=heal.edge_account_id,
        incidents=heal.incidents,
        timeout_seconds=heal.timeout_seconds,
        state_size=heal.state_size,
        storage_class=heal.storage_class,
        node_local_dns=node_local_dns(config),
        meshed=config.mesh.enabled,
    )


def heal_secrets(config: WorkloadStack, heal: SelfHealingConfig) -> HealSecrets | None:
    """What the Vault integration syncs for it (VaultIntegrationArgs.self_healing)."""
    if not _enabled(config, heal):
        return None
    return HealSecrets(
        namespace=config.app.namespace,
        alertmanager_namespace=config.monitoring.namespace,
        edge=heal.edge_account_id is not None,
        incidents=heal.incidents,
    )


def alert_healing(config: WorkloadStack, heal: SelfHealingConfig) -> HealingArgs | None:
    """Alertmanager's route to it (AlertingArgs.healing)."""
    return healing(config.app.namespace) if _enabled(config, heal) else None
