"""prod-gcp serving from its promoted DMS standby (`disasterRecovery.standbyPromoted`),
synthesized with the switch off (the stack file) and on: Vault's database engine and the
app's URLs reach the standby with the root credential the program gave it, the app's
bootstrap takes over what DMS copied, the replication stays as it was and protected, its
lag alert is off, and nothing is deleted or replaced but the bootstrap Job. The SQL the
bootstrap runs is run on a real PostgreSQL, as a database DMS filled would look."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from components.gcp.replication import MIGRATED_OBJECTS_OWNER, STANDBY_ROOT_USER
from components.vault import bootstrap
from components.vault.database import GroupRoles
from policies.core.props import analyzer_view
from policies.core.rule import Resource as Judged
from policies.zero_trust.rules import PACK as ZERO_TRUST
from preflight import diff
from preflight.cli import main
from preflight.graph import Graph, Resource
from preflight.synth import Synthesizer
from stacks import contract
from tests.conftest import CRD_SCHEMAS
from tests.policies.cases import changed
from tests.servers import postgres
from tests.stacks.copies import project_copy, synthesize_copy, unchanged

PROFILE = "gcp:databasemigrationservice/connectionProfile:ConnectionProfile"
JOB = "gcp:databasemigrationservice/migrationJob:MigrationJob"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
CONNECTION = "vault:database/secretBackendConnection:SecretBackendConnection"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
PASSWORD = "random:index/randomPassword:RandomPassword"


def promoted(config: dict[str, Any]) -> None:
    config["projectai:disasterRecovery"]["standbyPromoted"] = True


def without_replication(config: dict[str, Any]) -> None:
    del config["projectai:platform"]["replication"]


@pytest.fixture(scope="module")
def before(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("prod-gcp")


@pytest.fixture(scope="module")
def after(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return synthesize_copy(tmp_path_factory.mktemp("promoted"), "prod-gcp", {"prod": unchanged, "prod-gcp": promoted})


def named(graph: Graph, kind: str, name: str) -> Resource:
    (found,) = [r for r in graph.resources if r.type == kind and r.name == name]
    return found


def engine(graph: Graph) -> dict[str, Any]:
    (connection,) = [r for r in graph.resources if r.type == CONNECTION]
    return connection.secret_inputs["postgresql"]


def app_urls(graph: Graph) -> dict[str, str]:
    """APP_DATABASE_URL of the runtime and the migration users' Secrets."""
    secrets = [r for r in graph.resources if r.type == EXTERNAL_SECRET and r.name.endswith("-database")]
    assert len(secrets) == 2
    return {r.name: r.inputs["spec"]["target"]["template"]["data"]["APP_DATABASE_URL"] for r in secrets}


def host(url: str) -> str:
    return url.split("@", 1)[1].split(":", 1)[0]


def test_the_switch_off_serves_from_the_regions_own_cloud_sql(before: Graph) -> None:
    own = named(before, SQL, "database-instance").outputs["privateIpAddress"]
    connection = engine(before)
    assert host(connection["connectionUrl"]) == own and connection["username"] == "postgres"
    assert connection["passwordWo"] == named(before, PASSWORD, "database-root").outputs["result"]
    assert connection["passwordWoVersion"] == 1
    assert {host(url) for url in app_urls(before).values()} == {own}
    assert before.outputs[contract.DATABASE_WRITER] == before.outputs[contract.DATABASE_READER] == own


def test_the_switch_on_serves_from_the_standby_with_its_root_credential(before: Graph, after: Graph) -> None:
    # The standby's private address: what the destination profile reports of the instance
    # DMS created (its cloudsql.privateIp), exported beside the migration job.
    standby = after.outputs["replication"]["standbyAddress"]
    assert standby and standby != named(after, SQL, "database-instance").outputs["privateIpAddress"]
    assert standby == before.outputs["replication"]["standbyAddress"]
    connection = engine(after)
    assert (
        connection["connectionUrl"]
        == f"postgresql://{{{{username}}}}:{{{{password}}}}@{standby}:5432/project_ai?sslmode=require"
    )
    # Its first root: the one the program generated for the destination profile, handed to
    # Vault as a new write-only version (Vault rotates it from then on).
    root = named(after, PASSWORD, "replication-standby-root").outputs["result"]
    settings = named(after, PROFILE, "replication-standby").secret_inputs["cloudsql"]["settings"]
    assert connection["passwordWo"] == root == settings["rootPassword"]
    assert connection["username"] == STANDBY_ROOT_USER == "postgres"
    assert connection["passwordWoVersion"] == 2
    assert {host(url) for url in app_urls(after).values()} == {standby}
    assert after.outputs[contract.DATABASE_WRITER] == after.outputs[contract.DATABASE_READER] == standby
    assert after.outputs["databaseBootstrap"] == "[secret]"


def test_the_bootstrap_takes_over_what_dms_copied(before: Graph, after: Graph) -> None:
    def job(graph: Graph) -> Resource:
        (found,) = [
            r for r in graph.resources if r.type == "kubernetes:batch/v1:Job" and r.name == "database-bootstrap-job"
        ]
        return found

    statements: dict[bool, str] = {}
    for graph, adopted in ((before, False), (after, True)):
        env = job(graph).inputs["spec"]["template"]["spec"]["containers"][0]["env"]
        sql = next(e["value"] for e in env if e["name"] == "BOOTSTRAP_SQL")
        statements[adopted] = sql
        assert (f'REASSIGN OWNED BY "{MIGRATED_OBJECTS_OWNER}" TO "project_ai_owner"' in sql) is adopted
    groups = GroupRoles()
    assert statements[True].splitlines() == [
        *groups.bootstrap("project_ai", "postgres", create_vault_user=False),
        *groups.adoption(MIGRATED_OBJECTS_OWNER),
    ]
    # Other statements, another Job: it runs once on the standby (the done one is not rerun).
    assert job(before).inputs["metadata"]["name"] != job(after).inputs["metadata"]["name"]
    credential = named(after, "kubernetes:core/v1:Secret", "database-bootstrap-credential")
    url = credential.secret_inputs["stringData"]["url"]
    assert host(url) == after.outputs["replication"]["standbyAddress"] and url.startswith("postgresql://postgres:")


def test_the_replication_stays_as_it_was_protected_and_its_alert_is_off(before: Graph, after: Graph) -> None:
    for name, kind in (("replication-source", PROFILE), ("replication-standby", PROFILE), ("replication-job", JOB)):
        was, now = named(before, kind, name), named(after, kind, name)
        # The same inputs: `pulumi up` has nothing to change on a completed job or its profiles.
        assert (now.inputs, now.secret_inputs) == (was.inputs, was.secret_inputs), name
        assert (was.protect, now.protect) == (False, True), name
    job = named(after, JOB, "replication-job")
    assert job.ignore_changes == ["desiredState"] and named(before, JOB, "replication-job").ignore_changes == []
    assert (
        job.inputs["deletionPolicy"]
        == named(after, PROFILE, "replication-standby").inputs["deletionPolicy"]
        == "PREVENT"
    )
    assert named(before, ALERT, "replication-lag").inputs["enabled"] is True
    assert named(after, ALERT, "replication-lag").inputs["enabled"] is False


def test_nothing_is_created_deleted_or_replaced_but_the_bootstrap_job(before: Graph, after: Graph) -> None:
    assert {r.urn for r in before.resources} == {r.urn for r in after.resources}
    changes = diff.diff(before, after)
    assert [c for c in changes if c.errors] == []
    assert {(c.action, c.name) for c in changes if c.action != diff.UPDATED} == {
        (diff.REPLACED, "database-bootstrap-job")
    }
    updated = {c.name for c in changes if c.action == diff.UPDATED}
    # The region's former Cloud SQL, its root, and the replication are untouched.
    assert not updated & {"database-instance", "database-root", "replication-source", "replication-standby"}
    assert "replication-job" not in updated and "replication-lag" in updated
    # What points at the standby now: the app's Secrets (Vault's connection and the
    # bootstrap's URL too, in secret inputs, which a diff does not see: tests above).
    assert {
        "secret-project-ai-project-ai-api-database",
        "secret-project-ai-project-ai-api-migration-database",
    } <= updated


def test_preflight_is_clean_with_the_switch_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = project_copy(tmp_path, {"prod": unchanged, "prod-gcp": promoted})
    code = main(["--stack", "prod-gcp", "--program", str(program.directory), "--crd-schemas", str(CRD_SCHEMAS)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "policies: 0 mandatory, 0 advisory" in out


def test_the_dms_rule_reads_the_profiles_as_the_program_declares_them(after: Graph) -> None:
    (rule,) = [r for r in ZERO_TRUST.rules if r.name == "gcp-dms-private-tls"]

    def judged(resource: Resource, path: str, value: Any) -> list[str]:
        props = changed(resource.revealed_inputs, path, value)
        subject = Judged(resource.type, resource.name, resource.urn, analyzer_view(props))
        assert rule.check is not None
        return list(rule.check(subject, rule.params()))

    standby, source = named(after, PROFILE, "replication-standby"), named(after, PROFILE, "replication-source")
    assert judged(standby, "cloudsql.settings.ipConfig.requireSsl", True) == []
    assert judged(standby, "cloudsql.settings.ipConfig.enableIpv4", True) == [
        "the Cloud SQL destination has a public IPv4 address"
    ]
    assert judged(source, "postgresql.ssl.type", "NONE") == [
        "the PostgreSQL source is read without SSL (ssl.type is NONE)"
    ]


def test_a_later_change_that_drops_the_promoted_standby_is_refused(after: Graph, tmp_path: Path) -> None:
    # The stack file cannot: standbyPromoted needs the replication (tests/stacks). A change
    # that turns both off is a program that deletes the standby: the engine refuses.
    dropped = synthesize_copy(tmp_path, "prod-gcp", {"prod": unchanged, "prod-gcp": without_replication})
    refused = {c.name: c for c in diff.diff(after, dropped) if c.action == diff.DELETED and c.errors}
    assert {"replication-source", "replication-standby", "replication-job"} <= set(refused)
    assert all(c.protect for c in refused.values())


def test_the_adoption_hands_dms_objects_to_the_owner_group(tmp_path: Path) -> None:
    """A database as DMS leaves it: the administrator (a CREATEROLE user, Cloud SQL's
    `postgres`) and every table and sequence owned by `cloudsqlexternalsync`. The Job's
    statements, run twice as the Job runs them, give them to the owner group: a migration
    user alters them, a runtime user reads and writes them and may not drop them."""
    with postgres(passwords=True) as superuser_url:
        url = make_url(superuser_url)
        socket = {"host": url.query["host"], "port": url.query["port"], "user": url.username}
        with psycopg.connect(**socket, dbname="postgres", autocommit=True) as c:
            c.execute("CREATE ROLE standby_root WITH LOGIN CREATEROLE PASSWORD 'root-pw'")
            c.execute("CREATE DATABASE copied OWNER standby_root")
            c.execute(f"CREATE ROLE {MIGRATED_OBJECTS_OWNER} NOLOGIN")
        with psycopg.connect(**socket, dbname="copied", autocommit=True) as c:
            c.execute("CREATE TABLE keys (id bigserial PRIMARY KEY, name text)")
            c.execute("INSERT INTO keys (name) VALUES ('copied')")
            c.execute(f"ALTER TABLE keys OWNER TO {MIGRATED_OBJECTS_OWNER}")
        groups = GroupRoles(owner="copied_owner", runtime="copied_app")
        statements = groups.bootstrap("copied", "standby_root", create_vault_user=False)
        statements += groups.adoption(MIGRATED_OBJECTS_OWNER)
        port = socket["port"]
        target = f"postgresql://standby_root:root-pw@127.0.0.1:{port}/copied"
        url_file = tmp_path / bootstrap.URL_KEY
        url_file.write_text(target)
        environment = {**os.environ, "BOOTSTRAP_URL_FILE": str(url_file), "BOOTSTRAP_SQL": "\n".join(statements)}
        for _ in range(2):
            subprocess.run([sys.executable, "-c", bootstrap.SCRIPT], env=environment, check=True, timeout=60)
        with psycopg.connect(target, autocommit=True) as root:
            owners = root.execute(
                "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            ).fetchall()
            assert owners == [("copied_owner",)]
            for statement in groups.migration_creation() + groups.runtime_creation():
                name = "migrator" if "copied_owner" in statement else "reader"
                root.execute(
                    statement.replace("{{name}}", name)
                    .replace("{{password}}", "pw")
                    .replace("{{expiration}}", "infinity")
                )
        with psycopg.connect(f"postgresql://migrator:pw@127.0.0.1:{port}/copied", autocommit=True) as migrator:
            migrator.execute("ALTER TABLE keys ADD COLUMN created timestamptz")
        with psycopg.connect(f"postgresql://reader:pw@127.0.0.1:{port}/copied", autocommit=True) as reader:
            reader.execute("INSERT INTO keys (name) VALUES ('written after the promotion')")
            assert reader.execute("SELECT count(*) FROM keys").fetchone() == (2,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute("DROP TABLE keys")
