"""The API's Kubernetes workload."""

from components.workload.app_service import AppService
from components.workload.args import AppServiceArgs, Compute, EgressRule, IngressArgs

__all__ = ["AppService", "AppServiceArgs", "Compute", "EgressRule", "IngressArgs"]
