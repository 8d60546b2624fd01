"""The mocks' outputs for what the clouds assign at creation and other resources read:
public VPN addresses (documentation ranges, never one twice), a tunnel's peer address from
its external gateway, and the address of the Cloud SQL instance DMS creates."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from pulumi.runtime import MockResourceArgs, rpc

from preflight.mocks import RealisticMocks, ResolvedReference

SECRET = {rpc._special_sig_key: rpc._special_secret_sig}


def mocks(stack: str = "prod-gcp") -> RealisticMocks:
    return RealisticMocks("project-ai", stack, {}, lambda name: ResolvedReference({}, []))


def create(m: RealisticMocks, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    return m.new_resource(MockResourceArgs(typ, name, inputs, custom=True))


def in_range(address: str, network: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(network)


def test_an_ha_vpn_gateway_gets_two_public_addresses_stable_per_stack() -> None:
    _, state = create(mocks(), "gcp:compute/haVpnGateway:HaVpnGateway", "gateway", {"name": "gw", "region": "r"})
    interfaces = state["vpnInterfaces"]
    assert [i["id"] for i in interfaces] == [0, 1]
    addresses = [i["ipAddress"] for i in interfaces]
    assert len(set(addresses)) == 2 and all(in_range(a, "203.0.113.0/24") for a in addresses)
    _, again = create(mocks(), "gcp:compute/haVpnGateway:HaVpnGateway", "gateway", {"name": "gw", "region": "r"})
    assert again["vpnInterfaces"] == interfaces


def test_a_vpn_connection_gets_its_tunnels_outside_and_inside_addresses() -> None:
    inputs = {"type": "ipsec.1", "tunnel1InsideCidr": "169.254.21.0/30", "tunnel2InsideCidr": "169.254.21.4/30"}
    _, state = create(mocks(), "aws:ec2/vpnConnection:VpnConnection", "connection", inputs)
    assert in_range(state["tunnel1Address"], "192.0.2.0/24") and in_range(state["tunnel2Address"], "192.0.2.0/24")
    assert state["tunnel1Address"] != state["tunnel2Address"]
    # AWS's end takes each inside range's first address, the customer gateway the second.
    assert (state["tunnel1VgwInsideAddress"], state["tunnel1CgwInsideAddress"]) == ("169.254.21.1", "169.254.21.2")
    assert (state["tunnel2VgwInsideAddress"], state["tunnel2CgwInsideAddress"]) == ("169.254.21.5", "169.254.21.6")


def test_no_public_address_is_handed_out_twice() -> None:
    m = mocks()
    seen: list[str] = []
    for index in range(126):
        _, state = create(m, "aws:ec2/vpnConnection:VpnConnection", f"connection-{index}", {})
        seen += [state["tunnel1Address"], state["tunnel2Address"]]
    assert len(set(seen)) == len(seen) == 252
    with pytest.raises(RuntimeError, match=r"ran out of addresses in 192\.0\.2\.0/24"):
        create(m, "aws:ec2/vpnConnection:VpnConnection", "one-too-many", {})


def test_a_tunnel_to_an_external_gateway_peers_with_the_interface_it_names() -> None:
    m = mocks()
    interfaces = [{"id": 0, "ipAddress": "192.0.2.10"}, {"id": 1, "ipAddress": "192.0.2.11"}]
    gateway, _ = create(m, "gcp:compute/externalVpnGateway:ExternalVpnGateway", "aws", {"interfaces": interfaces})
    tunnel = {"region": "r", "peerExternalGateway": gateway, "peerExternalGatewayInterface": 1}
    _, state = create(m, "gcp:compute/vPNTunnel:VPNTunnel", "tunnel", tunnel)
    assert state["peerIp"] == "192.0.2.11"
    # A tunnel to a peer address of its own keeps it.
    _, plain = create(m, "gcp:compute/vPNTunnel:VPNTunnel", "plain", {"region": "r", "peerIp": "198.51.100.7"})
    assert plain["peerIp"] == "198.51.100.7"


def test_a_destination_profile_reports_the_private_address_of_the_instance_dms_creates() -> None:
    settings = {
        "ipConfig": {"enableIpv4": False, "privateNetwork": "projects/p/global/networks/n"},
        "rootPassword": "x",
    }
    inputs = {
        "connectionProfileId": "standby",
        "location": "r",
        "cloudsql": {**SECRET, "value": {"settings": settings}},
    }
    _, state = create(mocks(), "gcp:databasemigrationservice/connectionProfile:ConnectionProfile", "standby", inputs)
    # Still secret (the settings hold the root password), with what DMS reports added.
    cloudsql = state["cloudsql"]
    assert cloudsql[rpc._special_sig_key] == rpc._special_secret_sig
    assert cloudsql["value"]["settings"] == settings and cloudsql["value"]["cloudSqlId"] == "standby"
    assert in_range(cloudsql["value"]["privateIp"], "10.100.0.0/16")
    # A source profile has no instance, so no address.
    source = {"connectionProfileId": "source", "location": "r", "postgresql": {"host": "h"}}
    _, state = create(mocks(), "gcp:databasemigrationservice/connectionProfile:ConnectionProfile", "source", source)
    assert "cloudsql" not in state
