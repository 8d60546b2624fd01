"""GcpNetwork: a custom-mode VPC with one regional subnet (secondary ranges for pods and
services), Cloud NAT for private nodes' egress, flow logs, and private service access
for Cloud SQL and Memorystore."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.labels import Ownership, cloud_tags

PODS, SERVICES = "pods", "services"


@dataclass(frozen=True)
class GcpNetworkArgs:
    owner: Ownership
    name: str
    region: str
    nodes_cidr: str
    pods_cidr: str
    services_cidr: str
    # Reserved for Google-managed services (Cloud SQL, Memorystore) peered into the VPC:
    # pinned, so the app's egress policy can name it.
    private_services_cidr: str


class GcpNetwork(pulumi.ComponentResource):
    network: gcp.compute.Network
    subnet: gcp.compute.Subnetwork
    private_services: gcp.servicenetworking.Connection

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:gcp:GcpNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.network = gcp.compute.Network(
            f"{name}-vpc", name=args.name, auto_create_subnetworks=False, routing_mode="REGIONAL", opts=child
        )
        self.subnet = gcp.compute.Subnetwork(
            f"{name}-nodes",
            name=f"{args.name}-nodes",
            region=args.region,
            network=self.network.id,
            ip_cidr_range=args.nodes_cidr,
            secondary_ip_ranges=[
                {"range_name": PODS, "ip_cidr_range": args.pods_cidr},
                {"range_name": SERVICES, "ip_cidr_range": args.services_cidr},
            ],
            # Private nodes reach Google APIs (images, logging) without NAT.
            private_ip_google_access=True,
            # VPC flow logs, sampled.
            log_config={
                "aggregation_interval": "INTERVAL_1_MIN",
                "flow_sampling": 0.5,
                "metadata": "INCLUDE_ALL_METADATA",
            },
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router", name=f"{args.name}-router", region=args.region, network=self.network.id, opts=child
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            name=f"{args.name}-nat",
            router=router.name,
            region=args.region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[{"name": self.subnet.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}],
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )
        reserved = gcp.compute.GlobalAddress(
            f"{name}-private-services",
            name=f"{args.name}-private-services",
            purpose="VPC_PEERING",
            address_type="INTERNAL",
            address=args.private_services_cidr.split("/")[0],
            prefix_length=int(args.private_services_cidr.split("/")[1]),
            network=self.network.id,
            labels=cloud_tags(args.owner, "network"),
            opts=child,
        )
        self.private_services = gcp.servicenetworking.Connection(
            f"{name}-private-services",
            network=self.network.id,
            service="servicenetworking.googleapis.com",
            reserved_peering_ranges=[reserved.name],
            opts=child,
        )
        self.register_outputs({"network": self.network.id, "subnet": self.subnet.id})
