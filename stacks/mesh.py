"""Turns the typed `mesh` config into the mesh's component args (and nothing else):
MeshPki (Vault), IstioMesh, MeshCertificates, MeshPolicies, and what the API's
AppService needs to join the mesh (components/api_deployment.py composes them).

Choices made here, once:

- external traffic: the edge controller (ingress-nginx, outside the mesh) forwards to
  the mesh's ingress gateway, which calls the API with its own identity over mutual TLS;
  the API's AuthorizationPolicy names that identity alone. ingress-nginx stays as it is
  (Cloudflare's client certificate, real client addresses) and needs no sidecar;
- Prometheus joins the mesh as a client (a sidecar that captures nothing and hands it
  its workload certificate) and scrapes the API's metrics port over mutual TLS; the
  `allow-metrics` policy names its SPIFFE identity, GET /metrics only. Envoy's own
  metrics (for Kiali) come from the sidecar's port 15020, which holds none of the app's;
- the database and the cache are ServiceEntries (TCP, passed to their own address):
  REGISTRY_ONLY refuses any host not declared; `mesh.upstreams` adds others.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pulumi

from components.api_deployment import MeshDeploymentArgs
from components.labels import selector_labels
from components.mesh import certificates, istio
from components.mesh.certificates import MeshCertificatesArgs, VaultIssuerArgs
from components.mesh.istio import IstioMeshArgs, KialiArgs, TracingArgs, Upstream
from components.mesh.traffic import FaultInjection, MeshPoliciesArgs, Routing
from components.monitoring.stack import PROMETHEUS_ACCOUNT, prometheus_address
from components.network_policies import EgressRule
from components.vault.args import Consumer
from components.vault.integration import CacheEndpoint, DatabaseEndpoint, VaultIntegrationArgs
from components.vault.pki import IssuerLogin, LocalRoot, MeshPkiArgs, OrganisationRoot
from components.workload import AppServiceArgs
from components.workload.args import MeshWorkloadArgs
from stacks import rotation
from stacks.model import AwsRegionStack, GcpRegionStack, WorkloadStack
from stacks.workload import cluster_facts, controller_replicas, ownership

OTEL_COLLECTOR = "otel-collector"
# The `gateway` chart labels its pods `istio: <release without "istio-">`.
GATEWAY_SELECTOR = {"istio": istio.GATEWAY_RELEASE.removeprefix("istio-")}
GATEWAY_SERVICE = f"{istio.GATEWAY_RELEASE}.{istio.GATEWAY_NAMESPACE}.svc.cluster.local"
# The gateway's pods listen on 80 themselves (unprivileged low ports, gateway_values).
GATEWAY_PORT = 80
STABLE, CANARY = "stable", "canary"
# Blue-green's smoke test Job runs as the namespace's default ServiceAccount.
SMOKE_TEST_ACCOUNT = "default"
SMOKE_TEST_PATHS = ("/readyz", "/v1/models")


def prometheus_principal(domain: str, namespace: str) -> str:
    return f"{domain}/ns/{namespace}/sa/{PROMETHEUS_ACCOUNT}"


def trust_domain(config: WorkloadStack) -> str:
    return config.mesh.trust_domain or f"{config.environment}.mesh.project-ai.dev"


def signed(config: WorkloadStack) -> bool:
    """Istio runs once the intermediate is signed: by the local root at once (dev-mode
    Vault), by the organisation's root once its certificate is in the config."""
    return config.vault.mode == "dev" or config.mesh.intermediate_certificate is not None


def upstreams(
    config: WorkloadStack,
    database: DatabaseEndpoint | None,
    cache: CacheEndpoint | None,
    other_databases: tuple[pulumi.Input[str], ...] = (),
) -> tuple[Upstream, ...]:
    """The platform's database (writer and reader) and cache, the databases the app
    reaches outside Vault's engine (a secondary's), the app's inference upstream, then
    the config's hosts."""
    found: list[Upstream] = []
    if database is not None:
        engine = database.engine
        found.append(Upstream(engine.host, engine.port, "TCP", "NONE", name="upstream-database-writer"))
        if database.reader_host is not None:
            found.append(Upstream(database.reader_host, engine.port, "TCP", "NONE", name="upstream-database-reader"))
    found += [
        Upstream(host, 5432, "TCP", "NONE", name=f"upstream-database-{index}")
        for index, host in enumerate(other_databases)
    ]
    if cache is not None and cache.url is not None:
        # Memorystore's TLS port is 6378; ElastiCache's 6379.
        port = 6378 if isinstance(config, GcpRegionStack) else 6379
        found.append(Upstream(cache_host(cache), port, "TCP", "NONE", name="upstream-cache"))
    inference = inference_upstream(config)
    if inference is not None:
        found.append(inference)
    found += [
        Upstream(upstream.host, upstream.port, upstream.protocol, name=f"upstream-{index}-{upstream.port}")
        for index, upstream in enumerate(config.mesh.upstreams)
    ]
    return tuple(found)


def cache_host(cache: CacheEndpoint) -> pulumi.Output[str]:
    """The cache's host name. The URL carries the AUTH token (a secret); its host name does not."""
    return pulumi.Output.unsecret(pulumi.Output.from_input(cache.url).apply(lambda url: urlparse(url).hostname or url))


def inference_upstream(config: WorkloadStack) -> Upstream | None:
    """The app's inference upstream (APP_UPSTREAM_URL), unless it answers in-process:
    REGISTRY_ONLY would otherwise refuse every call the API exists to make."""
    url = urlparse(config.app.settings.get("APP_UPSTREAM_URL", "echo"))
    if url.scheme not in ("http", "https") or not url.hostname:
        return None
    secure = url.scheme == "https"
    port = url.port or (443 if secure else 80)
    return Upstream(url.hostname, port, "TLS" if secure else "HTTP", name=f"upstream-inference-{port}")


def fault_injection(config: WorkloadStack) -> FaultInjection | None:
    """The canary route's faults (the model refuses them in prod)."""
    fault = config.delivery.canary.fault_injection
    if fault is None:
        return None
    return FaultInjection(fault.delay_ms, fault.delay_percent, fault.abort_http_status, fault.abort_percent)


def mesh_args(
    config: WorkloadStack,
    vault: VaultIntegrationArgs,
    api: AppServiceArgs,
    database: DatabaseEndpoint | None = None,
    cache: CacheEndpoint | None = None,
    other_databases: tuple[pulumi.Input[str], ...] = (),
) -> MeshDeploymentArgs | None:
    mesh = config.mesh
    if not mesh.enabled:
        return None
    owner, cluster, domain = ownership(config), cluster_facts(config), trust_domain(config)
    replicas = controller_replicas(config)
    stack = pulumi.get_stack()
    signer: LocalRoot | OrganisationRoot
    if config.vault.mode == "dev":
        signer = LocalRoot(mount=f"pki-mesh-root-{stack}")
    else:
        signer = OrganisationRoot(certificate=mesh.intermediate_certificate, root_certificate=mesh.root_certificate)
    pki = MeshPkiArgs(
        owner=owner,
        layout=vault.layout,
        mount=f"pki-mesh-{stack}",
        trust_domain=domain,
        dns_names=certificates.signed_dns_names(),
        signer=signer,
        login=IssuerLogin(
            auth_mount=vault.login.auth_mount,
            method="jwt" if vault.login.oidc_issuer is not None else "kubernetes",
            service_account=Consumer(
                service_account=certificates.ISSUER_ACCOUNT, namespace=certificates.ISTIO_NAMESPACE
            ),
            audience=certificates.issuer_audience(),
        ),
        rotation=rotation.schedule(mesh.rotation_days),
        workload_ttl_hours=mesh.workload_certificate_hours,
    )
    kiali = None
    if mesh.kiali.enabled and config.monitoring.enabled:
        kiali = KialiArgs(
            prometheus_url=prometheus_address(config.monitoring.namespace),
            auth_strategy=mesh.kiali.auth_strategy,
            openid=dict(mesh.kiali.openid),
            chart_version=mesh.kiali_chart_version,
            prometheus_namespace=config.monitoring.namespace,
        )
    platform = "gke" if isinstance(config, GcpRegionStack) else "eks" if isinstance(config, AwsRegionStack) else None
    istio_args = IstioMeshArgs(
        owner=owner,
        cluster=cluster,
        trust_domain=domain,
        tracing=TracingArgs(
            service=f"{OTEL_COLLECTOR}.{config.monitoring.namespace}.svc.cluster.local",
            sampling_percent=mesh.tracing_sampling_percent,
        ),
        chart_version=mesh.istio_chart_version,
        upstreams=upstreams(config, database, cache, other_databases),
        kiali=kiali,
        platform=platform,
        replicas=replicas,
        gateway_egress=(EgressRule("api", (api.port,), namespace=api.namespace),),
    )
    certificate_args = MeshCertificatesArgs(
        owner=owner,
        cluster=cluster,
        istio_csr_chart_version=mesh.istio_csr_chart_version,
        trust_domain=domain,
        # The server, sign path, role and trust anchor come from Vault and MeshPki.
        vault=VaultIssuerArgs(
            server="", sign_path="", auth_mount=vault.login.auth_mount, role="", namespace=config.vault.namespace
        ),
        trust_anchor="",
        max_certificate_hours=mesh.workload_certificate_hours,
        replicas=replicas,
    )
    blue_green = config.delivery.strategy == "blueGreen"
    smoke = (f"{domain}/ns/{api.namespace}/sa/{SMOKE_TEST_ACCOUNT}",) if blue_green else ()
    paths = tuple(path for version in api.ingress.api_versions for path in (f"/{version}", f"/{version}/*"))
    policies = MeshPoliciesArgs(
        owner=owner,
        namespace=api.namespace,
        api_selector=selector_labels(api.name, f"{api.name}-{config.environment}"),
        api_host=f"{api.name}.{api.namespace}.svc.cluster.local",
        api_port=api.port,
        api_paths=paths + (SMOKE_TEST_PATHS if blue_green else ()),
        ingress_principals=(istio.gateway_principal(domain), *smoke),
        metrics_port=api.port,
        prometheus_principals=(prometheus_principal(domain, config.monitoring.namespace),)
        if config.monitoring.enabled
        else (),
        subsets=(STABLE, CANARY) if config.delivery.strategy == "canary" else (),
        routing=Routing(
            hosts=(config.ingress.host,),
            gateway_namespace=istio.GATEWAY_NAMESPACE,
            gateway_selector=GATEWAY_SELECTOR,
            gateway_port=GATEWAY_PORT,
            fault=fault_injection(config),
        ),
    )
    workload = MeshWorkloadArgs(
        namespace_labels=istio.enrolment_labels(),
        gateway_namespace=istio.GATEWAY_NAMESPACE,
        gateway_service=GATEWAY_SERVICE,
        gateway_port=GATEWAY_PORT,
        control_plane=(
            EgressRule("istiod", (istio.XDS_PORT,), namespace=istio.NAMESPACE),
            EgressRule("istio-csr", (certificates.GRPC_PORT,), namespace=certificates.NAMESPACE),
        ),
        stable_subset=STABLE,
        canary_subset=CANARY,
    )
    return MeshDeploymentArgs(
        pki=pki,
        istio=istio_args if signed(config) else None,
        certificates=certificate_args,
        policies=policies,
        workload=workload,
    )
