"""A private GKE Autopilot cluster: Google enforces Workload Identity, Dataplane V2 and
shielded nodes itself; the team keeps the nodes private, the control plane on its VPN's
range, the nodes on a service account of their own and the kubelet's read-only port
closed, and encrypts Secrets with a KMS key of its own."""

import pulumi_gcp as gcp

LABELS = {"team": "platform", "cost-center": "cc-2001", "environment": "dev", "service": "gke"}

nodes = gcp.serviceaccount.Account("autopilot-nodes", account_id="autopilot-nodes", display_name="GKE nodes")
key_ring = gcp.kms.KeyRing("autopilot", location="europe-west1")
secrets_key = gcp.kms.CryptoKey("autopilot-secrets", key_ring=key_ring.id, rotation_period="7776000s", labels=LABELS)
gcp.kms.CryptoKeyIAMMember(
    "autopilot-secrets-gke",
    crypto_key_id=secrets_key.id,
    role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
    member="serviceAccount:service-123456789012@container-engine-robot.iam.gserviceaccount.com",
)
gcp.container.Cluster(
    "apps",
    location="europe-west1",
    enable_autopilot=True,
    network="projects/orders-dev-4821/global/networks/vpc",
    subnetwork="projects/orders-dev-4821/regions/europe-west1/subnetworks/gke",
    private_cluster_config={
        "enable_private_nodes": True,
        "enable_private_endpoint": True,
        "master_ipv4_cidr_block": "172.16.0.32/28",
    },
    master_authorized_networks_config={"cidr_blocks": [{"cidr_block": "10.8.0.0/16", "display_name": "vpn"}]},
    cluster_autoscaling={"auto_provisioning_defaults": {"service_account": nodes.email}},
    database_encryption={"state": "ENCRYPTED", "key_name": secrets_key.id},
    node_pool_auto_config={"node_kubelet_config": {"insecure_kubelet_readonly_port_enabled": "FALSE"}},
    release_channel={"channel": "REGULAR"},
    deletion_protection=True,
    resource_labels=LABELS,
)
gcp.billing.Budget(
    "autopilot-monthly",
    billing_account="012345-6789AB-CDEF01",
    amount={"specified_amount": {"currency_code": "EUR", "units": "500"}},
    threshold_rules=[{"threshold_percent": 0.8}, {"threshold_percent": 1.0}],
)
