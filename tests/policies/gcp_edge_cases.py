"""Cases for issue #19's GCP and Cloudflare rules: open egress and alternate spellings of the
internet, Cloud SQL backups, Memorystore, basic roles, the default compute service account,
and Cloudflare protections switched on, health-checked pools and Worker secrets. Each bad
case tries a way around the rule; each good case is a legitimate design. test_rules.py adds
them to its table."""

from __future__ import annotations

import json
from typing import Any

from policies.core.rule import Resource
from tests.policies.cases import changed, resource
from tests.policies.relational_cases import RelationalCase

FIREWALL = "gcp:compute/firewall:Firewall"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
REDIS = "gcp:redis/instance:Instance"
REDIS_CLUSTER = "gcp:redis/cluster:Cluster"
VALKEY = "gcp:memorystore/instance:Instance"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
FOLDER_BINDING = "gcp:folder/iAMBinding:IAMBinding"
ORG_POLICY = "gcp:organizations/iAMPolicy:IAMPolicy"
INSTANCE = "gcp:compute/instance:Instance"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
RULESET = "cloudflare:index/ruleset:Ruleset"
SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
LOAD_BALANCER = "cloudflare:index/loadBalancer:LoadBalancer"
WORKER = "cloudflare:index/workersScript:WorkersScript"

POSTGRES: dict[str, Any] = {
    "databaseVersion": "POSTGRES_16",
    "settings": {
        "backupConfiguration": {
            "enabled": True,
            "pointInTimeRecoveryEnabled": True,
            "backupRetentionSettings": {"retainedBackups": 14},
        }
    },
}
MYSQL: dict[str, Any] = {
    "databaseVersion": "MYSQL_8_0",
    "settings": {"backupConfiguration": {"enabled": True, "binaryLogEnabled": True}},
}
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
DEFAULT_SA = "123456789-compute@developer.gserviceaccount.com"


def egress(destinations: list[str] | None, *allows: dict[str, Any], name: str = "egress") -> Resource:
    props: dict[str, Any] = {"direction": "EGRESS", "allows": list(allows)}
    if destinations is not None:
        props["destinationRanges"] = destinations
    return resource(FIREWALL, props, name)


def ingress(sources: list[str], *allows: dict[str, Any], name: str = "ingress") -> Resource:
    return resource(FIREWALL, {"direction": "INGRESS", "sourceRanges": sources, "allows": list(allows)}, name)


def vm(kind: str, email: str | None, scopes: list[str], name: str) -> Resource:
    account: dict[str, Any] = {"scopes": scopes}
    if email is not None:
        account["email"] = email
    return resource(kind, {"serviceAccount": account}, name)


def ruleset(phase: str, *rules: dict[str, Any], name: str = "rules") -> Resource:
    return resource(RULESET, {"zoneId": "z", "kind": "zone", "phase": phase, "rules": list(rules)}, name)


def setting(setting_id: str, value: Any) -> Resource:
    return resource(SETTING, {"zoneId": "z", "settingId": setting_id, "value": value}, setting_id)


def balancer(pools: dict[str, bool], name: str = "lb") -> list[Resource]:
    """Pools (name -> monitored) and a load balancer over all of them."""
    made = [resource(POOL, {"name": key, **({"monitor": "m"} if on else {})}, key) for key, on in pools.items()]
    lb = resource(LOAD_BALANCER, {"name": "api.example.com"}, name, tuple(pool.urn for pool in made))
    return [*made, lb]


def worker(*bindings: dict[str, Any]) -> Resource:
    return resource(WORKER, {"scriptName": "edge", "bindings": list(bindings)}, "edge")


TLS_SG = {"protocol": "tcp", "ports": ["443"]}

GCP_EDGE_CASES = [
    # ::/0 and other spellings of the internet are the internet too (ingress).
    RelationalCase(
        "gcp-firewall-no-open-admin-ports",
        [
            ingress(["35.235.240.0/20"], {"protocol": "tcp", "ports": ["22"]}, name="iap"),
            ingress(["::/0"], TLS_SG, name="https"),
            # udp 22 is no SSH.
            ingress(["0.0.0.0/0"], {"protocol": "udp", "ports": ["22"]}, name="udp"),
        ],
        [
            ingress(["::/0"], {"protocol": "tcp", "ports": ["22"]}, name="v6"),
            ingress(["0::0/0"], {"protocol": "TCP", "ports": ["3389"]}, name="spelled"),
            ingress(["0.0.0.0/1", "128.0.0.0/1"], {"protocol": "6", "ports": ["6443"]}, name="halves"),
            ingress(["0.0.0.0/0"], {"protocol": "all"}, name="all"),
        ],
        [
            "ports [22] are open to the internet",
            "ports [3389] are open to the internet",
            "ports [6443] are open to the internet",
            "ports [22, 3389, 5432, 6379, 6443, 10250] are open to the internet",
        ],
    ),
    RelationalCase(
        "gcp-firewall-no-open-egress",
        [
            egress(["0.0.0.0/0", "::/0"], TLS_SG, name="https"),
            egress(["10.0.0.0/8"], {"protocol": "all"}, name="internal"),
            # A deny-all is no allow; an ingress rule is not egress.
            resource(FIREWALL, {"direction": "EGRESS", "denies": [{"protocol": "all"}]}, "deny"),
            ingress(["10.0.0.0/8"], {"protocol": "all"}),
            resource(FIREWALL, {"direction": "EGRESS", "disabled": True, "allows": [{"protocol": "all"}]}, "off"),
        ],
        [
            egress(None, {"protocol": "all"}, name="unset"),
            egress(["::/0"], {"protocol": "ALL"}, name="v6"),
            egress(["0.0.0.0/0"], {"protocol": "tcp"}, {"protocol": "17", "ports": ["0-32767", "32768-65535"]}),
        ],
        [
            "egress to 0.0.0.0/0 on every protocol",
            "egress to ::/0 on every protocol",
            "egress to 0.0.0.0/0 on every tcp port",
            "egress to 0.0.0.0/0 on every udp port",
        ],
    ),
    RelationalCase(
        "gcp-sql-backups",
        [
            resource(SQL, POSTGRES, "pg"),
            resource(SQL, MYSQL, "mysql"),
            # A read replica's backups are its primary's.
            resource(SQL, {"databaseVersion": "POSTGRES_16", "masterInstanceName": "pg"}, "replica"),
        ],
        [
            resource(SQL, {"databaseVersion": "POSTGRES_16", "settings": {"tier": "db-custom-2-7680"}}, "none"),
            resource(SQL, changed(POSTGRES, "settings.backupConfiguration.pointInTimeRecoveryEnabled", False), "pg"),
            # MySQL's point-in-time recovery is its binary log, not pointInTimeRecoveryEnabled.
            resource(
                SQL,
                changed(
                    changed(MYSQL, "settings.backupConfiguration.binaryLogEnabled", False),
                    "settings.backupConfiguration.pointInTimeRecoveryEnabled",
                    True,
                ),
                "mysql",
            ),
            resource(
                SQL,
                changed(POSTGRES, "settings.backupConfiguration.backupRetentionSettings.retainedBackups", 2),
                "short",
            ),
        ],
        [
            "automated backups are off",
            "point-in-time recovery is off",
            "the binary log is off: no point-in-time recovery",
            "2 backups are retained, at least 7 expected",
        ],
    ),
    RelationalCase(
        "gcp-memorystore-encryption",
        [
            resource(REDIS, {"transitEncryptionMode": "SERVER_AUTHENTICATION", "authEnabled": True}, "redis"),
            resource(
                REDIS_CLUSTER,
                {
                    "transitEncryptionMode": "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION",
                    "authorizationMode": "AUTH_MODE_IAM_AUTH",
                },
                "cluster",
            ),
            resource(VALKEY, {"transitEncryptionMode": "SERVER_AUTHENTICATION", "authorizationMode": "IAM_AUTH"}, "vk"),
        ],
        [
            resource(REDIS, {"authEnabled": True}, "redis"),
            # The instance's spelling on a cluster is not the cluster's.
            resource(
                REDIS_CLUSTER,
                {"transitEncryptionMode": "SERVER_AUTHENTICATION", "authorizationMode": "AUTH_MODE_DISABLED"},
                "cluster",
            ),
            resource(VALKEY, {"transitEncryptionMode": "SERVER_AUTHENTICATION"}, "vk"),
        ],
        [
            "in-transit encryption is off (transitEncryptionMode is unset), expected SERVER_AUTHENTICATION",
            "in-transit encryption is off (transitEncryptionMode is SERVER_AUTHENTICATION), expected "
            "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION",
            "clients are not authenticated (authorizationMode is AUTH_MODE_DISABLED)",
            "clients are not authenticated (authorizationMode is unset)",
        ],
    ),
    RelationalCase(
        "gcp-memorystore-persistence",
        [
            resource(REDIS, {"tier": "STANDARD_HA"}, "ha"),
            resource(REDIS, {"tier": "BASIC", "persistenceConfig": {"persistenceMode": "RDB"}}, "rdb"),
            resource(REDIS_CLUSTER, {"replicaCount": 1}, "cluster"),
            resource(VALKEY, {"persistenceConfig": {"mode": "AOF"}}, "vk"),
        ],
        [
            resource(REDIS, {"tier": "BASIC", "persistenceConfig": {"persistenceMode": "DISABLED"}}, "basic"),
            # The cluster's key is `mode`: the instance's `persistenceMode` does nothing there.
            resource(REDIS_CLUSTER, {"replicaCount": 0, "persistenceConfig": {"persistenceMode": "RDB"}}, "cluster"),
        ],
        [
            "no replica and no persistence (persistence mode DISABLED): a node's loss loses the data",
            "no replica and no persistence (persistence mode unset): a node's loss loses the data",
        ],
    ),
    RelationalCase(
        "gcp-iam-no-basic-roles",
        [
            # Predefined roles for people; a basic role for a service account is another rule's concern.
            resource(PROJECT_MEMBER, {"project": "p", "role": "roles/container.developer", "member": "group:dev@x.io"}),
            resource(
                PROJECT_MEMBER,
                {"project": "p", "role": "roles/viewer", "member": "serviceAccount:ci@p.iam.gserviceaccount.com"},
                "sa",
            ),
        ],
        [
            resource(PROJECT_MEMBER, {"project": "p", "role": "roles/owner", "member": "user:alice@x.io"}),
            resource(
                FOLDER_BINDING,
                {
                    "folder": "f",
                    "role": "roles/Editor",
                    "members": ["domain:x.io", "serviceAccount:a@p.iam.gserviceaccount.com"],
                },
                "folder",
            ),
            resource(
                ORG_POLICY,
                {
                    "orgId": "1",
                    "policyData": json.dumps(
                        {
                            "bindings": [
                                {"role": "roles/viewer", "members": ["allAuthenticatedUsers"]},
                                {"role": "roles/browser", "members": ["group:all@x.io"]},
                                {
                                    "role": "roles/editor",
                                    "members": [
                                        "principalSet://iam.googleapis.com/locations/global/workforcePools/staff/*"
                                    ],
                                },
                            ]
                        }
                    ),
                },
                "org",
            ),
        ],
        [
            "user:alice@x.io is granted the basic role roles/owner",
            "domain:x.io is granted the basic role roles/Editor",
            "allAuthenticatedUsers is granted the basic role roles/viewer",
            "principalSet://iam.googleapis.com/locations/global/workforcePools/staff/* is granted the basic role "
            "roles/editor",
        ],
    ),
    RelationalCase(
        "gcp-no-default-service-account-broad-scopes",
        [
            vm(INSTANCE, "vm@p.iam.gserviceaccount.com", SCOPES, "dedicated"),
            vm(INSTANCE, DEFAULT_SA, ["https://www.googleapis.com/auth/logging.write"], "narrow"),
            # No serviceAccount block: no identity at all.
            resource(INSTANCE, {"machineType": "e2-small"}, "none"),
        ],
        [
            vm(INSTANCE, None, SCOPES, "unset"),
            vm(TEMPLATE, "default", ["cloud-platform"], "template"),
            vm(INSTANCE, DEFAULT_SA, ["HTTPS://www.googleapis.com/auth/cloud-platform/"], "spelled"),
        ],
        ["runs as the default compute service account with the cloud-platform scope"] * 3,
    ),
    # --- Cloudflare ---
    RelationalCase(
        "cloudflare-ruleset-rules-enabled",
        [
            ruleset(
                "http_request_firewall_custom",
                {"ref": "block-admin", "action": "block", "expression": 'http.request.uri.path eq "/admin"'},
                # A skip for one health checker is an exemption, not protections off.
                {
                    "ref": "monitor",
                    "action": "skip",
                    "expression": "ip.src eq 192.0.2.1",
                    "actionParameters": {"phases": ["http_ratelimit"]},
                },
            ),
            # Transform rules may be switched off: no protection lives there.
            ruleset("http_request_transform", {"action": "rewrite", "enabled": False, "expression": "true"}, name="t"),
        ],
        [
            ruleset(
                "http_request_firewall_custom",
                {"ref": "block-admin", "action": "block", "expression": "true", "enabled": False},
                {"action": "log", "expression": "true"},
                {
                    "ref": "skip-all",
                    "action": "skip",
                    "expression": " (true) ",
                    "actionParameters": {"phases": ["http_ratelimit"], "products": ["waf"]},
                },
                name="custom",
            ),
            ruleset(
                "ddos_l7",
                {
                    "ref": "ddos",
                    "action": "execute",
                    "expression": "true",
                    "actionParameters": {
                        "id": "4d21379b4f9f4bb088e0729962c8b3cf",
                        "overrides": {"sensitivityLevel": "eoff"},
                    },
                },
                name="ddos",
            ),
            # Managed rulesets other than the two cloudflare-waf-managed-rulesets-enforced requires.
            ruleset(
                "http_request_firewall_managed",
                {
                    "ref": "leaked-credentials",
                    "action": "execute",
                    "expression": "true",
                    "actionParameters": {"id": "c2e184081120413c86c3ab7e14069605", "overrides": {"enabled": False}},
                },
                name="managed",
            ),
        ],
        [
            "rule block-admin is disabled",
            "rule 1 only logs (action log)",
            "rule skip-all skips phases, products for every request",
            "rule ddos sets every rule's sensitivity to eoff (essentially off) of ruleset "
            "4d21379b4f9f4bb088e0729962c8b3cf",
            "rule leaked-credentials disables every rule of ruleset c2e184081120413c86c3ab7e14069605",
        ],
    ),
    RelationalCase(
        "cloudflare-zone-protections-on",
        [
            setting("security_level", "medium"),
            setting("browser_check", "on"),
            setting("security_header", {"strict_transport_security": {"enabled": True, "max_age": 31536000}}),
            setting("ssl", "strict"),
        ],
        [
            setting("security_level", "essentially_off"),
            setting("browser_check", "OFF"),
            setting("security_header", {"strict_transport_security": {"enabled": False, "max_age": 31536000}}),
            setting("waf", "off"),
        ],
        [
            "security_level is 'essentially_off': the protection is switched off",
            "browser_check is 'OFF': the protection is switched off",
            "HSTS is off (security_header strict_transport_security.enabled is not true)",
            "waf is 'off': the protection is switched off",
        ],
    ),
    RelationalCase(
        "cloudflare-load-balancer-health-checked",
        # The project's design: every region's pool monitored, the last resort not.
        balancer({"eu": True, "us": True, "last-resort": False}),
        [
            *balancer({"eu": True, "us": False, "last-resort": False}),
            *balancer({"solo": False}, name="single"),
            resource(POOL, {"name": "orphan"}, "orphan"),
        ],
        [
            "load balancer lb has 2 unmonitored pools (last-resort, us)",
            "load balancer single health-checks none of its pools",
            "pool orphan has no monitor",
        ],
    ),
    RelationalCase(
        "cloudflare-worker-no-plaintext-secrets",
        [
            worker(
                {"name": "RETRY_AFTER_SECONDS", "type": "plain_text", "text": "30"},
                {"name": "API_TOKEN", "type": "secret_text", "text": "t0ps3cret"},
            )
        ],
        [
            worker(
                {"name": "Upstream_Api_Key", "type": "plain_text", "text": "abc"},
                {"name": "SIGNING", "type": "plain_text", "text": "-----BEGIN EC PRIVATE KEY-----\nMHc..."},
                {"name": "CONFIG", "type": "json", "json": '{"aws": "AKIAIOSFODNN7EXAMPLE"}'},
            )
        ],
        [
            "plain_text binding 'Upstream_Api_Key' is named like a secret: expected secret_text",
            "plain_text binding 'SIGNING' holds a credential in clear: expected secret_text",
            "json binding 'CONFIG' holds a credential in clear: expected secret_text",
        ],
    ),
]
