"""Vault as a platform team configures it: least-privilege policies, GitHub Actions
logging in through JWT (bound to one repository and branch), Kubernetes workloads by
their ServiceAccount, a batch host by AppRole, EC2 instances by IAM role, GCE VMs by
service account, a partner by client certificate, a token role for the deploy bot, a
PKI role for internal services, and two audit devices."""

import pulumi_vault as vault

deploy = vault.Policy(
    "deploy",
    name="deploy",
    policy='path "kv/data/platform/deploy/*" {\n  capabilities = ["read"]\n}\n',
)
orders = vault.Policy(
    "orders",
    name="orders",
    policy=(
        'path "kv/data/orders/*" {\n  capabilities = ["read"]\n}\n'
        'path "database/creds/orders" {\n  capabilities = ["read"]\n}\n'
    ),
)
issuer = vault.Policy(
    "internal-certs",
    name="internal-certs",
    policy='path "pki-internal/issue/internal-service" {\n  capabilities = ["create", "update"]\n}\n',
)

github = vault.jwt.AuthBackend(
    "github-actions",
    path="github-actions",
    oidc_discovery_url="https://token.actions.githubusercontent.com",
    bound_issuer="https://token.actions.githubusercontent.com",
)
vault.jwt.AuthBackendRole(
    "deploy",
    backend=github.path,
    role_name="deploy",
    role_type="jwt",
    user_claim="actor",
    bound_audiences=["https://github.com/example-org"],
    bound_claims={"repository": "example-org/platform", "ref": "refs/heads/main"},
    token_policies=[deploy.name],
    token_ttl=600,
    token_max_ttl=900,
)

kubernetes = vault.AuthBackend("kubernetes", type="kubernetes", path="kubernetes")
vault.kubernetes.AuthBackendConfig(
    "kubernetes", backend=kubernetes.path, kubernetes_host="https://kubernetes.default.svc:443"
)
vault.kubernetes.AuthBackendRole(
    "orders",
    backend=kubernetes.path,
    role_name="orders",
    bound_service_account_names=["orders"],
    bound_service_account_namespaces=["orders"],
    audience="vault",
    token_policies=[orders.name],
    token_ttl=3600,
    token_max_ttl=14400,
)

approle = vault.AuthBackend("approle", type="approle", path="approle")
vault.approle.AuthBackendRole(
    "reporting",
    backend=approle.path,
    role_name="reporting",
    secret_id_bound_cidrs=["10.20.0.0/16"],
    token_bound_cidrs=["10.20.0.0/16"],
    secret_id_ttl=3600,
    token_policies=[orders.name],
    token_ttl=1800,
    token_max_ttl=3600,
)

aws = vault.AuthBackend("aws", type="aws", path="aws")
vault.aws.AuthBackendRole(
    "ingest",
    backend=aws.path,
    role="ingest",
    auth_type="iam",
    bound_iam_principal_arns=["arn:aws:iam::123456789012:role/ingest"],
    token_policies=[orders.name],
    token_ttl=3600,
    token_max_ttl=7200,
)

gcp = vault.AuthBackend("gcp", type="gcp", path="gcp")
vault.gcp.AuthBackendRole(
    "catalog-batch",
    backend=gcp.path,
    role="catalog-batch",
    type="iam",
    bound_service_accounts=["catalog-batch@orders-dev-4821.iam.gserviceaccount.com"],
    token_policies=[orders.name],
    token_ttl=3600,
    token_max_ttl=7200,
)

cert = vault.AuthBackend("cert", type="cert", path="cert")
vault.CertAuthBackendRole(
    "partner",
    backend=cert.path,
    name="partner",
    certificate="-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n",
    allowed_common_names=["billing.partner.example.net"],
    token_policies=[orders.name],
    token_ttl=900,
    token_max_ttl=3600,
)

vault.tokenauth.AuthBackendRole(
    "deploy-bot",
    role_name="deploy-bot",
    allowed_policies=[deploy.name],
    orphan=True,
    renewable=True,
    token_period=3600,
    token_explicit_max_ttl=28800,
    token_ttl=3600,
    token_max_ttl=28800,
)

pki = vault.Mount("pki-internal", path="pki-internal", type="pki", max_lease_ttl_seconds=31536000)
vault.pkisecret.SecretBackendRole(
    "internal-service",
    backend=pki.path,
    name="internal-service",
    allowed_domains=["svc.cluster.local"],
    allow_subdomains=True,
    allow_any_name=False,
    allow_ip_sans=False,
    key_type="ec",
    key_bits=256,
    ttl="86400",
    max_ttl="259200",
)

vault.Audit("file", type="file", options={"file_path": "/vault/audit/audit.log"})
vault.Audit("socket", type="socket", options={"address": "127.0.0.1:9090", "socket_type": "tcp"})
