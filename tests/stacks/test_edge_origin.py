"""Every region is an origin of the Cloudflare edge: it installs ingress-nginx and
cert-manager from pinned charts, admits Cloudflare alone, verifies Cloudflare's client
certificate, and issues its certificate with ACME DNS-01 through Cloudflare, with the
token Vault holds. The local stack keeps its documented prerequisites."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from typing import Any

import pytest

from components.ingress import CLOUDFLARE_IPV4, CLOUDFLARE_IPV6, ORIGIN_PULL_CA
from components.ingress.origin import DATA, ORIGIN_PULL_SECRET, _load_balancer_address
from preflight.graph import Graph
from preflight.synth import Synthesizer
from stacks.model import OriginConfig
from tests.conftest import api_settings, objects, one, stack_config, stacks_of_role, synced_keys

REGION_STACKS = stacks_of_role("region")


def releases(graph: Graph) -> dict[str, dict[str, Any]]:
    return {r.inputs["name"]: r.inputs for r in graph.resources if r.type == "kubernetes:helm.sh/v3:Release"}


def test_the_vendored_cloudflare_data_is_what_it_claims() -> None:
    ranges = json.loads((DATA / "cloudflare-ips.json").read_text())
    assert ranges["source"]["ipv4"] == "https://www.cloudflare.com/ips-v4"
    assert ranges["source"]["ipv6"] == "https://www.cloudflare.com/ips-v6"
    assert ranges["source"]["retrieved"]
    assert all(ipaddress.ip_network(cidr).version == 4 for cidr in CLOUDFLARE_IPV4)
    assert all(ipaddress.ip_network(cidr).version == 6 for cidr in CLOUDFLARE_IPV6)
    assert len(CLOUDFLARE_IPV4) == 15 and len(CLOUDFLARE_IPV6) == 7
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-ext", "basicConstraints", "-fingerprint", "-sha256"],
        input=ORIGIN_PULL_CA,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "CN = origin-pull.cloudflare.net" in text
    assert "CA:TRUE" in text
    assert "9A:1A:C2:B4:BE:15:F9:F2:7E:EE:20:A7:34:CB:A4:E9:89:8F:61:00:1B:3B:D7:C8:4B:69:B5:6A:3E:25:A2:B9" in text


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_each_region_installs_both_charts_at_their_pinned_versions(
    project_synthesizer: Synthesizer, stack: str
) -> None:
    installed = releases(project_synthesizer.synthesize(stack))
    defaults = OriginConfig()
    nginx, certs = installed["ingress-nginx"], installed["cert-manager"]
    assert (nginx["chart"], nginx["version"]) == ("ingress-nginx", defaults.ingress_nginx_chart_version)
    assert nginx["repositoryOpts"]["repo"] == "https://kubernetes.github.io/ingress-nginx"
    assert (certs["chart"], certs["version"]) == ("cert-manager", defaults.cert_manager_chart_version)
    assert certs["repositoryOpts"]["repo"] == "https://charts.jetstack.io"
    # Exact versions: no ranges, no "latest".
    assert nginx["version"] == "4.13.9" and certs["version"] == "v1.18.6"
    assert certs["values"]["crds"] == {"enabled": True, "keep": True}
    assert nginx["namespace"] == "ingress-nginx" and certs["namespace"] == "cert-manager"


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_only_cloudflare_reaches_the_controller_and_is_believed(project_synthesizer: Synthesizer, stack: str) -> None:
    graph = project_synthesizer.synthesize(stack)
    controller = releases(graph)["ingress-nginx"]["values"]["controller"]
    service = controller["service"]
    assert service["type"] == "LoadBalancer"
    assert service["externalTrafficPolicy"] == "Local"
    # The load balancer's address is IPv4: it admits Cloudflare's IPv4 ranges, exactly.
    assert service["loadBalancerSourceRanges"] == list(CLOUDFLARE_IPV4)
    config = controller["config"]
    assert config["enable-real-ip"] == "true"
    assert config["forwarded-for-header"] == "CF-Connecting-IP"
    assert config["proxy-real-ip-cidr"].split(",") == [*CLOUDFLARE_IPV4, *CLOUDFLARE_IPV6]
    assert config["use-forwarded-headers"] == "false"
    # The controller's pods admit Cloudflare's ranges (v4 and v6) on 80/443 and no other
    # source from outside the cluster on those ports.
    policies = [p for p in objects(graph, "NetworkPolicy") if p["metadata"]["namespace"] == "ingress-nginx"]
    web = {
        peer["ipBlock"]["cidr"]
        for policy in policies
        for rule in policy["spec"].get("ingress", [])
        if sorted(port["port"] for port in rule.get("ports", [])) == [80, 443]
        for peer in rule["from"]
    }
    assert web == {*CLOUDFLARE_IPV4, *CLOUDFLARE_IPV6}
    # The app trusts the controller's pods (which pass the believed address on), never Cloudflare.
    trusted = api_settings(graph)["APP_TRUSTED_PROXIES"].split(",")
    assert not any(
        ipaddress.ip_network(cidr).overlaps(ipaddress.ip_network(cf)) for cidr in trusted for cf in CLOUDFLARE_IPV4
    )


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_the_api_ingress_verifies_cloudflares_client_certificate(project_synthesizer: Synthesizer, stack: str) -> None:
    graph = project_synthesizer.synthesize(stack)
    annotations = one(graph, "Ingress")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-tls-verify-client"] == "on"
    assert annotations["nginx.ingress.kubernetes.io/auth-tls-secret"] == f"ingress-nginx/{ORIGIN_PULL_SECRET}"
    (secret,) = [s for s in objects(graph, "Secret") if s["metadata"]["name"] == ORIGIN_PULL_SECRET]
    assert secret["metadata"]["namespace"] == "ingress-nginx"
    # Its value is the vendored CA (the graph redacts every Secret's data).
    assert list(secret["stringData"]) == ["ca.crt"]


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_the_cluster_issuer_solves_dns01_with_the_token_synced_from_vault(
    project_synthesizer: Synthesizer, stack: str
) -> None:
    graph = project_synthesizer.synthesize(stack)
    issuer = one(graph, "ClusterIssuer")
    assert issuer["metadata"]["name"] == stack_config(stack)["projectai:ingress"]["clusterIssuer"]
    acme = issuer["spec"]["acme"]
    assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    (solver,) = acme["solvers"]
    assert solver["selector"]["dnsZones"] == ["project-ai.dev"]
    token = solver["dns01"]["cloudflare"]["apiTokenSecretRef"]
    # The Secret External Secrets writes into cert-manager's namespace, from Vault's KV.
    (synced,) = [s for s in objects(graph, "ExternalSecret") if s["spec"]["target"]["name"] == token["name"]]
    assert synced["metadata"]["namespace"] == "cert-manager"
    assert synced_keys(graph)[token["name"]] == [token["key"]]
    (entry,) = synced["spec"]["data"]
    assert entry["remoteRef"]["key"] == "project-ai-api/cloudflare-dns"
    assert entry["remoteRef"]["property"] == "api-token"
    # The KV store serves cert-manager's namespace.
    (store,) = [
        s
        for s in objects(graph, "ClusterSecretStore")
        if s["metadata"]["name"] == synced["spec"]["secretStoreRef"]["name"]
    ]
    assert "cert-manager" in store["spec"]["conditions"][0]["namespaces"]


def test_the_local_stack_keeps_its_prerequisites(local_graph: Graph) -> None:
    assert not {"ingress-nginx", "cert-manager"} & set(releases(local_graph))
    assert objects(local_graph, "ClusterIssuer") == []
    assert "cloudflare-api-token" not in synced_keys(local_graph)
    annotations = one(local_graph, "Ingress")["metadata"]["annotations"]
    assert not any(key.startswith("nginx.ingress.kubernetes.io/auth-tls") for key in annotations)
    assert not [r for r in local_graph.resources if r.type == "projectai:ingress:EdgeOrigin"]


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_a_region_reads_its_load_balancer_address_for_the_edges_record(
    project_synthesizer: Synthesizer, stack: str
) -> None:
    graph = project_synthesizer.synthesize(stack)
    (read,) = [r for r in graph.resources if r.name == "edge-origin-controller-service"]
    assert read.type == "kubernetes:core/v1:Service"
    (release,) = [r for r in graph.resources if r.name == "edge-origin-ingress-nginx"]
    assert release.urn in read.dependencies


def test_the_load_balancer_address_is_its_name_or_its_ip() -> None:
    from pulumi_kubernetes.core.v1 import outputs

    def status(**ingress: str) -> outputs.ServiceStatus:
        return outputs.ServiceStatus(
            load_balancer=outputs.LoadBalancerStatus(ingress=[outputs.LoadBalancerIngress(**ingress)])
        )

    assert _load_balancer_address(status(hostname="a1b2.elb.us-east-1.amazonaws.com")) == (
        "a1b2.elb.us-east-1.amazonaws.com"
    )
    assert _load_balancer_address(status(ip="203.0.113.7")) == "203.0.113.7"
    assert _load_balancer_address(None) is None
    assert _load_balancer_address(outputs.ServiceStatus(load_balancer=outputs.LoadBalancerStatus())) is None
