"""ApiDeployment: the Project-AI API on one cluster, with everything it needs there.

The Vault integration first (the Secrets the pods read), then the platform controllers
the API's objects need (Argo Rollouts for canary and blue-green, the monitoring stack),
then the API itself, and its monitors and dashboards once it exists. Every role that
runs the API on a cluster (`cluster`, `region`) composes this one component.

With the service mesh (`mesh`), in this order: `MeshPki` on the Vault provider, once
Vault's configuration (the auth mount its login role names) exists; then `IstioMesh`,
whose `istio-system` setup creates `MeshCertificates` (the Vault Issuer and istio-csr,
which istiod waits for); then the API's namespace, enrolled by its labels; then
`MeshPolicies` in it (the namespace's setup, so they exist before any pod); then the
API's workload. The monitoring stack follows Istio: Prometheus joins the mesh as a
client, to scrape the API over mutual TLS with an identity of its own (MeshScrape).
Until the organisation's root has signed the intermediate
(`mesh.istio` None), only `MeshPki` exists: its CSR is what the root's operators sign.

With chaos (`chaos`, outside prod): the API's pods may also ask the chaos DNS server
(DNSChaos points them there); Chaos Mesh comes once the API's namespace exists (its
chart binds its roles there), and the experiments once the API, its alerts and Chaos
Mesh's CRDs and webhooks exist.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi

from components import aliases
from components.chaos import ChaosExperiments, ChaosExperimentsArgs, ChaosMesh, ChaosMeshArgs
from components.charts import NamespaceSetup
from components.cost import OpenCost, OpenCostArgs, RightSizing, RightSizingArgs
from components.delivery import ArgoRollouts, ArgoRolloutsArgs
from components.heal import SelfHealing, SelfHealingArgs
from components.ingress import EdgeOrigin, EdgeOriginArgs
from components.insight import InsightService, InsightServiceArgs
from components.labels import kubernetes_labels
from components.mesh import IstioMesh, IstioMeshArgs, MeshCertificates, MeshCertificatesArgs, MeshPolicies, traffic
from components.mesh.traffic import MeshPoliciesArgs
from components.monitoring.api_monitors import ApiMonitors, ApiMonitorsArgs, MeshScrape
from components.monitoring.dashboards import ApiDashboards, ApiDashboardsArgs
from components.monitoring.rules import RuleArgs
from components.monitoring.stack import MESH_CERTIFICATES, MonitoringStack, MonitoringStackArgs
from components.network_policies import EgressRule
from components.scaling import Keda, KedaArgs, PredictiveScaling, PredictiveScalingArgs
from components.vault.integration import VaultIntegration, VaultIntegrationArgs
from components.vault.pki import MeshPki, MeshPkiArgs
from components.workload import AppService, AppServiceArgs
from components.workload.args import MeshWorkloadArgs


@dataclass(frozen=True)
class MeshDeploymentArgs:
    """The mesh on the cluster. The Issuer's way to Vault (sign path, login role, trust
    anchor, server) and every `namespace_ready` are filled in here, from what exists."""

    pki: MeshPkiArgs
    # None until the intermediate is signed: only the PKI (and its CSR) exists then.
    istio: IstioMeshArgs | None
    certificates: MeshCertificatesArgs
    policies: MeshPoliciesArgs
    workload: MeshWorkloadArgs


@dataclass(frozen=True)
class ChaosDeploymentArgs:
    """Chaos Mesh and the experiments, where the stack runs them."""

    mesh: ChaosMeshArgs
    experiments: ChaosExperimentsArgs
    # What the API's pods reach while experiments run (the chaos DNS server).
    api_egress: tuple[EgressRule, ...] = ()


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
    mesh: MeshDeploymentArgs | None = None
    chaos: ChaosDeploymentArgs | None = None
    # The anomaly and forecast service, where on (it needs monitoring).
    insight: InsightServiceArgs | None = None
    # KEDA and the API's ScaledObjects, where predictive scaling is on (it needs insight).
    keda: KedaArgs | None = None
    predictive_scaling: PredictiveScalingArgs | None = None
    # The self-healing receiver, where on (it needs monitoring: Alertmanager calls it).
    self_healing: SelfHealingArgs | None = None
    # OpenCost, where on (it needs monitoring: it reads Prometheus).
    opencost: OpenCostArgs | None = None
    # The VPA recommender and the VerticalPodAutoscalers (recommendation only), where on.
    right_sizing: RightSizingArgs | None = None


def mesh_scrape(args: ApiDeploymentArgs) -> MeshScrape | None:
    if args.mesh is None:
        return None
    return MeshScrape(certificates=MESH_CERTIFICATES, sidecar_port=args.mesh.workload.sidecar_metrics_port)


class ApiDeployment(pulumi.ComponentResource):
    vault: VaultIntegration
    rollouts: ArgoRollouts | None
    origin: EdgeOrigin | None
    monitoring: MonitoringStack | None
    mesh_pki: MeshPki | None
    mesh: IstioMesh | None
    mesh_certificates: MeshCertificates | None
    mesh_policies: MeshPolicies | None
    api: AppService
    monitors: ApiMonitors | None
    dashboards: ApiDashboards | None
    chaos_mesh: ChaosMesh | None
    chaos_experiments: ChaosExperiments | None
    insight: InsightService | None
    keda: Keda | None
    predictive_scaling: PredictiveScaling | None
    self_healing: SelfHealing | None
    opencost: OpenCost | None
    right_sizing: RightSizing | None

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
        meshed = self._mesh(args, installed)
        self.monitoring = None
        if args.monitoring is not None:
            # In the mesh, Prometheus scrapes with its own mesh identity: its pod needs
            # istiod's injection webhook, so it comes after the mesh.
            monitoring = dataclasses.replace(
                args.monitoring, setup=self.vault.setup(args.monitoring.namespace), mesh_identity=meshed
            )
            self.monitoring = MonitoringStack(
                "monitoring",
                monitoring,
                pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(depends_on=[self.mesh] if self.mesh else [])
                ),
            )
            installed.append(self.monitoring)

        names = self.vault.names
        api_args = dataclasses.replace(
            args.api,
            secrets=names.app,
            migration_secrets=names.migration,
            secret_files=self.vault.secret_files,
            workload_annotations=self.vault.workload_annotations,
            setup=self._namespace_setup(args, meshed),
            mesh=args.mesh.workload if meshed and args.mesh else None,
            egress=(*args.api.egress, *(args.chaos.api_egress if args.chaos else ())),
        )
        self.api = AppService(
            "api", api_args, pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=installed))
        )

        self.monitors = self.dashboards = None
        if args.monitoring is not None and args.rules is not None:
            after_api = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[*installed, self.api]))
            self.monitors = ApiMonitors(
                api_args.name,
                ApiMonitorsArgs(
                    api_args.namespace,
                    self.api.labels,
                    self.api.selector,
                    args.rules,
                    mesh=mesh_scrape(args) if meshed else None,
                ),
                after_api,
            )
            self.dashboards = ApiDashboards(
                api_args.name,
                ApiDashboardsArgs(api_args.namespace, args.monitoring.namespace, self.api.labels),
                after_api,
            )
        self._chaos(args, meshed)
        self._insight(args, meshed)
        self._self_healing(args, meshed)
        self._cost(args)
        self.register_outputs({"namespace": self.api.namespace.metadata.name, "url": self.api.url})

    def _chaos(self, args: ApiDeploymentArgs, meshed: bool) -> None:
        """Chaos Mesh and the experiments, after what they act on and read."""
        self.chaos_mesh = self.chaos_experiments = None
        if args.chaos is None:
            return
        mesh = dataclasses.replace(args.chaos.mesh, target_namespace_ready=(self.api.namespace,))
        self.chaos_mesh = ChaosMesh("chaos-mesh", mesh, pulumi.ResourceOptions(parent=self))
        experiments = args.chaos.experiments
        # In the mesh the guard stays out of it, as the canary judge does (its caller has no identity).
        guard = dataclasses.replace(experiments.guard, meshed=meshed)
        read = [r for r in (self.monitoring, self.monitors) if r is not None]
        experiments = dataclasses.replace(experiments, guard=guard, ready=(self.chaos_mesh, self.api, *read))
        self.chaos_experiments = ChaosExperiments("chaos-experiments", experiments, pulumi.ResourceOptions(parent=self))

    def _insight(self, args: ApiDeploymentArgs, meshed: bool) -> None:
        """The insight service once the API and Prometheus run; KEDA and the API's
        ScaledObjects after it (they scale on its forecast)."""
        self.insight = self.keda = self.predictive_scaling = None
        if args.insight is None:
            return
        read = [r for r in (self.monitoring, self.monitors) if r is not None]
        insight = dataclasses.replace(args.insight, meshed=meshed, ready=(self.api.namespace, *read))
        self.insight = InsightService("insight", insight, pulumi.ResourceOptions(parent=self))
        if args.keda is None or args.predictive_scaling is None:
            return
        self.keda = Keda("keda", args.keda, pulumi.ResourceOptions(parent=self))
        self.predictive_scaling = PredictiveScaling(
            "predictive-scaling",
            args.predictive_scaling,
            pulumi.ResourceOptions(parent=self, depends_on=[self.keda.release, self.api, self.insight]),
        )

    def _self_healing(self, args: ApiDeploymentArgs, meshed: bool) -> None:
        """The receiver once the API (what it acts on) and its Secrets exist."""
        self.self_healing = None
        if args.self_healing is None:
            return
        healing = dataclasses.replace(args.self_healing, meshed=meshed, ready=(self.api.namespace, self.api))
        self.self_healing = SelfHealing("self-healing", healing, pulumi.ResourceOptions(parent=self))

    def _cost(self, args: ApiDeploymentArgs) -> None:
        """OpenCost once Prometheus runs (it queries it, and Prometheus scrapes it); the
        VerticalPodAutoscalers once what they watch exists."""
        self.opencost = self.right_sizing = None
        monitoring = (self.monitoring,) if self.monitoring is not None else ()
        if args.opencost is not None:
            setup = self.vault.setup(args.opencost.namespace)
            opencost = dataclasses.replace(args.opencost, setup=setup, ready=monitoring)
            self.opencost = OpenCost("opencost", opencost, pulumi.ResourceOptions(parent=self))
        if args.right_sizing is None:
            return
        targets = (self.api, self.vault, *monitoring, self.insight, self.self_healing, self.opencost)
        right_sizing = dataclasses.replace(args.right_sizing, ready=tuple(t for t in targets if t is not None))
        self.right_sizing = RightSizing("right-sizing", right_sizing, pulumi.ResourceOptions(parent=self))

    def _mesh(self, args: ApiDeploymentArgs, installed: list[pulumi.Resource]) -> bool:
        """The mesh's PKI, and once its intermediate is signed, Istio: True when the API's
        namespace joins the mesh."""
        self.mesh_pki = self.mesh = self.mesh_certificates = self.mesh_policies = None
        mesh = args.mesh
        if mesh is None:
            return False
        self.mesh_pki = pki = MeshPki(
            "mesh-pki",
            mesh.pki,
            pulumi.ResourceOptions(parent=self, provider=self.vault.provider, depends_on=[self.vault.configuration]),
        )
        if mesh.istio is None:
            return False
        # cert-manager (a region's origin installs it) signs through the Issuer.
        prerequisites = [*([self.origin] if self.origin else []), pki]
        certificates = dataclasses.replace(
            mesh.certificates,
            vault=dataclasses.replace(
                mesh.certificates.vault,
                server=self.vault.cluster_address,
                sign_path=pki.sign_path,
                role=pki.login_role.role_name,
            ),
            trust_anchor=pki.trust_anchor,
            cert_manager_vault_egress=self.vault.egress,
        )

        def issuer_and_istio_csr(namespace: pulumi.Resource) -> list[pulumi.Resource]:
            self.mesh_certificates = MeshCertificates(
                "mesh-certificates",
                dataclasses.replace(certificates, istio_namespace_ready=(namespace,)),
                pulumi.ResourceOptions(parent=self, depends_on=prerequisites),
            )
            return [self.mesh_certificates]

        self.mesh = IstioMesh(
            "mesh",
            dataclasses.replace(mesh.istio, setup=issuer_and_istio_csr),
            pulumi.ResourceOptions(parent=self, depends_on=prerequisites),
        )
        installed.append(self.mesh)
        # Namespaces with workloads outside the mesh deny everything too (zero trust).
        rotation = self.vault.root_rotation
        if rotation is not None:
            traffic.allow_nothing(
                "mesh-allow-nothing-vault-rotation",
                rotation.namespace.metadata.name,
                kubernetes_labels(mesh.istio.owner, name="mesh-policies", instance="mesh", component="mesh"),
                pulumi.ResourceOptions(parent=self, depends_on=[rotation.namespace, self.mesh]),
            )
        return True

    def _namespace_setup(self, args: ApiDeploymentArgs, meshed: bool) -> NamespaceSetup:
        """The Secrets the pods read, and in the mesh the namespace's policies and routes:
        all before the first pod."""
        secrets = self.vault.setup(args.api.namespace)
        mesh, istio = args.mesh, self.mesh
        if not meshed or mesh is None or istio is None:
            return secrets

        def setup(namespace: pulumi.Resource) -> list[pulumi.Resource]:
            self.mesh_policies = MeshPolicies(
                f"{args.api.name}-mesh",
                dataclasses.replace(mesh.policies, namespace_ready=(namespace,)),
                pulumi.ResourceOptions(parent=self, depends_on=[istio]),
            )
            return [*secrets(namespace), self.mesh_policies]

        return setup
