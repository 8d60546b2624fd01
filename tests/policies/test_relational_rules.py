"""Issue #19's false positives, as a user writes the programs: a GitHub Actions role in
Vault's JWT auth, and a private GKE Autopilot cluster, each synthesized through preflight
and passing both packs. (Their rules' cases are in relational_cases.py.)"""

from __future__ import annotations

from pathlib import Path

from preflight import policies
from preflight.synth import Synthesizer
from tests.conftest import write_program
from tests.policies.cases import resource
from tests.policies.relational_cases import GITHUB_ROLE, JWT_ROLE, RELATIONAL_CASES
from tests.policies.test_rules import violations

GITHUB_ACTIONS = """
import pulumi_vault as vault

jwt = vault.jwt.AuthBackend(
    "github-actions",
    path="github-actions",
    oidc_discovery_url="https://token.actions.githubusercontent.com",
    bound_issuer="https://token.actions.githubusercontent.com",
)
deployer = vault.Policy("deployer", policy='path "kv/data/platform/deploy/*" {\\n  capabilities = ["read"]\\n}\\n')
vault.jwt.AuthBackendRole(
    "deploy",
    backend=jwt.path,
    role_name="deploy",
    role_type="jwt",
    user_claim="actor",
    bound_audiences=["https://github.com/project-ai"],
    bound_claims={"repository": "project-ai/platform", "ref": "refs/heads/main"},
    token_policies=[deployer.name],
    token_ttl=600,
    token_max_ttl=900,
)
for device in ("file", "socket"):
    vault.Audit(device, type=device, options={"file_path": "/vault/audit/audit.log"} if device == "file" else {
        "address": "127.0.0.1:9090", "socket_type": "tcp"})
"""

AUTOPILOT = """
import pulumi_gcp as gcp

nodes = gcp.serviceaccount.Account("nodes", account_id="gke-nodes", display_name="GKE nodes")
gcp.container.Cluster(
    "apps",
    location="europe-west1",
    enable_autopilot=True,
    network="projects/p/global/networks/vpc",
    subnetwork="projects/p/regions/europe-west1/subnetworks/gke",
    private_cluster_config={"enable_private_nodes": True, "enable_private_endpoint": True,
                            "master_ipv4_cidr_block": "172.16.0.32/28"},
    master_authorized_networks_config={"cidr_blocks": [{"cidr_block": "10.8.0.0/16", "display_name": "vpn"}]},
    cluster_autoscaling={"auto_provisioning_defaults": {"service_account": nodes.email}},
    release_channel={"channel": "REGULAR"},
    # Google does not add a Cloud KMS layer to Secrets on Autopilot either: the team's key.
    database_encryption={"state": "ENCRYPTED", "key_name": "projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k"},
    deletion_protection=True,
    resource_labels={"team": "platform", "cost-center": "cc-1", "environment": "dev", "service": "gke"},
)
gcp.billing.Budget(
    "monthly",
    billing_account="000000-000000-000000",
    amount={"specified_amount": {"currency_code": "EUR", "units": "500"}},
    threshold_rules=[{"threshold_percent": 0.8}],
)
"""


def _clean(folder: Path, main: str, config: dict[str, str]) -> list[tuple[str, str, str]]:
    program = write_program(folder, "issue-19", main, {"dev": config})
    report = policies.check(Synthesizer(program).synthesize("dev"))
    assert report.errors == []
    return [(f.policy, f.urn.rsplit("::", 1)[1], f.message) for f in report.outcome.mandatory]


def test_a_github_actions_role_passes_both_packs(tmp_path: Path) -> None:
    assert _clean(tmp_path, GITHUB_ACTIONS, {"vault:address": "https://vault.example.com:8200"}) == []


def test_a_private_autopilot_cluster_passes_both_packs(tmp_path: Path) -> None:
    assert _clean(tmp_path, AUTOPILOT, {"gcp:project": "p", "gcp:region": "europe-west1"}) == []


def test_the_autopilot_program_is_still_judged_on_what_google_does_not_enforce(tmp_path: Path) -> None:
    public = AUTOPILOT.replace('"enable_private_nodes": True', '"enable_private_nodes": False')
    found = _clean(tmp_path, public, {"gcp:project": "p", "gcp:region": "europe-west1"})
    assert found == [("gcp-gke-private-nodes", "apps", "nodes are not private")]


def test_a_kubernetes_issuer_role_is_still_judged_as_a_service_account() -> None:
    role = {**GITHUB_ROLE, "boundSubject": "system:serviceaccount:app"}
    assert violations("vault-jwt-role-bound", [resource(JWT_ROLE, role)]) == [
        "boundSubject is system:serviceaccount:app: any token of the issuer would log in"
    ]


def test_every_issue_19_rule_has_its_cases() -> None:
    assert {case.rule for case in RELATIONAL_CASES} >= {
        "vault-jwt-role-bound",
        "gcp-gke-network-policy",
        "aws-s3-public-access-block",
        "aws-security-group-no-open-ingress",
        "k8s-no-broad-rbac-bindings",
    }
