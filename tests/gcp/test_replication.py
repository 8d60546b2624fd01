"""prod's database replicated into prod-gcp, as prod-gcp declares it: an HA VPN to prod's
VPC with BGP (both halves of each tunnel, the AWS one in prod's account), Database
Migration Service reading prod's Aurora writer into a DMS-managed Cloud SQL standby, and
an alert on the job's lag above prod-gcp's RPO, to the stack's alert recipients."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from components.gcp.replication import LAG_METRIC, lag_threshold_seconds
from preflight.cli import main
from preflight.graph import Graph, Resource
from preflight.project import PreflightError
from preflight.synth import Synthesizer
from stacks import contract
from stacks.model import GcpPlatformConfig
from tests.conftest import CRD_SCHEMAS, stack_config
from tests.stacks.copies import project_copy, synthesize_copy, unchanged

PREFIX = "project-ai-prod-gcp-replication"
VPC = "projects/project-ai-prod/global/networks/project-ai-prod-gcp"
ALERTS = "ai-platform-alerts@project-ai.dev"
INSIDE = ["169.254.21.0/30", "169.254.21.4/30", "169.254.22.0/30", "169.254.22.4/30"]


@pytest.fixture(scope="module")
def gcp(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("prod-gcp")


@pytest.fixture(scope="module")
def prod(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("prod")


def by_name(graph: Graph, kind: str) -> dict[str, Resource]:
    return {r.name: r for r in graph.of_type(kind)}


def test_the_ha_vpn_advertises_only_the_standbys_range(gcp: Graph) -> None:
    (gateway,) = gcp.of_type("gcp:compute/haVpnGateway:HaVpnGateway")
    assert (gateway.inputs["network"], gateway.inputs["stackType"]) == (VPC, "IPV4_ONLY")
    (router,) = [r for r in gcp.of_type("gcp:compute/router:Router") if r.name == "replication-vpn-router"]
    # AWS learns where the replication comes from (the private services range) and nothing
    # else: not the nodes', pods' or services' ranges.
    assert router.inputs["bgp"] == {
        "asn": 65010,
        "advertiseMode": "CUSTOM",
        "advertisedIpRanges": [{"range": "10.40.16.0/20", "description": "the replica's standby"}],
    }
    assert GcpPlatformConfig.model_fields["private_services_cidr"].default == "10.40.16.0/20"
    # Cloud SQL's producer network learns the routes to AWS through the VPC's peering.
    (routes,) = gcp.of_type("gcp:compute/networkPeeringRoutesConfig:NetworkPeeringRoutesConfig")
    assert (routes.inputs["network"], routes.inputs["exportCustomRoutes"], routes.inputs["importCustomRoutes"]) == (
        VPC,
        True,
        False,
    )


def test_the_aws_half_lives_in_prods_account_on_prods_vpn_gateway(gcp: Graph, prod: Graph) -> None:
    (provider,) = [r for r in gcp.resources if r.type == "pulumi:providers:aws"]
    # From prod's contract: its account (the provider refuses any other) and region.
    assert provider.name == "primary-aws" and provider.inputs["region"] == prod.outputs[contract.REGION]
    assert json.loads(provider.inputs["allowedAccountIds"]) == [prod.outputs[contract.ACCOUNT_ID]]
    customers = gcp.of_type("aws:ec2/customerGateway:CustomerGateway")
    connections = gcp.of_type("aws:ec2/vpnConnection:VpnConnection")
    assert len(customers) == len(connections) == 2
    assert {r.provider for r in customers + connections} == {provider.urn}
    # BGP with this side's Cloud Router ASN; one customer gateway per HA VPN interface.
    assert {(c.inputs["type"], c.inputs["bgpAsn"]) for c in customers} == {("ipsec.1", "65010")}
    (vgw,) = prod.of_type("aws:ec2/vpnGateway:VpnGateway")
    for connection, customer in zip(connections, customers, strict=True):
        assert connection.inputs["vpnGatewayId"] == vgw.outputs["id"] == prod.outputs[contract.VPN_GATEWAY]
        assert connection.inputs["customerGatewayId"] == customer.outputs["id"]
        assert connection.inputs["staticRoutesOnly"] is False and connection.inputs["type"] == "ipsec.1"


def test_four_tunnels_with_ikev2_bgp_and_one_generated_key_each_shared_by_both_ends(gcp: Graph, prod: Graph) -> None:
    connections = sorted(gcp.of_type("aws:ec2/vpnConnection:VpnConnection"), key=lambda r: r.name)
    tunnels = by_name(gcp, "gcp:compute/vPNTunnel:VPNTunnel")
    interfaces = by_name(gcp, "gcp:compute/routerInterface:RouterInterface")
    peers = by_name(gcp, "gcp:compute/routerPeer:RouterPeer")
    (external,) = gcp.of_type("gcp:compute/externalVpnGateway:ExternalVpnGateway")
    assert external.inputs["redundancyType"] == "FOUR_IPS_REDUNDANCY"
    assert [i["id"] for i in external.inputs["interfaces"]] == [0, 1, 2, 3]
    keys = []
    for index in range(4):
        connection, number = connections[index // 2], index % 2 + 1
        aws = {
            k.removeprefix(f"tunnel{number}"): v
            for k, v in connection.inputs.items()
            if k.startswith(f"tunnel{number}")
        }
        assert aws["InsideCidr"] == INSIDE[index]
        assert aws["IkeVersions"] == ["ikev2"]
        assert aws["Phase1EncryptionAlgorithms"] == aws["Phase2EncryptionAlgorithms"] == ["AES256"]
        assert aws["Phase1IntegrityAlgorithms"] == aws["Phase2IntegrityAlgorithms"] == ["SHA2-256"]
        assert aws["Phase1DhGroupNumbers"] == aws["Phase2DhGroupNumbers"] == [14]
        tunnel = tunnels[f"replication-vpn-tunnel-{index}"].inputs
        # HA VPN interface 0 to connection 0's two tunnels, interface 1 to connection 1's.
        assert (tunnel["vpnGatewayInterface"], tunnel["peerExternalGatewayInterface"]) == (index // 2, index)
        assert tunnel["ikeVersion"] == 2 and tunnel["router"].endswith(f"/routers/{PREFIX}-router")
        # AWS's end takes the range's first address, the Cloud Router its second.
        network = INSIDE[index].rsplit(".", 1)[0]
        last = int(INSIDE[index].rsplit(".", 1)[1].split("/")[0])
        assert interfaces[f"replication-vpn-interface-{index}"].inputs["ipRange"] == f"{network}.{last + 2}/30"
        peer = peers[f"replication-vpn-peer-{index}"].inputs
        assert peer["peerIpAddress"] == f"{network}.{last + 1}"
        assert peer["peerAsn"] == prod.outputs[contract.VPN_GATEWAY_ASN] == 64512
        assert peer["interface"] == interfaces[f"replication-vpn-interface-{index}"].inputs["name"]
        # The same generated key on both ends, secret on both, write-only on Google's.
        assert aws["PresharedKey"] == "[secret]" and tunnel["sharedSecretWo"] == "[secret]"
        key = connection.secret_inputs[f"tunnel{number}PresharedKey"]
        assert tunnels[f"replication-vpn-tunnel-{index}"].secret_inputs["sharedSecretWo"] == key
        keys.append(key)
    assert len(set(keys)) == 4
    generators = [r for r in gcp.of_type("random:index/randomPassword:RandomPassword") if "-psk-" in r.name]
    # AWS takes letters, digits, '.' and '_', and no leading 0: letters only.
    assert {(g.inputs["length"], g.inputs["special"], g.inputs["numeric"]) for g in generators} == {(48, False, False)}


def test_each_side_is_wired_to_the_others_public_addresses(gcp: Graph) -> None:
    """The addresses each cloud assigns (documentation ranges under the mocks): AWS's
    customer gateways are the HA VPN interfaces; the external VPN gateway's four
    interfaces are the AWS tunnels' outside addresses, in tunnel order; each GCP tunnel's
    peer is the AWS tunnel it pairs with."""
    (gateway,) = gcp.of_type("gcp:compute/haVpnGateway:HaVpnGateway")
    ha = {i["id"]: i["ipAddress"] for i in gateway.outputs["vpnInterfaces"]}
    customers = by_name(gcp, "aws:ec2/customerGateway:CustomerGateway")
    assert [customers[f"replication-vpn-customer-{i}"].inputs["ipAddress"] for i in (0, 1)] == [ha[0], ha[1]]
    connections = by_name(gcp, "aws:ec2/vpnConnection:VpnConnection")
    outside = [
        connections[f"replication-vpn-connection-{index // 2}"].outputs[f"tunnel{index % 2 + 1}Address"]
        for index in range(4)
    ]
    (external,) = gcp.of_type("gcp:compute/externalVpnGateway:ExternalVpnGateway")
    assert external.inputs["interfaces"] == [{"id": i, "ipAddress": outside[i]} for i in range(4)]
    tunnels = by_name(gcp, "gcp:compute/vPNTunnel:VPNTunnel")
    for index in range(4):
        tunnel = tunnels[f"replication-vpn-tunnel-{index}"]
        assert tunnel.outputs["peerIp"] == outside[tunnel.inputs["peerExternalGatewayInterface"]] == outside[index]
        # It leaves from the interface whose address AWS's connection knows as its customer gateway.
        connection = connections[f"replication-vpn-connection-{index // 2}"]
        customer = next(c for c in customers.values() if c.outputs["id"] == connection.inputs["customerGatewayId"])
        assert customer.inputs["ipAddress"] == ha[tunnel.inputs["vpnGatewayInterface"]]
    # Six public addresses, none twice, none a real host's (RFC 5737).
    addresses = [*ha.values(), *outside]
    assert len(set(addresses)) == 6
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("192.0.2.0/24") for a in outside)
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("203.0.113.0/24") for a in ha.values())


def test_dms_reads_prods_writer_over_tls_into_a_private_dms_managed_standby(gcp: Graph, prod: Graph) -> None:
    profiles = by_name(gcp, "gcp:databasemigrationservice/connectionProfile:ConnectionProfile")
    source, standby = profiles["replication-source"], profiles["replication-standby"]
    assert (source.inputs["role"], source.inputs["location"]) == ("SOURCE", "us-central1")
    assert source.inputs["postgresql"] == "[secret]"
    postgresql = source.secret_inputs["postgresql"]
    assert postgresql["host"] == prod.outputs[contract.DATABASE_WRITER]
    assert (postgresql["port"], postgresql["username"], postgresql["ssl"]) == (
        5432,
        "project_ai_replication",
        {"type": "REQUIRED"},
    )
    assert standby.inputs["role"] == "DESTINATION" and standby.inputs["deletionPolicy"] == "PREVENT"
    settings = standby.secret_inputs["cloudsql"]["settings"]
    assert settings["ipConfig"] == {"enableIpv4": False, "privateNetwork": VPC, "requireSsl": True}
    assert settings["sourceId"] == source.outputs["name"]
    assert (settings["databaseVersion"], settings["tier"], settings["edition"]) == (
        "POSTGRES_16",
        stack_config("prod-gcp")["projectai:database"]["instanceClass"],
        "ENTERPRISE",
    )
    (job,) = gcp.of_type("gcp:databasemigrationservice/migrationJob:MigrationJob")
    inputs = job.inputs
    assert (inputs["type"], inputs["migrationJobId"], inputs["desiredState"]) == ("CONTINUOUS", PREFIX, "RUNNING")
    assert (inputs["source"], inputs["destination"]) == (source.outputs["name"], standby.outputs["name"])
    assert inputs["vpcPeeringConnectivity"] == {"vpc": VPC} and inputs["deletionPolicy"] == "PREVENT"
    # The job starts once the way to prod exists: tunnels, BGP peers, routes to the producer network.
    vpn = next(r.urn for r in gcp.resources if r.type == "projectai:gcp:HaVpnToAws")
    needed = [r.urn for r in gcp.resources if r.parent == vpn and r.type.endswith(("VPNTunnel", "RouterPeer"))]
    assert len(needed) == 8 and set(needed) <= set(job.dependencies)


def test_the_lag_alert_fires_above_the_rpo_and_tells_the_alert_recipients(gcp: Graph) -> None:
    (policy,) = gcp.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
    threshold, absent = policy.inputs["conditions"]
    metric = threshold["conditionThreshold"]
    assert metric["filter"] == (
        f'resource.type = "datamigration.googleapis.com/MigrationJob" AND resource.labels.migration_job_id = '
        f'"{PREFIX}" AND metric.type = "{LAG_METRIC}"'
    )
    assert LAG_METRIC == "datamigration.googleapis.com/migration_job/max_replica_sec_lag"
    # prod-gcp's own RPO (its stack file), in the metric's seconds, for 5 minutes.
    rpo = stack_config("prod-gcp")["projectai:disasterRecovery"]["rpoSeconds"]
    assert (metric["comparison"], metric["thresholdValue"], metric["duration"]) == ("COMPARISON_GT", rpo, "300s")
    assert metric["aggregations"] == [{"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_MAX"}]
    # A job that reports nothing is not replicating.
    assert absent["conditionAbsent"]["filter"] == metric["filter"] and absent["conditionAbsent"]["duration"] == "600s"
    assert (policy.inputs["combiner"], policy.inputs["severity"]) == ("OR", "CRITICAL")
    channels = gcp.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    assert [c.inputs["labels"] for c in channels] == [{"email_address": ALERTS}]
    assert channels[0].inputs["type"] == "email"
    assert policy.inputs["notificationChannels"] == [c.outputs["name"] for c in channels]


@pytest.mark.parametrize("rpo", [1, 30, 300])
def test_the_lag_threshold_is_the_stacks_rpo(tmp_path: Path, rpo: int) -> None:
    def targets(config: dict[str, Any]) -> None:
        config["projectai:disasterRecovery"] = {"rpoSeconds": rpo, "rtoSeconds": 900, "maxSwitchoverLagSeconds": 0}

    gcp = synthesize_copy(tmp_path, "prod-gcp", {"prod": unchanged, "prod-gcp": targets})
    (policy,) = gcp.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
    assert policy.inputs["conditions"][0]["conditionThreshold"]["thresholdValue"] == lag_threshold_seconds(rpo) == rpo
    assert gcp.outputs[contract.DISASTER_RECOVERY] == {
        "rpoSeconds": rpo,
        "rtoSeconds": 900,
        "maxSwitchoverLagSeconds": 0,
    }


def test_a_first_up_creates_the_job_without_starting_it(tmp_path: Path) -> None:
    def waiting(config: dict[str, Any]) -> None:
        config["projectai:platform"]["replication"]["start"] = False

    gcp = synthesize_copy(tmp_path, "prod-gcp", {"prod": unchanged, "prod-gcp": waiting})
    (job,) = gcp.of_type("gcp:databasemigrationservice/migrationJob:MigrationJob")
    assert job.inputs["desiredState"] == "NOT_STARTED"


def test_no_generated_secret_is_in_the_clear(gcp: Graph) -> None:
    generated = {
        r.name: r.outputs["result"]
        for r in gcp.of_type("random:index/randomPassword:RandomPassword")
        if "replication" in r.name
    }
    assert len(generated) == 6  # four tunnel keys, DMS's password on prod, the standby's root
    visible = json.dumps(
        [r.inputs for r in gcp.resources if r.type != "random:index/randomPassword:RandomPassword"] + [gcp.outputs]
    )
    assert [name for name, value in generated.items() if value in visible] == []
    # The one-time bootstrap on prod reads them from a secret output.
    assert gcp.outputs["replicationBootstrap"] == "[secret]"
    assert gcp.outputs["replication"]["migrationJob"]
    # Nothing of the replication is in a stack file but names, ranges and numbers.
    assert stack_config("prod-gcp")["projectai:platform"]["replication"] == {"routerAsn": 65010}


def test_a_replica_the_primary_does_not_admit_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def elsewhere(config: dict[str, Any]) -> None:
        config["projectai:platform"]["crossCloudReplicas"]["cidrs"] = ["10.99.0.0/20"]

    program = project_copy(tmp_path, {"prod": elsewhere, "prod-gcp": unchanged})
    code = main(["--stack", "prod-gcp", "--program", str(program.directory), "--crd-schemas", str(CRD_SCHEMAS)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (
        "the primary stack 'prod' does not admit this region's replication standby: add '10.40.16.0/20' to "
        "projectai:platform.crossCloudReplicas.cidrs in Pulumi.prod.yaml"
    ) in out


def test_a_primary_without_a_vpn_gateway_fails_the_replica_at_once(tmp_path: Path) -> None:
    def no_replicas(config: dict[str, Any]) -> None:
        del config["projectai:platform"]["crossCloudReplicas"]

    with pytest.raises(PreflightError) as caught:
        synthesize_copy(tmp_path, "prod-gcp", {"prod": no_replicas, "prod-gcp": unchanged})
    assert "KeyError: 'accountId'" not in str(caught.value)  # every AWS region exports its account
    assert "stack 'prod', which it references, has no such output" in str(caught.value)
    assert "'vpnGatewayId'" in str(caught.value) or "'vpnGatewayAsn'" in str(caught.value)


def test_with_an_integration_key_the_lag_alert_also_pages_on_call(tmp_path: Path) -> None:
    key = "G00gleCloudMonitoringKey0123456789"

    def pager(config: dict[str, Any]) -> None:
        config["projectai:pagerdutyIntegrationKey"] = key

    gcp = synthesize_copy(tmp_path, "prod-gcp", {"prod": unchanged, "prod-gcp": pager})
    (policy,) = gcp.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
    email, pagerduty = gcp.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    assert (email.inputs["type"], pagerduty.inputs["type"]) == ("email", "pagerduty")
    assert pagerduty.inputs["sensitiveLabels"] == "[secret]"
    assert pagerduty.revealed_inputs["sensitiveLabels"] == {"serviceKey": key}
    assert policy.inputs["notificationChannels"] == [email.outputs["name"], pagerduty.outputs["name"]]
