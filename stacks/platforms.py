"""Turns a region stack's config into its cloud platform: network, Kubernetes cluster,
PostgreSQL, Redis, image registry, budgets and cost alerts, on AWS or GCP, and where it
takes part in disaster recovery, the replication of the primary's database and its lag
alarm. Returns what the rest of the stack and the region contract need from it."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.aws.alerting import AlertTopic, AlertTopicArgs, ReplicationLagAlarmArgs, replication_lag_alarm
from components.aws.autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from components.aws.budget import BudgetArgs
from components.aws.budget import monthly_budget as aws_budget
from components.aws.budget import team_budget as aws_team_budget
from components.aws.cache import CacheArgs, RedisCache
from components.aws.cost import CostAnomalyAlerts, CostAnomalyArgs, allocation_tags
from components.aws.database import AuroraArgs, AuroraPostgres
from components.aws.eks import EksCluster, EksClusterArgs, NodeGroupArgs, OffHours
from components.aws.network import AwsNetwork, AwsNetworkArgs
from components.aws.registry import ContainerRegistry, RegistryArgs, replica_settings
from components.aws.vpn import ReplicaVpnGateway, ReplicaVpnGatewayArgs
from components.gcp.alerting import AlertChannelsArgs, alert_channels
from components.gcp.budget import GcpBudgetArgs, budget_topic, topic_path
from components.gcp.budget import monthly_budget as gcp_budget
from components.gcp.budget import team_budget as gcp_team_budget
from components.gcp.gke import GkeCluster, GkeClusterArgs, NodePoolArgs
from components.gcp.memorystore import MemorystoreArgs, memorystore
from components.gcp.network import GcpNetwork, GcpNetworkArgs
from components.gcp.registry import ArtifactRegistryArgs, artifact_registry
from components.gcp.replication import (
    MIGRATED_OBJECTS_OWNER,
    STANDBY_ROOT_USER,
    DatabaseReplication,
    DatabaseReplicationArgs,
)
from components.gcp.sql import CloudSqlArgs, CloudSqlPostgres
from components.gcp.vpn import HaVpnToAws, HaVpnToAwsArgs
from components.labels import Ownership, cloud_tags
from stacks import contract, rotation
from stacks.model import AwsPlatformConfig, AwsRegionStack, GcpRegionStack, GcpReplicationConfig, NodePoolConfig
from stacks.workload import ownership

DATABASE = "project_ai"
REPOSITORY = "project-ai"
SYSTEM_LABELS = {"node-role": "system"}
# The system pool runs the cluster's own add-ons and controllers, nothing else.
SYSTEM_TAINTS = (("CriticalAddonsOnly", "true", "NO_SCHEDULE"),)
GCP_POSTGRES = "POSTGRES_16"
# The version of the engine's first root credential when it is a promoted standby's (the
# region's own Cloud SQL's was the first).
STANDBY_ROOT_VERSION = 2


@dataclass(frozen=True)
class RegionalPlatform:
    provider: k8s.Provider
    # The region's own cloud provider (its region, account or project, default tags), for
    # what the rest of the stack creates in the cloud (the janitor's identity).
    cloud_provider: pulumi.ProviderResource
    cluster_name: pulumi.Output[str]
    # The issuer of the cluster's ServiceAccount tokens (Vault verifies them with its keys).
    oidc_issuer: pulumi.Input[str]
    database_writer: pulumi.Output[str]
    database_reader: pulumi.Output[str]
    # The database's first root credential (Vault rotates it), where the region owns one.
    database_root: tuple[str, pulumi.Output[str]] | None
    # The Aurora global database this region belongs to; None where there is none.
    global_database: pulumi.Input[str] | None
    # redis(s):// URL with the AUTH token: a secret.
    cache_url: pulumi.Output[str]
    # The cache's server CA, where clients must be told to trust it (Memorystore).
    cache_ca: pulumi.Output[str] | None
    registry_url: pulumi.Output[str]
    # Regions the registry replicates to, where the region owns one; None where it has none.
    registry_replicas: list[str] | None = None
    # The region's own reader endpoint (Aurora's), for the app's reads; None where the
    # database has no replicas of its own to read from (Cloud SQL here).
    regional_reader: pulumi.Output[str] | None = None
    # The contract's keys a cross-cloud replica reads (contract.CROSS_CLOUD_SOURCE_KEYS),
    # and the AWS account; None where they do not apply.
    account_id: str | None = None
    vpn_gateway: pulumi.Output[str] | None = None
    vpn_gateway_asn: int | None = None
    replication_cidrs: list[str] | None = None
    # Where the region replicates its primary's database across clouds.
    replication: DatabaseReplication | None = None
    # Vault's engine takes a root credential again only when this changes: a new database
    # behind the engine (a promoted standby) is a new version.
    database_root_version: int = 1
    # The role a copy left owning the database's objects, which the app's bootstrap hands
    # to its owner group (a promoted DMS standby's); None where the app created them.
    database_objects_owner: str | None = None


def cluster_name() -> str:
    return f"project-ai-{pulumi.get_stack()}"


def _node_group(name: str, pool: NodePoolConfig, system: bool, off_hours: OffHours | None = None) -> NodeGroupArgs:
    return NodeGroupArgs(
        name=name,
        instance_types=tuple(pool.types),
        min_size=pool.min,
        desired_size=pool.desired,
        max_size=pool.max,
        capacity_type="SPOT" if pool.spot else "ON_DEMAND",
        labels=SYSTEM_LABELS if system else {},
        taints=SYSTEM_TAINTS if system else (),
        off_hours=off_hours,
    )


def _off_hours(platform: AwsPlatformConfig) -> OffHours | None:
    """The app pool's nights (platform.offHours); the system pool runs the cluster's own
    add-ons and is never scaled down."""
    off = platform.off_hours
    if off is None:
        return None
    return OffHours(scale_down=off.scale_down, scale_up=off.scale_up, time_zone=off.time_zone, floor=off.floor)


def aws_platform(config: AwsRegionStack, primary: dict[str, pulumi.Output] | None) -> RegionalPlatform:
    """EKS, Aurora, ElastiCache and ECR in the stack's region. A secondary region (with
    its `primary`'s contract) joins the primary's global database instead of starting
    one, and pulls images from its region's replica of the primary's registry."""
    join_global = primary[contract.GLOBAL_DATABASE] if primary else None
    platform, database, cache = config.platform, config.database, config.cache
    owner, name, prod = ownership(config), cluster_name(), config.environment == "prod"
    # Default tags reach every taggable resource, whatever a component sets itself.
    provider = aws.Provider(
        "aws",
        region=config.region,
        allowed_account_ids=[platform.account_id],
        default_tags=aws.ProviderDefaultTagsArgs(tags=cloud_tags(owner, "project-ai")),
    )
    opts = pulumi.ResourceOptions(provider=provider)
    zones = config.known_zones()
    network = AwsNetwork(
        "network",
        AwsNetworkArgs(
            owner=owner,
            region=config.region,
            cidr=platform.cidr,
            zones=zones,
            nat_per_zone=platform.nat_per_zone,
            flow_log_retention_days=platform.log_retention_days,
            cluster_name=name,
        ),
        opts,
    )
    private = [subnet.id for subnet in network.private_subnets]
    cluster = EksCluster(
        "cluster",
        EksClusterArgs(
            owner=owner,
            cluster_name=name,
            region=config.region,
            kubernetes_version=config.kubernetes.version,
            subnet_ids=private,
            public_access_cidrs=tuple(platform.public_access_cidrs),
            admin_role_arns=tuple(platform.admin_role_arns),
            node_groups=(
                _node_group("system", platform.system_pool, system=True),
                _node_group("apps", platform.app_pool, system=False, off_hours=_off_hours(platform)),
            ),
            addons=dict(platform.addons),
            log_retention_days=platform.log_retention_days,
            deletion_protection=prod,
        ),
        opts,
    )
    ClusterAutoscaler(
        "autoscaler",
        ClusterAutoscalerArgs(
            owner=owner,
            cluster_name=cluster.cluster.name,
            region=config.region,
            chart_version=platform.cluster_autoscaler_chart_version,
        ),
        pulumi.ResourceOptions(providers=[provider, cluster.provider], depends_on=list(cluster.node_groups.values())),
    )
    nodes = (cluster.cluster.vpc_config.cluster_security_group_id,)
    replicas = platform.cross_cloud_replicas
    aurora = AuroraPostgres(
        "database",
        AuroraArgs(
            owner=owner,
            identifier=name,
            engine_version=database.engine_version,
            instance_class=database.instance_class,
            instances=database.instances,
            database_name=DATABASE,
            subnet_ids=private,
            vpc_id=network.vpc.id,
            client_security_group_ids=nodes,
            vault_cidrs=tuple(platform.vault_cidrs),
            backup_retention_days=database.backup_retention_days,
            deletion_protection=database.deletion_protection,
            performance_insights=prod,
            global_database=prod and join_global is None,
            join_global=join_global,
            logical_replica_cidrs=tuple(replicas.cidrs) if replicas else (),
        ),
        opts,
    )
    vpn_gateway = None
    if replicas is not None:
        # Replicas on another cloud connect here; they bring their own connections.
        vpn_gateway = ReplicaVpnGateway(
            "replica-vpn",
            ReplicaVpnGatewayArgs(
                owner=owner,
                vpc_id=network.vpc.id,
                route_table_ids=tuple(table.id for table in network.private_route_tables),
                amazon_side_asn=replicas.vpn_asn,
            ),
            opts,
        ).gateway.id
    lag_alarm = join_global is not None and config.disaster_recovery is not None
    anomalies = platform.cost_anomalies
    topic = None
    if lag_alarm or anomalies.enabled:
        topic = AlertTopic(
            "alerts",
            AlertTopicArgs(
                owner=owner,
                identifier=name,
                account_id=platform.account_id,
                emails=tuple(platform.alert_emails),
                pagerduty_integration_key=config.pagerduty_integration_key,
                cost_anomalies=anomalies.enabled,
            ),
            opts,
        )
    if lag_alarm and topic is not None and config.disaster_recovery is not None:
        replication_lag_alarm(
            "database",
            ReplicationLagAlarmArgs(
                owner=owner,
                cluster_identifier=aurora.cluster.cluster_identifier,
                rpo_seconds=config.disaster_recovery.rpo_seconds,
                topic_arn=topic.topic.arn,
            ),
            opts,
        )
    redis = RedisCache(
        "cache",
        CacheArgs(
            owner=owner,
            identifier=name,
            node_type=cache.node_type,
            replicas=cache.replicas,
            subnet_ids=private,
            vpc_id=network.vpc.id,
            client_security_group_ids=nodes,
            auth_rotation=rotation.schedule(config.secrets.rotation_days),
        ),
        opts,
    )
    registry_replicas: list[str] | None = None
    if primary is None and not platform.owns_registry:
        # Another stack of this account and region owns the repository the app pulls from.
        registry_url = pulumi.Output.from_input(config.app.image.repository)
    elif primary is None:
        # The API's repository, and the ops image's (the canary judge pulls from it).
        images = RegistryArgs(
            owner=owner,
            repository=f"{REPOSITORY}/api",
            replicate_to=tuple(platform.registry_replicas),
            others=("ops",),
        )
        registry_url = ContainerRegistry("registry", images, opts).repository.repository_url
        registry_replicas = list(platform.registry_replicas)
    else:
        # The primary replicates its repository here: the same URL, in this region, with
        # the source's settings.
        replica_settings("registry", owner, f"{REPOSITORY}/", opts)
        registry_url = pulumi.Output.all(primary[contract.REGISTRY_URL], primary[contract.REGION]).apply(
            lambda values: values[0].replace(f".{values[1]}.", f".{config.region}.", 1)
        )
    _aws_cost(config, name, topic, opts)
    started = aurora.global_cluster.id if aurora.global_cluster else None
    global_database = join_global if join_global is not None else started
    cache_url = pulumi.Output.secret(
        pulumi.Output.format("rediss://:{0}@{1}:{2}/0", redis.auth_token, redis.group.primary_endpoint_address, 6379)
    )
    return RegionalPlatform(
        provider=cluster.provider,
        cloud_provider=provider,
        cluster_name=cluster.cluster.name,
        oidc_issuer=cluster.cluster.identities.apply(lambda identities: identities[0].oidcs[0].issuer),
        database_writer=aurora.writer,
        database_reader=aurora.reader,
        # A secondary region's cluster is a read-only member of the global database.
        database_root=("project_ai_admin", aurora.master_password) if join_global is None else None,
        global_database=global_database,
        cache_url=cache_url,
        # ElastiCache presents a publicly trusted certificate.
        cache_ca=None,
        registry_url=registry_url,
        registry_replicas=registry_replicas,
        regional_reader=aurora.reader,
        account_id=platform.account_id,
        vpn_gateway=vpn_gateway,
        vpn_gateway_asn=replicas.vpn_asn if replicas else None,
        replication_cidrs=list(replicas.cidrs) if replicas else None,
    )


def _aws_cost(config: AwsRegionStack, name: str, topic: AlertTopic | None, opts: pulumi.ResourceOptions) -> None:
    """The stack's budget and its teams', the account's cost-allocation tags where this
    stack activates them, and anomaly alerts on the environment's costs."""
    platform, owner = config.platform, ownership(config)
    emails = tuple(platform.alert_emails)
    aws_budget("stack", BudgetArgs(owner=owner, monthly_usd=platform.budget_usd, alert_emails=emails), opts)
    for team, usd in sorted(platform.team_budgets.items()):
        aws_team_budget("stack", name, team, BudgetArgs(owner=owner, monthly_usd=usd, alert_emails=emails), opts)
    if platform.cost_allocation.activate_tags:
        allocation_tags("cost-allocation", opts)
    anomalies = platform.cost_anomalies
    if anomalies.enabled and topic is not None:
        CostAnomalyAlerts(
            "cost-anomalies",
            CostAnomalyArgs(
                owner=owner,
                identifier=name,
                topic_arn=topic.topic.arn,
                min_impact_usd=anomalies.min_impact_usd,
                min_impact_percent=anomalies.min_impact_percent,
            ),
            opts,
        )


def gcp_platform(config: GcpRegionStack, primary: dict[str, pulumi.Output] | None) -> RegionalPlatform:
    """GKE, Cloud SQL, Memorystore and Artifact Registry in the stack's region; with
    `platform.replication`, a standby of the primary's database (its `primary`'s
    contract) over an HA VPN to the primary's VPC."""
    platform, database, cache = config.platform, config.database, config.cache
    owner, name, prod = ownership(config), cluster_name(), config.environment == "prod"
    provider = gcp.Provider(
        "gcp", project=platform.project, region=config.region, default_labels=cloud_tags(owner, "project-ai")
    )
    opts = pulumi.ResourceOptions(provider=provider)
    network = GcpNetwork(
        "network",
        GcpNetworkArgs(
            owner=owner,
            name=name,
            region=config.region,
            nodes_cidr=platform.cidr,
            pods_cidr=platform.pods_cidr,
            services_cidr=platform.services_cidr,
            private_services_cidr=platform.private_services_cidr,
        ),
        opts,
    )
    system, apps = platform.system_pool, platform.app_pool
    cluster = GkeCluster(
        "cluster",
        GkeClusterArgs(
            owner=owner,
            project=platform.project,
            project_number=platform.project_number,
            cluster_name=name,
            region=config.region,
            network=network.network.id,
            subnet=network.subnet.id,
            master_cidr=platform.master_cidr,
            authorized_networks=tuple(platform.public_access_cidrs),
            release_channel=platform.release_channel,
            node_pools=(
                NodePoolArgs(
                    "system", system.types[0], system.min, system.max, labels=SYSTEM_LABELS, taints=SYSTEM_TAINTS
                ),
                NodePoolArgs("apps", apps.types[0], apps.min, apps.max, spot=apps.spot),
            ),
            deletion_protection=prod,
        ),
        opts,
    )
    # Cloud SQL's and Memorystore's private addresses exist only once private service access is peered.
    peered = pulumi.ResourceOptions(provider=provider, depends_on=[network.private_services])
    sql = CloudSqlPostgres(
        "database",
        CloudSqlArgs(
            owner=owner,
            name=name,
            region=config.region,
            database_version=GCP_POSTGRES,
            tier=database.instance_class,
            high_availability=database.instances > 1,
            network=network.network.id,
            backup_retention_days=database.backup_retention_days,
            deletion_protection=database.deletion_protection,
            database=DATABASE,
        ),
        peered,
    )
    redis = memorystore(
        "cache",
        MemorystoreArgs(
            owner=owner,
            name=name,
            region=config.region,
            memory_gib=cache.memory_gib,
            high_availability=cache.replicas > 0,
            network=network.network.id,
        ),
        peered,
    )
    images = ArtifactRegistryArgs(owner=owner, region=config.region, repository=REPOSITORY)
    registry = artifact_registry("registry", images, opts)
    channels = alert_channels(
        "alerts",
        AlertChannelsArgs(
            owner=owner,
            emails=tuple(platform.alert_emails),
            pagerduty_integration_key=config.pagerduty_integration_key,
        ),
        opts,
    )
    _gcp_budgets(config, name, channels, opts)
    replication = None
    targets = config.disaster_recovery
    if platform.replication is not None and primary is not None and targets is not None:
        setup = (platform.replication, targets.rpo_seconds)
        replication = _replicate(config, setup, primary, owner, network, provider, channels)
    # The region's own Cloud SQL; once the primary's standby here is promoted
    # (disasterRecovery.standbyPromoted), the standby: the writer from then on. The former
    # instance stays as it is, unused.
    serving = _promoted_standby(replication) if replication is not None and config.standby_promoted else None
    address = serving.address if serving else sql.instance.private_ip_address
    # Memorystore's certificate names the address in its CN, not a SAN: Python's check of
    # the name fails, while the chain stays pinned to the instance's own CA.
    url = pulumi.Output.format(
        "rediss://:{0}@{1}:{2}/0?ssl_check_hostname=false", redis.auth_string, redis.host, redis.port
    )
    cache_url = pulumi.Output.secret(url)
    issuer = (
        f"https://container.googleapis.com/v1/projects/{platform.project}/locations/{config.region}/clusters/{name}"
    )
    return RegionalPlatform(
        provider=cluster.provider,
        cloud_provider=provider,
        cluster_name=cluster.cluster.name,
        oidc_issuer=issuer,
        # Cloud SQL has one private address; reads go to it too until read replicas exist.
        database_writer=address,
        database_reader=address,
        database_root=serving.root if serving else ("postgres", sql.root_password),
        database_root_version=STANDBY_ROOT_VERSION if serving else 1,
        database_objects_owner=MIGRATED_OBJECTS_OWNER if serving else None,
        global_database=None,
        cache_url=cache_url,
        # Every CA the instance may present, so a CA rotation does not break clients.
        cache_ca=redis.server_ca_certs.apply(lambda certificates: "".join(c.cert for c in certificates)),
        registry_url=registry.registry_uri,
        replication=replication,
    )


def _gcp_budgets(
    config: GcpRegionStack,
    name: str,
    channels: list[gcp.monitoring.NotificationChannel],
    opts: pulumi.ResourceOptions,
) -> None:
    """The stack's budget and its teams', notifying the alert emails' channels (budgets
    take email channels only, PagerDuty pages on the replication alerts) and a Pub/Sub
    topic."""
    platform, owner = config.platform, ownership(config)
    topic = budget_topic("stack", owner, f"{name}-budget-alerts", opts)
    # alert_channels lists the email channels first, one per address.
    mailboxes = [channel.name for channel in channels[: len(platform.alert_emails)]]
    args = GcpBudgetArgs(
        owner=owner,
        billing_account=platform.billing_account,
        project_number=platform.project_number,
        monthly_usd=platform.budget_usd,
        pubsub_topic=topic_path(topic),
        notification_channels=tuple(mailboxes),
    )
    gcp_budget("stack", args, opts)
    for team, usd in sorted(platform.team_budgets.items()):
        gcp_team_budget("stack", team, replace(args, monthly_usd=usd), opts)


@dataclass(frozen=True)
class _Standby:
    address: pulumi.Output[str]
    root: tuple[str, pulumi.Output[str]]


def _promoted_standby(replication: DatabaseReplication) -> _Standby:
    """The promoted standby as the region's database: its private address (the instance
    DMS created from the destination profile) and the root password the program gave it."""

    def known(address: str | None) -> str:
        if not address:
            raise ValueError(
                "disasterRecovery.standbyPromoted: the DMS destination profile reports no private address for the "
                "standby; check the migration job (`ops dr promote-standby`) before serving from it"
            )
        return address

    return _Standby(
        address=replication.standby_address.apply(known),
        root=(STANDBY_ROOT_USER, replication.standby_root_password),
    )


def _replicate(
    config: GcpRegionStack,
    setup: tuple[GcpReplicationConfig, int],
    primary: dict[str, pulumi.Output],
    owner: Ownership,
    network: GcpNetwork,
    provider: gcp.Provider,
    channels: list[gcp.monitoring.NotificationChannel],
) -> DatabaseReplication:
    """The primary's Aurora, replicated by DMS into a standby here, over an HA VPN whose
    AWS half (customer gateways, VPN connections on the primary's VPN gateway) lives in
    the primary's account, through a provider for it."""
    platform, database = config.platform, config.database
    (replication, rpo_seconds), name = setup, f"{cluster_name()}-replication"
    # The primary's account and region, from its contract; the deployer's AWS credentials
    # must be for that account, or the provider refuses to act.
    primary_aws = aws.Provider(
        "primary-aws",
        region=primary[contract.REGION],
        allowed_account_ids=primary[contract.ACCOUNT_ID].apply(lambda account: [account]),
        default_tags=aws.ProviderDefaultTagsArgs(tags=cloud_tags(owner, "project-ai")),
    )
    vpn = HaVpnToAws(
        "replication-vpn",
        HaVpnToAwsArgs(
            owner=owner,
            name=name,
            region=config.region,
            network=network.network.id,
            router_asn=replication.router_asn,
            advertised_cidrs=(platform.private_services_cidr,),
            aws_vpn_gateway_id=primary[contract.VPN_GATEWAY],
            aws_asn=primary[contract.VPN_GATEWAY_ASN],
            tunnel_inside_cidrs=tuple(replication.tunnel_inside_cidrs),  # type: ignore[arg-type]
            private_services_peering=network.private_services.peering,
        ),
        pulumi.ResourceOptions(providers=[provider, primary_aws]),
    )
    return DatabaseReplication(
        "replication",
        DatabaseReplicationArgs(
            owner=owner,
            name=name,
            region=config.region,
            network=network.network.id,
            source_host=primary[contract.DATABASE_WRITER],
            source_username=replication.source_username,
            database_version=GCP_POSTGRES,
            tier=replication.standby_tier or database.instance_class,
            rpo_seconds=rpo_seconds,
            notification_channels=tuple(channel.name for channel in channels),
            deletion_protection=database.deletion_protection,
            start=replication.start,
            promoted=config.standby_promoted,
        ),
        pulumi.ResourceOptions(provider=provider, depends_on=[vpn]),
    )
