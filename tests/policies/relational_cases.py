"""Cases for issue #19's rules and fixes: JWT/OIDC roles of non-Kubernetes issuers, GKE
Autopilot, security group rules declared on their own, which bucket a public access block
belongs to, and RBAC bindings. test_rules.py adds them to its table (a module of its own,
like mesh_cases.py: test_rules imports it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policies.core.rule import Resource
from tests.policies.cases import DELETE, changed, resource


@dataclass(frozen=True)
class RelationalCase:
    """test_rules.Case's fields."""

    rule: str
    good: list[Resource]
    bad: list[Resource]
    expected: list[str]


JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"
# A GitHub Actions role: one repository's main branch, for Vault's audience.
GITHUB_ROLE: dict[str, Any] = {
    "roleType": "jwt",
    "userClaim": "actor",
    "boundAudiences": ["https://github.com/project-ai"],
    "boundClaims": {"repository": "project-ai/platform", "ref": "refs/heads/main"},
    "tokenTtl": 600,
    "tokenMaxTtl": 900,
}
GITHUB_BY_SUBJECT: dict[str, Any] = {
    **{k: v for k, v in GITHUB_ROLE.items() if k != "boundClaims"},
    "boundSubject": "repo:project-ai/platform:ref:refs/heads/main",
}
CLUSTER = "gcp:container/cluster:Cluster"
# An Autopilot cluster as a user writes it: private, authorized networks, its own node account.
AUTOPILOT: dict[str, Any] = {
    "enableAutopilot": True,
    "location": "europe-west1",
    "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
    "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "10.8.0.0/16"}]},
    "clusterAutoscaling": {"autoProvisioningDefaults": {"serviceAccount": "nodes@p.iam.gserviceaccount.com"}},
    "releaseChannel": {"channel": "REGULAR"},
}
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
FLAGS = {f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")}
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLUSTER_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"


def binding(role: str, *subjects: dict[str, Any], kind: str = BINDING) -> Resource:
    props = {
        "metadata": {"name": "b", "namespace": "app"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": list(subjects),
    }
    return resource(kind, props, "binding")


def buckets(*blocks: tuple[dict[str, Any], tuple[str, ...]]) -> list[Resource]:
    """Two buckets, `logs` (named) and `assets` (auto-named), and the blocks given as
    (props, names of the buckets each depends on)."""
    logs = resource(BUCKET, {"bucket": "project-ai-logs"}, "logs")
    assets = resource(BUCKET, {}, "assets")
    urns = {"logs": logs.urn, "assets": assets.urn}
    made = [resource(PAB, props, f"block-{i}", tuple(urns[d] for d in deps)) for i, (props, deps) in enumerate(blocks)]
    return [logs, assets, *made]


SA = {"kind": "ServiceAccount", "name": "api", "namespace": "app"}

RELATIONAL_CASES = [
    # A CI system's issuer: judged by its audience and identity claims, not as a ServiceAccount.
    RelationalCase(
        "vault-jwt-role-bound",
        [resource(JWT_ROLE, GITHUB_ROLE, "ci"), resource(JWT_ROLE, GITHUB_BY_SUBJECT, "ci-subject")],
        [
            resource(JWT_ROLE, changed(GITHUB_ROLE, "boundAudiences", DELETE), "no-audience"),
            resource(JWT_ROLE, changed(GITHUB_ROLE, "boundClaims", {"ref": "refs/heads/main"}), "no-subject"),
            resource(
                JWT_ROLE,
                {**changed(GITHUB_ROLE, "boundClaims.repository", "project-ai/*"), "boundClaimsType": "glob"},
                "glob",
            ),
            resource(JWT_ROLE, {**GITHUB_BY_SUBJECT, "boundSubject": "repo:project-ai/*"}, "wild-subject"),
        ],
        [
            "no boundAudiences: a token minted for any other service would log in",
            "boundClaims name only ['ref']: any token of the issuer would log in (bind sub, repository, "
            "repository_id ...)",
            "boundClaims.repository is project-ai/*: a glob matches any repository",
            "boundSubject is repo:project-ai/*: any token of the issuer would log in",
        ],
    ),
    # GKE Autopilot: what Google enforces passes; what it does not is still judged.
    RelationalCase(
        "gcp-gke-workload-identity",
        [resource(CLUSTER, AUTOPILOT)],
        [resource(CLUSTER, changed(AUTOPILOT, "enableAutopilot", False))],
        ["Workload Identity is off"],
    ),
    RelationalCase(
        "gcp-gke-network-policy",
        [resource(CLUSTER, AUTOPILOT)],
        [resource(CLUSTER, changed(AUTOPILOT, "enableAutopilot", DELETE))],
        ["NetworkPolicies are not enforced"],
    ),
    RelationalCase(
        "gcp-gke-shielded-nodes",
        [resource(CLUSTER, changed(AUTOPILOT, "enableShieldedNodes", False))],
        [resource(CLUSTER, changed(changed(AUTOPILOT, "enableShieldedNodes", False), "enableAutopilot", False))],
        ["shielded nodes are off"],
    ),
    RelationalCase(
        "gcp-gke-no-default-service-account",
        [resource(CLUSTER, AUTOPILOT)],
        [resource(CLUSTER, changed(AUTOPILOT, "clusterAutoscaling", DELETE))],
        ["nodes run as the default compute service account"],
    ),
    RelationalCase(
        "gcp-gke-private-nodes",
        [resource(CLUSTER, AUTOPILOT)],
        [resource(CLUSTER, changed(AUTOPILOT, "privateClusterConfig", DELETE))],
        ["nodes are not private"],
    ),
    RelationalCase(
        "gcp-gke-master-authorized-networks",
        [resource(CLUSTER, AUTOPILOT)],
        [resource(CLUSTER, changed(AUTOPILOT, "masterAuthorizedNetworksConfig", DELETE))],
        ["master authorized networks are off"],
    ),
    # Security group rules declared as resources of their own; egress is not judged.
    RelationalCase(
        "aws-security-group-no-open-ingress",
        [
            resource(SG_RULE, {"type": "egress", "cidrBlocks": ["0.0.0.0/0"], "fromPort": 0, "toPort": 0}, "out"),
            resource(INGRESS_RULE, {"cidrIpv4": "10.0.0.0/16", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22}),
        ],
        [
            resource(SG_RULE, {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"], "fromPort": 22, "toPort": 22}, "ssh"),
            resource(INGRESS_RULE, {"cidrIpv6": "::/0", "ipProtocol": "-1"}, "any"),
        ],
        ["ingress from 0.0.0.0/0 on ports 22-22", "ingress from ::/0 on every port (all protocols)"],
    ),
    # A public access block belongs to the bucket its `bucket` names (a name, or the id
    # Pulumi's auto-name gives), or, while that is unknown, to the one bucket it depends on.
    RelationalCase(
        "aws-s3-public-access-block",
        buckets(({"bucket": "project-ai-logs", **FLAGS}, ()), ({"bucket": "assets-0a1b2c3", **FLAGS}, ("assets",))),
        buckets(
            # Depends on both buckets but names `logs`: `assets` has none.
            ({"bucket": "project-ai-logs", **FLAGS}, ("logs", "assets")),
            ({"bucket": "project-ai-logs", **FLAGS, "ignorePublicAcls": False}, ()),
        ),
        [
            "bucket logs's public access block leaves ignorePublicAcls off",
            "bucket assets has no public access block",
        ],
    ),
    RelationalCase(
        "k8s-no-broad-rbac-bindings",
        [binding("view", SA), binding("system:auth-delegator", SA, kind=CLUSTER_BINDING)],
        [
            binding("cluster-admin", SA, kind=CLUSTER_BINDING),
            binding("edit", {"kind": "ServiceAccount", "name": "default"}),
            binding("view", {"kind": "Group", "name": "system:authenticated"}, {"kind": "User", "name": "*"}),
        ],
        [
            "grants cluster-admin (ClusterRole)",
            "subjects[0] is the default ServiceAccount of namespace app: every pod that names none",
            "subjects[0] is Group 'system:authenticated': every caller of that kind",
            "subjects[1] is a wildcard User '*'",
        ],
    ),
]
