"""Cases for issue #19's token lifetimes in every auth backend: vault-token-ttl-cap on the
roles of AppRole, AWS, GCP, Azure, TLS certificate, OCI and the other role-bearing
backends, and on token roles, whose periodic tokens need an explicit max TTL.
test_rules.py adds them to its table (like relational_cases.py)."""

from __future__ import annotations

from typing import Any

from tests.policies.cases import resource
from tests.policies.relational_cases import RelationalCase

RULE = "vault-token-ttl-cap"
SHORT: dict[str, Any] = {"tokenTtl": 900, "tokenMaxTtl": 3600}
# Each backend's role, with the properties that make it a role of that backend.
ROLES: dict[str, dict[str, Any]] = {
    "vault:appRole/authBackendRole:AuthBackendRole": {"roleName": "ci", "tokenPolicies": ["ci"]},
    "vault:aws/authBackendRole:AuthBackendRole": {"role": "ec2", "authType": "iam"},
    "vault:gcp/authBackendRole:AuthBackendRole": {"role": "gce", "type": "iam"},
    "vault:azure/authBackendRole:AuthBackendRole": {"role": "vm", "boundResourceGroups": ["rg"]},
    "vault:alicloud/authBackendRole:AuthBackendRole": {"role": "ecs", "arn": "acs:ram::1:role/ecs"},
    "vault:cf/authBackendRole:AuthBackendRole": {"name": "app", "boundSpaceIds": ["space"]},
    "vault:saml/authBackendRole:AuthBackendRole": {"name": "staff", "boundSubjects": ["*@example.com"]},
    "vault:spiffe/authBackendRole:AuthBackendRole": {"name": "mesh", "workloadIdPatterns": ["ns/app/sa/api"]},
    "vault:index/certAuthBackendRole:CertAuthBackendRole": {"name": "web", "certificate": "PEM"},
    "vault:index/ociAuthBackendRole:OciAuthBackendRole": {"name": "oci", "ocidLists": ["ocid1.group"]},
    "vault:index/scepAuthBackendRole:ScepAuthBackendRole": {"name": "device", "authType": "static-challenge"},
    "vault:index/tpmAuthBackendRole:TpmAuthBackendRole": {"name": "node", "ekCaCertificate": "PEM"},
}
TOKEN_ROLE = "vault:tokenauth/authBackendRole:AuthBackendRole"

VAULT_BACKEND_CASES = [
    # A role that leaves its lifetimes to the mount's (32 days by default): both are reported.
    *(
        RelationalCase(
            RULE,
            [resource(kind, {**props, **SHORT})],
            [resource(kind, props)],
            ["tokenTtl is unset (system default), cap 86400", "tokenMaxTtl is unset (system default), cap 86400"],
        )
        for kind, props in ROLES.items()
    ),
    # A TTL over the cap on one backend, a max TTL over it on another.
    RelationalCase(
        RULE,
        [
            resource(
                "vault:aws/authBackendRole:AuthBackendRole",
                {**ROLES["vault:aws/authBackendRole:AuthBackendRole"], **SHORT},
            )
        ],
        [
            resource(
                "vault:aws/authBackendRole:AuthBackendRole", {"role": "ec2", "tokenTtl": 90000, "tokenMaxTtl": 3600}
            )
        ],
        ["tokenTtl is 90000, cap 86400"],
    ),
    # A token role: a periodic token with no explicit max TTL renews forever.
    RelationalCase(
        RULE,
        [resource(TOKEN_ROLE, {"roleName": "agent", **SHORT, "tokenPeriod": 3600, "tokenExplicitMaxTtl": 86400})],
        [resource(TOKEN_ROLE, {"roleName": "agent", **SHORT, "tokenPeriod": 3600})],
        ["tokenPeriod is 3600 with no tokenExplicitMaxTtl: a periodic token renews forever"],
    ),
    # ... or an explicit max TTL past the cap; and a token role with no lifetimes at all.
    RelationalCase(
        RULE,
        [resource(TOKEN_ROLE, {"roleName": "agent", **SHORT})],
        [resource(TOKEN_ROLE, {"roleName": "agent", "tokenPeriod": 3600, "tokenExplicitMaxTtl": 2592000})],
        [
            "tokenTtl is unset (system default), cap 86400",
            "tokenMaxTtl is unset (system default), cap 86400",
            "tokenExplicitMaxTtl is 2592000, cap 86400",
        ],
    ),
    # The periodic check holds on every backend's roles, not only token roles.
    RelationalCase(
        RULE,
        [resource("vault:appRole/authBackendRole:AuthBackendRole", {"roleName": "ci", **SHORT, "tokenPeriod": 0})],
        [resource("vault:appRole/authBackendRole:AuthBackendRole", {"roleName": "ci", **SHORT, "tokenPeriod": 600})],
        ["tokenPeriod is 600 with no tokenExplicitMaxTtl: a periodic token renews forever"],
    ),
]
