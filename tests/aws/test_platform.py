"""The AWS network and EKS components under mocks: the properties that matter, the
Kubernetes provider built from the cluster's outputs, and both policy packs clean with
each stack's own pack configuration (dev's spot and size caps, prod's NAT count)."""

from __future__ import annotations

import json

import pytest

from preflight import policies
from preflight.graph import Graph
from preflight.project import Program
from preflight.synth import Synthesizer
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def graphs() -> dict[str, Graph]:
    synthesizer = Synthesizer(Program.load(FIXTURES / "aws-platform"))
    return {stack: synthesizer.synthesize(stack) for stack in ("prod", "dev")}


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_both_packs_pass_with_the_stacks_own_configuration(graphs: dict[str, Graph], stack: str) -> None:
    report = policies.check(graphs[stack])
    assert report.errors == [] and report.outcome.unknown == []
    assert [(f.policy, f.urn, f.message) for f in report.outcome.violations] == []


def test_three_zones_private_and_public_with_nat_per_zone_in_prod_only(graphs: dict[str, Graph]) -> None:
    prod, dev = graphs["prod"], graphs["dev"]
    subnets = {r.inputs["cidrBlock"]: r.inputs for r in prod.of_type("aws:ec2/subnet:Subnet")}
    # Private: a quarter of the VPC per zone (pods take VPC addresses); public: small slices.
    private = ["10.30.0.0/18", "10.30.64.0/18", "10.30.128.0/18"]
    public = ["10.30.192.0/21", "10.30.200.0/21", "10.30.208.0/21"]
    assert sorted(subnets) == sorted(private + public)
    assert {s["availabilityZone"] for s in subnets.values()} == {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert all(s["mapPublicIpOnLaunch"] is False for s in subnets.values())
    assert (
        len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3
        and len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1
    )
    (flow,) = prod.of_type("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL" and flow.inputs["logDestinationType"] == "cloud-watch-logs"
    endpoints = {r.inputs["serviceName"].rsplit(".", 1)[-1] for r in prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert {"api", "dkr", "sts", "logs", "s3"} <= endpoints


def test_the_cluster_is_private_encrypted_logged_and_api_authenticated(graphs: dict[str, Graph]) -> None:
    (cluster,) = graphs["prod"].of_type("aws:eks/cluster:Cluster")
    inputs = cluster.inputs
    assert inputs["version"] == "1.33"
    assert inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert inputs["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert inputs["encryptionConfig"]["resources"] == ["secrets"]
    assert inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert len(inputs["enabledClusterLogTypes"]) == 5
    (key,) = [r for r in graphs["prod"].of_type("aws:kms/key:Key") if "secrets" in r.name]
    assert key.inputs["enableKeyRotation"] is True


def test_nodes_require_imdsv2_and_encrypted_gp3_and_dev_apps_run_on_spot(graphs: dict[str, Graph]) -> None:
    for template in graphs["prod"].of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        assert template.inputs["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
        }
        (disk,) = template.inputs["blockDeviceMappings"]
        assert disk["ebs"]["volumeType"] == "gp3" and disk["ebs"]["encrypted"] == "true"
    groups = graphs["dev"].of_type("aws:eks/nodeGroup:NodeGroup")
    capacity = {r.inputs["nodeGroupName"]: r.inputs["capacityType"] for r in groups}
    assert capacity == {"system": "ON_DEMAND", "apps": "SPOT"}
    addons = {r.inputs["addonName"]: r.inputs for r in graphs["prod"].of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent", "aws-ebs-csi-driver"}
    assert all(a["addonVersion"] for a in addons.values())
    assert addons["vpc-cni"]["podIdentityAssociations"][0]["serviceAccount"] == "aws-node"


def test_the_kubernetes_provider_uses_short_lived_tokens(graphs: dict[str, Graph]) -> None:
    (provider,) = [r for r in graphs["prod"].resources if r.type == "pulumi:providers:kubernetes"]
    assert provider.inputs["kubeconfig"] == "[secret]"
    config = json.loads(provider.secret_inputs["kubeconfig"])
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"].endswith(".gr7.us-east-1.eks.amazonaws.com")
    (user,) = config["users"]
    assert user["user"]["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", "project-ai-prod"]


def test_aurora_is_encrypted_private_tls_only_and_global_in_prod(graphs: dict[str, Graph]) -> None:
    prod, dev = graphs["prod"], graphs["dev"]
    (cluster,) = prod.of_type("aws:rds/cluster:Cluster")
    inputs = cluster.inputs
    assert inputs["storageEncrypted"] is True and inputs["kmsKeyId"].startswith("arn:aws:kms:us-east-1:")
    assert inputs["deletionProtection"] is True and inputs["backupRetentionPeriod"] == 14
    assert "masterPassword" not in inputs and inputs["masterPasswordWoVersion"] == 1
    (global_cluster,) = prod.of_type("aws:rds/globalCluster:GlobalCluster")
    identifier = global_cluster.inputs["globalClusterIdentifier"]
    assert inputs["globalClusterIdentifier"] == identifier == "project-ai-prod-global"
    assert dev.of_type("aws:rds/globalCluster:GlobalCluster") == []
    instances = prod.of_type("aws:rds/clusterInstance:ClusterInstance")
    assert len(instances) == 2
    assert all(i.inputs["publiclyAccessible"] is False and i.inputs["performanceInsightsEnabled"] for i in instances)
    (parameters,) = prod.of_type("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    assert {"name": "rds.force_ssl", "value": "1"} in parameters.inputs["parameters"]
    assert parameters.inputs["family"] == "aurora-postgresql16"
    # The database and the cache admit the cluster's nodes, by security group, only.
    groups = [
        r for r in prod.of_type("aws:ec2/securityGroup:SecurityGroup") if r.name in ("db-clients", "cache-clients")
    ]
    for group in groups:
        (rule,) = group.inputs["ingress"]
        assert rule["securityGroups"][0].startswith("sg-") and "cidrBlocks" not in rule


def test_the_cache_encrypts_and_authenticates(graphs: dict[str, Graph]) -> None:
    (group,) = graphs["prod"].of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    inputs = group.inputs
    assert inputs["transitEncryptionEnabled"] is True and inputs["atRestEncryptionEnabled"] is True
    assert inputs["authToken"] == "[secret]" and len(group.secret_inputs["authToken"]) == 64
    # Renewed each period; the new token is accepted beside the old until pods restart.
    assert inputs["authTokenUpdateStrategy"] == "ROTATE"
    (token,) = [r for r in graphs["prod"].resources if r.name == "cache-auth"]
    assert token.inputs["keepers"] == {"generation": "3"}  # 2026-11-30, 90-day periods since 2026-01-01
    assert (inputs["numCacheClusters"], inputs["automaticFailoverEnabled"], inputs["multiAzEnabled"]) == (2, True, True)
    (dev_group,) = graphs["dev"].of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert (dev_group.inputs["numCacheClusters"], dev_group.inputs["automaticFailoverEnabled"]) == (1, False)


def test_the_registry_scans_keeps_tags_and_expires_old_images(graphs: dict[str, Graph]) -> None:
    (repository,) = graphs["prod"].of_type("aws:ecr/repository:Repository")
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    (policy,) = graphs["prod"].of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    rules = json.loads(policy.inputs["policy"])["rules"]
    assert [rule["selection"]["tagStatus"] for rule in rules] == ["untagged", "any"]
    assert graphs["prod"].outputs["registry"].endswith(".dkr.ecr.us-east-1.amazonaws.com/project-ai/api")
    writer = graphs["prod"].outputs["database"]["writer"]
    assert writer.startswith("project-ai-prod.cluster-") and writer.endswith(".us-east-1.rds.amazonaws.com")
