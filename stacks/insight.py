"""`insight` (InsightConfig in stacks/model.py): the anomaly and forecast service beside the API (`ops insight serve`,
components/insight.py), its looking-ahead alerts and its dashboard. Off by default.

It reads the stack's own Prometheus (the monitoring stack must be on) and runs the ops
image by digest: its own, else the canary judge's, as the steady-state guard does.
"""

from __future__ import annotations

from urllib.parse import urlparse

from components.insight import InsightServiceArgs
from components.monitoring.stack import prometheus_address
from stacks.model import ImageConfig, InsightConfig, WorkloadStack
from stacks.monitoring import rule_args
from stacks.workload import node_local_dns, ownership


def insight_image(config: WorkloadStack, insight: InsightConfig) -> ImageConfig:
    judge = config.delivery.canary.judge
    image = insight.image or (judge.image if judge else None)
    if image is None:
        raise ValueError(
            "insight.image: missing; expected the ops image by digest "
            "(or delivery.canary.judge.image, which it then shares)"
        )
    return image


def insight_args(config: WorkloadStack, insight: InsightConfig) -> InsightServiceArgs | None:
    """The service's arguments, or None where it is off."""
    if not insight.enabled:
        return None
    if not config.monitoring.enabled:
        raise ValueError(
            "insight.enabled: the service reads the stack's Prometheus and its alerts run there; "
            "expected monitoring.enabled: true"
        )
    prometheus = prometheus_address(config.monitoring.namespace)
    return InsightServiceArgs(
        owner=ownership(config),
        namespace=config.app.namespace,
        image=insight_image(config, insight).reference,
        prometheus_address=prometheus,
        prometheus_namespace=config.monitoring.namespace,
        prometheus_port=urlparse(prometheus).port or 9090,
        rules=rule_args(config),
        interval_seconds=insight.interval_seconds,
        lead_seconds=insight.lead_seconds,
        timeout_seconds=insight.timeout_seconds,
        state_size=insight.state_size,
        storage_class=insight.storage_class,
        node_local_dns=node_local_dns(config),
        meshed=config.mesh.enabled,
    )
