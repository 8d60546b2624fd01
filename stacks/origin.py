"""Turns a region's typed config into the args of its EdgeOrigin: the ingress controller
the Cloudflare edge connects to, and the certificates of the regional hostname."""

from __future__ import annotations

from components.ingress import AcmeIssuerArgs, EdgeOriginArgs
from components.vault.integration import CLOUDFLARE_TOKEN_KEY, CLOUDFLARE_TOKEN_SECRET
from stacks.model import AwsRegionStack, RegionStack
from stacks.workload import cluster_facts, controller_replicas, ownership

CERT_MANAGER_NAMESPACE = "cert-manager"


def service_annotations(config: RegionStack) -> dict[str, str]:
    """The controller's LoadBalancer per cloud: a Network Load Balancer on AWS (it keeps
    client addresses with the Local traffic policy); GKE's default passthrough one."""
    if isinstance(config, AwsRegionStack):
        return {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
    return {}


def edge_origin_args(config: RegionStack) -> EdgeOriginArgs:
    origin = config.origin
    return EdgeOriginArgs(
        owner=ownership(config),
        cluster=cluster_facts(config),
        ingress_nginx_chart_version=origin.ingress_nginx_chart_version,
        cert_manager_chart_version=origin.cert_manager_chart_version,
        class_name=config.ingress.class_name,
        replicas=controller_replicas(config),
        issuer=AcmeIssuerArgs(
            name=config.ingress.cluster_issuer,
            email=origin.acme_email,
            server=origin.acme_server,
            dns_zones=(origin.dns_zone,),
            token_secret=CLOUDFLARE_TOKEN_SECRET,
            token_key=CLOUDFLARE_TOKEN_KEY,
        ),
        app_namespace=config.app.namespace,
        app_port=config.app.port,
        service_annotations=service_annotations(config),
        cert_manager_namespace=CERT_MANAGER_NAMESPACE,
    )
