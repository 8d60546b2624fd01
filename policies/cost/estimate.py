"""A stack's monthly cost, from what it declares and the price table (prices.yaml).

The estimate reads the same view the cost pack's rules get (`Stack`): every resource's
type, name, inputs and its provider's inputs (the region). Each priced resource gives
line items (what, the kind priced, quantity, unit price, monthly USD); usage the graph
does not state (GB through a NAT, stored in a bucket, ingested as logs, sent to the
internet) comes from the table's assumptions, overridable per stack, and is listed as
such. Nothing is silently zero: a type the estimate neither prices nor finds in the
table's `free` list, a name the table lacks (an instance type, a region), or a value it
cannot read is listed as unpriced, with what to add; a value unknown until deployment
is listed as unknown.

Night scale-down: an EKS node group with `aws:autoscaling/schedule:Schedule` resources
named `<group>-night` and `<group>-morning` is priced at its night size for the hours
between the two recurrences, over a week (5-field cron: minute, hour and day of week;
day of month and month must be `*`).
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policies.core.pods import PVC, WORKLOAD_TYPES, claim_templates, is_custom
from policies.core.props import as_list, get, items
from policies.core.rule import Resource, Stack
from policies.cost.prices import Assumptions, Cloud, PriceTable, UnknownPrice, load

EKS_CLUSTER = "aws:eks/cluster:Cluster"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "gcp:container/nodePool:NodePool"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SCHEDULE = "aws:autoscaling/schedule:Schedule"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
SERVICE = "kubernetes:core/v1:Service"
HELM_RELEASES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_LIFECYCLES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
NIGHT, MORNING = "-night", "-morning"
WEEK_MINUTES = 7 * 24 * 60
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|K|M|G|T|P)?$")
_BYTES = {None: 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BYTES.update({"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50})
_CUSTOM_TIER = re.compile(r"^db-custom-(\d+)-(\d+)$")
_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")
# S3 and GCS storage classes -> the unit that prices a GB-month in them.
S3_CLASSES = {
    "STANDARD": "s3StandardGbMonth",
    "STANDARD_IA": "s3StandardIaGbMonth",
    "ONEZONE_IA": "s3OneZoneIaGbMonth",
    "GLACIER_IR": "s3GlacierInstantGbMonth",
    "GLACIER": "s3GlacierFlexibleGbMonth",
    "DEEP_ARCHIVE": "s3GlacierDeepArchiveGbMonth",
}
GCS_CLASSES = {
    "STANDARD": "gcsStandardGbMonth",
    "MULTI_REGIONAL": "gcsStandardGbMonth",
    "REGIONAL": "gcsStandardGbMonth",
    "NEARLINE": "gcsNearlineGbMonth",
    "COLDLINE": "gcsColdlineGbMonth",
    "ARCHIVE": "gcsArchiveGbMonth",
}
EBS_TYPES = {"gp3": "ebsGp3GbMonth", "gp2": "ebsGp2GbMonth"}
PD_TYPES = {"pd-balanced": "pdBalancedGbMonth", "pd-ssd": "pdSsdGbMonth", "pd-standard": "pdStandardGbMonth"}


class Unpriceable(ValueError):
    """A resource the estimate cannot price: the message says why and what to add."""


@dataclass(frozen=True)
class Item:
    """One line of the estimate."""

    what: str  # the resource (its name)
    kind: str  # what is priced: "m6i.large spot node-hours", "NAT gateway GB processed"
    quantity: float
    unit: str  # the unit of `quantity`: node-hours, hours, GB, GB-month, keys...
    unit_price: float  # USD per unit
    monthly: float
    # Groups items into the drivers a report lists: "node group apps", "NAT gateways".
    driver: str
    urn: str = ""
    # The quantity is a usage assumption (prices.yaml `assumptions`), not declared.
    assumed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "kind": self.kind,
            "quantity": round(self.quantity, 3),
            "unit": self.unit,
            "unitPriceUsd": self.unit_price,
            "monthlyUsd": round(self.monthly, 2),
            "driver": self.driver,
            "urn": self.urn,
            "assumed": self.assumed,
        }


@dataclass(frozen=True)
class Unpriced:
    """A resource left out of the total, and why (with what to add, where that helps)."""

    what: str
    type: str
    urn: str
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"what": self.what, "type": self.type, "urn": self.urn, "why": self.why}


@dataclass(frozen=True)
class Driver:
    name: str
    monthly: float
    share: float  # of the total, 0-1


@dataclass(frozen=True)
class Estimate:
    stack: str
    monthly_usd: float
    items: tuple[Item, ...]
    note: str  # where the prices come from, and their date
    assumptions: Mapping[str, float]  # the usage assumptions the items used (camelCase)
    unpriced: tuple[Unpriced, ...] = ()
    # Resources whose price depends on a value unknown until deployment.
    unknown: tuple[Unpriced, ...] = ()
    # What the estimate took as given (a schedule pair incomplete, a cluster outside a cloud).
    notes: tuple[str, ...] = ()

    def drivers(self, count: int | None = 5) -> list[Driver]:
        """The costliest groups of items, largest first."""
        totals: dict[str, float] = {}
        for item in self.items:
            totals[item.driver] = totals.get(item.driver, 0.0) + item.monthly
        ranked = sorted(totals.items(), key=lambda pair: (-pair[1], pair[0]))
        whole = self.monthly_usd or 1.0
        return [Driver(name, monthly, monthly / whole) for name, monthly in ranked[:count]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "monthlyUsd": round(self.monthly_usd, 2),
            "drivers": [
                {"driver": d.name, "monthlyUsd": round(d.monthly, 2), "share": round(d.share, 4)}
                for d in self.drivers(None)
            ],
            "items": [item.to_dict() for item in self.items],
            "note": self.note,
            "assumptions": dict(self.assumptions),
            "unpriced": [entry.to_dict() for entry in self.unpriced],
            "unknown": [entry.to_dict() for entry in self.unknown],
            "notes": list(self.notes),
        }


def assumptions_with(table: PriceTable, overrides: Mapping[str, float]) -> Assumptions:
    """The table's assumptions with a stack's overrides (camelCase names); a name the
    table does not have is an error naming the ones it has."""
    known = table.assumptions.model_dump(by_alias=True)
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(f"unknown assumption(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return Assumptions.model_validate({**known, **overrides})


def estimate(
    stack: Stack,
    table: PriceTable | None = None,
    region: str = "",
    assumptions: Mapping[str, float] | None = None,
    regions: Mapping[str, str] | None = None,
) -> Estimate:
    """The stack's monthly estimate. A resource whose provider names no region is priced
    in `regions[cloud]` (the stack's `aws:region` / `gcp:region`, which default providers
    read), else in `region`; `assumptions` overrides the table's usage assumptions
    (camelCase names)."""
    table = table or load()
    found = assumptions_with(table, assumptions or {})
    return _Estimator(stack, table, region, found, dict(regions or {})).run()


# --- helpers --------------------------------------------------------------------------


def number(value: Any, what: str) -> float:
    """A count or amount as the engine may hand it: a number or a numeric string."""
    if isinstance(value, bool):
        raise Unpriceable(f"{what} is {value!r}, expected a number")
    if isinstance(value, (int, float)):
        if value < 0:
            raise Unpriceable(f"{what} is {value}, expected zero or more")
        return float(value)
    if isinstance(value, str):
        try:
            return number(float(value.strip()), what)
        except ValueError:
            pass
    raise Unpriceable(f"{what} is {value!r}, expected a number")


def gib(size: Any, what: str) -> float:
    """A Kubernetes quantity ("50Gi", "1Ti", "500M") in GiB."""
    match = _SIZE.match(str(size).strip())
    if not match:
        raise Unpriceable(f"{what} is {size!r}, expected a storage size such as 50Gi")
    return float(match.group(1)) * _BYTES[match.group(2)] / 2**30


# --- night scale-down -------------------------------------------------------------------

_DAY_NAMES = {name: index for index, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}


class ScheduleError(ValueError):
    pass


def _cron_field(text: str, low: int, high: int, what: str, names: Mapping[str, int] | None = None) -> set[int]:
    def value(token: str) -> int:
        if names and token.upper() in names:
            return names[token.upper()]
        if not token.isdigit():
            raise ScheduleError(f"{what} '{token}' is not a number from {low} to {high}")
        found = int(token)
        if not low <= found <= high:
            raise ScheduleError(f"{what} {found} is outside {low}-{high}")
        return found

    found: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"{what} step '{step_text}' is not a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = value(first), value(last)
            if start > end:
                raise ScheduleError(f"{what} range '{base}' runs backwards")
        else:
            start = value(base)
            end = high if step_text else start
        found.update(range(start, end + 1, step))
    return found


def cron_minutes(recurrence: str) -> list[int]:
    """The minutes of a week (0 = Sunday 00:00) a weekly 5-field cron fires at."""
    fields = str(recurrence).split()
    if len(fields) != 5:
        raise ScheduleError(
            f"recurrence '{recurrence}' has {len(fields)} fields, expected 5 "
            "(minute hour day-of-month month day-of-week)"
        )
    minute, hour, day_of_month, month, day_of_week = fields
    if day_of_month != "*" or month != "*":
        raise ScheduleError(
            f"recurrence '{recurrence}': only weekly recurrences are priced (day of month and month '*')"
        )
    minutes = _cron_field(minute, 0, 59, "minute")
    hours = _cron_field(hour, 0, 23, "hour")
    days = {day % 7 for day in _cron_field(day_of_week, 0, 7, "day of week", _DAY_NAMES)}
    return sorted(day * 1440 + h * 60 + m for day in days for h in hours for m in minutes)


def _utc_offset_minutes(time_zone: str, reference: datetime.date) -> int:
    if not time_zone:
        return 0  # AWS takes recurrences in UTC without one
    try:
        zone = zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"time zone '{time_zone}' is not an IANA time zone such as Europe/Paris") from None
    offset = datetime.datetime.combine(reference, datetime.time(12), zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


def night_fraction(
    night: str,
    morning: str,
    night_zone: str = "",
    morning_zone: str = "",
    reference: datetime.date = datetime.date(2026, 1, 15),
) -> float:
    """The share of a week between each `night` firing and the next `morning` one. Two
    firings at the same minute: the later in the list wins (morning, so a pool is not
    taken for small when the two collide)."""
    events = [((m - _utc_offset_minutes(night_zone, reference)) % WEEK_MINUTES, 0) for m in cron_minutes(night)]
    events += [((m - _utc_offset_minutes(morning_zone, reference)) % WEEK_MINUTES, 1) for m in cron_minutes(morning)]
    events.sort()
    at_night = events[-1][1] == 0  # the week starts in the state the last firing left
    night_minutes, last = 0, 0
    for minute, kind in events:
        if at_night:
            night_minutes += minute - last
        last, at_night = minute, kind == 0
    if at_night:
        night_minutes += WEEK_MINUTES - last
    return night_minutes / WEEK_MINUTES


# --- the estimator ----------------------------------------------------------------------


@dataclass
class _Estimator:
    stack: Stack
    table: PriceTable
    default_region: str
    assumptions: Assumptions
    # Per cloud: the region default providers take from the stack's configuration.
    cloud_regions: dict[str, str] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    unknown: list[Unpriced] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    used: dict[str, float] = field(default_factory=dict)
    # Where the stack's Kubernetes objects run (its cluster's cloud and region).
    _cluster: tuple[Cloud, str] | None = None

    def run(self) -> Estimate:
        handlers = self._handlers()
        self._cluster = self._cluster_location()
        for resource in self.stack.resources:
            handler = handlers.get(resource.type)
            if handler is None and (resource.type in WORKLOAD_TYPES or _is_custom_kubernetes(resource.type)):
                handler = self._claims
            if handler is None:
                usage = self.table.usage_reason(resource.type)
                if usage is not None:
                    self.notes.append(f"{resource.type}: billed {usage}; not in the total (no usage is declared)")
                elif (free := self.table.free_reason(resource.type)) is not None:
                    provider = resource.type.split(":", 1)[0]
                    # A whole provider billed elsewhere (Cloudflare): said once; Pulumi's own objects go unsaid.
                    if provider != "pulumi" and self.table.free_reason(f"{provider}:*") == free:
                        self.notes.append(f"{provider} resources: {free}")
                else:
                    self.unpriced.append(
                        Unpriced(
                            resource.name,
                            resource.type,
                            resource.urn,
                            f"no price for type {resource.type}: price it in policies/cost/estimate.py, or add it "
                            "under `free:` in policies/cost/prices.yaml with why it costs nothing of its own",
                        )
                    )
                continue
            self._price(resource, handler)
        self._transfer()
        total = sum(item.monthly for item in self.items)
        return Estimate(
            self.stack.name,
            total,
            tuple(self.items),
            self.table.note,
            dict(self.used),
            tuple(self.unpriced),
            tuple(self.unknown),
            tuple(dict.fromkeys(self.notes)),
        )

    def _price(self, resource: Resource, handler: Callable[[Resource], None]) -> None:
        before = len(self.items)
        try:
            handler(resource)
        except UnknownValueError as error:
            del self.items[before:]
            self.unknown.append(Unpriced(resource.name, resource.type, resource.urn, error.message))
        except (Unpriceable, UnknownPrice, ScheduleError) as error:
            del self.items[before:]
            self.unpriced.append(Unpriced(resource.name, resource.type, resource.urn, str(error)))

    def _handlers(self) -> dict[str, Callable[[Resource], None]]:
        return {
            EKS_CLUSTER: self._eks_cluster,
            GKE_CLUSTER: self._gke_cluster,
            NODE_GROUP: self._node_group,
            NODE_POOL: self._node_pool,
            "aws:rds/clusterInstance:ClusterInstance": self._rds_cluster_instance,
            "aws:rds/instance:Instance": self._rds_instance,
            "aws:rds/cluster:Cluster": self._rds_cluster,
            "gcp:sql/databaseInstance:DatabaseInstance": self._cloud_sql,
            "aws:elasticache/replicationGroup:ReplicationGroup": self._cache_group,
            "aws:elasticache/cluster:Cluster": self._cache_cluster,
            "gcp:redis/instance:Instance": self._memorystore,
            "aws:ec2/natGateway:NatGateway": self._nat_gateway,
            "gcp:compute/routerNat:RouterNat": self._cloud_nat,
            "aws:ec2/eip:Eip": self._public_ip,
            "gcp:compute/address:Address": self._gcp_address,
            "aws:lb/loadBalancer:LoadBalancer": self._aws_load_balancer,
            "aws:alb/loadBalancer:LoadBalancer": self._aws_load_balancer,
            "aws:elb/loadBalancer:LoadBalancer": self._aws_load_balancer,
            "gcp:compute/forwardingRule:ForwardingRule": self._forwarding_rule,
            "gcp:compute/globalForwardingRule:GlobalForwardingRule": self._forwarding_rule,
            SERVICE: self._service,
            **dict.fromkeys(HELM_RELEASES, self._helm_release),
            PVC: self._pvc,
            "aws:ebs/volume:Volume": self._ebs_volume,
            "aws:ec2/instance:Instance": self._ec2_instance,
            "gcp:compute/instance:Instance": self._gce_instance,
            **dict.fromkeys(S3_BUCKETS, self._s3_bucket),
            "gcp:storage/bucket:Bucket": self._gcs_bucket,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:cloudwatch/metricAlarm:MetricAlarm": self._per_month("cloudwatchAlarmMonth", "alarms", "alarm"),
            "aws:kms/key:Key": self._per_month("kmsKeyMonth", "KMS keys", "key"),
            "gcp:kms/cryptoKey:CryptoKey": self._per_month("kmsKeyMonth", "KMS keys", "key version"),
            "aws:secretsmanager/secret:Secret": self._per_month("secretsManagerSecretMonth", "secrets", "secret"),
            "aws:ec2/vpnConnection:VpnConnection": self._hourly("vpnConnectionHour", "VPN", "VPN connection hours"),
            "gcp:compute/vPNTunnel:VPNTunnel": self._hourly("vpnTunnelHour", "VPN", "VPN tunnel hours"),
            "aws:ec2/vpcEndpoint:VpcEndpoint": self._vpc_endpoint,
            "aws:ecr/repository:Repository": self._registry,
            "gcp:artifactregistry/repository:Repository": self._registry,
        }

    # -- where a resource runs ----------------------------------------------------------

    def _cloud(self, resource: Resource) -> Cloud:
        prefix = resource.type.split(":", 1)[0]
        if prefix not in ("aws", "gcp"):
            raise Unpriceable(f"{resource.type} is not an AWS or GCP type")
        return prefix  # type: ignore[return-value]

    def _region(self, resource: Resource) -> str:
        found = get(resource.provider_props, "region") or get(resource.props, "region")
        if not found:
            location = get(resource.props, "location") or get(resource.props, "zone")
            if isinstance(location, str):
                zone = _ZONE.match(location)
                found = zone.group(1) if zone else location
        found = found or self.cloud_regions.get(resource.type.split(":", 1)[0]) or self.default_region
        if not found:
            raise Unpriceable(
                "no region: its provider names none; set the estimate's `region` in the stack's cost settings"
            )
        return str(found)

    def _cluster_location(self) -> tuple[Cloud, str] | None:
        """Where the stack's Kubernetes objects run: its cluster's cloud and region."""
        for resource in self.stack.of_type(EKS_CLUSTER, GKE_CLUSTER):
            try:
                return self._cloud(resource), self._region(resource)
            except (Unpriceable, UnknownValueError):
                continue
        return None

    def _kubernetes_cloud(self, resource: Resource, what: str) -> Cloud | None:
        if self._cluster is None:
            self.notes.append(
                f"{what} on a cluster the stack does not declare in AWS or GCP: not priced (no cloud bill here)"
            )
            return None
        return self._cluster[0]

    # -- adding items -------------------------------------------------------------------

    def _unit(self, cloud: Cloud, name: str) -> float:
        return self.table.unit(cloud, name)

    def _assume(self, name: str) -> float:
        value = getattr(self.assumptions, name)
        alias = Assumptions.model_fields[name].alias or name
        self.used[alias] = value
        return value

    def _add(
        self,
        resource: Resource,
        kind: str,
        quantity: float,
        unit: str,
        price: float,
        driver: str,
        assumed: bool = False,
    ) -> None:
        self.items.append(
            Item(resource.name, kind, quantity, unit, price, quantity * price, driver, resource.urn, assumed)
        )

    def _hours(self) -> float:
        return self.table.hours_per_month

    def _per_month(self, unit: str, driver: str, what: str) -> Callable[[Resource], None]:
        def price(resource: Resource) -> None:
            cloud = self._cloud(resource)
            self._add(resource, what, 1, f"{what}-months", self._unit(cloud, unit), driver)

        return price

    def _hourly(self, unit: str, driver: str, kind: str) -> Callable[[Resource], None]:
        def price(resource: Resource) -> None:
            cloud = self._cloud(resource)
            self._add(resource, kind, self._hours(), "hours", self._unit(cloud, unit), driver)

        return price

    # -- Kubernetes control planes and nodes ----------------------------------------------

    def _eks_cluster(self, resource: Resource) -> None:
        price = self._unit("aws", "eksClusterHour")
        self._add(resource, "EKS control plane hours", self._hours(), "hours", price, "control plane")

    def _gke_cluster(self, resource: Resource) -> None:
        price = self._unit("gcp", "gkeClusterHour")
        self._add(resource, "GKE cluster management hours", self._hours(), "hours", price, "control plane")
        self.notes.append("GKE's monthly free-tier credit (one zonal or Autopilot cluster per account) is not deducted")

    def _node_group(self, group: Resource) -> None:
        region = self._region(group)
        types = as_list(get(group.props, "instanceTypes")) or ["t3.medium"]  # EKS's default
        instance = self.table.instance("aws", region, str(types[0]))
        scaling = get(group.props, "scalingConfig", {})
        desired = get(scaling, "desiredSize")
        count = number(desired if desired is not None else get(scaling, "minSize", 1), "scalingConfig.desiredSize")
        spot = get(group.props, "capacityType") == "SPOT"
        hourly = instance.hourly * (1 - self.table.spot("aws")) if spot else instance.hourly
        node_hours = self._scheduled_node_hours(group, count)
        label = f"node group {get(group.props, 'nodeGroupName') or group.name}"
        kind = f"{instance.name} {'spot' if spot else 'on-demand'} node-hours"
        if len(types) > 1:
            kind += f" (priced as the first of {', '.join(str(t) for t in types)})"
        self._add(group, kind, node_hours, "node-hours", hourly, label)
        size, volume = self._boot_volume(group)
        unit = EBS_TYPES.get(volume)
        if unit is None:
            raise Unpriceable(f"boot volume type {volume} has no price (priced: {', '.join(EBS_TYPES)})")
        average_nodes = node_hours / self._hours()
        self._add(group, f"{volume} boot volumes", size * average_nodes, "GB-month", self._unit("aws", unit), label)

    def _boot_volume(self, group: Resource) -> tuple[float, str]:
        """(GiB, type) of each node's root volume: its launch template's, else diskSize."""
        for template in self.stack.of_type(LAUNCH_TEMPLATE):
            if template.urn not in group.dependencies:
                continue
            for mapping in items(template.props, "blockDeviceMappings"):
                size = get(mapping, "ebs.volumeSize")
                if size is not None:
                    volume = str(get(mapping, "ebs.volumeType", "gp3"))
                    return number(size, "the launch template's ebs.volumeSize"), volume
        return number(get(group.props, "diskSize", 20), "diskSize"), "gp3"

    def _scheduled_node_hours(self, group: Resource, day_count: float) -> float:
        """Node-hours a month: the night size between the `-night` and `-morning`
        schedules, the group's size the rest of the week."""
        hours = self._hours()
        found = {
            suffix: next((s for s in self.stack.of_type(SCHEDULE) if s.name == group.name + suffix), None)
            for suffix in (NIGHT, MORNING)
        }
        night, morning = found[NIGHT], found[MORNING]
        if night is None and morning is None:
            return day_count * hours
        if night is None or morning is None:
            missing = NIGHT if night is None else MORNING
            self.notes.append(
                f"{group.name}: a scale-down schedule without its '{group.name}{missing}' pair; priced at full size"
            )
            return day_count * hours
        night_size = _scheduled_size(night)
        day_size = _scheduled_size(morning, day_count)
        fraction = night_fraction(
            str(get(night.props, "recurrence", "")),
            str(get(morning.props, "recurrence", "")),
            str(get(night.props, "timeZone", "")),
            str(get(morning.props, "timeZone", "")),
        )
        return hours * ((1 - fraction) * day_size + fraction * night_size)

    def _gke_zones(self, pool: Resource) -> int:
        locations = as_list(get(pool.props, "nodeLocations"))
        if locations:
            return len(locations)
        location = str(get(pool.props, "location", ""))
        # A regional pool runs in the region's zones (three), a zonal one in its zone.
        return 1 if _ZONE.match(location) else 3

    def pool_nodes(self, pool: Resource) -> float:
        """A GKE pool's nodes: its fixed count, else its autoscaler's minimum."""
        zones = self._gke_zones(pool)
        fixed = get(pool.props, "nodeCount")
        if fixed is not None:
            return number(fixed, "nodeCount") * zones
        total = get(pool.props, "autoscaling.totalMinNodeCount")
        if total is not None:
            return number(total, "autoscaling.totalMinNodeCount")
        per_zone = get(pool.props, "autoscaling.minNodeCount")
        if per_zone is not None:
            return number(per_zone, "autoscaling.minNodeCount") * zones
        return number(get(pool.props, "initialNodeCount", 1), "initialNodeCount") * zones

    def _node_pool(self, pool: Resource) -> None:
        region = self._region(pool)
        machine = self.table.instance("gcp", region, str(get(pool.props, "nodeConfig.machineType", "e2-medium")))
        nodes = self.pool_nodes(pool)
        spot = any(get(pool.props, f"nodeConfig.{key}") is True for key in ("spot", "preemptible"))
        hourly = machine.hourly * (1 - self.table.spot("gcp")) if spot else machine.hourly
        label = f"node pool {get(pool.props, 'name') or pool.name}"
        kind = f"{machine.name} {'spot' if spot else 'on-demand'} node-hours"
        self._add(pool, kind, nodes * self._hours(), "node-hours", hourly, label)
        disk = str(get(pool.props, "nodeConfig.diskType", "pd-balanced"))
        if disk not in PD_TYPES:
            raise Unpriceable(f"boot disk type {disk} has no price (priced: {', '.join(PD_TYPES)})")
        size = number(get(pool.props, "nodeConfig.diskSizeGb", 100), "nodeConfig.diskSizeGb")
        self._add(pool, f"{disk} boot disks", size * nodes, "GB-month", self._unit("gcp", PD_TYPES[disk]), label)

    def _ec2_instance(self, resource: Resource) -> None:
        instance = self.table.instance("aws", self._region(resource), str(get(resource.props, "instanceType")))
        spot = bool(get(resource.props, "instanceMarketOptions.marketType") == "spot")
        hourly = instance.hourly * (1 - self.table.spot("aws")) if spot else instance.hourly
        kind = f"{instance.name} {'spot' if spot else 'on-demand'} instance-hours"
        self._add(resource, kind, self._hours(), "instance-hours", hourly, "instances")
        volume = str(get(resource.props, "rootBlockDevice.volumeType", "gp3"))
        if volume not in EBS_TYPES:
            raise Unpriceable(f"root volume type {volume} has no price (priced: {', '.join(EBS_TYPES)})")
        size = number(get(resource.props, "rootBlockDevice.volumeSize", 8), "rootBlockDevice.volumeSize")
        self._add(
            resource, f"{volume} root volume", size, "GB-month", self._unit("aws", EBS_TYPES[volume]), "instances"
        )

    def _gce_instance(self, resource: Resource) -> None:
        machine = self.table.instance("gcp", self._region(resource), str(get(resource.props, "machineType")))
        spot = (
            get(resource.props, "scheduling.provisioningModel") == "SPOT"
            or get(resource.props, "scheduling.preemptible") is True
        )
        hourly = machine.hourly * (1 - self.table.spot("gcp")) if spot else machine.hourly
        kind = f"{machine.name} {'spot' if spot else 'on-demand'} instance-hours"
        self._add(resource, kind, self._hours(), "instance-hours", hourly, "instances")
        disk = str(get(resource.props, "bootDisk.initializeParams.type", "pd-standard"))
        if disk not in PD_TYPES:
            raise Unpriceable(f"boot disk type {disk} has no price (priced: {', '.join(PD_TYPES)})")
        size = number(get(resource.props, "bootDisk.initializeParams.size", 10), "bootDisk.initializeParams.size")
        self._add(resource, f"{disk} boot disk", size, "GB-month", self._unit("gcp", PD_TYPES[disk]), "instances")

    # -- databases and caches -------------------------------------------------------------

    def _rds_cluster_instance(self, resource: Resource) -> None:
        name = str(get(resource.props, "instanceClass"))
        hourly = self.table.database("aws", self._region(resource), name)
        self._add(resource, f"{name} instance-hours", self._hours(), "instance-hours", hourly, "databases")

    def _rds_instance(self, resource: Resource) -> None:
        name = str(get(resource.props, "instanceClass"))
        hourly = self.table.database("aws", self._region(resource), name)
        copies = 2 if get(resource.props, "multiAz") is True else 1
        kind = f"{name} instance-hours" + (" (Multi-AZ: two)" if copies == 2 else "")
        self._add(resource, kind, self._hours() * copies, "instance-hours", hourly, "databases")
        storage = str(get(resource.props, "storageType", "gp2"))
        unit = {"gp3": "rdsGp3GbMonth", "gp2": "rdsGp2GbMonth"}.get(storage)
        if unit is None:
            raise Unpriceable(f"RDS storage type {storage} has no price (priced: gp2, gp3)")
        size = number(get(resource.props, "allocatedStorage", 20), "allocatedStorage") * copies
        self._add(resource, f"{storage} database storage", size, "GB-month", self._unit("aws", unit), "databases")

    def _rds_cluster(self, resource: Resource) -> None:
        engine = str(get(resource.props, "engine", "aurora"))
        if not engine.startswith("aurora"):
            raise Unpriceable(f"a Multi-AZ DB cluster of engine {engine} is not priced (Aurora clusters are)")
        size = self._assume("database_storage_gb")
        price = self._unit("aws", "auroraStorageGbMonth")
        self._add(resource, "Aurora storage", size, "GB-month", price, "databases", assumed=True)

    def _cloud_sql(self, resource: Resource) -> None:
        tier = str(get(resource.props, "settings.tier", ""))
        match = _CUSTOM_TIER.match(tier)
        if not match:
            raise Unpriceable(f"Cloud SQL tier '{tier}' is not priced (db-custom-<vCPUs>-<MiB> tiers are)")
        vcpus, memory_gb = float(match.group(1)), float(match.group(2)) / 1024
        copies = 2 if get(resource.props, "settings.availabilityType") == "REGIONAL" else 1
        ha = " (REGIONAL: primary and standby)" if copies == 2 else ""
        hours = self._hours() * copies
        price = self._unit("gcp", "cloudSqlVcpuHour")
        self._add(resource, f"{tier} vCPU-hours{ha}", vcpus * hours, "vCPU-hours", price, "databases")
        self._add(
            resource,
            f"{tier} memory GB-hours{ha}",
            memory_gb * hours,
            "GB-hours",
            self._unit("gcp", "cloudSqlMemoryGbHour"),
            "databases",
        )
        disk = str(get(resource.props, "settings.diskType", "PD_SSD"))
        unit = {"PD_SSD": "cloudSqlSsdGbMonth", "PD_HDD": "cloudSqlHddGbMonth"}.get(disk)
        if unit is None:
            raise Unpriceable(f"Cloud SQL disk type {disk} has no price (priced: PD_SSD, PD_HDD)")
        size = number(get(resource.props, "settings.diskSize", 10), "settings.diskSize")
        self._add(resource, f"{disk} storage{ha}", size * copies, "GB-month", self._unit("gcp", unit), "databases")

    def _cache_group(self, resource: Resource) -> None:
        node_type = str(get(resource.props, "nodeType"))
        hourly = self.table.cache("aws", self._region(resource), node_type)
        clusters = get(resource.props, "numCacheClusters")
        if clusters is not None:
            nodes = number(clusters, "numCacheClusters")
        else:
            shards = number(get(resource.props, "numNodeGroups", 1), "numNodeGroups")
            nodes = shards * (number(get(resource.props, "replicasPerNodeGroup", 0), "replicasPerNodeGroup") + 1)
        self._cache_nodes(resource, node_type, nodes, hourly)

    def _cache_cluster(self, resource: Resource) -> None:
        node_type = str(get(resource.props, "nodeType"))
        hourly = self.table.cache("aws", self._region(resource), node_type)
        self._cache_nodes(resource, node_type, number(get(resource.props, "numCacheNodes", 1), "numCacheNodes"), hourly)

    def _cache_nodes(self, resource: Resource, node_type: str, nodes: float, hourly: float) -> None:
        engine = str(get(resource.props, "engine", "redis"))
        kind = f"{node_type} node-hours"
        if engine == "valkey":
            kind += " (at the Redis OSS rate; Valkey lists lower)"
        self._add(resource, kind, nodes * self._hours(), "node-hours", hourly, "caches")

    def _memorystore(self, resource: Resource) -> None:
        tier = str(get(resource.props, "tier", "BASIC"))
        unit = {"BASIC": "memorystoreBasicGbHour", "STANDARD_HA": "memorystoreStandardGbHour"}.get(tier)
        if unit is None:
            raise Unpriceable(f"Memorystore tier {tier} has no price (priced: BASIC, STANDARD_HA)")
        size = number(get(resource.props, "memorySizeGb"), "memorySizeGb")
        self._add(resource, f"{tier} GB-hours", size * self._hours(), "GB-hours", self._unit("gcp", unit), "caches")

    # -- network ----------------------------------------------------------------------------

    def _nat_gateway(self, resource: Resource) -> None:
        self._add(resource, "NAT gateway hours", self._hours(), "hours", self._unit("aws", "natGatewayHour"), "NAT")
        share = self._assume("nat_gb_per_month") / len(self.stack.of_type(resource.type))
        price = self._unit("aws", "natGatewayGb")
        self._add(resource, "NAT gateway GB processed (its share)", share, "GB", price, "NAT", assumed=True)

    def _cloud_nat(self, resource: Resource) -> None:
        # Billed per VM using the gateway, up to 32: the stack's nodes.
        vms = min(sum(self.pool_nodes(pool) for pool in self.stack.of_type(NODE_POOL)), 32) or 1
        price = self._unit("gcp", "cloudNatVmHour")
        self._add(resource, "Cloud NAT VM-hours (the stack's nodes)", vms * self._hours(), "VM-hours", price, "NAT")
        share = self._assume("nat_gb_per_month") / len(self.stack.of_type(resource.type))
        price = self._unit("gcp", "cloudNatGb")
        self._add(resource, "Cloud NAT GB processed (its share)", share, "GB", price, "NAT", assumed=True)
        addresses = len(as_list(get(resource.props, "natIps"))) or 1
        price = self._unit("gcp", "externalIpv4Hour")
        self._add(resource, "NAT external IPv4 hours", addresses * self._hours(), "hours", price, "public IPv4")

    def _public_ip(self, resource: Resource) -> None:
        price = self._unit("aws", "publicIpv4Hour")
        self._add(resource, "public IPv4 hours", self._hours(), "hours", price, "public IPv4")

    def _gcp_address(self, resource: Resource) -> None:
        if get(resource.props, "addressType", "EXTERNAL") != "EXTERNAL":
            return  # internal addresses have no charge
        price = self._unit("gcp", "externalIpv4Hour")
        self._add(resource, "external IPv4 hours", self._hours(), "hours", price, "public IPv4")

    def _load_balancer(self, resource: Resource, cloud: Cloud, kind: str) -> None:
        if cloud == "gcp":
            price = self._unit("gcp", "forwardingRuleHour")
            self._add(resource, f"{kind}: forwarding rule hours", self._hours(), "hours", price, "load balancers")
            return
        price = self._unit("aws", "loadBalancerHour")
        self._add(resource, f"{kind}: load balancer hours", self._hours(), "hours", price, "load balancers")
        price = self._unit("aws", "loadBalancerCapacityUnitHour")
        self._add(
            resource, f"{kind}: one capacity unit", self._hours(), "LCU-hours", price, "load balancers", assumed=True
        )

    def _aws_load_balancer(self, resource: Resource) -> None:
        self._load_balancer(resource, "aws", str(get(resource.props, "loadBalancerType", "application")))

    def _forwarding_rule(self, resource: Resource) -> None:
        self._load_balancer(resource, "gcp", "forwarding rule")

    def _service(self, resource: Resource) -> None:
        if get(resource.props, "spec.type") != "LoadBalancer":
            return
        cloud = self._kubernetes_cloud(resource, "a LoadBalancer Service")
        if cloud is not None:
            self._load_balancer(resource, cloud, "LoadBalancer Service")

    def _helm_release(self, resource: Resource) -> None:
        """What a chart's values ask the cloud for: LoadBalancer Services and claims."""
        values = get(resource.props, "values", {})
        services, claims = _chart_asks(values)
        for path in services:
            cloud = self._kubernetes_cloud(resource, f"a chart's LoadBalancer Service ({path})")
            if cloud is not None:
                self._load_balancer(resource, cloud, f"chart Service {path}")
        for path, size, copies in claims:
            self._volume(resource, f"chart claim {path}", size * copies, None)

    def _vpc_endpoint(self, resource: Resource) -> None:
        kind = str(get(resource.props, "vpcEndpointType", "Gateway"))
        if kind == "Gateway":
            return  # gateway endpoints (S3, DynamoDB) have no charge
        if kind != "Interface":
            raise Unpriceable(f"VPC endpoint type {kind} has no price (Interface endpoints are priced)")
        zones = len(as_list(get(resource.props, "subnetIds"))) or 1
        service = str(get(resource.props, "serviceName", "")).rsplit(".", 1)[-1] or resource.name
        price = self._unit("aws", "vpcInterfaceEndpointAzHour")
        hours = zones * self._hours()
        self._add(resource, f"{service} endpoint zone-hours", hours, "zone-hours", price, "VPC endpoints")

    def _transfer(self) -> None:
        """Data transfer the stack's workloads cause: stated as assumptions."""
        if self._cluster is None:
            return
        cloud = self._cluster[0]
        holder = Resource("data-transfer", "data transfer", "", {})
        price = self._unit(cloud, "internetEgressGb")
        gb = self._assume("internet_egress_gb_per_month")
        self._add(holder, "internet egress GB", gb, "GB", price, "data transfer", assumed=True)
        price = self._unit(cloud, "interZoneGb")
        gb = self._assume("inter_zone_gb_per_month")
        self._add(holder, "inter-zone GB", gb, "GB", price, "data transfer", assumed=True)

    # -- storage ----------------------------------------------------------------------------

    def _volume(self, resource: Resource, kind: str, size_gib: float, storage_class: str | None) -> None:
        cloud = self._kubernetes_cloud(resource, kind)
        if cloud is None:
            return
        volume = self._class_type(storage_class, cloud)
        units = EBS_TYPES if cloud == "aws" else PD_TYPES
        if volume not in units:
            raise Unpriceable(f"{kind}: volume type {volume} has no price (priced: {', '.join(units)})")
        self._add(resource, f"{kind} ({volume})", size_gib, "GB-month", self._unit(cloud, units[volume]), "volumes")

    def _class_type(self, name: str | None, cloud: Cloud) -> str:
        """The disk a storage class provisions; the cloud's default class (gp3,
        pd-balanced) when unnamed or not declared here."""
        for storage_class in self.stack.of_type(STORAGE_CLASS):
            if name and get(storage_class.props, "metadata.name") == name:
                found = get(storage_class.props, "parameters.type")
                if found:
                    return str(found)
        return "gp3" if cloud == "aws" else "pd-balanced"

    def _pvc(self, resource: Resource) -> None:
        size = gib(get(resource.props, "spec.resources.requests.storage", ""), "spec.resources.requests.storage")
        self._volume(resource, "claim", size, get(resource.props, "spec.storageClassName"))

    def _claims(self, resource: Resource) -> None:
        copies = number(get(resource.props, "spec.replicas", 1), "spec.replicas")
        for claim in claim_templates(resource):
            size = gib(get(claim.spec, "resources.requests.storage", ""), f"{claim.path}: storage")
            self._volume(resource, f"claim template {claim.path}", size * copies, get(claim.spec, "storageClassName"))

    def _ebs_volume(self, resource: Resource) -> None:
        volume = str(get(resource.props, "type", "gp2"))
        if volume not in EBS_TYPES:
            raise Unpriceable(f"EBS volume type {volume} has no price (priced: {', '.join(EBS_TYPES)})")
        size = number(get(resource.props, "size"), "size")
        self._add(resource, f"{volume} volume", size, "GB-month", self._unit("aws", EBS_TYPES[volume]), "volumes")

    def _tiers(
        self, resource: Resource, cloud: Cloud, first: str, steps: list[tuple[float, str]], end: float | None
    ) -> None:
        """A bucket's stored GB-months by storage class: objects written at the assumed
        rate, moved along `steps` (days, class) and deleted at `end` days (else kept for
        the horizon)."""
        rate = self._assume("bucket_gb_per_month")
        horizon = self._assume("retention_horizon_months") * 30
        life = end if end is not None else horizon
        classes = S3_CLASSES if cloud == "aws" else GCS_CLASSES
        bounds = [(0.0, first), *sorted(steps)]
        for index, (start, storage) in enumerate(bounds):
            stop = min(bounds[index + 1][0], life) if index + 1 < len(bounds) else life
            if stop <= start:
                continue
            if storage not in classes:
                raise Unpriceable(f"storage class {storage} has no price (priced: {', '.join(classes)})")
            gb_months = rate * (stop - start) / 30
            kind = f"{storage} GB-month (objects aged {start:g}-{stop:g} days)"
            price = self._unit(cloud, classes[storage])
            self._add(resource, kind, gb_months, "GB-month", price, "buckets", assumed=True)

    def _s3_bucket(self, bucket: Resource) -> None:
        rules = [
            rule
            for config in self.stack.attached(bucket, *S3_LIFECYCLES)
            for rule in items(config.props, "rules")
            if get(rule, "status", "Enabled") == "Enabled"
        ] + items(bucket.props, "lifecycleRules")
        steps: list[tuple[float, str]] = []
        end: float | None = None
        for rule in rules:
            if get(rule, "enabled") is False:
                continue
            if get(rule, "filter.prefix") or get(rule, "filter.tag") or get(rule, "filter.and") or get(rule, "prefix"):
                self.notes.append(f"{bucket.name}: lifecycle rules for part of a bucket are not modelled")
                continue
            for transition in items(rule, "transitions") + items(rule, "transition"):
                days = number(get(transition, "days", 0), "transition days")
                steps.append((days, str(get(transition, "storageClass"))))
            for expiration in items(rule, "expiration"):
                days = get(expiration, "days")
                if days is not None:
                    found = number(days, "expiration days")
                    end = found if end is None else min(end, found)
        self._tiers(bucket, "aws", "STANDARD", steps, end)

    def _gcs_bucket(self, bucket: Resource) -> None:
        steps: list[tuple[float, str]] = []
        end: float | None = None
        for rule in items(bucket.props, "lifecycleRules"):
            action, age = str(get(rule, "action.type", "")), get(rule, "condition.age")
            if age is None:
                continue
            days = number(age, "lifecycle condition age")
            if action == "SetStorageClass":
                steps.append((days, str(get(rule, "action.storageClass"))))
            elif action == "Delete":
                end = days if end is None else min(end, days)
        self._tiers(bucket, "gcp", str(get(bucket.props, "storageClass", "STANDARD")), steps, end)

    def _log_group(self, resource: Resource) -> None:
        groups = len(self.stack.of_type(resource.type))
        ingest = self._assume("log_ingest_gb_per_month") / groups
        price = self._unit("aws", "cloudwatchLogsIngestGb")
        self._add(resource, "log ingest GB (its share)", ingest, "GB", price, "logs", assumed=True)
        days = get(resource.props, "retentionInDays")
        months = number(days, "retentionInDays") / 30 if days else self._assume("retention_horizon_months")
        price = self._unit("aws", "cloudwatchLogsStoredGbMonth")
        kind = f"log storage ({days} days kept)" if days else "log storage (kept forever: the horizon's worth)"
        self._add(resource, kind, ingest * months, "GB-month", price, "logs", assumed=True)

    def _registry(self, resource: Resource) -> None:
        cloud = self._cloud(resource)
        repositories = len(self.stack.of_type(resource.type))
        size = self._assume("registry_gb") / repositories
        unit = "ecrStorageGbMonth" if cloud == "aws" else "artifactRegistryGbMonth"
        price = self._unit(cloud, unit)
        self._add(resource, "image storage (its share)", size, "GB-month", price, "registries", assumed=True)


def _is_custom_kubernetes(resource_type: str) -> bool:
    return resource_type.startswith("kubernetes:") and resource_type not in HELM_RELEASES and is_custom(resource_type)


def _scheduled_size(schedule: Resource, default: float | None = None) -> float:
    desired = get(schedule.props, "desiredCapacity")
    if desired is not None and number(desired, f"{schedule.name}: desiredCapacity") >= 0:
        return number(desired, f"{schedule.name}: desiredCapacity")
    if default is not None:
        return default
    low = get(schedule.props, "minSize")
    if low is None:
        raise Unpriceable(f"{schedule.name}: neither desiredCapacity nor minSize says the night size")
    return number(low, f"{schedule.name}: minSize")


def _chart_asks(values: Any) -> tuple[list[str], list[tuple[str, float, float]]]:
    """(LoadBalancer Services, claims) a chart's values ask for: each `service` mapping of
    type LoadBalancer, each `volumeClaimTemplate` (times the nearest `replicas` above
    it) and each enabled `persistence` with a size."""
    services: list[str] = []
    claims: list[tuple[str, float, float]] = []

    def walk(value: Any, path: str, replicas: float) -> None:
        if isinstance(value, Mapping):
            here = get(value, "replicas")
            if isinstance(here, (int, float)) and not isinstance(here, bool):
                replicas = float(here)
            for key in list(value):
                child = value[key]
                where = f"{path}.{key}" if path else str(key)
                if key == "service" and isinstance(child, Mapping) and get(child, "type") == "LoadBalancer":
                    services.append(where)
                elif key == "volumeClaimTemplate" and isinstance(child, Mapping):
                    size = get(child, "spec.resources.requests.storage")
                    if size is not None:
                        claims.append((where, gib(size, where), replicas))
                elif key == "persistence" and isinstance(child, Mapping) and get(child, "enabled") is True:
                    size = get(child, "size")
                    if size is not None:
                        claims.append((where, gib(size, where), 1.0))
                else:
                    walk(child, where, replicas)
        elif isinstance(value, (list, tuple)):
            for index, child in enumerate(value):
                walk(child, f"{path}[{index}]", replicas)

    walk(values, "", 1.0)
    return services, claims


def iter_items(found: Estimate) -> Iterable[Item]:
    """The items, costliest first."""
    return sorted(found.items, key=lambda item: (-item.monthly, item.driver, item.what))
