"""A catalog service on Google Cloud: a VPC whose firewall admits SSH only through IAP
and lets the VMs reach Google's APIs privately, a private GKE Standard cluster with a
dedicated node service account, a Cloud SQL PostgreSQL instance with a private IP,
enforced TLS, backups and point-in-time recovery, a Memorystore Redis with AUTH,
in-transit encryption and RDB snapshots, a bucket read by one service account, a
rotating KMS key, and a batch VM on its own service account."""

import pulumi_gcp as gcp

PROJECT = "orders-dev-4821"
REGION = "europe-west1"
LABELS = {"team": "catalog", "cost-center": "cc-4410", "environment": "dev", "service": "catalog"}

network = gcp.compute.Network("catalog", auto_create_subnetworks=False)
subnet = gcp.compute.Subnetwork(
    "catalog-gke",
    network=network.id,
    region=REGION,
    ip_cidr_range="10.60.0.0/20",
    private_ip_google_access=True,
    secondary_ip_ranges=[
        {"range_name": "pods", "ip_cidr_range": "10.64.0.0/14"},
        {"range_name": "services", "ip_cidr_range": "10.68.0.0/20"},
    ],
    log_config={"aggregation_interval": "INTERVAL_5_SEC", "flow_sampling": 0.5},
)
gcp.compute.Firewall(
    "catalog-ssh-from-iap",
    network=network.id,
    direction="INGRESS",
    source_ranges=["35.235.240.0/20"],
    allows=[{"protocol": "tcp", "ports": ["22"]}],
    target_tags=["batch"],
    log_config={"metadata": "INCLUDE_ALL_METADATA"},
)
gcp.compute.Firewall(
    "catalog-to-google-apis",
    network=network.id,
    direction="EGRESS",
    destination_ranges=["199.36.153.8/30"],
    allows=[{"protocol": "tcp", "ports": ["443"]}],
    priority=900,
)
gcp.compute.Firewall(
    "catalog-deny-egress",
    network=network.id,
    direction="EGRESS",
    destination_ranges=["0.0.0.0/0"],
    denies=[{"protocol": "all"}],
    priority=65000,
)

key_ring = gcp.kms.KeyRing("catalog", location=REGION)
key = gcp.kms.CryptoKey("catalog", key_ring=key_ring.id, rotation_period="7776000s", labels=LABELS)

nodes = gcp.serviceaccount.Account("catalog-nodes", account_id="catalog-nodes", display_name="GKE nodes")
for role in ("roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/artifactregistry.reader"):
    gcp.projects.IAMMember(
        f"catalog-nodes-{role.split('/')[1]}",
        project=PROJECT,
        role=role,
        member=nodes.email.apply(lambda email: f"serviceAccount:{email}"),
    )
cluster = gcp.container.Cluster(
    "catalog",
    location=REGION,
    network=network.id,
    subnetwork=subnet.id,
    remove_default_node_pool=True,
    initial_node_count=1,
    ip_allocation_policy={"cluster_secondary_range_name": "pods", "services_secondary_range_name": "services"},
    private_cluster_config={
        "enable_private_nodes": True,
        "enable_private_endpoint": True,
        "master_ipv4_cidr_block": "172.16.0.0/28",
    },
    master_authorized_networks_config={"cidr_blocks": [{"cidr_block": "10.60.0.0/20", "display_name": "vpc"}]},
    workload_identity_config={"workload_pool": f"{PROJECT}.svc.id.goog"},
    datapath_provider="ADVANCED_DATAPATH",
    enable_shielded_nodes=True,
    database_encryption={"state": "ENCRYPTED", "key_name": key.id},
    release_channel={"channel": "REGULAR"},
    node_pool_defaults={"node_config_defaults": {"insecure_kubelet_readonly_port_enabled": "FALSE"}},
    deletion_protection=True,
    resource_labels=LABELS,
)
gcp.container.NodePool(
    "catalog-workers",
    cluster=cluster.id,
    location=REGION,
    autoscaling={"total_min_node_count": 1, "total_max_node_count": 4},
    management={"auto_repair": True, "auto_upgrade": True},
    node_config={
        "machine_type": "e2-standard-2",
        "service_account": nodes.email,
        "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
        "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
        "workload_metadata_config": {"mode": "GKE_METADATA"},
        "kubelet_config": {"insecure_kubelet_readonly_port_enabled": "FALSE", "pod_pids_limit": 4096},
        "labels": {"node-role": "workers"},
    },
)

gcp.sql.DatabaseInstance(
    "catalog",
    region=REGION,
    database_version="POSTGRES_16",
    encryption_key_name=key.id,
    deletion_protection=True,
    settings={
        "tier": "db-custom-2-7680",
        "availability_type": "REGIONAL",
        "ip_configuration": {
            "ipv4_enabled": False,
            "private_network": network.id,
            "ssl_mode": "ENCRYPTED_ONLY",
        },
        "backup_configuration": {
            "enabled": True,
            "point_in_time_recovery_enabled": True,
            "start_time": "02:00",
            "transaction_log_retention_days": 7,
            "backup_retention_settings": {"retained_backups": 14},
        },
        "database_flags": [
            {"name": name, "value": value}
            for name, value in {
                "log_connections": "on",
                "log_disconnections": "on",
                "log_lock_waits": "on",
                "log_temp_files": "0",
                "cloudsql.enable_pgaudit": "on",
            }.items()
        ],
        "user_labels": LABELS,
    },
)

gcp.redis.Instance(
    "catalog-cache",
    region=REGION,
    tier="STANDARD_HA",
    persistence_config={"persistence_mode": "RDB", "rdb_snapshot_period": "TWELVE_HOURS"},
    memory_size_gb=1,
    redis_version="REDIS_7_2",
    authorized_network=network.id,
    connect_mode="PRIVATE_SERVICE_ACCESS",
    auth_enabled=True,
    transit_encryption_mode="SERVER_AUTHENTICATION",
    customer_managed_key=key.id,
    labels=LABELS,
)

assets = gcp.storage.Bucket(
    "catalog-assets",
    location="EU",
    uniform_bucket_level_access=True,
    public_access_prevention="enforced",
    versioning={"enabled": True},
    encryption={"default_kms_key_name": key.id},
    lifecycle_rules=[
        {"action": {"type": "Delete"}, "condition": {"age": 365, "with_state": "LIVE"}},
        {"action": {"type": "Delete"}, "condition": {"num_newer_versions": 3, "with_state": "ARCHIVED"}},
    ],
    labels=LABELS,
)
app = gcp.serviceaccount.Account("catalog-app", account_id="catalog-app", display_name="catalog app")
gcp.storage.BucketIAMMember(
    "catalog-app-reads-assets",
    bucket=assets.name,
    role="roles/storage.objectViewer",
    member=app.email.apply(lambda email: f"serviceAccount:{email}"),
)
gcp.projects.IAMMember(
    "catalog-app-sql-client",
    project=PROJECT,
    role="roles/cloudsql.client",
    member=app.email.apply(lambda email: f"serviceAccount:{email}"),
)
gcp.projects.IAMMember(
    "catalog-oncall-viewer",
    project=PROJECT,
    role="roles/monitoring.viewer",
    member="group:catalog-oncall@example.com",
)

batch = gcp.serviceaccount.Account("catalog-batch", account_id="catalog-batch", display_name="catalog batch VM")
gcp.compute.Instance(
    "catalog-batch",
    zone=f"{REGION}-b",
    machine_type="e2-standard-2",
    boot_disk={"initialize_params": {"image": "debian-cloud/debian-12", "size": 20}, "kms_key_self_link": key.id},
    network_interfaces=[{"subnetwork": subnet.id}],
    service_account={"email": batch.email, "scopes": ["cloud-platform"]},
    shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
    metadata={"block-project-ssh-keys": "true", "enable-oslogin": "TRUE"},
    tags=["batch"],
    labels=LABELS,
)

gcp.billing.Budget(
    "catalog-monthly",
    billing_account="012345-6789AB-CDEF01",
    display_name="catalog dev",
    amount={"specified_amount": {"currency_code": "EUR", "units": "500"}},
    threshold_rules=[{"threshold_percent": 0.8}, {"threshold_percent": 1.0}],
)
