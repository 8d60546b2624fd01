"""Cost allocation and right-sizing inside a cluster (issue #21): OpenCost from its pinned
chart, pricing the stack's pods by their ownership labels (opencost.py), and the VPA
recommender with a VerticalPodAutoscaler in recommendation mode for the API and each
platform workload (vpa.py)."""

from components.cost.opencost import CustomPrices, OpenCost, OpenCostArgs
from components.cost.vpa import Bounds, RightSizing, RightSizingArgs, VpaTarget

__all__ = ["Bounds", "CustomPrices", "OpenCost", "OpenCostArgs", "RightSizing", "RightSizingArgs", "VpaTarget"]
