"""Zero-trust rules for AWS VPC plumbing: network ACLs that let the internet reach admin
ports, each VPC's default security group (adopted and emptied), and subnets that hand out
public addresses."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policies.core.props import get, items
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK
from policies.zero_trust.aws import (
    DEFAULT_SECURITY_GROUP,
    EGRESS_RULE,
    INGRESS_RULE,
    SECURITY_GROUP_RULE,
    VPC,
    _internet_wide,
    known,
    names,
)

NETWORK_ACL = "aws:ec2/networkAcl:NetworkAcl"
DEFAULT_NETWORK_ACL = "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl"
NETWORK_ACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
SUBNET = "aws:ec2/subnet:Subnet"
# Protocols that carry ports, by name and number; "-1" (or "all") is every protocol.
PORT_PROTOCOLS = ("tcp", "6", "udp", "17")


@dataclass(frozen=True)
class _Entry:
    """One inbound network ACL entry, wherever it is declared."""

    number: float
    allow: bool
    ranges: tuple[str, ...]
    protocol: str
    low: Any
    high: Any
    urn: str

    def covers(self, port: int) -> bool:
        if self.protocol in ("-1", "all"):
            return True
        if self.protocol not in PORT_PROTOCOLS:
            return False
        low, high = self.low, self.high
        return isinstance(low, (int, float)) and isinstance(high, (int, float)) and low <= port <= high


def _entry(props: Mapping[str, Any], urn: str, action: str, number: str) -> _Entry:
    """An entry with what is not known yet left out: an unknown range opens nothing that
    can be judged, and denies nothing either."""
    ranges = tuple(str(known(props, key)) for key in ("cidrBlock", "ipv6CidrBlock") if known(props, key))
    return _Entry(
        number=known(props, number) or 0,
        allow=str(known(props, action)).strip().lower() == "allow",
        ranges=ranges,
        protocol=str(known(props, "protocol")).strip().lower(),
        low=known(props, "fromPort"),
        high=known(props, "toPort"),
        urn=urn,
    )


def _blocks(resource: Resource, key: str) -> list[Any]:
    try:
        return items(resource.props, key)
    except UnknownValueError:
        return []


def _acl_entries(stack: Stack) -> Iterator[tuple[Resource | None, str, list[_Entry]]]:
    """Each network ACL's inbound entries: its own `ingress` blocks and the rules declared
    on their own that name it (by the one ACL they depend on, or else by networkAclId)."""
    acls = stack.of_type(NETWORK_ACL, DEFAULT_NETWORK_ACL)
    found: dict[str, list[_Entry]] = {
        acl.urn: [_entry(block, acl.urn, "action", "ruleNo") for block in _blocks(acl, "ingress")] for acl in acls
    }
    labels = {acl.urn: acl.name for acl in acls}
    for entry in stack.of_type(NETWORK_ACL_RULE):
        if known(entry.props, "egress") is True:
            continue
        depended = [acl for acl in acls if acl.urn in entry.dependencies]
        key = depended[0].urn if len(depended) == 1 else str(known(entry.props, "networkAclId") or entry.urn)
        labels.setdefault(key, str(known(entry.props, "networkAclId") or entry.name))
        found.setdefault(key, []).append(_entry(entry.props, entry.urn, "ruleAction", "ruleNumber"))
    for key, entries in found.items():
        yield next((acl for acl in acls if acl.urn == key), None), labels[key], entries


def _contains(outer: str, inner: str) -> bool:
    try:
        wide = ipaddress.ip_network(outer.strip(), strict=False)
        narrow = ipaddress.ip_network(inner.strip(), strict=False)
    except ValueError:
        return False
    return wide.version == narrow.version and narrow.subnet_of(wide)  # type: ignore[arg-type]


def _denied_first(entries: list[_Entry], allow: _Entry, cidr: str, port: int) -> bool:
    """Whether an entry numbered lower (evaluated first) denies the whole range on the port."""
    return any(
        not other.allow and other.number < allow.number and other.covers(port)
        for other in entries
        if any(_contains(denied, cidr) for denied in other.ranges)
    )


class AdminPortParams(Params):
    # Remote administration and file transfer ports: SSH, RDP, FTP data and control.
    admin_ports: tuple[int, ...] = (20, 21, 22, 3389)


@rule(
    PACK,
    name="aws-network-acl-no-open-admin-ports",
    description=(
        "No network ACL (default ones included, entries inline or declared as NetworkAclRule) lets 0.0.0.0/0 or "
        "::/0 in to an admin port (adminPorts: 20, 21, 22, 3389) unless an entry evaluated first denies it."
    ),
    severity="high",
    remediation=(
        "Narrow the entry's cidrBlock / ipv6CidrBlock to known ranges, leave the admin ports out of its port "
        "range, or add a lower-numbered deny for them; reach hosts through SSM Session Manager instead."
    ),
    params=AdminPortParams,
)
def network_acl_no_open_admin_ports(stack: Stack, params: AdminPortParams) -> Iterable[tuple[str, str]]:
    for acl, label, entries in _acl_entries(stack):
        for allow in entries:
            if not allow.allow:
                continue
            for cidr in (cidr for cidr in allow.ranges if _internet_wide(cidr)):
                ports = [
                    port
                    for port in params.admin_ports
                    if allow.covers(port) and not _denied_first(entries, allow, cidr, port)
                ]
                if ports:
                    where = acl.urn if acl else allow.urn
                    shown = ", ".join(str(port) for port in ports)
                    yield where, f"network ACL {label} admits {cidr} to port(s) {shown} (entry {allow.number:g})"


def _default_groups_of(stack: Stack, vpc: Resource) -> list[Resource]:
    groups = stack.of_type(DEFAULT_SECURITY_GROUP)
    return [g for g in groups if vpc.urn in g.dependencies or names(str(known(g.props, "vpcId") or ""), vpc, "id")]


@rule(
    PACK,
    name="aws-default-security-group-closed",
    description=(
        "Each VPC adopts its default security group (aws.ec2.DefaultSecurityGroup) with no ingress or egress "
        "rules, inline or declared on their own, so nothing placed in it by default can talk."
    ),
    severity="medium",
    remediation=(
        "Declare aws.ec2.DefaultSecurityGroup(vpc_id=<the VPC>) with no ingress and no egress (the provider "
        "then removes AWS's defaults), and give resources security groups of their own."
    ),
)
def default_security_group_closed(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for vpc in stack.of_type(VPC):
        if not _default_groups_of(stack, vpc):
            yield vpc.urn, f"VPC {vpc.name} does not adopt its default security group, which admits its own members"
    groups = stack.of_type(DEFAULT_SECURITY_GROUP)
    # Rules declared on their own, gathered once.
    separate = [r for kind in (SECURITY_GROUP_RULE, INGRESS_RULE, EGRESS_RULE) for r in stack.of_type(kind)]
    for group in groups:
        opened = [d for d in ("ingress", "egress") if _blocks(group, d)]
        if opened:
            yield group.urn, f"default security group {group.name} has {' and '.join(opened)} rules"
        for attached in (r for r in separate if group.urn in r.dependencies):
            yield attached.urn, f"{attached.name} adds a rule to default security group {group.name}"


@rule(
    PACK,
    name="aws-subnet-no-public-ip-on-launch",
    description="No subnet gives what launches in it a public IPv4 address by default (mapPublicIpOnLaunch).",
    severity="medium",
    remediation=(
        "Set mapPublicIpOnLaunch: false; load balancers and NAT gateways get their addresses themselves, "
        "and an instance that must be public asks for one."
    ),
    types=(SUBNET,),
)
def subnet_no_public_ip_on_launch(resource: Resource, params: Params) -> Iterable[str]:
    if str(get(resource.props, "mapPublicIpOnLaunch", False)).lower() == "true":
        yield "mapPublicIpOnLaunch is true: every instance launched here gets a public IP"
