"""The Vault integration under mocks: policies, auth roles, the database engine, External
Secrets, Reloader and the rotation job, as the local stack (dev-mode OpenBao) and a
stack with an external Vault and the database engine declare them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.mesh import certificates
from components.vault import integration, policies
from preflight import kubernetes
from preflight.graph import Graph, Resource
from preflight.kubernetes import VALID
from preflight.project import SECRET_PLACEHOLDER
from preflight.synth import Synthesizer
from stacks.config import ConfigError, parse
from tests.conftest import CRD_SCHEMAS, copy_project, objects, one, stack_config, synced_keys
from tests.vault.conftest import EXTERNAL_VAULT, database_stack

APP = "project-ai-api"


# The mesh's certificate issuer (cert-manager's Vault Issuer in istio-system) and the one
# path it may write: the local stack runs the mesh.
MESH_ISSUER = f"{APP}-local-mesh-issuer"
MESH_SIGN = "pki-mesh-local/sign/mesh-workloads"


def vault_resources(graph: Graph, kind: str) -> list[Resource]:
    return [resource for resource in graph.resources if resource.type.endswith(f":{kind}")]


def policy_rules(graph: Graph) -> dict[str, dict[str, list[str]]]:
    """Every policy the graph declares, parsed back from its HCL: name -> path -> capabilities."""
    parsed = {}
    for resource in vault_resources(graph, "Policy"):
        blocks = re.findall(r'path "([^"]+)" \{\s*capabilities = \[([^\]]*)\]\s*\}', resource.inputs["policy"])
        parsed[resource.inputs["name"]] = {path: re.findall(r'"([^"]+)"', caps) for path, caps in blocks}
    return parsed


def test_each_policy_holds_exactly_the_intended_paths(with_database: Graph) -> None:
    kv, db = "project-ai-local", "database-local"
    write = ["create", "read", "update", "patch", "delete"]
    assert policy_rules(with_database) == {
        f"{APP}-local-app": {f"{kv}/data/{APP}/*": ["read"], f"{db}/creds/{APP}": ["read"]},
        f"{APP}-local-external-secrets": {
            f"{kv}/data/{APP}/pepper": ["read"],
            f"{kv}/data/{APP}/upstream": ["read"],
            f"{kv}/data/monitoring/grafana": ["read"],
            f"{kv}/data/monitoring/pagerduty": ["read"],
            f"{kv}/data/monitoring/pagerduty-escalation": ["read"],
            f"{kv}/data/monitoring/slack": ["read"],
            f"{db}/creds/{APP}": ["read"],
            f"{db}/creds/{APP}-migrate": ["read"],
        },
        f"{APP}-local-deployer": {
            **{f"{kv}/data/{folder}/*": write for folder in (APP, "monitoring")},
            **{f"{kv}/metadata/{folder}/*": ["read", "list", "delete"] for folder in (APP, "monitoring")},
            **{
                f"{kv}/{verb}/{folder}/*": ["update"]
                for folder in (APP, "monitoring")
                for verb in ("delete", "undelete", "destroy")
            },
        },
        f"{APP}-local-root-rotator": {f"{db}/rotate-root/app": ["update"]},
        # cert-manager's Vault Issuer for the mesh: it may only sign (tests/vault/test_pki.py).
        MESH_ISSUER: {MESH_SIGN: ["update"]},
    }


def test_without_the_database_engine_the_app_reads_its_url_from_the_kv_mount(local_graph: Graph) -> None:
    rules = policy_rules(local_graph)
    assert set(rules) == {f"{APP}-local-app", f"{APP}-local-external-secrets", f"{APP}-local-deployer", MESH_ISSUER}
    assert rules[f"{APP}-local-app"] == {f"project-ai-local/data/{APP}/*": ["read"]}
    assert rules[f"{APP}-local-external-secrets"][f"project-ai-local/data/{APP}/database"] == ["read"]
    database = next(s for s in objects(local_graph, "ExternalSecret") if s["metadata"]["name"] == f"{APP}-database")
    assert database["spec"]["data"] == [
        {"secretKey": "APP_DATABASE_URL", "remoteRef": {"key": f"{APP}/database", "property": "url"}}
    ]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (policies.Rule("kv/data/app/*", ("read", "sudo")), "grants sudo"),
        (policies.Rule("sys/policies/acl/app", ("read",)), "reaches into sys/ or the root"),
        (policies.Rule("*", ("read",)), "reaches into sys/ or the root"),
        (policies.Rule("kv/data/*", ("read",)), "a wildcard outside the consumer's own prefix"),
        (policies.Rule("kv/data/app/+/token", ("read",)), "a wildcard outside the consumer's own prefix"),
        (policies.Rule("kv/data/app/*/x*", ("read",)), "a wildcard outside the consumer's own prefix"),
        (policies.Rule("kv/data/app/x", ("root",)), "unknown capabilities ['root']"),
    ],
)
def test_the_house_rules_refuse_broad_policies(rule: policies.Rule, problem: str) -> None:
    policy = policies.Policy("p", (rule,), prefixes=("kv/data/app/",))
    assert [line.split(": ", 2)[2] for line in policies.violations(policy)][:1] == [problem]


def test_the_house_rules_allow_a_glob_on_the_own_prefix() -> None:
    policy = policies.Policy("p", (policies.Rule("kv/data/app/*", ("read", "list")),), prefixes=("kv/data/app/",))
    assert policies.violations(policy) == []


@pytest.mark.parametrize("graph", ["local_graph", "with_database"])
def test_each_auth_role_binds_one_service_account_in_one_namespace(graph: str, request: pytest.FixtureRequest) -> None:
    roles = {r.inputs["roleName"]: r.inputs for r in vault_resources(request.getfixturevalue(graph), "AuthBackendRole")}
    expected = {
        f"{APP}-local-app": ("project-ai-api", "project-ai"),
        f"{APP}-local-external-secrets": ("external-secrets", "external-secrets"),
        MESH_ISSUER: ("mesh-vault-issuer", "istio-system"),
    }
    if graph == "with_database":
        expected[f"{APP}-local-root-rotator"] = ("vault-root-rotator", "vault-rotation")
    assert {name: (r["boundServiceAccountNames"], r["boundServiceAccountNamespaces"]) for name, r in roles.items()} == {
        name: ([account], [namespace]) for name, (account, namespace) in expected.items()
    }
    for name, role in roles.items():
        # cert-manager asks for a token of its Issuer's own audience.
        assert role["audience"] == (certificates.issuer_audience() if name == MESH_ISSUER else "vault")
        assert role["tokenPolicies"] == [role["roleName"]]
        if name == MESH_ISSUER:
            # One signing per login: a batch token of five minutes.
            assert (role["tokenTtl"], role["tokenMaxTtl"], role["tokenType"]) == (300, 300, "batch")
        elif graph == "with_database" and name == f"{APP}-local-external-secrets":
            # Its database users die with its token: a batch token, as long-lived as they are.
            assert (role["tokenTtl"], role["tokenMaxTtl"], role["tokenType"]) == (14400, 14400, "batch")
        else:
            assert (role["tokenTtl"], role["tokenMaxTtl"], role["tokenType"]) == (900, 3600, "service")


def test_the_database_engine_issues_short_lived_users_with_group_grants(with_database: Graph) -> None:
    (connection,) = vault_resources(with_database, "SecretBackendConnection")
    assert connection.inputs["postgresql"] == "[secret]"  # the root password is in it
    postgres = connection.secret_inputs["postgresql"]
    assert postgres["connectionUrl"] == (
        "postgresql://{{username}}:{{password}}@db.internal.example.com:5432/project_ai?sslmode=require"
    )
    # Write-only: Vault's own rotations are never overwritten by a later `pulumi up`.
    assert "password" not in postgres and postgres["passwordWoVersion"] == 1
    assert connection.inputs["allowedRoles"] == [APP, f"{APP}-migrate"]
    roles = {
        r.inputs["name"]: r.inputs
        for r in vault_resources(with_database, "SecretBackendRole")
        if r.type.startswith("vault:database/")
    }
    assert 'IN ROLE "project_ai_app"' in roles[APP]["creationStatements"][0]
    assert "VALID UNTIL '{{expiration}}'" in roles[APP]["creationStatements"][0]
    assert roles[f"{APP}-migrate"]["creationStatements"][1] == 'ALTER ROLE "{{name}}" SET role = "project_ai_owner";'
    assert {(r["defaultTtl"], r["maxTtl"]) for r in roles.values()} == {(14400, 86400)}


def test_two_audit_devices(local_graph: Graph) -> None:
    devices = {r.inputs["path"]: r.inputs["options"]["file_path"] for r in vault_resources(local_graph, "Audit")}
    assert devices == {"file-local": "/tmp/openbao-audit.log", "stdout-local": "stdout"}


@pytest.mark.parametrize("graph", ["local_graph", "with_database"])
def test_external_secrets_objects_match_their_crd_schemas(graph: str, request: pytest.FixtureRequest) -> None:
    results = kubernetes.validate(request.getfixturevalue(graph), "1.33", CRD_SCHEMAS)
    eso = [r for r in results if r.api_version.startswith("external-secrets.io/")]
    assert len(eso) >= 7
    assert all(r.status == VALID and "external-secrets.io" in r.schema for r in eso)
    assert [r.title for r in results if r.status != VALID] == []


def test_stores_log_in_as_the_operator_for_the_vault_audience(with_database: Graph) -> None:
    stores = {s["metadata"]["name"]: s["spec"] for s in objects(with_database, "ClusterSecretStore")}
    assert set(stores) == {"vault-kv", "vault-database"}
    kv, database = stores["vault-kv"]["provider"]["vault"], stores["vault-database"]["provider"]["vault"]
    assert (kv["path"], kv["version"], database["path"], database["version"]) == (
        "project-ai-local",
        "v2",
        "database-local",
        "v1",
    )
    assert kv["server"] == EXTERNAL_VAULT["address"]
    assert kv["auth"]["kubernetes"] == {
        "mountPath": "kubernetes-local",
        "role": f"{APP}-local-external-secrets",
        "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets", "audiences": ["vault"]},
    }
    assert stores["vault-kv"]["conditions"] == [{"namespaces": ["monitoring", "project-ai"]}]
    # Database users may change the schema: only the app's namespace can ask for them.
    assert stores["vault-database"]["conditions"] == [{"namespaces": ["project-ai"]}]


def test_database_users_are_read_once_per_refresh_into_a_url(with_database: Graph) -> None:
    synced = {s["metadata"]["name"]: s for s in objects(with_database, "ExternalSecret")}
    database = synced[f"{APP}-database"]["spec"]
    assert database["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault-database"}
    # Username and password from one read: two reads would be two different users.
    assert database["dataFrom"] == [{"extract": {"key": f"creds/{APP}"}}] and "data" not in database
    assert database["target"]["template"]["data"] == {
        "APP_DATABASE_URL": "postgresql+psycopg://{{ .username }}:{{ .password | urlquery }}"
        "@db.internal.example.com:5432/project_ai?sslmode=require"
    }
    assert synced[f"{APP}-migration-database"]["spec"]["dataFrom"] == [{"extract": {"key": f"creds/{APP}-migrate"}}]
    assert {s["spec"]["refreshInterval"] for s in synced.values()} == {"1h"}
    assert all(s["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"} for s in synced.values())


def test_a_reader_host_gives_the_same_user_a_read_url_from_the_same_read(tmp_path: Path, ca_certificate: str) -> None:
    vault = {**EXTERNAL_VAULT, "kubernetesCaCertificate": ca_certificate}
    database = {"host": "db.internal.example.com", "readerHost": "db-ro.internal.example.com"}
    graph = database_stack(tmp_path, vault, database)
    synced = {s["metadata"]["name"]: s["spec"] for s in objects(graph, "ExternalSecret")}
    url = "postgresql+psycopg://{{ .username }}:{{ .password | urlquery }}@%s:5432/project_ai?sslmode=require"
    for secret, role in ((f"{APP}-database", APP), (f"{APP}-migration-database", f"{APP}-migrate")):
        spec = synced[secret]
        # One read of the engine renders both: the writer's and the reader's URL hold the same user.
        assert spec["dataFrom"] == [{"extract": {"key": f"creds/{role}"}}] and "data" not in spec
        assert spec["target"]["template"]["data"] == {
            "APP_DATABASE_URL": url % "db.internal.example.com",
            "APP_DATABASE_READ_URL": url % "db-ro.internal.example.com",
        }
    # A second file in the pods' secrets volume, restarted with the writer's on a new user.
    keys = synced_keys(graph)
    assert keys[f"{APP}-database"] == keys[f"{APP}-migration-database"] == ["APP_DATABASE_URL", "APP_DATABASE_READ_URL"]
    deployment = one(graph, "Deployment")
    assert projected_secrets(deployment["spec"]["template"]["spec"]) == [f"{APP}-secrets", f"{APP}-database"]
    assert deployment["metadata"]["annotations"] == {"secret.reloader.stakater.com/reload": f"{APP}-database"}


def test_without_a_reader_host_there_is_no_read_url(with_database: Graph, local_graph: Graph) -> None:
    # The app then reads from the writer (APP_DATABASE_READ_URL unset); no KV-synced URL gets one.
    for graph in (with_database, local_graph):
        assert "APP_DATABASE_READ_URL" not in {key for keys in synced_keys(graph).values() for key in keys}


def test_a_reader_host_that_is_no_host_name_is_refused() -> None:
    config = {key.split(":", 1)[1]: value for key, value in stack_config("local").items() if ":" in key}
    config["vault"] = {**config["vault"], "database": {"host": "db", "readerHost": "db ro"}}
    with pytest.raises(ConfigError) as caught:
        parse(config, "Pulumi.local.yaml", frozenset())
    assert any(
        line.startswith("Pulumi.local.yaml: projectai:vault.database.readerHost: got 'db ro'")
        for line in caught.value.problems
    )


def test_monitoring_credentials_are_synced_where_its_charts_read_them(local_graph: Graph) -> None:
    synced = {
        s["metadata"]["name"]: [d["secretKey"] for d in s["spec"]["data"]]
        for s in objects(local_graph, "ExternalSecret")
        if s["metadata"]["namespace"] == "monitoring"
    }
    assert synced == {
        "alertmanager-pagerduty": ["routing-key"],
        "alertmanager-pagerduty-escalation": ["routing-key"],
        "alertmanager-slack": ["webhook-url"],
        "grafana-admin": ["admin-user", "admin-password"],
    }
    # The charts are installed only once those Secrets are there.
    chart = next(r for r in local_graph.resources if r.name == "monitoring-kube-prometheus-stack")
    secrets = {r.urn for r in local_graph.resources if r.type.endswith(":ExternalSecret") and "monitoring" in r.name}
    assert secrets <= set(chart.dependencies)


def projected_secrets(pod: dict[str, Any]) -> list[str]:
    (volume,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
    return [source["secret"]["name"] for source in volume["projected"]["sources"]]


def test_pods_read_the_synced_secrets_as_files_and_restart_for_new_connections(with_database: Graph) -> None:
    deployment = one(with_database, "Deployment")
    # A new database user needs a new connection pool; the app re-reads the pepper and
    # the upstream token itself.
    assert deployment["metadata"]["annotations"] == {"secret.reloader.stakater.com/reload": f"{APP}-database"}
    assert projected_secrets(deployment["spec"]["template"]["spec"]) == [f"{APP}-secrets", f"{APP}-database"]
    # The migration Job's own database user takes the runtime one's place: one APP_DATABASE_URL file.
    job_pod = one(with_database, "Job")["spec"]["template"]["spec"]
    assert projected_secrets(job_pod) == [f"{APP}-secrets", f"{APP}-migration-database"]
    keys = synced_keys(with_database)
    assert keys[f"{APP}-migration-database"] == keys[f"{APP}-database"] == ["APP_DATABASE_URL"]
    # The migration Job and the workload wait for the Secrets they read.
    job = next(r for r in with_database.resources if r.type == "kubernetes:batch/v1:Job")
    synced = {r.urn for r in with_database.resources if r.type.endswith(":ExternalSecret") and "project-ai-" in r.name}
    assert len(synced) == 3 and synced <= set(job.dependencies)


def test_a_rollout_restarts_in_place_on_a_new_secret(tmp_path: Path) -> None:
    graph = database_stack(
        tmp_path,
        {"mode": "dev", "devIngressHost": "vault.project-ai.localtest.me"},
        {"host": "db.internal.example.com"},
    )
    assert one(graph, "Deployment")["metadata"]["annotations"]["secret.reloader.stakater.com/reload"]
    config = stack_config("local")
    config["projectai:delivery"] = {"strategy": "canary"}
    (tmp_path / "canary").mkdir()
    canary = Synthesizer(copy_project(tmp_path / "canary", "local", config)).synthesize("local")
    assert one(canary, "Rollout")["metadata"]["annotations"] == {
        "secret.reloader.stakater.com/reload": f"{APP}-database",
        "reloader.stakater.com/rollout-strategy": "restart",
    }


def test_the_root_rotation_job_holds_one_short_lived_token(with_database: Graph) -> None:
    cron = one(with_database, "CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid" and cron["spec"]["schedule"] == "17 3 * * 1"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "vault-root-rotator" and pod["automountServiceAccountToken"] is False
    (projection,) = pod["volumes"][0]["projected"]["sources"]
    assert projection["serviceAccountToken"] == {"path": "token", "audience": "vault", "expirationSeconds": 600}
    env = {item["name"]: item["value"] for item in pod["containers"][0]["env"]}
    assert env["DATABASE_MOUNT"] == "database-local" and env["ROLE"] == f"{APP}-local-root-rotator"
    namespaces = {n["metadata"]["name"]: n["metadata"]["labels"] for n in objects(with_database, "Namespace")}
    assert namespaces["vault-rotation"]["pod-security.kubernetes.io/enforce"] == "restricted"
    rotation_policies = {
        p["metadata"]["name"]: p["spec"]
        for p in objects(with_database, "NetworkPolicy")
        if p["metadata"]["namespace"] == "vault-rotation"
    }
    assert set(rotation_policies) == {"default-deny", "allow-dns", "allow-egress-vault"}
    (egress,) = rotation_policies["allow-egress-vault"]["egress"]
    assert egress["ports"] == [{"port": 8200, "protocol": "TCP"}]


def test_an_external_vault_reviews_logins_with_a_dedicated_reviewer(with_database: Graph) -> None:
    (config,) = vault_resources(with_database, "AuthBackendConfig")
    assert config.inputs["disableLocalCaJwt"] is True and config.inputs["kubernetesHost"] == "https://10.0.0.1:6443"
    # The reviewer token is write-only and secret: never in plaintext, never read back.
    assert config.inputs["tokenReviewerJwtWo"] == "[secret]"
    # A new token in the config is a new version, so Vault receives it.
    assert config.inputs["tokenReviewerJwtWoVersion"] == integration._version_of(SECRET_PLACEHOLDER)
    assert integration._version_of("another token") != integration._version_of(SECRET_PLACEHOLDER)
    bindings = {
        (b["subjects"][0]["namespace"], b["subjects"][0]["name"]): b["roleRef"]["name"]
        for b in objects(with_database, "ClusterRoleBinding")
    }
    assert bindings == {("vault-auth", "vault-token-reviewer"): "system:auth-delegator"}


def test_a_dev_server_gets_a_random_value_for_every_synced_entry(local_graph: Graph) -> None:
    seeded = {r.inputs["name"]: r for r in vault_resources(local_graph, "SecretV2")}
    synced = {d["remoteRef"]["key"] for s in objects(local_graph, "ExternalSecret") for d in s["spec"]["data"]}
    assert set(seeded) == synced
    grafana = seeded["monitoring/grafana"]
    assert grafana.inputs["dataJson"] == "[secret]"
    assert set(json.loads(grafana.secret_inputs["dataJson"])) == {"admin-user", "admin-password"}


def test_the_dev_server_token_never_appears_in_plaintext(local_graph: Graph) -> None:
    provider = next(r for r in local_graph.resources if r.type == "pulumi:providers:vault")
    assert provider.inputs["token"] == "[secret]"
    assert provider.inputs["address"] == "http://vault.project-ai.localtest.me"
    release = next(r for r in local_graph.resources if r.name == "vault-dev-release")
    assert release.inputs["values"] == "[secret]"
    values = release.secret_inputs["values"]
    assert values["server"]["dev"]["enabled"] is True and values["injector"] == {"enabled": False}
    assert (release.inputs["chart"], release.inputs["version"]) == ("openbao", "0.19.1")


def _problems(vault: dict[str, Any], **extra: Any) -> list[str]:
    raw = {key.split(":", 1)[1]: value for key, value in stack_config("local").items()}
    raw.update({"vault": vault, **extra})
    with pytest.raises(ConfigError) as caught:
        parse(raw, source="Pulumi.local.yaml", secret_keys=frozenset({"databaseRootPassword"}))
    return caught.value.problems


@pytest.mark.parametrize(
    ("vault", "extra", "problem"),
    [
        (
            {"mode": "external"},
            {},
            "projectai:vault.address: missing required key for an external Vault (mode: external)",
        ),
        ({"mode": "dev"}, {}, "projectai:vault.devIngressHost: missing required key for a dev-mode Vault (mode: dev)"),
        (
            {**EXTERNAL_VAULT},
            {},
            "projectai:vault.kubernetesCaCertificate: kubernetesHost and kubernetesCaCertificate go together",
        ),
        (
            {"mode": "external", "address": "https://v.example.com", "database": {"host": "db.example.com"}},
            {},
            "projectai:databaseRootPassword: missing; expected `pulumi config set --secret "
            "projectai:databaseRootPassword` with the password of vault.database.rootUsername",
        ),
        (
            {
                "mode": "external",
                "address": "https://v.example.com",
                "refreshInterval": "3h",
                "database": {"host": "db.example.com"},
            },
            {"databaseRootPassword": "x"},
            "projectai:vault.refreshInterval: 3h is more than half of database.credentialTtlSeconds (14400); "
            "pods would hold expired database users",
        ),
        (
            {"mode": "external", "address": "https://v.example.com", "tokenTtlSeconds": 7200},
            {},
            "projectai:vault.tokenTtlSeconds: 7200 is above tokenMaxTtlSeconds (3600)",
        ),
    ],
)
def test_bad_vault_settings_are_named(vault: dict[str, Any], extra: dict[str, Any], problem: str) -> None:
    assert [line.removeprefix("Pulumi.local.yaml: ") for line in _problems(vault, **extra)] == [problem]


def test_dev_mode_is_refused_outside_local() -> None:
    raw = {key.split(":", 1)[1]: value for key, value in stack_config("local").items()}
    raw.update(environment="dev", vault={"mode": "dev", "devIngressHost": "vault.example.com"})
    with pytest.raises(ConfigError) as caught:
        parse(raw, source="Pulumi.dev.yaml")
    assert caught.value.problems == [
        "Pulumi.dev.yaml: projectai:vault.mode: dev mode keeps secrets in memory; only for local, not dev"
    ]


def test_a_rotated_grafana_password_restarts_grafana(local_graph: Graph) -> None:
    """Grafana sets its admin password at start: Reloader watches the monitoring
    namespace too, and Grafana's Deployment asks for a restart on its Secret."""
    chart = next(r for r in local_graph.resources if r.name == "monitoring-kube-prometheus-stack")
    assert chart.inputs["values"]["grafana"]["annotations"] == {"secret.reloader.stakater.com/reload": "grafana-admin"}
    release = next(r for r in local_graph.resources if r.name == "reloader-release")
    selector = release.inputs["values"]["reloader"]["namespaceSelector"]
    assert selector == "kubernetes.io/metadata.name in (monitoring,project-ai)"
    # Reloader splits the flag at commas and joins the parts again: the selector survives.
    assert ",".join(selector.split(",")) == selector
