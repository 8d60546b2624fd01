"""Every rule of both packs: a compliant and a non-compliant case, through the engine
preflight and the packs share, with properties wrapped as the analyzer wraps them.
Each non-compliant case asserts the exact violations."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from policies.core.evaluate import evaluate
from policies.core.rule import Pack, Params, Resource, Rule, Stack
from policies.core.rule import rule as decorate
from policies.core.settings import resolve
from policies.cost.rules import PACK as COST
from policies.zero_trust.rules import PACK as ZERO_TRUST
from tests.policies.aws_account_cases import AWS_ACCOUNT_CASES
from tests.policies.aws_store_cases import AWS_STORE_CASES
from tests.policies.cases import (
    CONTAINER,
    DELETE,
    STACK,
    WRAPPERS,
    changed,
    container,
    pod,
    resource,
    urn,
    workload,
)
from tests.policies.chaos_cases import CHAOS_CASES
from tests.policies.cost_estimate_cases import ESTIMATE_CASES
from tests.policies.cost_lifecycle_cases import COST_LIFECYCLE_CASES
from tests.policies.exposure_cases import EXPOSURE_CASES
from tests.policies.gcp_edge_cases import GCP_EDGE_CASES
from tests.policies.gcp_gke_cases import GCP_GKE_CASES
from tests.policies.k8s_rbac_cases import K8S_RBAC_CASES
from tests.policies.k8s_template_cases import K8S_TEMPLATE_CASES
from tests.policies.mesh_cases import MESH_CASES
from tests.policies.relational_cases import RELATIONAL_CASES
from tests.policies.vault_backend_cases import VAULT_BACKEND_CASES

PACKS = (ZERO_TRUST, COST)
RULES: dict[str, Rule] = {rule.name: rule for pack in PACKS for rule in pack.rules}
NS = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PSA = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
DENY = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
TAGS = {"team": "ai", "cost-center": "cc", "environment": "dev", "service": "api"}


@dataclass(frozen=True)
class Case:
    rule: str
    good: list[Resource]
    bad: list[Resource]
    expected: list[str]


def violations(rule_name: str, resources: list[Resource], config: dict[str, Any] | None = None) -> list[str]:
    rule = RULES[rule_name]
    applied = resolve([rule], {rule_name: config or {}})
    outcome = evaluate("test", [rule], Stack(STACK, tuple(resources)), applied)
    return [finding.message for finding in outcome.violations]


def one(kind: str, good: dict[str, Any], bad: dict[str, Any]) -> tuple[list[Resource], list[Resource]]:
    return [resource(kind, good)], [resource(kind, bad)]


def iam(statement: dict[str, Any]) -> dict[str, Any]:
    return {"policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}


def bucket_with(*attachments: tuple[str, dict[str, Any]], kind: str = "aws:s3/bucket:Bucket") -> list[Resource]:
    bucket = resource(kind, {"bucket": "logs"}, "logs")
    return [bucket] + [resource(t, p, f"logs-{i}", (bucket.urn,)) for i, (t, p) in enumerate(attachments)]


DMS_PROFILE = "gcp:databasemigrationservice/connectionProfile:ConnectionProfile"
# prod-gcp's two profiles, as components/gcp/replication.py declares them.
DMS_SOURCE = {
    "role": "SOURCE",
    "postgresql": {
        "host": "db.example.com",
        "port": 5432,
        "username": "u",
        "password": "p",
        "ssl": {"type": "REQUIRED"},
    },
}
DMS_STANDBY = {
    "role": "DESTINATION",
    "cloudsql": {
        "settings": {
            "sourceId": "projects/p/locations/r/connectionProfiles/source",
            "ipConfig": {"enableIpv4": False, "privateNetwork": "projects/p/global/networks/vpc", "requireSsl": True},
        }
    },
}


PAB = (
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    {f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")},
)
TLS_ONLY = (
    "aws:s3/bucketPolicy:BucketPolicy",
    {
        "policy": json.dumps(
            {
                "Statement": [
                    {"Effect": "Deny", "Principal": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                ]
            }
        )
    },
)
EKS = {
    "vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True},
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
}
GKE = {
    "privateClusterConfig": {"enablePrivateNodes": True},
    "workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"},
    "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "10.8.0.0/16"}]},
    "datapathProvider": "ADVANCED_DATAPATH",
}
POOL = {
    "nodeConfig": {
        "serviceAccount": "nodes@p.iam.gserviceaccount.com",
        "machineType": "e2-standard-4",
        "shieldedInstanceConfig": {"enableSecureBoot": True},
        "spot": True,
    },
    "autoscaling": {"maxNodeCount": 5},
}
LAUNCH = {
    "instanceType": "m6i.large",
    "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeType": "gp3", "encrypted": "true"}}],
}
ZONE = "cloudflare:index/zone:Zone"
SETTING = "cloudflare:index/zoneSetting:ZoneSetting"


def zone_with(*settings: tuple[str, str], waf: bool = True) -> list[Resource]:
    zone = resource(ZONE, {"name": "project-ai.dev"}, "zone")
    found = [zone] + [resource(SETTING, {"settingId": s, "value": v}, f"setting-{s}", (zone.urn,)) for s, v in settings]
    if waf:
        found.append(
            resource("cloudflare:index/ruleset:Ruleset", {"phase": "http_request_firewall_managed"}, "waf", (zone.urn,))
        )
    return found


ALL_SETTINGS = (("ssl", "strict"), ("always_use_https", "on"), ("min_tls_version", "1.2"))
RULESET = "cloudflare:index/ruleset:Ruleset"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
AOP = "cloudflare:index/authenticatedOriginPullsSettings:AuthenticatedOriginPullsSettings"
CF_MANAGED, OWASP = "efb7b8c949ac4650a09736fc376e9aee", "4814384a9e5d4991b9815dcfc25d2f1f"


def execute(ruleset_id: str, **overrides: Any) -> dict[str, Any]:
    parameters: dict[str, Any] = {"id": ruleset_id}
    if overrides:
        parameters["overrides"] = overrides
    return {"action": "execute", "expression": "true", "enabled": True, "actionParameters": parameters}


def managed_waf(*rules: dict[str, Any]) -> list[Resource]:
    zone = resource(ZONE, {"name": "project-ai.dev"}, "zone")
    props = {"kind": "zone", "phase": "http_request_firewall_managed", "rules": list(rules)}
    return [zone, resource(RULESET, props, "waf", (zone.urn,))]


def zone_attached(*attached: tuple[str, dict[str, Any]]) -> list[Resource]:
    zone = resource(ZONE, {"name": "project-ai.dev"}, "zone")
    return [zone] + [resource(t, p, f"zone-{i}", (zone.urn,)) for i, (t, p) in enumerate(attached)]


def record(name: str, kind: str = "CNAME", **props: Any) -> Resource:
    return resource(DNS_RECORD, {"name": name, "type": kind, "ttl": 1, "zoneId": "z", **props}, name)


def _cases() -> list[Case]:
    cases = [
        # --- Kubernetes pods ---
        Case(
            "k8s-no-privileged-containers",
            [workload(pod())],
            [workload(container("securityContext.privileged", True))],
            ["container 'api' is privileged"],
        ),
        Case(
            "k8s-no-privilege-escalation",
            [workload(pod())],
            [workload(container("securityContext.allowPrivilegeEscalation", DELETE))],
            ["container 'api' does not set allowPrivilegeEscalation: false"],
        ),
        Case(
            "k8s-run-as-non-root",
            # The pod-level setting counts for containers that do not set their own.
            [workload(container("securityContext.runAsNonRoot", DELETE))],
            [workload(changed(container("securityContext.runAsNonRoot", False), "securityContext", {}))],
            ["container 'api' does not set runAsNonRoot: true"],
        ),
        Case(
            "k8s-no-host-namespaces",
            [workload(pod())],
            [workload(pod("hostPID", True))],
            ["the pod sets hostPID: true"],
        ),
        Case(
            "k8s-no-host-ports",
            [workload(container("ports", [{"containerPort": 8000}]))],
            [workload(container("ports", [{"containerPort": 8000, "hostPort": 8000}]))],
            ["container 'api' binds host port 8000"],
        ),
        Case(
            "k8s-no-host-path-volumes",
            [workload(pod("volumes", [{"name": "tmp", "emptyDir": {}}]))],
            [workload(pod("volumes", [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]))],
            ["volume 'docker' mounts host path /var/run/docker.sock"],
        ),
        Case(
            "k8s-drop-all-capabilities",
            [workload(pod())],
            [workload(container("securityContext.capabilities", {"add": ["NET_ADMIN"]}))],
            ["container 'api' adds capabilities ['NET_ADMIN']", "container 'api' does not drop ALL capabilities"],
        ),
        Case(
            "k8s-read-only-root-filesystem",
            [workload(pod())],
            [workload(container("securityContext.readOnlyRootFilesystem", False))],
            ["container 'api' has a writable root filesystem"],
        ),
        Case(
            "k8s-seccomp-profile",
            [workload(container("securityContext.seccompProfile", DELETE))],
            [workload(changed(container("securityContext.seccompProfile", DELETE), "securityContext", {}))],
            ["container 'api' runs with seccomp profile unset (Unconfined)"],
        ),
        Case(
            "k8s-resource-requests-and-limits",
            [workload(pod())],
            [workload(container("resources", {"requests": {"cpu": "1"}}))],
            ["container 'api' has no resources.requests.memory, resources.limits.memory"],
        ),
        Case(
            "k8s-image-pinned",
            [workload(container("image", "ghcr.io/project-ai/api@sha256:" + "a" * 64))],
            [workload(container("image", "ghcr.io/project-ai/api:latest"))],
            ["container 'api' uses 'ghcr.io/project-ai/api:latest', which is not pinned"],
        ),
        Case(
            "k8s-image-allowed-registry",
            [workload(pod())],
            [workload(container("image", "docker.io/library/nginx:1.27"))],
            [
                "container 'api' pulls 'docker.io/library/nginx:1.27', outside ghcr.io/project-ai/, quay.io/openbao/",
            ],
        ),
        Case(
            "k8s-probes",
            # A Job runs to completion: no probes expected.
            [workload(container("readinessProbe", DELETE), kind="kubernetes:batch/v1:Job")],
            [workload(container("readinessProbe", DELETE))],
            ["container 'api' has no readinessProbe"],
        ),
        Case(
            "k8s-no-service-account-token-automount",
            [workload(pod())],
            [workload(pod("automountServiceAccountToken", DELETE))],
            ["the pod mounts its ServiceAccount token (automountServiceAccountToken is not false)"],
        ),
        Case(
            "k8s-no-secret-env-literals",
            [
                workload(
                    container(
                        "env",
                        [
                            {"name": "LOG_LEVEL", "value": "info"},
                            {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                        ],
                    )
                )
            ],
            [workload(container("env", [{"name": "DB_PASSWORD", "value": "hunter2"}]))],
            ["container 'api' sets DB_PASSWORD to a literal value"],
        ),
        # --- Kubernetes namespaces, networking, RBAC ---
        Case(
            "k8s-namespace-pod-security-restricted",
            [resource(NS, {"metadata": {"name": "app", "labels": PSA}})],
            [
                resource(
                    NS, {"metadata": {"name": "app", "labels": {**PSA, "pod-security.kubernetes.io/warn": "baseline"}}}
                )
            ],
            ["pod security warn=baseline; expected restricted"],
        ),
        Case(
            "k8s-namespace-default-deny",
            [
                resource(NS, {"metadata": {"name": "app"}}, "app"),
                resource(NETPOL, {"metadata": {"name": "deny", "namespace": "app"}, "spec": DENY}, "deny"),
            ],
            [
                resource(NS, {"metadata": {"name": "app"}}, "app"),
                resource(
                    NETPOL,
                    {"metadata": {"name": "deny", "namespace": "app"}, "spec": {**DENY, "policyTypes": ["Ingress"]}},
                    "deny",
                ),
            ],
            ["namespace 'app' has no default-deny NetworkPolicy"],
        ),
        Case(
            "k8s-workload-selected-by-network-policy",
            [
                workload(pod()),
                resource(
                    NETPOL,
                    {"metadata": {"namespace": "app"}, "spec": {"podSelector": {"matchLabels": {"team": "ai"}}}},
                    "allow",
                ),
            ],
            [
                workload(pod()),
                resource(
                    NETPOL,
                    {"metadata": {"namespace": "other"}, "spec": {"podSelector": {}}},
                    "elsewhere",
                ),
            ],
            ["no NetworkPolicy in 'app' selects the pods of subject"],
        ),
        Case(
            "k8s-no-external-services-outside-ingress",
            [
                resource(
                    "kubernetes:core/v1:Service",
                    {"metadata": {"namespace": "ingress-nginx"}, "spec": {"type": "LoadBalancer"}},
                )
            ],
            [resource("kubernetes:core/v1:Service", {"metadata": {"namespace": "app"}, "spec": {"type": "NodePort"}})],
            ["a NodePort Service in 'app'"],
        ),
        Case(
            "k8s-ingress-tls",
            *one(
                "kubernetes:networking.k8s.io/v1:Ingress",
                {"spec": {"rules": [{"host": "a.example.com"}], "tls": [{"hosts": ["a.example.com"]}]}},
                {
                    "spec": {
                        "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}],
                        "tls": [{"hosts": ["a.example.com"]}],
                    }
                },
            ),
            ["host b.example.com is served without TLS"],
        ),
        Case(
            "k8s-no-wildcard-rbac",
            *one(
                "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
                {"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]},
                {"rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}]},
            ),
            ["rules[0].resources contains '*'"],
        ),
        # --- AWS ---
        Case(
            "aws-security-group-no-open-ingress",
            *one(
                "aws:ec2/securityGroup:SecurityGroup",
                {"ingress": [{"cidrBlocks": ["10.0.0.0/16"], "fromPort": 5432, "toPort": 5432, "protocol": "tcp"}]},
                {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "fromPort": 22, "toPort": 22, "protocol": "tcp"}]},
            ),
            ["ingress from 0.0.0.0/0 on ports 22-22"],
        ),
        Case(
            "aws-s3-public-access-block",
            bucket_with(PAB),
            bucket_with((PAB[0], {**PAB[1], "restrictPublicBuckets": False})),
            ["bucket logs's public access block leaves restrictPublicBuckets off"],
        ),
        Case(
            "aws-s3-encryption",
            bucket_with(("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", {})),
            bucket_with(),
            ["bucket logs has no default encryption"],
        ),
        Case(
            "aws-s3-tls-only",
            bucket_with(TLS_ONLY),
            bucket_with((TLS_ONLY[0], {"policy": json.dumps({"Statement": [{"Effect": "Allow"}]})})),
            ["bucket logs accepts requests without TLS"],
        ),
        Case(
            "aws-rds-encrypted",
            *one("aws:rds/cluster:Cluster", {"storageEncrypted": True}, {"storageEncrypted": False}),
            ["storageEncrypted is not true"],
        ),
        Case(
            "aws-rds-not-public",
            *one(
                "aws:rds/clusterInstance:ClusterInstance", {"publiclyAccessible": False}, {"publiclyAccessible": True}
            ),
            ["publiclyAccessible is true"],
        ),
        Case(
            "aws-rds-deletion-protection",
            *one("aws:rds/cluster:Cluster", {"deletionProtection": True}, {}),
            ["deletionProtection is not true in prod"],
        ),
        Case(
            "aws-iam-no-admin",
            *one(
                "aws:iam/policy:Policy",
                iam({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::logs/*"}),
                iam({"Effect": "Allow", "Action": "*", "Resource": "*"}),
            ),
            ["a statement allows '*' on '*'"],
        ),
        Case(
            "aws-iam-no-pass-role-on-any",
            *one(
                "aws:iam/rolePolicy:RolePolicy",
                iam({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/app"}),
                iam({"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": ["*"]}),
            ),
            ["a statement allows iam:PassRole on '*'"],
        ),
        Case(
            "aws-eks-endpoint-restricted",
            *one(
                "aws:eks/cluster:Cluster",
                changed(EKS, "vpcConfig", {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}),
                changed(EKS, "vpcConfig", {"endpointPublicAccess": True}),
            ),
            ["the public endpoint is open to the internet"],
        ),
        Case(
            "aws-eks-secrets-encrypted",
            *one("aws:eks/cluster:Cluster", EKS, changed(EKS, "encryptionConfig", DELETE)),
            ["Secrets are not envelope-encrypted with a KMS key"],
        ),
        Case(
            "aws-eks-control-plane-logging",
            *one("aws:eks/cluster:Cluster", EKS, changed(EKS, "enabledClusterLogTypes", ["api"])),
            ["control-plane logs off: audit, authenticator, controllerManager, scheduler"],
        ),
        Case(
            "aws-imdsv2-required",
            *one(
                "aws:ec2/launchTemplate:LaunchTemplate",
                LAUNCH,
                changed(LAUNCH, "metadataOptions", {"httpTokens": "optional", "httpPutResponseHopLimit": 2}),
            ),
            ["IMDSv2 is not required (metadataOptions.httpTokens)", "metadata hop limit is 2, expected 1"],
        ),
        Case(
            "aws-kms-rotation",
            *one("aws:kms/key:Key", {"enableKeyRotation": True}, {"description": "k"}),
            ["enableKeyRotation is not true"],
        ),
        Case(
            "aws-elasticache-encryption",
            *one(
                "aws:elasticache/replicationGroup:ReplicationGroup",
                {"transitEncryptionEnabled": True, "atRestEncryptionEnabled": True},
                {"atRestEncryptionEnabled": True},
            ),
            ["transitEncryptionEnabled is not true"],
        ),
        Case(
            "aws-ecr-scan-on-push",
            *one(
                "aws:ecr/repository:Repository",
                {"imageScanningConfiguration": {"scanOnPush": True}},
                {"imageScanningConfiguration": {"scanOnPush": False}},
            ),
            ["scanOnPush is not true"],
        ),
        Case(
            "aws-ecr-immutable-tags",
            *one("aws:ecr/repository:Repository", {"imageTagMutability": "IMMUTABLE"}, {}),
            ["imageTagMutability is MUTABLE"],
        ),
        Case(
            "aws-vpc-flow-logs",
            [
                vpc := resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"}, "main"),
                resource("aws:ec2/flowLog:FlowLog", {"trafficType": "ALL"}, "main-flow", (vpc.urn,)),
            ],
            [resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"}, "main")],
            ["VPC main has no flow log"],
        ),
        # --- GCP ---
        Case(
            "gcp-gke-private-nodes",
            *one("gcp:container/cluster:Cluster", GKE, changed(GKE, "privateClusterConfig", DELETE)),
            ["nodes are not private"],
        ),
        Case(
            "gcp-gke-workload-identity",
            *one("gcp:container/cluster:Cluster", GKE, changed(GKE, "workloadIdentityConfig", DELETE)),
            ["Workload Identity is off"],
        ),
        Case(
            "gcp-gke-shielded-nodes",
            *one("gcp:container/nodePool:NodePool", POOL, changed(POOL, "nodeConfig.shieldedInstanceConfig", DELETE)),
            ["secure boot is off"],
        ),
        Case(
            "gcp-gke-no-legacy-abac",
            *one("gcp:container/cluster:Cluster", GKE, changed(GKE, "enableLegacyAbac", True)),
            ["legacy ABAC is on"],
        ),
        Case(
            "gcp-gke-no-client-certificate",
            *one(
                "gcp:container/cluster:Cluster",
                GKE,
                changed(GKE, "masterAuth", {"clientCertificateConfig": {"issueClientCertificate": True}}),
            ),
            ["a client certificate is issued"],
        ),
        Case(
            "gcp-gke-master-authorized-networks",
            *one(
                "gcp:container/cluster:Cluster",
                GKE,
                changed(GKE, "masterAuthorizedNetworksConfig.cidrBlocks", [{"cidrBlock": "0.0.0.0/0"}]),
            ),
            ["the control plane is open to 0.0.0.0/0"],
        ),
        Case(
            "gcp-gke-network-policy",
            *one("gcp:container/cluster:Cluster", GKE, changed(GKE, "datapathProvider", "LEGACY_DATAPATH")),
            ["NetworkPolicies are not enforced"],
        ),
        Case(
            "gcp-gke-no-default-service-account",
            *one("gcp:container/nodePool:NodePool", POOL, changed(POOL, "nodeConfig.serviceAccount", DELETE)),
            ["nodes run as the default compute service account"],
        ),
        Case(
            "gcp-sql-no-public-ip",
            *one(
                "gcp:sql/databaseInstance:DatabaseInstance",
                {"settings": {"ipConfiguration": {"ipv4Enabled": False, "sslMode": "ENCRYPTED_ONLY"}}},
                {"settings": {"ipConfiguration": {"sslMode": "ENCRYPTED_ONLY"}}},
            ),
            ["the instance has a public IPv4 address"],
        ),
        Case(
            "gcp-sql-ssl-required",
            *one(
                "gcp:sql/databaseInstance:DatabaseInstance",
                {"settings": {"ipConfiguration": {"ipv4Enabled": False, "sslMode": "ENCRYPTED_ONLY"}}},
                {"settings": {"ipConfiguration": {"ipv4Enabled": False, "sslMode": "ALLOW_UNENCRYPTED_AND_ENCRYPTED"}}},
            ),
            ["sslMode is ALLOW_UNENCRYPTED_AND_ENCRYPTED"],
        ),
        Case(
            "gcp-dms-private-tls",
            [
                resource(DMS_PROFILE, DMS_SOURCE, "source"),
                resource(DMS_PROFILE, DMS_STANDBY, "standby"),
                # A destination naming an existing instance creates none: the SQL rules judge that one.
                resource(DMS_PROFILE, {"role": "DESTINATION", "cloudsql": {"cloudSqlId": "existing"}}, "existing"),
                resource(DMS_PROFILE, changed(DMS_SOURCE, "postgresql.ssl.type", "SERVER_CLIENT"), "verified"),
            ],
            [
                resource(DMS_PROFILE, changed(DMS_SOURCE, "postgresql.ssl", DELETE), "source"),
                resource(DMS_PROFILE, changed(DMS_SOURCE, "postgresql.ssl.type", "NONE"), "plaintext"),
                resource(DMS_PROFILE, changed(DMS_STANDBY, "cloudsql.settings.ipConfig", {}), "standby"),
                resource(
                    DMS_PROFILE,
                    changed(DMS_STANDBY, "cloudsql.settings.ipConfig.requireSsl", False),
                    "unencrypted",
                ),
            ],
            [
                "the PostgreSQL source is read without SSL (ssl.type is unset)",
                "the PostgreSQL source is read without SSL (ssl.type is NONE)",
                "the Cloud SQL destination has a public IPv4 address",
                "the Cloud SQL destination has no private network",
                "the Cloud SQL destination accepts unencrypted connections (requireSsl is not true)",
                "the Cloud SQL destination accepts unencrypted connections (requireSsl is not true)",
            ],
        ),
        Case(
            "gcp-bucket-uniform-access",
            *one("gcp:storage/bucket:Bucket", {"uniformBucketLevelAccess": True}, {"uniformBucketLevelAccess": False}),
            ["uniform bucket-level access is off"],
        ),
        Case(
            "gcp-bucket-public-access-prevention",
            *one("gcp:storage/bucket:Bucket", {"publicAccessPrevention": "enforced"}, {}),
            ["publicAccessPrevention is inherited"],
        ),
        Case(
            "gcp-firewall-no-open-admin-ports",
            *one(
                "gcp:compute/firewall:Firewall",
                {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["443"]}]},
                {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["20-23", "443"]}]},
            ),
            ["ports [22] are open to the internet"],
        ),
        Case(
            "gcp-kms-rotation",
            *one("gcp:kms/cryptoKey:CryptoKey", {"rotationPeriod": "7776000s"}, {"rotationPeriod": "31536000s"}),
            ["rotationPeriod is 31536000s"],
        ),
        # --- Vault ---
        Case(
            "vault-policy-least-privilege",
            *one(
                "vault:index/policy:Policy",
                {"policy": 'path "kv/data/app/*" {\n  capabilities = ["read"]\n}\n'},
                {
                    "policy": 'path "sys/mounts" {\n  capabilities = ["read", "sudo"]\n}\npath "kv/data/*" {\n  capabilities = ["read"]\n}'
                },
            ),
            ["sys/mounts: grants sudo", "sys/mounts: reaches into sys/ or the root", "kv/data/*: globs a whole mount"],
        ),
        Case(
            "vault-kubernetes-role-bound",
            *one(
                "vault:kubernetes/authBackendRole:AuthBackendRole",
                {"boundServiceAccountNames": ["api"], "boundServiceAccountNamespaces": ["app"], "audience": "vault"},
                {"boundServiceAccountNames": ["*"], "boundServiceAccountNamespaces": ["app"]},
            ),
            [
                "boundServiceAccountNames is ['*']",
                "no audience: a token minted for any other service would log in",
            ],
        ),
        Case(
            "vault-jwt-role-bound",
            *one(
                "vault:jwt/authBackendRole:AuthBackendRole",
                {"boundSubject": "system:serviceaccount:app:api", "boundAudiences": ["vault"]},
                {"boundSubject": "system:serviceaccount:app:*"},
            ),
            [
                "boundSubject is system:serviceaccount:app:*: any token of the issuer would log in",
                "no boundAudiences: a token minted for any other service would log in",
            ],
        ),
        Case(
            "vault-token-ttl-cap",
            *one(
                "vault:kubernetes/authBackendRole:AuthBackendRole",
                {"tokenTtl": 900, "tokenMaxTtl": 3600},
                {"tokenTtl": 900},
            ),
            ["tokenMaxTtl is unset (system default), cap 86400"],
        ),
        Case(
            "vault-audit-device",
            [resource("vault:index/policy:Policy", {"policy": ""}, "p"), resource("vault:index/audit:Audit", {}, "a")],
            [resource("vault:index/policy:Policy", {"policy": ""}, "p")],
            ["Vault is configured but no audit device is declared"],
        ),
        # --- Cloudflare ---
        Case(
            "cloudflare-zone-tls-settings",
            *one(SETTING, {"settingId": "min_tls_version", "value": "1.3"}, {"settingId": "ssl", "value": "flexible"}),
            ["ssl is 'flexible', expected 'strict'"],
        ),
        Case(
            "cloudflare-zone-settings-declared",
            zone_with(*ALL_SETTINGS),
            zone_with(("ssl", "strict")),
            ["zone zone leaves always_use_https, min_tls_version to defaults"],
        ),
        Case(
            "cloudflare-waf-managed-rules",
            zone_with(*ALL_SETTINGS),
            zone_with(*ALL_SETTINGS, waf=False),
            ["zone zone has no managed WAF ruleset"],
        ),
        Case(
            "cloudflare-api-records-proxied",
            [
                record("api.project-ai.dev", proxied=True),
                record("us.api.project-ai.dev", "A", content="192.0.2.1", proxied=True),
                # Records that are never proxied (TXT for ACME DNS-01) are not judged.
                record("_acme-challenge.api.project-ai.dev", "TXT", content="token"),
            ],
            [record("api.project-ai.dev", "AAAA", proxied=False), record("eu.api.project-ai.dev")],
            ["AAAA record 'api.project-ai.dev' is not proxied", "CNAME record 'eu.api.project-ai.dev' is not proxied"],
        ),
        Case(
            "cloudflare-waf-managed-rulesets-enforced",
            # Raising sensitivity or setting block is not disabling anything.
            managed_waf(execute(CF_MANAGED, action="block"), execute(OWASP, rules=[{"id": "r1", "action": "block"}])),
            managed_waf(
                execute(
                    CF_MANAGED,
                    categories=[{"category": "sqli", "action": "log"}],
                    rules=[{"id": "r1", "enabled": False}],
                ),
                {**execute(OWASP), "enabled": False},
                {"action": "skip", "expression": "true", "actionParameters": {"ruleset": "current"}},
            ),
            [
                "ruleset waf rule 0 sets category 'sqli' to log of the Cloudflare Managed Ruleset",
                "ruleset waf rule 0 disables rule 'r1' of the Cloudflare Managed Ruleset",
                "ruleset waf rule 1 executes the OWASP Core Ruleset but is disabled",
                "ruleset waf rule 2 skips the Cloudflare Managed Ruleset",
                "ruleset waf rule 2 skips the OWASP Core Ruleset",
                "zone zone does not execute the OWASP Core Ruleset",
            ],
        ),
        Case(
            "cloudflare-tls-minimum",
            zone_with(("min_tls_version", "1.3"), ("tls_1_3", "zrt")),
            zone_with(("min_tls_version", "1.1"), ("tls_1_3", "off")),
            ["zone zone allows TLS 1.1, below 1.2", "zone zone has tls_1_3 'off', expected 'on'"],
        ),
        Case(
            "cloudflare-origin-pulls",
            zone_attached((AOP, {"zoneId": "z", "enabled": True})),
            zone_attached((SETTING, {"settingId": "tls_client_auth", "value": "off"})),
            ["zone zone has tls_client_auth 'off'", "zone zone does not turn authenticated origin pulls on"],
        ),
        # --- Istio ---
        Case(
            "istio-strict-mtls",
            *one(
                "kubernetes:security.istio.io/v1:PeerAuthentication",
                {"spec": {"mtls": {"mode": "STRICT"}}},
                {"spec": {"mtls": {"mode": "PERMISSIVE"}}},
            ),
            ["mtls.mode is PERMISSIVE"],
        ),
        Case(
            "istio-authorization-per-namespace",
            [
                workload(pod()),
                resource(
                    "kubernetes:security.istio.io/v1:AuthorizationPolicy", {"metadata": {"namespace": "app"}}, "authz"
                ),
            ],
            [
                workload(pod()),
                resource(
                    "kubernetes:security.istio.io/v1:PeerAuthentication",
                    {"metadata": {"namespace": "istio-system"}},
                    "mesh",
                ),
            ],
            ["namespace 'app' has no AuthorizationPolicy"],
        ),
        # --- cost ---
        Case(
            "cost-aws-instance-types",
            *one("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["m6i.large"]}, {"instanceTypes": ["p4d.24xlarge"]}),
            ["instance type p4d.24xlarge is not allowed here (t3.medium, t3.large, m6i.large, m6i.xlarge, m7i.large)"],
        ),
        Case(
            "cost-gcp-machine-types",
            *one("gcp:container/nodePool:NodePool", POOL, changed(POOL, "nodeConfig.machineType", "a2-highgpu-8g")),
            [
                "machine type a2-highgpu-8g is not allowed here "
                "(e2-standard-2, e2-standard-4, n2-standard-2, n2-standard-4)"
            ],
        ),
        Case(
            "cost-aws-node-group-max-size",
            *one("aws:eks/nodeGroup:NodeGroup", {"scalingConfig": {"maxSize": 6}}, {"scalingConfig": {"maxSize": 50}}),
            ["scalingConfig.maxSize is 50, cap 10"],
        ),
        Case(
            "cost-gcp-node-pool-max-size",
            *one("gcp:container/nodePool:NodePool", POOL, changed(POOL, "autoscaling", DELETE)),
            ["the pool has no maximum size, cap 10"],
        ),
        Case(
            "cost-budget-declared",
            [
                resource("aws:ec2/vpc:Vpc", {}, "vpc"),
                resource("aws:budgets/budget:Budget", {"limitAmount": "500"}, "b"),
            ],
            [resource("aws:ec2/vpc:Vpc", {}, "vpc")],
            ["cloud resources without a budget"],
        ),
        Case(
            "cost-allocation-tags",
            *one("aws:ec2/vpc:Vpc", {"tags": TAGS}, {"tags": {"team": "ai"}}),
            ["missing cost-allocation tags: cost-center, environment, service"],
        ),
        Case(
            "cost-workload-labels",
            [workload(pod())],
            [
                resource(
                    "kubernetes:batch/v1:Job",
                    {"spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": pod()}}},
                )
            ],
            ["pods lack labels: team, cost-center, environment"],
        ),
        Case(
            "cost-gp3-volumes",
            *one(
                "aws:ec2/launchTemplate:LaunchTemplate",
                LAUNCH,
                changed(LAUNCH, "blockDeviceMappings.0.ebs.volumeType", "gp2"),
            ),
            ["/dev/xvda is gp2"],
        ),
        Case(
            "cost-log-retention",
            *one("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}, {}),
            ["retentionInDays is unset (forever), cap 90"],
        ),
        Case(
            "cost-bucket-lifecycle",
            bucket_with(("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", {"rules": []})),
            bucket_with(),
            ["bucket logs has no lifecycle configuration"],
        ),
        Case(
            "cost-nat-gateway-count",
            [resource("aws:ec2/natGateway:NatGateway", {}, "nat-a")],
            [resource("aws:ec2/natGateway:NatGateway", {}, f"nat-{zone}") for zone in "abc"],
            ["3 NAT gateways, cap 1"],
        ),
        Case(
            "cost-database-size",
            *one(
                "aws:rds/clusterInstance:ClusterInstance",
                {"instanceClass": "db.r6g.large"},
                {"instanceClass": "db.x2g.16xlarge"},
            ),
            ["instance class db.x2g.16xlarge is not allowed here"],
        ),
        Case(
            "cost-no-public-ip-on-nodes",
            *one(
                "aws:ec2/launchTemplate:LaunchTemplate",
                LAUNCH,
                changed(LAUNCH, "networkInterfaces", [{"associatePublicIpAddress": "true"}]),
            ),
            ["a network interface gets a public IPv4 address"],
        ),
        Case(
            "cost-hpa-max-replicas",
            [
                resource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", {"spec": {"maxReplicas": 10}}),
                resource("kubernetes:keda.sh/v1alpha1:ScaledObject", {"spec": {"maxReplicaCount": 20}}),
            ],
            [
                resource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", {"spec": {"maxReplicas": 200}}),
                resource("kubernetes:keda.sh/v1alpha1:ScaledObject", {"spec": {"maxReplicaCount": 21}}),
                # Unset, KEDA's default of 100 applies.
                resource("kubernetes:keda.sh/v1alpha1:ScaledObject", {"spec": {"minReplicaCount": 1}}),
            ],
            ["maxReplicas is 200, cap 20", "maxReplicaCount is 21, cap 20", "maxReplicaCount is 100, cap 20"],
        ),
        Case(
            "cost-pvc-size",
            *one(
                "kubernetes:core/v1:PersistentVolumeClaim",
                {"spec": {"resources": {"requests": {"storage": "50Gi"}}}},
                {"spec": {"resources": {"requests": {"storage": "1Ti"}}}},
            ),
            ["requests 1Ti, cap 100Gi"],
        ),
    ]
    return cases


CASES = _cases()
# Rules whose cases need configuration beyond the defaults.
CONFIG: dict[str, dict[str, Any]] = {"cost-spot-capacity": {"requireSpot": True}}
CASES.append(
    Case(
        "cost-spot-capacity",
        [resource("gcp:container/nodePool:NodePool", POOL)],
        [resource("aws:eks/nodeGroup:NodeGroup", {"capacityType": "ON_DEMAND"})],
        ["on-demand capacity where spot is required"],
    )
)
# The mesh's and chaos's rules keep their cases in modules of their own (tests/policies/mesh_cases.py,
# chaos_cases.py).
CASES += [
    Case(c.rule, c.good, c.bad, c.expected)
    for c in (
        *MESH_CASES,
        *CHAOS_CASES,
        *RELATIONAL_CASES,
        *EXPOSURE_CASES,
        *VAULT_BACKEND_CASES,
        *AWS_STORE_CASES,
        *GCP_EDGE_CASES,
        *K8S_TEMPLATE_CASES,
        *K8S_RBAC_CASES,
        *GCP_GKE_CASES,
        *AWS_ACCOUNT_CASES,
        *COST_LIFECYCLE_CASES,
        *ESTIMATE_CASES,
    )
]


def uncovered() -> list[str]:
    """Registered rules without a compliant and a non-compliant case (the waiver rules
    have tests of their own, in test_packs.py)."""
    covered = {case.rule for case in CASES if case.good and case.bad and case.expected}
    registered = [rule.name for pack in PACKS for rule in pack.rules]
    return [name for name in registered if name not in covered and not name.endswith("-waivers-current")]


def test_every_rule_has_a_case() -> None:
    assert uncovered() == []
    assert len(ZERO_TRUST.rules) >= 40 + 1 and len(COST.rules) >= 15 + 1


def _register(pack: Pack, name: str) -> Rule:
    @decorate(pack, name=name, description="New.", severity="low", remediation="Fix it.", types=(NS,))
    def check(resource: Resource, params: Params) -> Iterable[str]:
        yield from ()

    return check


def test_a_newly_decorated_rule_is_registered_and_needs_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    # A copy of the registry for this test: the real one is back afterwards.
    monkeypatch.setattr(ZERO_TRUST, "_rules", dict(ZERO_TRUST._rules))
    new = _register(ZERO_TRUST, "k8s-brand-new")
    assert ZERO_TRUST.rules[-1] is new
    assert uncovered() == ["k8s-brand-new"]


def test_a_duplicate_rule_name_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(COST, "_rules", dict(COST._rules))
    with pytest.raises(ValueError) as caught:
        _register(COST, "cost-gp3-volumes")
    assert str(caught.value) == (
        "pack cost: two rules named 'cost-gp3-volumes' "
        "(policies.cost.rules.gp3 and tests.policies.test_rules._register.<locals>.check)"
    )


@pytest.mark.parametrize("pack", PACKS, ids=lambda pack: pack.name)
def test_every_module_of_a_pack_is_loaded_with_it(pack: Pack) -> None:
    # A module the pack does not import would register its rules only here.
    package = importlib.import_module(f"policies.{pack.name.replace('-', '_')}")
    before = [rule.name for rule in pack.rules]
    for module in pkgutil.iter_modules(package.__path__):
        if module.name != "__main__":
            importlib.import_module(f"{package.__name__}.{module.name}")
    assert [rule.name for rule in pack.rules] == before


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.rule)
def test_compliant_resources_pass(case: Case) -> None:
    assert violations(case.rule, case.good, CONFIG.get(case.rule)) == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.rule)
def test_non_compliant_resources_are_reported_exactly(case: Case) -> None:
    assert violations(case.rule, case.bad, CONFIG.get(case.rule)) == case.expected


@pytest.mark.parametrize("kind", sorted(WRAPPERS))
def test_pod_rules_find_the_pod_wherever_it_sits(kind: str) -> None:
    bad = container("securityContext.privileged", True)
    assert violations("k8s-no-privileged-containers", [workload(bad, kind=kind)]) == ["container 'api' is privileged"]
    init = changed(pod(), "initContainers", [{**CONTAINER, "name": "init", "securityContext": {"privileged": True}}])
    assert violations("k8s-no-privileged-containers", [workload(init, kind=kind)]) == [
        "initContainer 'init' is privileged"
    ]


def test_a_resource_of_another_type_is_not_judged() -> None:
    vpc = resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"}, "v")
    assert violations("k8s-no-privileged-containers", [vpc]) == []


def test_rules_are_described_for_crossguard() -> None:
    for rule in RULES.values():
        assert rule.description.endswith(".") and rule.remediation, rule.name
        assert rule.severity in ("low", "medium", "high", "critical") and rule.enforcement == "mandatory", rule.name


def test_urn_helper_matches_the_engine() -> None:
    from policies.core.evaluate import stack_of

    assert stack_of(urn("aws:ec2/vpc:Vpc", "v")) == STACK


def test_review_cases_beyond_the_table() -> None:
    # GKE: authorized networks that let in every Google Cloud public address.
    gke = changed(GKE, "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled", True)
    assert violations("gcp-gke-master-authorized-networks", [resource("gcp:container/cluster:Cluster", gke)]) == [
        "every Google Cloud public IP may reach the control plane (gcpPublicCidrsAccessEnabled)"
    ]
    # A regional pool grows to maxNodeCount in every zone.
    regional = changed(changed(POOL, "autoscaling.maxNodeCount", 4), "nodeLocations", ["a", "b", "c"])
    assert violations("cost-gcp-node-pool-max-size", [resource("gcp:container/nodePool:NodePool", regional)]) == [
        "the pool may grow to 12 nodes, cap 10"
    ]
    # An EBS volume without a type is gp2.
    assert violations("cost-gp3-volumes", [resource("aws:ebs/volume:Volume", {"size": 50})]) == [
        "volume type gp2 (the default when unset)"
    ]
    # 80/443 open to the internet only on the public load balancer's group, named by a rule's group id.
    rule = {"type": "ingress", "securityGroupId": "sg-alb", "cidrBlocks": ["0.0.0.0/0"], "fromPort": 443, "toPort": 443}
    config = {"publicLoadBalancerGroups": ["sg-alb"]}
    sg_rule = "aws:ec2/securityGroupRule:SecurityGroupRule"
    assert violations("aws-security-group-no-open-ingress", [resource(sg_rule, rule)], config) == []
    other = {**rule, "securityGroupId": "sg-nodes"}
    assert violations("aws-security-group-no-open-ingress", [resource(sg_rule, other)], config) == [
        "ingress from 0.0.0.0/0 on ports 443-443"
    ]
