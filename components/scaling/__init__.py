"""Predictive scaling: KEDA from its upstream chart, the API's ScaledObject on the forecast
(current load and CPU as floors), and low-priority headroom ahead of forecast peaks."""

from components.scaling.keda import Keda, KedaArgs
from components.scaling.predictive import HeadroomArgs, PredictiveScaling, PredictiveScalingArgs, ScaleTarget

__all__ = ["HeadroomArgs", "Keda", "KedaArgs", "PredictiveScaling", "PredictiveScalingArgs", "ScaleTarget"]
