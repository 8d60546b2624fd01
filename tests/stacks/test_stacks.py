"""Every stack synthesizes, validates strictly and exports its contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preflight import kubernetes
from preflight.kubernetes import VALID
from preflight.synth import Synthesizer
from stacks import contract
from stacks.config import ConfigError, parse
from tests.conftest import (
    CRD_SCHEMAS,
    PROJECT_STACKS,
    api_settings,
    copy_project,
    objects,
    one,
    prod_shaped,
    stack_config,
    stacks_of_role,
)

REGION_STACKS = stacks_of_role("region")


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_every_stack_synthesizes_and_validates(project_synthesizer: Synthesizer, stack: str) -> None:
    graph = project_synthesizer.synthesize(stack)
    results = kubernetes.validate(graph, "1.33", CRD_SCHEMAS)
    assert [r.title for r in results if r.status != VALID] == []
    assert graph.diagnostics == []


def test_local_stack_objects_are_all_strictly_valid(project_synthesizer: Synthesizer) -> None:
    graph = project_synthesizer.synthesize("local")
    results = kubernetes.validate(graph, "1.33", CRD_SCHEMAS)
    # Every object, none left unvalidated.
    assert len(results) == len(kubernetes.kubernetes_resources(graph))
    assert {r.status for r in results} == {VALID}
    custom = {r.kind for r in results if not r.schema.startswith("kubernetes ")}
    # Against their CRD schemas: monitoring, External Secrets, the mesh's and the VPA's.
    assert custom == {
        "VerticalPodAutoscaler",
        "PodMonitor",
        "ServiceMonitor",
        "PrometheusRule",
        "ClusterSecretStore",
        "ExternalSecret",
        "Issuer",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "DestinationRule",
        "Gateway",
        "VirtualService",
        "Telemetry",
    }
    assert all(r.schema == "kubernetes 1.33 (strict)" for r in results if r.kind not in custom)


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_region_stacks_export_the_contract(project_synthesizer: Synthesizer, stack: str) -> None:
    outputs = project_synthesizer.synthesize(stack).outputs
    config = stack_config(stack)
    assert outputs[contract.REGION] == config["projectai:region"]
    assert outputs[contract.CLOUD] == config["projectai:cloud"]
    assert outputs[contract.INGRESS_HOSTNAME] == config["projectai:ingress"]["host"]
    # The edge probes a path the public Ingress routes (only the versions' prefixes).
    assert outputs[contract.HEALTH_PATH_OUTPUT] == "/v1/health"
    (ingress,) = objects(project_synthesizer.synthesize(stack), "Ingress")
    prefixes = [path["path"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert any(outputs[contract.HEALTH_PATH_OUTPUT].startswith(prefix + "/") for prefix in prefixes)


@pytest.mark.parametrize("stack", ["prod-eu", "prod-gcp"])
def test_secondaries_read_their_primary(project_synthesizer: Synthesizer, stack: str) -> None:
    graph = project_synthesizer.synthesize(stack)
    assert graph.outputs["primaryRegion"] == "us-east-1"
    (reference,) = [r for r in graph.resources if r.type == "pulumi:pulumi:StackReference"]
    assert reference.inputs["name"] == "organization/project-ai/prod"


def test_edge_reads_every_origin_in_failover_order(project_synthesizer: Synthesizer) -> None:
    origins = project_synthesizer.synthesize("prod-global").outputs["origins"]
    assert [(o["stack"], o["region"], o["cloud"]) for o in origins] == [
        ("prod", "us-east-1", "aws"),
        ("prod-eu", "eu-west-1", "aws"),
        ("prod-gcp", "us-central1", "gcp"),
    ]
    assert origins[2]["ingressHostname"] == "api.us-central1.project-ai.dev"


def test_prod_sized_workload_scales_three_to_ten(tmp_path: Path) -> None:
    graph = prod_shaped(tmp_path)
    spec = one(graph, "HorizontalPodAutoscaler")["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 10)
    rollout = one(graph, "Rollout")  # prod releases by canary
    image = rollout["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":1.4.2@sha256:9c2b6f0e6d3f1a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3")
    assert rollout["metadata"]["labels"]["environment"] == "prod"
    assert rollout["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"] == "1.4.2"


def test_node_local_dns_cache_is_allowed_when_the_cluster_runs_one(tmp_path: Path) -> None:
    config = stack_config("local")
    config["projectai:network"] = {**config["projectai:network"], "nodeLocalDns": "169.254.20.10"}
    graph = Synthesizer(copy_project(tmp_path, "node-local-dns", config)).synthesize("node-local-dns")
    dns = [p for p in objects(graph, "NetworkPolicy") if p["metadata"]["name"] == "allow-dns"]
    # The API's namespace and every platform chart's namespace, the mesh's included.
    assert {p["metadata"]["namespace"] for p in dns} == {
        "project-ai",
        "monitoring",
        "external-secrets",
        "reloader",
        "vault",
        "istio-system",
        "istio-cni",
        "istio-csr",
        "istio-ingress",
        "kiali",
        "opencost",
        "vpa",
    }
    for policy in dns:
        (rule,) = policy["spec"]["egress"]
        assert rule["to"][1] == {"ipBlock": {"cidr": "169.254.20.10/32"}}
        assert rule["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_region_stacks_export_contract_version_1_with_real_endpoints(
    project_synthesizer: Synthesizer, stack: str
) -> None:
    outputs = project_synthesizer.synthesize(stack).outputs
    assert set(contract.KEYS) <= set(outputs)
    assert outputs[contract.VERSION] == 1
    assert outputs[contract.CLUSTER_NAME] == f"project-ai-{stack}"
    cloud = stack_config(stack)["projectai:cloud"]
    if cloud == "aws":
        region = stack_config(stack)["projectai:region"]
        assert outputs[contract.DATABASE_WRITER].endswith(f".{region}.rds.amazonaws.com")
        assert ".cluster-ro-" in outputs[contract.DATABASE_READER]
        assert outputs[contract.REGISTRY_URL].endswith(f".dkr.ecr.{region}.amazonaws.com/project-ai/api")
    else:
        assert outputs[contract.DATABASE_WRITER].startswith("10.")
        assert outputs[contract.REGISTRY_URL] == "us-central1-docker.pkg.dev/project-ai-prod/project-ai"


def test_only_prod_starts_a_global_database_and_prod_eu_joins_it(project_synthesizer: Synthesizer) -> None:
    prod, eu = project_synthesizer.synthesize("prod"), project_synthesizer.synthesize("prod-eu")
    assert prod.outputs[contract.GLOBAL_DATABASE] == "project-ai-prod-global"
    assert eu.outputs[contract.GLOBAL_DATABASE] == "project-ai-prod-global"
    (eu_cluster,) = [r for r in eu.resources if r.type == "aws:rds/cluster:Cluster"]
    assert eu_cluster.inputs["globalClusterIdentifier"] == "project-ai-prod-global"
    # A secondary has no credentials of its own: they come from the primary.
    assert "masterUsername" not in eu_cluster.inputs and "masterPasswordWo" not in eu_cluster.inputs
    assert [r for r in eu.resources if r.type == "aws:rds/globalCluster:GlobalCluster"] == []
    for stack in ("dev", "staging", "prod-gcp"):
        assert contract.GLOBAL_DATABASE not in project_synthesizer.synthesize(stack).outputs


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_environment_sizes_its_platform(project_synthesizer: Synthesizer, stack: str) -> None:
    graph = project_synthesizer.synthesize(stack)
    nats = [r for r in graph.resources if r.type == "aws:ec2/natGateway:NatGateway"]
    groups = {r.inputs["nodeGroupName"]: r.inputs for r in graph.resources if r.type == "aws:eks/nodeGroup:NodeGroup"}
    assert len(nats) == {"dev": 1, "staging": 3, "prod": 3}[stack]
    assert groups["apps"]["capacityType"] == ("SPOT" if stack == "dev" else "ON_DEMAND")
    assert groups["system"]["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]
    (provider,) = [r for r in graph.resources if r.type == "pulumi:providers:aws"]
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags["environment"] == ("prod" if stack == "prod" else stack) and tags["cost-center"] == "cc-ai-platform"


def test_a_gcp_region_needs_its_project_and_billing_account() -> None:
    config = stack_config("prod-gcp")
    raw = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("projectai:")}
    del raw["platform"]["billingAccount"], raw["platform"]["projectNumber"]
    with pytest.raises(ConfigError) as caught:
        parse(raw, source="Pulumi.prod-gcp.yaml")
    assert caught.value.problems == [
        "Pulumi.prod-gcp.yaml: projectai:platform.projectNumber: missing required key",
        "Pulumi.prod-gcp.yaml: projectai:platform.billingAccount: missing required key",
    ]


# Where each stack's ingress controller's pods get their addresses: kind's pod range on a
# laptop cluster, the VPC on EKS (the VPC CNI), the pods' secondary range on GKE.
TRUSTED_PROXIES = {
    "local": "10.244.0.0/16",
    "dev": "10.10.0.0/16",
    "staging": "10.20.0.0/16",
    "prod": "10.30.0.0/16",
    "prod-eu": "10.31.0.0/16",
    "prod-gcp": "10.44.0.0/14",
}


@pytest.mark.parametrize(("stack", "cidrs"), TRUSTED_PROXIES.items())
def test_the_app_believes_forwarded_addresses_from_its_ingress_controller_only(
    project_synthesizer: Synthesizer, stack: str, cidrs: str
) -> None:
    assert api_settings(project_synthesizer.synthesize(stack))["APP_TRUSTED_PROXIES"] == cidrs


def test_a_stack_names_its_own_ingress_controller_ranges(tmp_path: Path) -> None:
    config = stack_config("local")
    config["projectai:ingress"] = {**config["projectai:ingress"], "controllerCidrs": ["10.96.0.0/12", "fd00::/64"]}
    graph = Synthesizer(copy_project(tmp_path, "minikube", config)).synthesize("minikube")
    assert api_settings(graph)["APP_TRUSTED_PROXIES"] == "10.96.0.0/12,fd00::/64"
