"""The GCP components under mocks: the properties that matter, the Kubernetes provider
built from the cluster's outputs, and both policy packs clean with each stack's own
configuration (spot and pool caps in dev)."""

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
    synthesizer = Synthesizer(Program.load(FIXTURES / "gcp-platform"))
    return {stack: synthesizer.synthesize(stack) for stack in ("prod", "dev")}


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_both_packs_pass_with_the_stacks_own_configuration(graphs: dict[str, Graph], stack: str) -> None:
    report = policies.check(graphs[stack])
    assert report.errors == [] and report.outcome.unknown == []
    assert [(f.policy, f.urn, f.message) for f in report.outcome.violations] == []


def test_the_network_has_pod_and_service_ranges_nat_and_private_service_access(graphs: dict[str, Graph]) -> None:
    (subnet,) = graphs["prod"].of_type("gcp:compute/subnetwork:Subnetwork")
    ranges = {r["rangeName"]: r["ipCidrRange"] for r in subnet.inputs["secondaryIpRanges"]}
    assert ranges == {"pods": "10.44.0.0/14", "services": "10.48.0.0/20"}
    assert subnet.inputs["privateIpGoogleAccess"] is True and subnet.inputs["logConfig"]["flowSampling"] == 0.5
    (nat,) = graphs["prod"].of_type("gcp:compute/routerNat:RouterNat")
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    (peering,) = graphs["prod"].of_type("gcp:servicenetworking/connection:Connection")
    assert peering.inputs["service"] == "servicenetworking.googleapis.com"


def test_the_cluster_is_private_identity_bound_shielded_and_encrypted(graphs: dict[str, Graph]) -> None:
    (cluster,) = graphs["prod"].of_type("gcp:container/cluster:Cluster")
    inputs = cluster.inputs
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["masterAuthorizedNetworksConfig"]["gcpPublicCidrsAccessEnabled"] is False
    assert inputs["workloadIdentityConfig"] == {"workloadPool": "project-ai-prod.svc.id.goog"}
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH" and inputs["removeDefaultNodePool"] is True
    assert inputs["databaseEncryption"]["state"] == "ENCRYPTED"
    assert inputs["releaseChannel"] == {"channel": "REGULAR"}
    (key,) = graphs["prod"].of_type("gcp:kms/cryptoKey:CryptoKey")
    assert key.inputs["rotationPeriod"] == "7776000s"
    pools = {r.inputs["name"]: r.inputs for r in graphs["dev"].of_type("gcp:container/nodePool:NodePool")}
    assert {name: pool["nodeConfig"]["spot"] for name, pool in pools.items()} == {"system": False, "apps": True}
    for pool in pools.values():
        assert pool["nodeConfig"]["serviceAccount"].startswith("project-ai-dev-nodes@")
        assert pool["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert pool["nodeConfig"]["shieldedInstanceConfig"]["enableSecureBoot"] is True


def test_data_services_are_private_encrypted_in_transit_and_highly_available_in_prod(graphs: dict[str, Graph]) -> None:
    (sql,) = graphs["prod"].of_type("gcp:sql/databaseInstance:DatabaseInstance")
    settings = sql.inputs["settings"]
    assert settings["ipConfiguration"]["ipv4Enabled"] is False
    assert settings["ipConfiguration"]["sslMode"] == "ENCRYPTED_ONLY"
    assert settings["availabilityType"] == "REGIONAL" and settings["backupConfiguration"]["pointInTimeRecoveryEnabled"]
    assert "rootPassword" not in sql.inputs and sql.inputs["rootPasswordWoVersion"] == "1"
    (dev_sql,) = graphs["dev"].of_type("gcp:sql/databaseInstance:DatabaseInstance")
    assert dev_sql.inputs["settings"]["availabilityType"] == "ZONAL"
    (redis,) = graphs["prod"].of_type("gcp:redis/instance:Instance")
    assert (redis.inputs["transitEncryptionMode"], redis.inputs["authEnabled"], redis.inputs["tier"]) == (
        "SERVER_AUTHENTICATION",
        True,
        "STANDARD_HA",
    )
    (repository,) = graphs["prod"].of_type("gcp:artifactregistry/repository:Repository")
    assert repository.inputs["dockerConfig"] == {"immutableTags": True}
    assert repository.inputs["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}
    assert graphs["prod"].outputs["registry"] == "us-central1-docker.pkg.dev/project-ai-prod/project-ai"


def test_the_kubernetes_provider_uses_short_lived_tokens(graphs: dict[str, Graph]) -> None:
    (provider,) = [r for r in graphs["prod"].resources if r.type == "pulumi:providers:kubernetes"]
    config = json.loads(provider.secret_inputs["kubeconfig"])
    assert config["clusters"][0]["cluster"]["server"].startswith("https://34.")
    assert config["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
