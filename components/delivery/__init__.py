"""Progressive delivery: Argo Rollouts, its analysis templates, and release strategies."""

from components.delivery.argo_rollouts import ArgoRollouts, ArgoRolloutsArgs
from components.delivery.args import AnalysisArgs, BlueGreenArgs, CanaryArgs, DeliveryArgs

__all__ = ["AnalysisArgs", "ArgoRollouts", "ArgoRolloutsArgs", "BlueGreenArgs", "CanaryArgs", "DeliveryArgs"]
