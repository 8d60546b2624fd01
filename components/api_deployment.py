"""ApiDeployment: the Project-AI API on one cluster, with everything it needs there.

The Vault integration first (the Secrets the pods read), then the platform controllers
the API's objects need (Argo Rollouts for canary and blue-green, the monitoring stack),
then the API itself, and its monitors and dashboards once it exists. Every role that
runs the API on a cluster (`cluster`, `region`) composes this one component.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi

from components import aliases
from components.delivery import ArgoRollouts, ArgoRolloutsArgs
from components.ingress import EdgeOrigin, EdgeOriginArgs
from components.monitoring.api_monitors import ApiMonitors, ApiMonitorsArgs
from components.monitoring.dashboards import ApiDashboards, ApiDashboardsArgs
from components.monitoring.rules import RuleArgs
from components.monitoring.stack import MonitoringStack, MonitoringStackArgs
from components.vault.integration import VaultIntegration, VaultIntegrationArgs
from components.workload import AppService, AppServiceArgs


@dataclass(frozen=True)
class ApiDeploymentArgs:
    vault: VaultIntegrationArgs
    # The API; its Secrets, secret files and restart annotations come from the Vault
    # integration, so those fields are filled in here.
    api: AppServiceArgs
    # The Rollouts controller, where the delivery strategy uses Rollouts.
    rollouts: ArgoRolloutsArgs | None
    # The monitoring stack and the API's rules, where monitoring is on.
    monitoring: MonitoringStackArgs | None
    rules: RuleArgs | None
    # A region's ingress controller and cert-manager, as an origin of the Cloudflare
    # edge; None where the cluster has its own (a `cluster` stack's prerequisites).
    origin: EdgeOriginArgs | None = None


class ApiDeployment(pulumi.ComponentResource):
    vault: VaultIntegration
    rollouts: ArgoRollouts | None
    origin: EdgeOrigin | None
    monitoring: MonitoringStack | None
    api: AppService
    monitors: ApiMonitors | None
    dashboards: ApiDashboards | None

    def __init__(self, name: str, args: ApiDeploymentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:api:ApiDeployment", name, None, opts)
        # These were created at the stack's root before this component existed.
        child = aliases.moved(pulumi.ResourceOptions(parent=self), aliases.formerly_top_level())
        self.vault = VaultIntegration("vault", args.vault, child)
        installed: list[pulumi.Resource] = []
        self.rollouts = None
        if args.rollouts is not None:
            # Rollouts need their controller (and its CRDs) before they can be created.
            self.rollouts = ArgoRollouts("argo-rollouts", args.rollouts, child)
            installed.append(self.rollouts)
        self.origin = None
        if args.origin is not None:
            # The API's Ingress needs the controller (its admission webhook, the client
            # CA) and the ClusterIssuer its certificate comes from.
            origin = dataclasses.replace(args.origin, setup=self.vault.setup(args.origin.cert_manager_namespace))
            self.origin = EdgeOrigin("edge-origin", origin, pulumi.ResourceOptions(parent=self))
            installed.append(self.origin)
        self.monitoring = None
        if args.monitoring is not None:
            monitoring = dataclasses.replace(args.monitoring, setup=self.vault.setup(args.monitoring.namespace))
            self.monitoring = MonitoringStack("monitoring", monitoring, child)
            installed.append(self.monitoring)

        names = self.vault.names
        api_args = dataclasses.replace(
            args.api,
            secrets=names.app,
            migration_secrets=names.migration,
            secret_files=self.vault.secret_files,
            workload_annotations=self.vault.workload_annotations,
            setup=self.vault.setup(args.api.namespace),
        )
        self.api = AppService(
            "api", api_args, pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=installed))
        )

        self.monitors = self.dashboards = None
        if args.monitoring is not None and args.rules is not None:
            after_api = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[*installed, self.api]))
            self.monitors = ApiMonitors(
                api_args.name,
                ApiMonitorsArgs(api_args.namespace, self.api.labels, self.api.selector, args.rules),
                after_api,
            )
            self.dashboards = ApiDashboards(
                api_args.name,
                ApiDashboardsArgs(api_args.namespace, args.monitoring.namespace, self.api.labels),
                after_api,
            )
        self.register_outputs({"namespace": self.api.namespace.metadata.name, "url": self.api.url})
