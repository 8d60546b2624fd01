"""HaVpnToAws: the VPC's HA VPN to the primary region's VPC on AWS, with BGP, so a
replica here reaches the primary's database privately (components/gcp/replication.py).

The shape is Google's and AWS's documented one for this pair: the HA VPN gateway's two
interfaces each get an AWS customer gateway and a Site-to-Site VPN connection on the
primary's VPN gateway (components/aws/vpn.py); the four AWS tunnels' outside addresses
form a four-address external VPN gateway here; one tunnel, Cloud Router interface and
BGP peer per AWS tunnel, IKEv2. Each side needs the other's public addresses, which
exist only once its gateway does, so this component declares both halves of the
connections (the AWS ones through the primary account's provider, from `opts`), and
the primary keeps its VPC's own gateway, routes and database access.

- Pre-shared keys are generated (pulumi_random), one per tunnel: secrets in state,
  write-only on the Google side, never in configuration.
- The Cloud Router advertises only the ranges the replica's standby lives in (the
  private services range), not the project's subnets: AWS learns where the replication
  comes from and nothing else. It learns the primary's VPC in return.
- Cloud SQL lives in Google's producer network, peered to the VPC: the peering exports
  the routes learned from AWS to it, or the standby could not reach the primary.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_random as random

from components.labels import Ownership, cloud_tags

# IKEv2 proposals both ends support (AWS restricted to them; Google offers these among others).
IKE_VERSION = 2
PHASE1 = {"encryption": ["AES256"], "integrity": ["SHA2-256"], "dh_groups": [14]}
PHASE2 = {"encryption": ["AES256"], "integrity": ["SHA2-256"], "dh_groups": [14]}


@dataclass(frozen=True)
class HaVpnToAwsArgs:
    owner: Ownership
    # The GCP resources' name prefix, and where they live.
    name: str
    region: str
    network: pulumi.Input[str]
    router_asn: int
    # The ranges this side tells AWS it can reach (the replica's standby's).
    advertised_cidrs: tuple[str, ...]
    # The primary's VPN gateway and its ASN (its contract's vpnGatewayId, vpnGatewayAsn).
    aws_vpn_gateway_id: pulumi.Input[str]
    aws_asn: pulumi.Input[int]
    # One /30 per tunnel: AWS's end takes its first address, the Cloud Router its second.
    tunnel_inside_cidrs: tuple[str, str, str, str]
    # The VPC's peering with Google's service producer network (Cloud SQL's).
    private_services_peering: pulumi.Input[str]


@dataclass(frozen=True)
class Tunnel:
    """One of the four: which HA VPN interface it leaves from, which AWS connection and
    tunnel (1 or 2) it ends in, and its inside range."""

    index: int
    ha_interface: int
    connection: int
    aws_tunnel: int
    inside_cidr: str

    @property
    def aws_address(self) -> str:
        return str(ipaddress.ip_network(self.inside_cidr)[1])

    @property
    def router_address(self) -> str:
        network = ipaddress.ip_network(self.inside_cidr)
        return f"{network[2]}/{network.prefixlen}"


def tunnels(inside_cidrs: tuple[str, str, str, str]) -> list[Tunnel]:
    """HA VPN interface 0 to AWS connection 0's two tunnels, interface 1 to connection 1's."""
    return [
        Tunnel(index=index, ha_interface=index // 2, connection=index // 2, aws_tunnel=index % 2 + 1, inside_cidr=cidr)
        for index, cidr in enumerate(inside_cidrs)
    ]


class HaVpnToAws(pulumi.ComponentResource):
    gateway: gcp.compute.HaVpnGateway
    router: gcp.compute.Router
    customer_gateways: list[aws.ec2.CustomerGateway]
    connections: list[aws.ec2.VpnConnection]
    peer_gateway: gcp.compute.ExternalVpnGateway
    tunnels: list[gcp.compute.VPNTunnel]
    peers: list[gcp.compute.RouterPeer]

    def __init__(self, name: str, args: HaVpnToAwsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:gcp:HaVpnToAws", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = tags = cloud_tags(args.owner, "network")
        self.gateway = gcp.compute.HaVpnGateway(
            f"{name}-gateway",
            name=args.name,
            region=args.region,
            network=args.network,
            stack_type="IPV4_ONLY",
            labels=labels,
            opts=child,
        )
        self.router = gcp.compute.Router(
            f"{name}-router",
            name=f"{args.name}-router",
            region=args.region,
            network=args.network,
            bgp={
                "asn": args.router_asn,
                "advertise_mode": "CUSTOM",
                "advertised_ip_ranges": [
                    {"range": cidr, "description": "the replica's standby"} for cidr in args.advertised_cidrs
                ],
            },
            opts=child,
        )
        plan = tunnels(args.tunnel_inside_cidrs)
        keys = [
            # AWS takes letters, digits, '.' and '_', not starting with 0: letters only.
            random.RandomPassword(f"{name}-psk-{t.index}", length=48, special=False, numeric=False, opts=child)
            for t in plan
        ]
        self.customer_gateways = [
            aws.ec2.CustomerGateway(
                f"{name}-customer-{interface}",
                type="ipsec.1",
                bgp_asn=str(args.router_asn),
                ip_address=self.gateway.vpn_interfaces.apply(lambda found, i=interface: _interface_address(found, i)),
                device_name=f"{args.name}-{interface}",
                tags={**tags, "Name": f"{args.name}-{interface}"},
                opts=child,
            )
            for interface in (0, 1)
        ]
        self.connections = []
        for connection, customer in enumerate(self.customer_gateways):
            first, second = (t for t in plan if t.connection == connection)
            self.connections.append(
                aws.ec2.VpnConnection(
                    f"{name}-connection-{connection}",
                    type="ipsec.1",
                    vpn_gateway_id=args.aws_vpn_gateway_id,
                    customer_gateway_id=customer.id,
                    static_routes_only=False,
                    **_tunnel_options(1, first, keys[first.index]),
                    **_tunnel_options(2, second, keys[second.index]),
                    tags={**tags, "Name": f"{args.name}-{connection}"},
                    opts=child,
                )
            )
        self.peer_gateway = gcp.compute.ExternalVpnGateway(
            f"{name}-aws",
            name=f"{args.name}-aws",
            redundancy_type="FOUR_IPS_REDUNDANCY",
            interfaces=[
                {"id": t.index, "ip_address": _outside_address(self.connections[t.connection], t.aws_tunnel)}
                for t in plan
            ],
            labels=labels,
            opts=child,
        )
        self.tunnels, self.peers = [], []
        for t in plan:
            tunnel = gcp.compute.VPNTunnel(
                f"{name}-tunnel-{t.index}",
                name=f"{args.name}-{t.index}",
                region=args.region,
                vpn_gateway=self.gateway.id,
                vpn_gateway_interface=t.ha_interface,
                peer_external_gateway=self.peer_gateway.id,
                peer_external_gateway_interface=t.index,
                router=self.router.id,
                ike_version=IKE_VERSION,
                shared_secret_wo=keys[t.index].result,
                shared_secret_wo_version="1",
                labels=labels,
                opts=child,
            )
            interface = gcp.compute.RouterInterface(
                f"{name}-interface-{t.index}",
                name=f"{args.name}-{t.index}",
                router=self.router.name,
                region=args.region,
                ip_range=t.router_address,
                vpn_tunnel=tunnel.name,
                opts=child,
            )
            self.peers.append(
                gcp.compute.RouterPeer(
                    f"{name}-peer-{t.index}",
                    name=f"{args.name}-{t.index}",
                    router=self.router.name,
                    region=args.region,
                    interface=interface.name,
                    peer_ip_address=t.aws_address,
                    peer_asn=args.aws_asn,
                    advertised_route_priority=100,
                    opts=child,
                )
            )
            self.tunnels.append(tunnel)
        # Cloud SQL's producer network learns the routes to AWS through the peering.
        gcp.compute.NetworkPeeringRoutesConfig(
            f"{name}-producer-routes",
            network=args.network,
            peering=args.private_services_peering,
            export_custom_routes=True,
            import_custom_routes=False,
            opts=child,
        )
        self.register_outputs(
            {
                "gateway": self.gateway.id,
                "router": self.router.id,
                "connections": [connection.id for connection in self.connections],
            }
        )


def _tunnel_options(number: int, tunnel: Tunnel, key: random.RandomPassword) -> dict[str, object]:
    """One AWS tunnel's inside range, key and IKEv2 proposals, as VpnConnection takes them."""
    prefix = f"tunnel{number}_"
    return {
        f"{prefix}inside_cidr": tunnel.inside_cidr,
        f"{prefix}preshared_key": pulumi.Output.secret(key.result),
        f"{prefix}ike_versions": [f"ikev{IKE_VERSION}"],
        f"{prefix}phase1_encryption_algorithms": PHASE1["encryption"],
        f"{prefix}phase1_integrity_algorithms": PHASE1["integrity"],
        f"{prefix}phase1_dh_group_numbers": PHASE1["dh_groups"],
        f"{prefix}phase2_encryption_algorithms": PHASE2["encryption"],
        f"{prefix}phase2_integrity_algorithms": PHASE2["integrity"],
        f"{prefix}phase2_dh_group_numbers": PHASE2["dh_groups"],
    }


def _interface_address(interfaces: list[gcp.compute.outputs.HaVpnGatewayVpnInterface] | None, index: int) -> str | None:
    """The public address Google gave the gateway's interface `index`: it assigns both
    when it creates the gateway (a preview shows them unknown)."""
    found = [interface.ip_address for interface in interfaces or () if interface.id == index]
    return found[0] if found else None


def _outside_address(connection: aws.ec2.VpnConnection, tunnel: int) -> pulumi.Output[str]:
    return connection.tunnel1_address if tunnel == 1 else connection.tunnel2_address
