"""The program's Vault objects, applied to a real OpenBao server and a real PostgreSQL,
prove least privilege with real tokens and real database users.

Everything applied comes from the synthesized graph of the local stack with the
database engine switched on; only the server addresses are the test's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import psycopg
import pytest
from sqlalchemy.engine import make_url

from components.vault import bootstrap
from components.vault.database import GroupRoles
from preflight.graph import Graph
from preflight.project import SECRET_PLACEHOLDER
from tests.conftest import ROOT
from tests.servers import postgres
from tests.vault.conftest import database_stack
from tests.vault.openbao import CALLS, JWT_ROLE, apply, openbao

APP = "project-ai-api"
KV = "project-ai-local"
DATABASE = "database-local"
CREDENTIAL_TTL = 4
VAULT_USER = "vault"


def _certificate(folder: Path) -> str:
    """A throwaway CA certificate: the Kubernetes auth config needs a parseable one."""
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=kubernetes"),
            *("-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.crt")),
        ],
        check=True,
        capture_output=True,
    )
    return (folder / "ca.crt").read_text()


def _psql(superuser_url: str, statements: list[str], **variables: str) -> None:
    url = make_url(superuser_url)
    command = ["psql", "-v", "ON_ERROR_STOP=1", "-h", url.query["host"], "-p", url.query["port"]]
    command += ["-U", url.username or "", "-d", "project_ai"]
    for name, value in variables.items():
        command += ["-v", f"{name}={value}"]
    subprocess.run(command, input="\n".join(statements), text=True, check=True, capture_output=True)


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, int]]:
    """PostgreSQL with password logins, the app database, and the one-time bootstrap a
    database administrator runs, with the password the stack's secret holds."""
    with postgres(passwords=True) as superuser_url:
        url = make_url(superuser_url)
        with psycopg.connect(host=url.query["host"], port=url.query["port"], user=url.username, dbname="postgres") as c:
            c.autocommit = True
            c.execute("CREATE DATABASE project_ai")
        bootstrap = GroupRoles().bootstrap("project_ai", VAULT_USER)
        _psql(superuser_url, bootstrap, vault_password=SECRET_PLACEHOLDER)
        yield superuser_url, int(url.query["port"])


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory, database: tuple[str, int]) -> Graph:
    folder = tmp_path_factory.mktemp("program")
    vault = {
        "auditFilePath": str(folder / "audit.log"),
        # Vault outside a cluster: the CA of the cluster it reviews tokens against.
        "kubernetesHost": "https://10.0.0.1:6443",
        "kubernetesCaCertificate": _certificate(folder),
        "refreshInterval": "2s",
    }
    database_settings = {
        "host": "127.0.0.1",
        "port": database[1],
        "sslMode": "disable",
        "credentialTtlSeconds": CREDENTIAL_TTL,
        "credentialMaxTtlSeconds": 60,
    }
    return database_stack(folder, vault, database_settings)


@pytest.fixture(scope="module")
def vault(graph: Graph) -> Iterator[hvac.Client]:
    with openbao() as client:
        apply(client, graph)
        # What the deployer writes before the first release (README, "Vault").
        client.secrets.kv.v2.create_or_update_secret(f"{APP}/pepper", {"value": "pepper"}, mount_point=KV)
        client.secrets.kv.v2.create_or_update_secret(f"{APP}/upstream", {"token": "upstream"}, mount_point=KV)
        client.secrets.kv.v2.create_or_update_secret("monitoring/slack", {"webhook-url": "https://x"}, mount_point=KV)
        yield client


def _token(root: hvac.Client, policy: str, kind: str = "service", default_policy: bool = False) -> hvac.Client:
    """A token holding one policy, as a Kubernetes login for that role would get (with
    Vault's `default` policy too, which lets a token look itself up and revoke itself)."""
    policies = [policy, "default"] if default_policy else [policy]
    created = root.auth.token.create(policies=policies, no_default_policy=not default_policy, ttl="10m", type=kind)
    return hvac.Client(url=root.url, token=created["auth"]["client_token"])


def _refused(call: Any) -> None:
    with pytest.raises(hvac.exceptions.Forbidden):
        call()


def _connect(credentials: dict[str, Any], port: int) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1",
        port=port,
        dbname="project_ai",
        user=credentials["username"],
        password=credentials["password"],
        autocommit=True,
        connect_timeout=5,
    )


def test_every_vault_object_of_the_graph_is_accepted(vault: hvac.Client, graph: Graph) -> None:
    kinds = {resource.type for resource in graph.resources if resource.type.startswith("vault:")}
    # Every type the provider applies but JWT roles (local logs in with Kubernetes auth).
    assert kinds == set(CALLS) - {JWT_ROLE}
    assert set(vault.sys.list_auth_methods()["data"]) >= {"kubernetes-local/"}
    # The mesh's intermediate, signed by the dev root in the same run, and its role.
    engines = vault.sys.list_mounted_secrets_engines()["data"]
    assert set(engines) >= {f"{KV}/", f"{DATABASE}/", "pki-mesh-local/", "pki-mesh-root-local/"}
    assert vault.read("pki-mesh-local/roles/mesh-workloads")["data"]["allowed_uri_sans"]
    # Per stack: stacks sharing one Vault add their own devices.
    assert sorted(vault.sys.list_enabled_audit_devices()["data"]) == ["file-local/", "stdout-local/"]
    assert set(vault.sys.list_acl_policies()["data"]["keys"]) >= {
        f"{APP}-local-app",
        f"{APP}-local-external-secrets",
        f"{APP}-local-deployer",
        f"{APP}-local-root-rotator",
    }


def test_the_app_reads_its_own_secrets_and_nothing_else(vault: hvac.Client) -> None:
    app = _token(vault, f"{APP}-local-app")
    read = app.secrets.kv.v2.read_secret_version
    assert read(f"{APP}/pepper", mount_point=KV, raise_on_deleted_version=True)["data"]["data"] == {"value": "pepper"}
    _refused(lambda: read("monitoring/slack", mount_point=KV, raise_on_deleted_version=True))
    _refused(lambda: app.secrets.kv.v2.create_or_update_secret(f"{APP}/pepper", {"value": "x"}, mount_point=KV))
    _refused(lambda: app.sys.list_acl_policies())
    _refused(lambda: app.sys.create_or_update_acl_policy("mine", 'path "*" { capabilities = ["sudo"] }'))
    _refused(lambda: app.sys.list_mounted_secrets_engines())
    assert app.read(f"{DATABASE}/creds/{APP}")["data"]["username"]
    _refused(lambda: app.read(f"{DATABASE}/creds/{APP}-migrate"))


def test_external_secrets_reads_exactly_what_it_syncs(vault: hvac.Client) -> None:
    operator = _token(vault, f"{APP}-local-external-secrets")
    read = operator.secrets.kv.v2.read_secret_version
    assert read(f"{APP}/upstream", mount_point=KV, raise_on_deleted_version=True)["data"]["data"]["token"]
    assert read("monitoring/slack", mount_point=KV, raise_on_deleted_version=True)["data"]["data"]
    vault.secrets.kv.v2.create_or_update_secret(f"{APP}/unsynced", {"value": "x"}, mount_point=KV)
    _refused(lambda: read(f"{APP}/unsynced", mount_point=KV, raise_on_deleted_version=True))
    assert operator.read(f"{DATABASE}/creds/{APP}-migrate")["data"]["password"]
    _refused(lambda: operator.write_data(f"{DATABASE}/rotate-root/app"))


def test_the_deployer_manages_only_its_own_folders(vault: hvac.Client) -> None:
    deployer = _token(vault, f"{APP}-local-deployer")
    kv = deployer.secrets.kv.v2
    kv.create_or_update_secret(f"{APP}/upstream", {"token": "rotated"}, mount_point=KV)
    kv.create_or_update_secret("monitoring/pagerduty", {"routing-key": "r"}, mount_point=KV)
    assert kv.list_secrets(APP, mount_point=KV)["data"]["keys"]
    _refused(lambda: kv.create_or_update_secret("another-app/token", {"value": "x"}, mount_point=KV))
    _refused(lambda: deployer.sys.enable_secrets_engine("kv", path="mine"))
    _refused(lambda: deployer.write_data(f"{DATABASE}/roles/{APP}", data={"db_name": "app"}))
    _refused(lambda: deployer.read(f"{DATABASE}/creds/{APP}"))


def test_runtime_users_read_and_write_rows_but_change_no_schema(vault: hvac.Client, database: tuple[str, int]) -> None:
    port = database[1]
    migrator = vault.read(f"{DATABASE}/creds/{APP}-migrate")["data"]
    # The app's real migrations, as the migration Job runs them with its Vault user.
    url = f"postgresql+psycopg://{migrator['username']}:{migrator['password']}@127.0.0.1:{port}/project_ai"
    environment = {**os.environ, "APP_DATABASE_URL": url, "APP_ENVIRONMENT": "test"}
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=environment, check=True, timeout=120)

    runtime = vault.read(f"{DATABASE}/creds/{APP}")["data"]
    with _connect(runtime, port) as connection:
        owner = connection.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'api_keys'").fetchone()
        assert owner == ("project_ai_owner",)  # not the migration user, which Vault drops
        connection.execute("INSERT INTO api_keys (id, name, secret_hash) VALUES ('k1', 'n', 'h')")
        assert connection.execute("SELECT count(*) FROM api_keys").fetchone() == (1,)
        connection.execute("DELETE FROM api_keys WHERE id = 'k1'")
        for statement in (
            "CREATE TABLE intruder (id int)",
            "DROP TABLE usage_records",
            "ALTER TABLE api_keys ADD COLUMN extra int",
            "TRUNCATE api_keys",
            "CREATE ROLE intruder",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(statement)


def test_credentials_expire(vault: hvac.Client, database: tuple[str, int]) -> None:
    credentials = vault.read(f"{DATABASE}/creds/{APP}")
    assert credentials["lease_duration"] == CREDENTIAL_TTL
    with _connect(credentials["data"], database[1]) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    issued = time.monotonic()
    _refused_soon(credentials["data"], database[1], CREDENTIAL_TTL + 10)
    assert time.monotonic() - issued >= CREDENTIAL_TTL - 1  # not before its lease ended


def test_rotating_the_root_credential_keeps_the_roles_working(vault: hvac.Client, database: tuple[str, int]) -> None:
    port = database[1]
    rotator = _token(vault, f"{APP}-local-root-rotator")
    _refused(lambda: rotator.read(f"{DATABASE}/creds/{APP}"))
    rotator.write_data(f"{DATABASE}/rotate-root/app")
    # Only Vault knows the root password now: the first one is refused.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect({"username": VAULT_USER, "password": SECRET_PLACEHOLDER}, port)
    with _connect(vault.read(f"{DATABASE}/creds/{APP}")["data"], port) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_both_audit_devices_record_requests(vault: hvac.Client, graph: Graph) -> None:
    audit = next(
        resource.inputs["options"]["file_path"]
        for resource in graph.resources
        if resource.type == "vault:index/audit:Audit" and resource.inputs["path"] == "file-local"
    )
    vault.secrets.kv.v2.read_secret_version(f"{APP}/pepper", mount_point=KV, raise_on_deleted_version=True)
    assert f"{KV}/data/{APP}/pepper" in Path(audit).read_text()


def test_users_fetched_by_external_secrets_outlive_its_token_revocation(
    vault: hvac.Client, graph: Graph, database: tuple[str, int]
) -> None:
    """External Secrets revokes its token after each read. Its role issues batch tokens,
    which cannot be revoked, so the users it fetched stay until their own lease ends."""
    role = next(r for r in graph.resources if r.inputs.get("roleName") == f"{APP}-local-external-secrets")
    assert role.inputs["tokenType"] == "batch"
    operator = _token(vault, f"{APP}-local-external-secrets", kind=role.inputs["tokenType"], default_policy=True)
    credentials = operator.read(f"{DATABASE}/creds/{APP}")["data"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="batch tokens cannot be revoked"):
        operator.auth.token.revoke_self()
    with _connect(credentials, database[1]) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    # A service token's users, by contrast, go with it.
    service = _token(vault, f"{APP}-local-external-secrets", default_policy=True)
    doomed = service.read(f"{DATABASE}/creds/{APP}")["data"]
    service.auth.token.revoke_self()
    _refused_soon(doomed, database[1], 10)


def test_the_bootstrap_job_works_for_a_master_user_that_is_no_superuser(
    database: tuple[str, int], tmp_path: Path
) -> None:
    """What a region's bootstrap Job runs, as a cloud database's master user runs it (a
    CREATEROLE user owning the database, not a superuser), twice, with the URL in a file
    as the Job mounts it; then a migration user creates a table as the owner, and a
    runtime user may use it."""
    superuser_url, port = database
    url = make_url(superuser_url)
    with psycopg.connect(host=url.query["host"], port=url.query["port"], user=url.username, dbname="postgres") as c:
        c.autocommit = True
        c.execute("CREATE ROLE cloud_master WITH LOGIN CREATEROLE PASSWORD 'master-pw'")
        c.execute("CREATE DATABASE cloud_db OWNER cloud_master")
    groups = GroupRoles(owner="cloud_owner", runtime="cloud_app")
    statements = groups.bootstrap("cloud_db", "cloud_master", create_vault_user=False)
    target = f"postgresql://cloud_master:master-pw@127.0.0.1:{port}/cloud_db"
    url_file = tmp_path / bootstrap.URL_KEY
    url_file.write_text(target)
    environment = {**os.environ, "BOOTSTRAP_URL_FILE": str(url_file), "BOOTSTRAP_SQL": "\n".join(statements)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", bootstrap.SCRIPT], env=environment, check=True, timeout=60)
    # As Vault would: a migration user and a runtime user, created by the master user.
    with psycopg.connect(target, autocommit=True) as master:
        for statement in groups.migration_creation() + groups.runtime_creation():
            name = "migrator" if "cloud_owner" in statement else "reader"
            master.execute(
                statement.replace("{{name}}", name).replace("{{password}}", "pw").replace("{{expiration}}", "infinity")
            )
    with psycopg.connect(f"postgresql://migrator:pw@127.0.0.1:{port}/cloud_db", autocommit=True) as migrator:
        migrator.execute("CREATE TABLE things (id int)")
    with psycopg.connect(f"postgresql://reader:pw@127.0.0.1:{port}/cloud_db", autocommit=True) as reader:
        reader.execute("INSERT INTO things VALUES (1)")
        assert reader.execute("SELECT count(*) FROM things").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("DROP TABLE things")


def _refused_soon(credentials: dict[str, str], port: int, seconds: float) -> None:
    """Poll (bounded) until PostgreSQL refuses these credentials."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _connect(credentials, port).close()
        except psycopg.OperationalError as error:
            assert "password authentication failed" in str(error) or "does not exist" in str(error), error
            return
        time.sleep(0.2)
    raise AssertionError(f"the credentials still worked after {seconds} s")
