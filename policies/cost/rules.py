"""Every rule of the cost pack: sizes and capacity types per environment, cost
allocation, storage classes, retention, NAT gateways, budgets and an estimate."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import field_validator

from policies.core.evaluate import waivers_current_rule
from policies.core.pods import PVC, WORKLOAD_TYPES, PodTemplate, claim_templates, kubernetes_rule, pod_rule
from policies.core.props import as_list, get, items, json_document
from policies.core.rule import Params, Resource, Stack, rule
from policies.cost import PACK, prices, taggable
from policies.cost.estimate import Estimate, assumptions_with, estimate

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "gcp:container/nodePool:NodePool"
EBS_VOLUME = "aws:ebs/volume:Volume"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
GCS_BUCKET = "gcp:storage/bucket:Bucket"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
RDS_INSTANCES = ("aws:rds/instance:Instance", "aws:rds/clusterInstance:ClusterInstance")
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
BUDGETS = ("aws:budgets/budget:Budget", "gcp:billing/budget:Budget")
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
COST_LABELS = ("team", "cost-center", "environment", "service")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_BYTES = {None: 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


class SizeParams(Params):
    """Per environment: set in policies/config/cost/<environment>.json."""

    allowed_instance_types: tuple[str, ...] = ("t3.medium", "t3.large", "m6i.large", "m6i.xlarge", "m7i.large")
    allowed_machine_types: tuple[str, ...] = ("e2-standard-2", "e2-standard-4", "n2-standard-2", "n2-standard-4")


def _disallowed(values: Iterable[Any], allowed: tuple[str, ...]) -> list[str]:
    return [str(value) for value in values if value and str(value) not in allowed]


@rule(
    PACK,
    name="cost-aws-instance-types",
    description="EC2 and EKS capacity uses the instance types allowed for the environment.",
    severity="medium",
    remediation="Pick an allowed type, or widen allowedInstanceTypes in the environment's cost settings after review.",
    types=(LAUNCH_TEMPLATE, INSTANCE, NODE_GROUP),
    params=SizeParams,
)
def aws_instance_types(resource: Resource, params: SizeParams) -> Iterable[str]:
    values = as_list(get(resource.props, "instanceTypes")) or [get(resource.props, "instanceType")]
    for value in _disallowed(values, params.allowed_instance_types):
        yield f"instance type {value} is not allowed here ({', '.join(params.allowed_instance_types)})"


@rule(
    PACK,
    name="cost-gcp-machine-types",
    description="GKE node pools use the machine types allowed for the environment.",
    severity="medium",
    remediation="Pick an allowed machine type, or widen allowedMachineTypes after review.",
    types=(NODE_POOL,),
    params=SizeParams,
)
def gcp_machine_types(resource: Resource, params: SizeParams) -> Iterable[str]:
    for value in _disallowed([get(resource.props, "nodeConfig.machineType")], params.allowed_machine_types):
        yield f"machine type {value} is not allowed here ({', '.join(params.allowed_machine_types)})"


class NodeCountParams(Params):
    max_nodes: int = 10


@rule(
    PACK,
    name="cost-aws-node-group-max-size",
    description="EKS node groups stay within the environment's maximum size.",
    severity="medium",
    remediation="Lower scalingConfig.maxSize, or raise maxNodes for the stack after review.",
    types=(NODE_GROUP,),
    params=NodeCountParams,
)
def node_group_max(resource: Resource, params: NodeCountParams) -> Iterable[str]:
    size = get(resource.props, "scalingConfig.maxSize")
    if size is None or int(size) > params.max_nodes:
        yield f"scalingConfig.maxSize is {size}, cap {params.max_nodes}"


@rule(
    PACK,
    name="cost-gcp-node-pool-max-size",
    description="GKE node pools autoscale within the environment's maximum.",
    severity="medium",
    remediation="Set autoscaling.maxNodeCount (or totalMaxNodeCount) at or below maxNodes.",
    types=(NODE_POOL,),
    params=NodeCountParams,
)
def node_pool_max(resource: Resource, params: NodeCountParams) -> Iterable[str]:
    autoscaling = get(resource.props, "autoscaling", {})
    # maxNodeCount is per zone: a regional pool grows to it in every zone.
    zones = max(1, len(as_list(get(resource.props, "nodeLocations"))))
    per_zone = get(autoscaling, "maxNodeCount") or get(resource.props, "nodeCount")
    size = get(autoscaling, "totalMaxNodeCount") or (int(per_zone) * zones if per_zone else None)
    if size is None:
        yield f"the pool has no maximum size, cap {params.max_nodes}"
    elif int(size) > params.max_nodes:
        yield f"the pool may grow to {size} nodes, cap {params.max_nodes}"


class SpotParams(Params):
    # Where interruptible capacity is required (set true in dev's config).
    require_spot: bool = False


@rule(
    PACK,
    name="cost-spot-capacity",
    description="Where the environment asks for it, worker capacity is spot or preemptible.",
    severity="low",
    remediation="Use capacityType: SPOT (EKS) or nodeConfig.spot: true (GKE) for non-system pools.",
    types=(NODE_GROUP, NODE_POOL),
    params=SpotParams,
)
def spot_capacity(resource: Resource, params: SpotParams) -> Iterable[str]:
    if not params.require_spot:
        return
    labels = get(resource.props, "labels", {}) or get(resource.props, "nodeConfig.labels", {})
    if get(labels, "node-role") == "system":
        return  # the system pool stays on-demand
    spot = get(resource.props, "capacityType") == "SPOT" or any(
        get(resource.props, f"nodeConfig.{key}") is True for key in ("spot", "preemptible")
    )
    if not spot:
        yield "on-demand capacity where spot is required"


class TagParams(Params):
    required: tuple[str, ...] = COST_LABELS
    # The values a remediation fills in (from the stack's config).
    defaults: Mapping[str, str] = {}


# Read once: the rule's types and each resource's tag property come from it.
TAGGABLE = taggable.load()


def _as_dict(tags: Any) -> dict[str, Any]:
    """Tags as a mapping: some types take a list of {key, value} (autoscaling groups)."""
    if isinstance(tags, Mapping):
        return dict(tags)
    return {str(get(item, "key")): get(item, "value") for item in as_list(tags) if isinstance(item, Mapping)}


def _effective_tags(resource: Resource) -> dict[str, Any]:
    key = TAGGABLE[resource.type]
    provider = resource.provider_props
    # Providers hold their default tags as JSON text (the SDK serializes them).
    default_tags = json_document(get(provider, "defaultTags")) or {}
    defaults = get(default_tags, "tags") or json_document(get(provider, "defaultLabels")) or {}
    return {**_as_dict(defaults), **_as_dict(get(resource.props, key, {}))}


def _missing_tags(resource: Resource, params: TagParams) -> list[str]:
    tags = _effective_tags(resource)
    return [key for key in params.required if not tags.get(key)]


def _add_tags(resource: Resource, params: TagParams) -> Mapping[str, Any] | None:
    """Safe fix: fill the missing tags from the configured defaults."""
    missing = _missing_tags(resource, params)
    filled = {key: params.defaults[key] for key in missing if key in params.defaults}
    if not filled:
        return None
    key = TAGGABLE[resource.type]
    current = get(resource.props, key)
    if current is not None and not isinstance(current, Mapping):
        return None  # list-shaped tags: not a safe edit
    props = dict(resource.props)
    props[key] = {**_as_dict(current or {}), **filled}
    return props


@rule(
    PACK,
    name="cost-allocation-tags",
    description="Every taggable AWS and GCP resource carries team, cost-center, environment and service.",
    severity="medium",
    remediation="Tag through the one labels helper (components/labels.py) or the provider's default tags.",
    types=tuple(sorted(TAGGABLE)),
    params=TagParams,
    fix=_add_tags,
)
def allocation_tags(resource: Resource, params: TagParams) -> Iterable[str]:
    missing = _missing_tags(resource, params)
    if missing:
        yield f"missing cost-allocation tags: {', '.join(missing)}"


@pod_rule(
    PACK,
    name="cost-workload-labels",
    description="Kubernetes workloads carry team, cost-center and environment labels on their pods.",
    severity="low",
    remediation="Label pods through components/labels.py (kubernetes_labels).",
    params=TagParams,
)
def workload_labels(template: PodTemplate, params: TagParams) -> Iterable[str]:
    labels = dict(template.labels)
    missing = [key for key in params.required if key != "service" and not labels.get(key)]
    if missing:
        yield f"pods lack labels: {', '.join(missing)}"


@rule(
    PACK,
    name="cost-gp3-volumes",
    description="EBS volumes use gp3, not gp2 (cheaper per GiB, with baseline IOPS).",
    severity="low",
    remediation="Set type/volumeType gp3 (StorageClass parameters.type: gp3).",
    types=(EBS_VOLUME, LAUNCH_TEMPLATE, STORAGE_CLASS),
)
def gp3(resource: Resource, params: Params) -> Iterable[str]:
    if resource.type == EBS_VOLUME and get(resource.props, "type", "gp2") == "gp2":
        yield "volume type gp2 (the default when unset)"
    if resource.type == STORAGE_CLASS and get(resource.props, "parameters.type") == "gp2":
        yield "StorageClass provisions gp2"
    for mapping in items(resource.props, "blockDeviceMappings"):
        if get(mapping, "ebs.volumeType") == "gp2":
            yield f"{get(mapping, 'deviceName', 'a device')} is gp2"


class RetentionParams(Params):
    max_days: int = 90


@rule(
    PACK,
    name="cost-log-retention",
    description="Every CloudWatch log group has a retention, within the cap.",
    severity="medium",
    remediation="Set retentionInDays (1-maxDays); logs kept forever cost forever.",
    types=(LOG_GROUP,),
    params=RetentionParams,
)
def log_retention(resource: Resource, params: RetentionParams) -> Iterable[str]:
    days = get(resource.props, "retentionInDays")
    if not days or int(days) > params.max_days:
        yield f"retentionInDays is {days or 'unset (forever)'}, cap {params.max_days}"


@rule(
    PACK,
    name="cost-bucket-lifecycle",
    description="Every bucket has lifecycle rules (expire or tier old objects).",
    severity="low",
    remediation="Add aws.s3.BucketLifecycleConfiguration, or lifecycleRules on the GCS bucket.",
)
def bucket_lifecycle(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for bucket in stack.of_type(S3_BUCKET):
        if not stack.attached(bucket, S3_LIFECYCLE):
            yield bucket.urn, f"bucket {bucket.name} has no lifecycle configuration"
    for bucket in stack.of_type(GCS_BUCKET):
        if not as_list(get(bucket.props, "lifecycleRules")):
            yield bucket.urn, f"bucket {bucket.name} has no lifecycle rules"


class NatParams(Params):
    max_nat_gateways: int = 1


@rule(
    PACK,
    name="cost-nat-gateway-count",
    description="The stack runs no more NAT gateways than its environment allows (one per zone in prod).",
    severity="medium",
    remediation="Share one NAT gateway in dev; raise maxNatGateways only for prod's zones.",
    params=NatParams,
)
def nat_gateways(stack: Stack, params: NatParams) -> Iterable[tuple[str, str]]:
    gateways = stack.of_type(NAT_GATEWAY)
    if len(gateways) > params.max_nat_gateways:
        yield gateways[0].urn, f"{len(gateways)} NAT gateways, cap {params.max_nat_gateways}"


class DatabaseParams(Params):
    allowed_instance_classes: tuple[str, ...] = ("db.t4g.medium", "db.r6g.large", "db.r6g.xlarge")
    allowed_sql_tiers: tuple[str, ...] = ("db-custom-2-7680", "db-custom-4-15360")


@rule(
    PACK,
    name="cost-database-size",
    description="Database instances use the classes (tiers) allowed for the environment.",
    severity="medium",
    remediation="Pick an allowed class or tier, or widen the list for the stack after review.",
    types=(*RDS_INSTANCES, SQL),
    params=DatabaseParams,
)
def database_size(resource: Resource, params: DatabaseParams) -> Iterable[str]:
    if resource.type == SQL:
        for tier in _disallowed([get(resource.props, "settings.tier")], params.allowed_sql_tiers):
            yield f"tier {tier} is not allowed here"
        return
    for value in _disallowed([get(resource.props, "instanceClass")], params.allowed_instance_classes):
        yield f"instance class {value} is not allowed here"


@rule(
    PACK,
    name="cost-budget-declared",
    description="Every stack with AWS or GCP resources declares a budget with alerts.",
    severity="high",
    remediation="Add aws.budgets.Budget (or gcp.billing.Budget) with notifications at 80% and 100%.",
)
def budget_declared(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    cloud = [r for r in stack.resources if r.type.startswith(("aws:", "gcp:")) and not r.type.startswith("pulumi:")]
    if cloud and not stack.of_type(*BUDGETS):
        yield cloud[0].urn, "cloud resources without a budget"


@rule(
    PACK,
    name="cost-no-public-ip-on-nodes",
    description="Nodes get no public IPv4 address (NAT for egress; a public IPv4 costs by the hour).",
    severity="medium",
    remediation="Set associatePublicIpAddress: false; run nodes in private subnets.",
    types=(LAUNCH_TEMPLATE, INSTANCE),
)
def no_public_ip(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "associatePublicIpAddress") is True:
        yield "the instance gets a public IPv4 address"
    for interface in items(resource.props, "networkInterfaces"):
        if str(get(interface, "associatePublicIpAddress")).lower() == "true":
            yield "a network interface gets a public IPv4 address"


class ReplicaParams(Params):
    max_replicas: int = 20


@rule(
    PACK,
    name="cost-hpa-max-replicas",
    description="Autoscalers (HPAs and KEDA ScaledObjects) stop at the environment's replica cap.",
    severity="medium",
    remediation="Lower spec.maxReplicas (a ScaledObject's spec.maxReplicaCount), or raise maxReplicas for the "
    "stack after review.",
    types=(HPA, SCALED_OBJECT),
    params=ReplicaParams,
)
def hpa_cap(resource: Resource, params: ReplicaParams) -> Iterable[str]:
    # KEDA's own default maximum is 100 when the field is unset.
    key, default = ("spec.maxReplicaCount", 100) if resource.type == SCALED_OBJECT else ("spec.maxReplicas", None)
    value = get(resource.props, key, default)
    if value is None or int(value) > params.max_replicas:
        yield f"{key.rsplit('.', 1)[1]} is {value}, cap {params.max_replicas}"


class VolumeParams(Params):
    max_size: str = "100Gi"


def _bytes(size: str) -> float:
    match = _SIZE.match(size)
    if not match:
        raise ValueError(f"'{size}' is not a storage size such as 50Gi")
    return float(match.group(1)) * _BYTES[match.group(2)]


def _oversized(spec: Mapping[str, Any], params: VolumeParams) -> str | None:
    size = str(get(spec, "resources.requests.storage", ""))
    if not _SIZE.match(size) or _bytes(size) > _bytes(params.max_size):
        return f"requests {size or 'no size'}, cap {params.max_size}"
    return None


@kubernetes_rule(
    PACK,
    name="cost-pvc-size",
    description=(
        "PersistentVolumeClaims and claim templates (StatefulSets', ephemeral volumes', custom resources') "
        "ask for no more than the environment's cap."
    ),
    severity="low",
    remediation="Lower resources.requests.storage in the claim or claim template, or raise maxSize after review.",
    types=(PVC, *WORKLOAD_TYPES),
    params=VolumeParams,
)
def pvc_size(resource: Resource, params: VolumeParams) -> Iterable[str]:
    if resource.type == PVC:
        problem = _oversized(get(resource.props, "spec", {}), params)
        if problem:
            yield problem
        return
    # Each template makes a claim per replica (StatefulSet) or per pod (ephemeral).
    for claim in claim_templates(resource):
        problem = _oversized(claim.spec, params)
        if problem:
            yield f"{claim.path}: {problem}"


class EstimateParams(Params):
    """The estimate's settings: prices come from policies/cost/prices.yaml."""

    # The budget the estimate must stay under; 0 takes it from the stack's Budget resource.
    budget: float = 0.0
    # The region of resources whose provider names none.
    region: str = ""
    # Usage assumptions for this stack, over prices.yaml's (camelCase names, e.g. natGbPerMonth).
    assumptions: Mapping[str, float] = {}
    # How many of the costliest items the over-budget message names.
    drivers: int = 5

    @field_validator("assumptions")
    @classmethod
    def _known_assumptions(cls, value: Mapping[str, float]) -> Mapping[str, float]:
        assumptions_with(prices.load(), value)  # raises naming the unknown and the known ones
        return value


def stack_estimate(stack: Stack, params: EstimateParams, regions: Mapping[str, str] | None = None) -> Estimate:
    """The stack's monthly estimate under its settings; `regions` per cloud, for resources
    of default providers (the stack's `aws:region`, `gcp:region`)."""
    return estimate(stack, region=params.region, assumptions=params.assumptions, regions=regions)


def _stack_wide(budget: Resource) -> bool:
    """A budget over the whole stack, not one team's (a per-team budget filters on the
    team tag or label)."""
    filters = [str(value) for item in items(budget.props, "costFilters") for value in as_list(get(item, "values"))]
    if any(value.startswith("user:team$") for value in filters):
        return False
    return "team" not in (get(budget.props, "budgetFilter.labels", {}) or {})


def declared_budget(stack: Stack) -> float:
    """The stack-wide budgets' monthly amount in USD (per-team budgets are parts of it, not
    added; a budget in another currency cannot be compared with a USD estimate)."""
    total = 0.0
    for budget in stack.of_type(*BUDGETS):
        amount = get(budget.props, "limitAmount") or get(budget.props, "amount.specifiedAmount.units")
        currency = get(budget.props, "limitUnit") or get(budget.props, "amount.specifiedAmount.currencyCode") or "USD"
        if amount and currency == "USD" and _stack_wide(budget):
            total += float(amount)
    return total


def drivers_text(found: Estimate, count: int) -> str:
    return ", ".join(f"{d.name} {d.monthly:,.0f} ({d.share:.0%})" for d in found.drivers(count))


@rule(
    PACK,
    name="cost-estimate-within-budget",
    description="The stack's estimated monthly cost (policies/cost/prices.yaml) stays within its budget.",
    severity="high",
    remediation="Shrink the main drivers (the message names them), or raise the budget with the cost center's "
    "approval.",
    params=EstimateParams,
)
def estimate_within_budget(stack: Stack, params: EstimateParams) -> Iterable[tuple[str, str]]:
    budget = params.budget or declared_budget(stack)
    if not budget:
        return
    found = stack_estimate(stack, params)
    if found.monthly_usd > budget:
        yield (
            "",
            f"estimated {found.monthly_usd:,.0f} USD/month, over the budget of {budget:,.0f} "
            f"({found.monthly_usd / budget:.0%}); main drivers: {drivers_text(found, params.drivers)} "
            f"[{found.note}]",
        )


@rule(
    PACK,
    name="cost-estimate-priced",
    description="Every resource of the stack is priced by the estimate, or named free in the price table.",
    severity="medium",
    remediation="Price the type in policies/cost/estimate.py (its prices in prices.yaml, with their source), or add "
    "it under `free:` in policies/cost/prices.yaml with why it costs nothing of its own.",
    params=EstimateParams,
)
def estimate_priced(stack: Stack, params: EstimateParams) -> Iterable[tuple[str, str]]:
    for entry in stack_estimate(stack, params).unpriced:
        yield entry.urn, f"{entry.what} is not in the estimate: {entry.why}"


# The lifecycle, commitment and alerting rules register here, before the waivers' rule.
from policies.cost import lifecycle  # noqa: E402,F401

# Last in the report.
waivers_current_rule(PACK)
