"""The cost estimate (policies/cost/estimate.py): each kind of item it prices, spot, night
scale-down (crossing midnight, over weekends, across time zones), what it cannot price
(an unknown type, a region or instance type the table lacks, malformed values), numbers
as text, and values unknown until deployment."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.core.props import analyzer_view
from policies.core.rule import Resource, Stack
from policies.cost import prices
from policies.cost.estimate import Estimate, ScheduleError, cron_minutes, estimate, gib, night_fraction, number
from policies.cost.rules import declared_budget

TABLE = prices.load()
HOURS = TABLE.hours_per_month
AWS = {"region": "us-east-1"}
GCP = {"region": "us-central1"}


def res(kind: str, props: dict[str, Any], name: str = "r", provider: dict[str, Any] | None = None, deps=()) -> Resource:
    provider = AWS if provider is None and kind.startswith("aws:") else provider
    provider = GCP if provider is None and kind.startswith("gcp:") else provider
    return Resource(kind, name, f"urn:pulumi:s::p::{kind}::{name}", analyzer_view(props), provider or {}, tuple(deps))


def with_provider(resource: Resource, provider: dict[str, Any]) -> Resource:
    return Resource(resource.type, resource.name, resource.urn, resource.props, provider, resource.dependencies)


def run(*resources: Resource, **kwargs: Any) -> Estimate:
    return estimate(Stack("s", resources), **kwargs)


def monthly(found: Estimate, what: str | None = None, kind: str = "") -> float:
    return sum(i.monthly for i in found.items if (what is None or i.what == what) and kind in i.kind)


def unit(cloud: str, name: str) -> float:
    return TABLE.unit(cloud, name)  # type: ignore[arg-type]


EKS = res("aws:eks/cluster:Cluster", {"name": "c"}, "cluster")
GKE = res("gcp:container/cluster:Cluster", {"location": "us-central1"}, "cluster")


def node_group(name: str = "apps", **props: Any) -> Resource:
    base = {"instanceTypes": ["m6i.large"], "scalingConfig": {"desiredSize": 2, "minSize": 1, "maxSize": 4}}
    return res("aws:eks/nodeGroup:NodeGroup", {**base, **props}, name)


# --- compute ------------------------------------------------------------------------------


def test_node_group_on_demand_and_spot_with_boot_volumes() -> None:
    hourly = TABLE.instance("aws", "us-east-1", "m6i.large").hourly
    found = run(node_group())
    assert monthly(found, "apps", "node-hours") == pytest.approx(2 * HOURS * hourly)
    # No launch template: EKS's 20 GB default disk per node.
    assert monthly(found, "apps", "boot") == pytest.approx(2 * 20 * unit("aws", "ebsGp3GbMonth"))
    spot = run(node_group(capacityType="SPOT"))
    assert monthly(spot, "apps", "node-hours") == pytest.approx(2 * HOURS * hourly * (1 - TABLE.spot("aws")))
    assert [d.name for d in found.drivers()] == ["node group apps"]


def test_node_group_boot_volume_from_its_launch_template_and_desired_size_as_text() -> None:
    template = res(
        "aws:ec2/launchTemplate:LaunchTemplate",
        {"blockDeviceMappings": [{"ebs": {"volumeSize": "50", "volumeType": "gp2"}}]},
        "lt",
    )
    group = node_group(scalingConfig={"desiredSize": "3"})
    group = Resource(group.type, group.name, group.urn, group.props, AWS, (template.urn,))
    found = run(template, group)
    assert monthly(found, "apps", "gp2 boot") == pytest.approx(3 * 50 * unit("aws", "ebsGp2GbMonth"))
    assert not found.unpriced


def test_gke_pools_regional_zonal_autoscaled_spot() -> None:
    machine = TABLE.instance("gcp", "us-central1", "e2-standard-4").hourly
    config = {"machineType": "e2-standard-4", "diskSizeGb": 50, "diskType": "pd-ssd"}
    regional = res("gcp:container/nodePool:NodePool", {"location": "us-central1", "nodeCount": 1, "nodeConfig": config})
    total = res(
        "gcp:container/nodePool:NodePool",
        {"location": "us-central1", "autoscaling": {"totalMinNodeCount": 2}, "nodeConfig": {**config, "spot": True}},
        "spot",
    )
    zonal = res(
        "gcp:container/nodePool:NodePool",
        {"location": "us-central1-a", "autoscaling": {"minNodeCount": 2}, "nodeConfig": config},
        "zonal",
    )
    found = run(GKE, regional, total, zonal)
    assert monthly(found, "r", "node-hours") == pytest.approx(3 * HOURS * machine)  # a node in each of 3 zones
    assert monthly(found, "spot", "node-hours") == pytest.approx(2 * HOURS * machine * (1 - TABLE.spot("gcp")))
    assert monthly(found, "zonal", "node-hours") == pytest.approx(2 * HOURS * machine)
    assert monthly(found, "r", "pd-ssd") == pytest.approx(3 * 50 * unit("gcp", "pdSsdGbMonth"))
    assert monthly(found, "cluster") == pytest.approx(HOURS * unit("gcp", "gkeClusterHour"))


def test_control_plane() -> None:
    assert monthly(run(EKS), "cluster") == pytest.approx(HOURS * unit("aws", "eksClusterHour"))


# --- night scale-down -----------------------------------------------------------------------


def schedule(name: str, recurrence: str, desired: Any, zone: str = "Europe/Paris") -> Resource:
    props = {"recurrence": recurrence, "timeZone": zone, "minSize": desired, "maxSize": desired}
    if desired is not None:
        props["desiredCapacity"] = desired
    return res("aws:autoscaling/schedule:Schedule", props, name)


def test_night_fraction_crossing_midnight_on_weekdays_and_weekends() -> None:
    # Down 20:00 Mon-Fri, up 07:00 Mon-Fri: 4 weeknights of 11 h, and Friday 20:00 to Monday 07:00 (59 h).
    fraction = night_fraction("0 20 * * 1-5", "0 7 * * 1-5")
    assert fraction * 168 == pytest.approx(4 * 11 + 59)
    # Names, lists and steps; every day: 11 h a night.
    assert night_fraction("0 20 * * SUN-SAT", "0 7 * * *") * 168 == pytest.approx(7 * 11)
    assert night_fraction("0 22 * * 1,3,5", "0 6 * * 2,4,6") * 168 == pytest.approx(3 * 8)
    # Sunday as 0 and as 7 are the same day.
    assert night_fraction("0 0 * * 0", "0 12 * * 7") == night_fraction("0 0 * * 0", "0 12 * * 0")


def test_night_fraction_in_different_time_zones() -> None:
    # Down at 20:00 New York (01:00 UTC next day in January), up 07:00 UTC: 6 h a night.
    assert night_fraction("0 20 * * *", "0 7 * * *", "America/New_York", "UTC") * 168 == pytest.approx(7 * 6)


@pytest.mark.parametrize(
    ("recurrence", "message"),
    [
        ("0 20 * *", "has 4 fields, expected 5"),
        ("0 20 1 * 1", "only weekly recurrences"),
        ("0 24 * * 1", "hour 24 is outside 0-23"),
        ("x 20 * * 1", "minute 'x' is not a number"),
        ("0 20 * * 5-1", "runs backwards"),
        ("*/0 20 * * 1", "step '0' is not a positive number"),
        ("0 20 * * FUNDAY", "day of week 'FUNDAY'"),
    ],
)
def test_cron_errors_say_what_is_wrong(recurrence: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        cron_minutes(recurrence)


def test_a_node_group_is_priced_at_night_size_between_its_schedules() -> None:
    hourly = TABLE.instance("aws", "us-east-1", "m6i.large").hourly
    night = schedule("apps-night", "0 20 * * 1-5", 0)
    morning = schedule("apps-morning", "0 7 * * 1-5", "2")
    found = run(node_group(), night, morning)
    day_share = 1 - (4 * 11 + 59) / 168
    assert monthly(found, "apps", "node-hours") == pytest.approx(2 * HOURS * hourly * day_share)
    assert not found.unpriced
    # A floor of one node at night.
    floor = run(node_group(), schedule("apps-night", "0 20 * * 1-5", 1), morning)
    expected = HOURS * hourly * (2 * day_share + 1 * (1 - day_share))
    assert monthly(floor, "apps", "node-hours") == pytest.approx(expected)


def test_a_schedule_without_its_pair_prices_the_full_size_and_says_so() -> None:
    found = run(node_group(), schedule("apps-night", "0 20 * * 1-5", 0))
    assert monthly(found, "apps", "node-hours") == pytest.approx(monthly(run(node_group()), "apps", "node-hours"))
    assert any("without its 'apps-morning' pair" in note for note in found.notes)


def test_a_malformed_schedule_leaves_the_group_unpriced_with_the_reason() -> None:
    found = run(node_group(), schedule("apps-night", "0 20 1 * *", 0), schedule("apps-morning", "0 7 * * *", 2))
    assert monthly(found, "apps") == 0
    assert [u.what for u in found.unpriced] == ["apps"]
    assert "only weekly recurrences" in found.unpriced[0].why


# --- databases and caches ---------------------------------------------------------------------


def test_databases_and_caches() -> None:
    found = run(
        res("aws:rds/cluster:Cluster", {"engine": "aurora-postgresql"}, "aurora"),
        res("aws:rds/clusterInstance:ClusterInstance", {"instanceClass": "db.r6g.large"}, "writer"),
        res(
            "aws:rds/instance:Instance",
            {"instanceClass": "db.t4g.medium", "multiAz": True, "allocatedStorage": "50", "storageType": "gp3"},
            "rds",
        ),
        res(
            "aws:elasticache/replicationGroup:ReplicationGroup", {"nodeType": "cache.r6g.large", "numCacheClusters": 2}
        ),
        res(
            "aws:elasticache/replicationGroup:ReplicationGroup",
            {"nodeType": "cache.t4g.small", "numNodeGroups": 2, "replicasPerNodeGroup": 1},
            "sharded",
        ),
        res("gcp:redis/instance:Instance", {"tier": "STANDARD_HA", "memorySizeGb": 5}, "memorystore"),
    )
    assert monthly(found, "aurora") == pytest.approx(100 * unit("aws", "auroraStorageGbMonth"))
    assert found.assumptions["databaseStorageGb"] == 100
    assert monthly(found, "writer") == pytest.approx(HOURS * TABLE.database("aws", "us-east-1", "db.r6g.large"))
    rds = 2 * HOURS * TABLE.database("aws", "us-east-1", "db.t4g.medium") + 2 * 50 * unit("aws", "rdsGp3GbMonth")
    assert monthly(found, "rds") == pytest.approx(rds)
    assert monthly(found, "r") == pytest.approx(2 * HOURS * TABLE.cache("aws", "us-east-1", "cache.r6g.large"))
    assert monthly(found, "sharded") == pytest.approx(4 * HOURS * TABLE.cache("aws", "us-east-1", "cache.t4g.small"))
    assert monthly(found, "memorystore") == pytest.approx(5 * HOURS * unit("gcp", "memorystoreStandardGbHour"))


def test_cloud_sql_custom_tier_regional_doubles() -> None:
    settings = {"tier": "db-custom-4-15360", "availabilityType": "REGIONAL", "diskSize": 100}
    found = run(res("gcp:sql/databaseInstance:DatabaseInstance", {"settings": settings}))
    hourly = 4 * unit("gcp", "cloudSqlVcpuHour") + 15 * unit("gcp", "cloudSqlMemoryGbHour")
    assert monthly(found) == pytest.approx(2 * HOURS * hourly + 2 * 100 * unit("gcp", "cloudSqlSsdGbMonth"))
    zonal = run(
        res("gcp:sql/databaseInstance:DatabaseInstance", {"settings": {**settings, "availabilityType": "ZONAL"}})
    )
    assert monthly(zonal) == pytest.approx(monthly(found) / 2)
    shared = run(res("gcp:sql/databaseInstance:DatabaseInstance", {"settings": {"tier": "db-f1-micro"}}))
    assert "db-f1-micro" in shared.unpriced[0].why and monthly(shared) == 0


# --- network ------------------------------------------------------------------------------------


def test_nat_gateways_share_the_assumed_traffic_and_their_addresses_cost() -> None:
    gateways = [res("aws:ec2/natGateway:NatGateway", {}, f"nat-{i}") for i in range(3)]
    addresses = [res("aws:ec2/eip:Eip", {"domain": "vpc"}, f"ip-{i}") for i in range(3)]
    found = run(*gateways, *addresses)
    hours = 3 * HOURS * unit("aws", "natGatewayHour")
    assert monthly(found, None, "NAT gateway hours") == pytest.approx(hours)
    assert monthly(found, None, "GB processed") == pytest.approx(200 * unit("aws", "natGatewayGb"))
    assert monthly(found, None, "public IPv4") == pytest.approx(3 * HOURS * unit("aws", "publicIpv4Hour"))
    halved = run(*gateways, assumptions={"natGbPerMonth": 100})
    assert monthly(halved, None, "GB processed") == pytest.approx(100 * unit("aws", "natGatewayGb"))


def test_cloud_nat_bills_the_nodes_using_it() -> None:
    pool = res(
        "gcp:container/nodePool:NodePool",
        {"location": "us-central1-a", "nodeCount": 4, "nodeConfig": {"machineType": "e2-standard-2"}},
    )
    found = run(GKE, pool, res("gcp:compute/routerNat:RouterNat", {}, "nat"))
    assert monthly(found, "nat", "VM-hours") == pytest.approx(4 * HOURS * unit("gcp", "cloudNatVmHour"))


def test_load_balancers_in_each_form() -> None:
    lb = HOURS * (unit("aws", "loadBalancerHour") + unit("aws", "loadBalancerCapacityUnitHour"))
    service = res("kubernetes:core/v1:Service", {"spec": {"type": "LoadBalancer"}}, "svc")
    internal = res("kubernetes:core/v1:Service", {"spec": {"type": "ClusterIP"}}, "internal")
    chart = res(
        "kubernetes:helm.sh/v3:Release",
        {"values": {"controller": {"service": {"type": "LoadBalancer"}, "replicaCount": 2}}},
        "ingress",
    )
    found = run(
        EKS, res("aws:lb/loadBalancer:LoadBalancer", {"loadBalancerType": "network"}, "nlb"), service, internal, chart
    )
    assert monthly(found, "nlb") == pytest.approx(lb)
    assert monthly(found, "svc") == pytest.approx(lb)
    assert monthly(found, "ingress") == pytest.approx(lb)
    assert monthly(found, "internal") == 0
    gcp = run(GKE, service, res("gcp:compute/forwardingRule:ForwardingRule", {}, "rule"))
    assert monthly(gcp, "svc") == monthly(gcp, "rule") == pytest.approx(HOURS * unit("gcp", "forwardingRuleHour"))


def test_vpn_endpoints_keys_secrets_alarms() -> None:
    found = run(
        res("aws:ec2/vpnConnection:VpnConnection", {}, "vpn"),
        res("gcp:compute/vPNTunnel:VPNTunnel", {}, "tunnel"),
        res("aws:ec2/vpcEndpoint:VpcEndpoint", {"vpcEndpointType": "Interface", "subnetIds": ["a", "b", "c"]}, "ep"),
        res("aws:ec2/vpcEndpoint:VpcEndpoint", {"vpcEndpointType": "Gateway"}, "s3"),
        res("aws:kms/key:Key", {}, "key"),
        res("aws:secretsmanager/secret:Secret", {}, "secret"),
        res("aws:cloudwatch/metricAlarm:MetricAlarm", {}, "alarm"),
    )
    assert monthly(found, "vpn") == pytest.approx(HOURS * unit("aws", "vpnConnectionHour"))
    assert monthly(found, "tunnel") == pytest.approx(HOURS * unit("gcp", "vpnTunnelHour"))
    assert monthly(found, "ep") == pytest.approx(3 * HOURS * unit("aws", "vpcInterfaceEndpointAzHour"))
    assert monthly(found, "s3") == 0
    assert monthly(found, "key") == unit("aws", "kmsKeyMonth")
    assert monthly(found, "secret") == unit("aws", "secretsManagerSecretMonth")
    assert monthly(found, "alarm") == unit("aws", "cloudwatchAlarmMonth")


def test_data_transfer_is_assumed_where_a_cluster_runs() -> None:
    found = run(EKS)
    egress = 500 * unit("aws", "internetEgressGb") + 300 * unit("aws", "interZoneGb")
    assert monthly(found, "data transfer") == pytest.approx(egress)
    assert all(i.assumed for i in found.items if i.what == "data transfer")
    assert monthly(run(), "data transfer") == 0  # no cluster, no workloads moving data


# --- storage --------------------------------------------------------------------------------------


def test_volumes_claims_and_claim_templates_by_storage_class() -> None:
    ssd = res(
        "kubernetes:storage.k8s.io/v1:StorageClass", {"metadata": {"name": "fast"}, "parameters": {"type": "pd-ssd"}}
    )
    claim = res(
        "kubernetes:core/v1:PersistentVolumeClaim", {"spec": {"resources": {"requests": {"storage": "10Gi"}}}}, "claim"
    )
    fast = res(
        "kubernetes:core/v1:PersistentVolumeClaim",
        {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Ti"}}}},
        "fast",
    )
    template = {"spec": {"resources": {"requests": {"storage": "20Gi"}}}}
    statefulset = res(
        "kubernetes:apps/v1:StatefulSet",
        {"spec": {"replicas": 3, "volumeClaimTemplates": [template], "template": {"spec": {"containers": []}}}},
        "sts",
    )
    found = run(GKE, ssd, claim, fast, statefulset)
    assert monthly(found, "claim") == pytest.approx(10 * unit("gcp", "pdBalancedGbMonth"))
    assert monthly(found, "fast") == pytest.approx(1024 * unit("gcp", "pdSsdGbMonth"))
    assert monthly(found, "sts") == pytest.approx(60 * unit("gcp", "pdBalancedGbMonth"))
    on_aws = run(EKS, claim, res("aws:ebs/volume:Volume", {"size": 100, "type": "gp3"}, "ebs"))
    assert monthly(on_aws, "claim") == pytest.approx(10 * unit("aws", "ebsGp3GbMonth"))
    assert monthly(on_aws, "ebs") == pytest.approx(100 * unit("aws", "ebsGp3GbMonth"))
    # A claim on a cluster outside AWS and GCP: no bill here, and the estimate says so.
    local = run(claim)
    assert monthly(local) == 0 and not local.unpriced and local.notes


def test_chart_claims_count_their_replicas() -> None:
    values = {
        "prometheus": {
            "prometheusSpec": {
                "replicas": 2,
                "storageSpec": {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "200Gi"}}}}},
            }
        },
        "grafana": {"persistence": {"enabled": True, "size": "10Gi"}},
    }
    found = run(EKS, res("kubernetes:helm.sh/v3:Release", {"values": values}, "monitoring"))
    assert monthly(found, "monitoring") == pytest.approx(410 * unit("aws", "ebsGp3GbMonth"))


def test_buckets_are_blended_with_their_lifecycle() -> None:
    bucket = res("aws:s3/bucket:Bucket", {}, "b")
    plain = run(bucket)
    # 100 GB written a month, kept for the 12-month horizon: 1,200 GB in Standard.
    assert monthly(plain, "b") == pytest.approx(1200 * unit("aws", "s3StandardGbMonth"))
    lifecycle = res(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        {
            "rules": [
                {
                    "status": "Enabled",
                    "filter": {},
                    "transitions": [{"days": 30, "storageClass": "STANDARD_IA"}],
                    "expiration": {"days": "180"},
                }
            ]
        },
        "lc",
        deps=(bucket.urn,),
    )
    tiered = run(bucket, lifecycle)
    expected = 100 * unit("aws", "s3StandardGbMonth") + 500 * unit("aws", "s3StandardIaGbMonth")
    assert monthly(tiered, "b") == pytest.approx(expected)
    assert monthly(tiered, "b") < monthly(plain, "b")
    gcs = res(
        "gcp:storage/bucket:Bucket",
        {
            "lifecycleRules": [
                {"action": {"type": "SetStorageClass", "storageClass": "NEARLINE"}, "condition": {"age": 30}},
                {"action": {"type": "Delete"}, "condition": {"age": 90}},
            ]
        },
        "g",
    )
    expected = 100 * unit("gcp", "gcsStandardGbMonth") + 200 * unit("gcp", "gcsNearlineGbMonth")
    assert monthly(run(gcs), "g") == pytest.approx(expected)


def test_log_groups_ingest_and_keep_by_retention() -> None:
    kept = res("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}, "kept")
    forever = res("aws:cloudwatch/logGroup:LogGroup", {}, "forever")
    found = run(kept, forever)
    ingest = 25 * unit("aws", "cloudwatchLogsIngestGb")  # the stack's 50 GB split over two groups
    assert monthly(found, "kept") == pytest.approx(ingest + 25 * unit("aws", "cloudwatchLogsStoredGbMonth"))
    assert monthly(found, "forever") == pytest.approx(ingest + 25 * 12 * unit("aws", "cloudwatchLogsStoredGbMonth"))


# --- what the estimate cannot price -----------------------------------------------------------------


def test_an_unknown_type_is_listed_not_zero_and_free_types_are_skipped() -> None:
    found = run(res("aws:sagemaker/endpoint:Endpoint", {}, "endpoint"), res("aws:iam/role:Role", {}, "role"))
    assert [(u.what, u.type) for u in found.unpriced] == [("endpoint", "aws:sagemaker/endpoint:Endpoint")]
    assert "`free:` in policies/cost/prices.yaml" in found.unpriced[0].why
    assert found.items == ()


def test_a_region_or_type_not_in_the_table_is_unpriced_with_what_it_has() -> None:
    found = run(with_provider(node_group(), {"region": "ap-south-1"}))
    assert "no aws instance types priced in region 'ap-south-1'" in found.unpriced[0].why
    assert "us-east-1" in found.unpriced[0].why
    found = run(node_group(instanceTypes=["x9.huge"]))
    assert "'x9.huge'" in found.unpriced[0].why and "m6i.large" in found.unpriced[0].why


def test_a_provider_without_a_region_takes_the_settings_region() -> None:
    group = node_group()
    bare = with_provider(group, {})
    assert "no region" in run(bare).unpriced[0].why
    assert monthly(run(bare, region="eu-west-1")) == pytest.approx(
        monthly(run(with_provider(group, {"region": "eu-west-1"})))
    )


@pytest.mark.parametrize("desired", ["two", True, -1, [2]])
def test_malformed_numbers_are_unpriced_with_the_value(desired: Any) -> None:
    found = run(node_group(scalingConfig={"desiredSize": desired}))
    assert "scalingConfig.desiredSize" in found.unpriced[0].why and monthly(found) == 0


def test_values_unknown_in_preview_are_listed_as_unknown() -> None:
    found = run(node_group(instanceTypes=[UNKNOWN_STRING_VALUE]), EKS)
    assert [u.what for u in found.unknown] == ["apps"] and not found.unpriced
    assert monthly(found, "cluster") > 0  # the rest is still priced


def test_assumption_overrides_are_checked() -> None:
    with pytest.raises(ValueError, match=r"unknown assumption.*natGb.*known:.*natGbPerMonth"):
        run(EKS, assumptions={"natGb": 1})


def test_helpers_read_numbers_and_sizes() -> None:
    assert number(" 3 ", "n") == 3 and number(2.5, "n") == 2.5
    assert gib("512Mi", "s") == 0.5 and gib("1Ti", "s") == 1024
    assert gib("1G", "s") == pytest.approx(1e9 / 2**30)
    for bad in ("", "10 GB", "-1Gi", None):
        with pytest.raises(ValueError):
            gib(bad, "s")


# --- the budget the rule holds it to ------------------------------------------------------------------


def test_the_declared_budget_is_the_stack_wide_one_not_per_team() -> None:
    stack_wide = res(
        "aws:budgets/budget:Budget",
        {"limitAmount": "4000", "costFilters": [{"name": "TagKeyValue", "values": ["user:environment$staging"]}]},
        "stack",
    )
    team = res(
        "aws:budgets/budget:Budget",
        {"limitAmount": "1000", "costFilters": [{"name": "TagKeyValue", "values": ["user:team$ai-platform"]}]},
        "team",
    )
    gcp_team = res(
        "gcp:billing/budget:Budget",
        {"amount": {"specifiedAmount": {"units": "700"}}, "budgetFilter": {"labels": {"team": "ml"}}},
        "gteam",
    )
    assert declared_budget(Stack("s", (stack_wide, team, gcp_team))) == 4000
    # The estimate is in USD: a budget in euros is not compared with it.
    euros = res("gcp:billing/budget:Budget", {"amount": {"specifiedAmount": {"units": "500", "currencyCode": "EUR"}}})
    assert declared_budget(Stack("s", (euros,))) == 0


def test_instances_and_usage_billed_types() -> None:
    ec2 = res("aws:ec2/instance:Instance", {"instanceType": "t3.medium", "rootBlockDevice": {"volumeSize": 30}}, "vm")
    gce = res(
        "gcp:compute/instance:Instance",
        {"machineType": "e2-standard-2", "zone": "europe-west1-b", "scheduling": {"provisioningModel": "SPOT"}},
        "gce",
        provider={},
    )
    found = run(ec2, gce, res("aws:lambda/function:Function", {}, "fn"))
    t3 = TABLE.instance("aws", "us-east-1", "t3.medium").hourly
    assert monthly(found, "vm") == pytest.approx(HOURS * t3 + 30 * unit("aws", "ebsGp3GbMonth"))
    e2 = TABLE.instance("gcp", "europe-west1", "e2-standard-2").hourly  # the zone's region
    assert monthly(found, "gce", "instance-hours") == pytest.approx(HOURS * e2 * (1 - TABLE.spot("gcp")))
    # Billed per request: noted, not in the total, not unpriced.
    assert not found.unpriced and monthly(found, "fn") == 0
    assert any(note.startswith("aws:lambda/function:Function: billed per request") for note in found.notes)


def test_a_provider_billed_elsewhere_is_said_once_and_costs_nothing_here() -> None:
    found = run(
        res("cloudflare:index/zone:Zone", {"zone": "project-ai.dev"}, "zone"),
        res("cloudflare:index/dnsRecord:DnsRecord", {"name": "api"}, "record"),
        res("pulumi:pulumi:StackReference", {"name": "org/project-ai/prod"}, "primary"),
    )
    assert found.monthly_usd == 0 and found.unpriced == ()
    cloudflare = [note for note in found.notes if note.startswith("cloudflare resources:")]
    assert len(cloudflare) == 1 and "outside the AWS and GCP estimate" in cloudflare[0]
    assert not any(note.startswith("pulumi resources") for note in found.notes)
