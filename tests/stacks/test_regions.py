"""Region stacks run the whole workload on their own cluster: Vault integration with
JWT auth against the cluster's OIDC issuer, the database engine on the region's own
database (not on a read-only secondary), the cache URL through Vault, and every
Kubernetes object through the cluster's provider."""

from __future__ import annotations

import json

import pytest

from components.secret_volume import SECRETS_DIR
from preflight.graph import Graph
from preflight.synth import Synthesizer
from tests.conftest import objects, stack_config

APP = "project-ai-api"
CONNECTION = "vault:database/secretBackendConnection:SecretBackendConnection"
JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"


@pytest.fixture(scope="module")
def prod(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("prod")


def test_kubernetes_objects_go_through_the_clusters_provider(prod: Graph) -> None:
    (provider,) = [r for r in prod.resources if r.type == "pulumi:providers:kubernetes"]
    assert provider.name == "cluster-kubernetes"
    kubernetes = [r for r in prod.resources if r.type.startswith("kubernetes:") and r.custom]
    assert len(kubernetes) > 60 and {r.provider for r in kubernetes} == {provider.urn}


def test_vault_verifies_service_account_tokens_with_the_clusters_oidc_keys(prod: Graph) -> None:
    (backend,) = [r for r in prod.resources if r.type == "vault:jwt/authBackend:AuthBackend"]
    issuer = backend.inputs["oidcDiscoveryUrl"]
    assert issuer.startswith("https://oidc.eks.us-east-1.amazonaws.com/id/") and backend.inputs["boundIssuer"] == issuer
    roles = {r.inputs["roleName"]: r.inputs for r in prod.resources if r.type == JWT_ROLE}
    assert roles[f"{APP}-prod-app"]["boundSubject"] == "system:serviceaccount:project-ai:project-ai-api"
    operator = "system:serviceaccount:external-secrets:external-secrets"
    assert roles[f"{APP}-prod-external-secrets"]["boundSubject"] == operator
    # The mesh's Issuer logs in with the audience cert-manager gives its tokens (MeshPki).
    assert all(role["boundAudiences"] == ["vault"] for name, role in roles.items() if not name.endswith("mesh-issuer"))
    assert not [r for r in prod.resources if r.type.startswith("vault:kubernetes/")]
    (store,) = [s for s in objects(prod, "ClusterSecretStore") if s["metadata"]["name"] == "vault-kv"]
    assert store["spec"]["provider"]["vault"]["auth"] == {
        "jwt": {
            "path": "kubernetes-prod",
            "role": f"{APP}-prod-external-secrets",
            "kubernetesServiceAccountToken": {
                "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"},
                "audiences": ["vault"],
            },
        }
    }


def test_the_database_engine_uses_the_regions_aurora_and_its_generated_root(prod: Graph) -> None:
    (connection,) = [r for r in prod.resources if r.type == CONNECTION]
    postgres = connection.secret_inputs["postgresql"]
    url = postgres["connectionUrl"]
    assert ".cluster-" in url and url.endswith("/project_ai?sslmode=require")
    assert postgres["username"] == "project_ai_admin" and len(postgres["passwordWo"]) == 40
    (database,) = [s for s in objects(prod, "ExternalSecret") if s["metadata"]["name"] == f"{APP}-database"]
    template = database["spec"]["target"]["template"]["data"]["APP_DATABASE_URL"]
    assert ".rds.amazonaws.com:5432/project_ai?sslmode=require" in template


def test_the_app_reads_from_the_regions_aurora_readers_as_the_same_user(project_synthesizer: Synthesizer) -> None:
    for stack in ("dev", "staging", "prod"):
        graph = project_synthesizer.synthesize(stack)
        (cluster,) = [r for r in graph.resources if r.type == "aws:rds/cluster:Cluster"]
        for name in (f"{APP}-database", f"{APP}-migration-database"):
            (synced,) = [s for s in objects(graph, "ExternalSecret") if s["metadata"]["name"] == name]
            data = synced["spec"]["target"]["template"]["data"]
            writer, reader = cluster.outputs["endpoint"], cluster.outputs["readerEndpoint"]
            assert f"@{writer}:5432/" in data["APP_DATABASE_URL"] and ".cluster-ro-" not in data["APP_DATABASE_URL"]
            assert data["APP_DATABASE_READ_URL"] == data["APP_DATABASE_URL"].replace(writer, reader)
            assert f"@{reader}:5432/project_ai?sslmode=require" in data["APP_DATABASE_READ_URL"]
    # Cloud SQL has no replicas of its own; a secondary reads one URL from the KV mount.
    for stack in ("prod-gcp", "prod-eu"):
        keys = {k for s in objects(project_synthesizer.synthesize(stack), "ExternalSecret") for k in _keys(s)}
        assert "APP_DATABASE_URL" in keys and "APP_DATABASE_READ_URL" not in keys


def _keys(synced: dict) -> list[str]:
    spec = synced["spec"]
    return [d["secretKey"] for d in spec.get("data", [])] + list(spec["target"]["template"].get("data", {}))


def test_the_cache_url_with_its_token_reaches_the_pods_only_through_vault(prod: Graph) -> None:
    (entry,) = [
        r for r in prod.resources if r.type == "vault:kv/secretV2:SecretV2" and r.inputs["name"].endswith("/cache")
    ]
    assert entry.inputs["dataJson"] == "[secret]"
    url = json.loads(entry.secret_inputs["dataJson"])["url"]
    assert url.startswith("rediss://:") and url.endswith(".cache.amazonaws.com:6379/0")
    rollout = next(r for r in objects(prod, "Rollout"))
    (volume,) = [v for v in rollout["spec"]["template"]["spec"]["volumes"] if v["name"] == "secrets"]
    assert {"secret": {"name": f"{APP}-cache"}} in volume["projected"]["sources"]
    settings = next(c for c in objects(prod, "ConfigMap") if c["metadata"].get("namespace") == "project-ai")
    assert "APP_REDIS_URL" not in settings["data"]


def test_a_secondary_region_reads_its_database_url_from_vault(project_synthesizer: Synthesizer) -> None:
    eu = project_synthesizer.synthesize("prod-eu")
    assert not [r for r in eu.resources if r.type.startswith("vault:database/")]
    (database,) = [s for s in objects(eu, "ExternalSecret") if s["metadata"]["name"] == f"{APP}-database"]
    assert database["spec"]["data"] == [
        {"secretKey": "APP_DATABASE_URL", "remoteRef": {"key": f"{APP}/database", "property": "url"}}
    ]


def test_gcp_runs_the_same_workload_on_gke(project_synthesizer: Synthesizer) -> None:
    gcp = project_synthesizer.synthesize("prod-gcp")
    (backend,) = [r for r in gcp.resources if r.type == "vault:jwt/authBackend:AuthBackend"]
    assert backend.inputs["oidcDiscoveryUrl"] == (
        "https://container.googleapis.com/v1/projects/project-ai-prod/locations/us-central1/clusters/project-ai-prod-gcp"
    )
    (connection,) = [r for r in gcp.resources if r.type == CONNECTION]
    assert connection.secret_inputs["postgresql"]["username"] == "postgres"
    assert objects(gcp, "Rollout") and objects(gcp, "PodMonitor")


def test_eks_scales_its_node_groups_with_the_cluster_autoscaler(prod: Graph) -> None:
    by_name = {r.name: r for r in prod.resources}
    release = by_name["autoscaler-release"]
    assert (release.inputs["chart"], release.inputs["version"], release.inputs["namespace"]) == (
        "cluster-autoscaler",
        "9.46.6",
        "kube-system",
    )
    assert release.inputs["values"]["autoDiscovery"] == {"clusterName": "project-ai-prod"}
    identity = by_name["autoscaler-identity"]
    assert (identity.inputs["namespace"], identity.inputs["serviceAccount"]) == ("kube-system", "cluster-autoscaler")
    scaling = json.loads(by_name["autoscaler-policy"].inputs["policy"])["Statement"][1]
    # It may resize only this cluster's groups.
    assert scaling["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/project-ai-prod": "owned"}
    }


def test_prod_replicates_its_registry_to_the_secondary_which_pulls_from_the_replica(
    project_synthesizer: Synthesizer, prod: Graph
) -> None:
    replications = "aws:ecr/replicationConfiguration:ReplicationConfiguration"
    (replication,) = [r for r in prod.resources if r.type == replications]
    (rule,) = replication.inputs["replicationConfiguration"]["rules"]
    assert [d["region"] for d in rule["destinations"]] == ["eu-west-1"]
    eu = project_synthesizer.synthesize("prod-eu")
    assert not [r for r in eu.resources if r.type == "aws:ecr/repository:Repository"]
    assert eu.outputs["registryUrl"] == "444455556666.dkr.ecr.eu-west-1.amazonaws.com/project-ai/api"
    # The image the secondary runs comes from that replica.
    image = next(iter(objects(eu, "Rollout")))["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith(eu.outputs["registryUrl"] + ":")


def test_memorystores_ca_reaches_the_pods_as_a_file_the_url_names(project_synthesizer: Synthesizer) -> None:
    gcp = project_synthesizer.synthesize("prod-gcp")
    (entry,) = [r for r in gcp.resources if r.type == "vault:kv/secretV2:SecretV2"]
    data = json.loads(entry.secret_inputs["dataJson"])
    assert data["url"].endswith(":6378/0?ssl_check_hostname=false&ssl_ca_certs=/etc/project-ai/redis-ca/ca.pem")
    assert data["ca"].startswith("-----BEGIN CERTIFICATE-----")
    pod = next(iter(objects(gcp, "Rollout")))["spec"]["template"]["spec"]
    volume = {"name": f"{APP}-cache-ca", "secret": {"secretName": f"{APP}-cache-ca", "defaultMode": 0o440}}
    assert volume in pod["volumes"]
    mounts = pod["containers"][0]["volumeMounts"]
    assert {"name": f"{APP}-cache-ca", "mountPath": "/etc/project-ai/redis-ca", "readOnly": True} in mounts
    rollout = next(iter(objects(gcp, "Rollout")))
    assert f"{APP}-cache-ca" in rollout["metadata"]["annotations"]["secret.reloader.stakater.com/reload"]


def test_regions_sharing_one_vault_do_not_collide(project_synthesizer: Synthesizer, prod: Graph) -> None:
    eu = project_synthesizer.synthesize("prod-eu")
    mounts = [r.inputs["path"] for r in prod.resources if r.type == "vault:index/mount:Mount"]
    assert "project-ai-prod" in mounts
    # prod owns the environment's KV mount; the secondary only writes in it.
    assert "project-ai-prod" not in [r.inputs["path"] for r in eu.resources if r.type == "vault:index/mount:Mount"]
    for graph, stack in ((prod, "prod"), (eu, "prod-eu")):
        audits = sorted(r.inputs["path"] for r in graph.resources if r.type == "vault:index/audit:Audit")
        assert audits == [f"file-{stack}", f"stdout-{stack}"]
        (cache,) = [
            r for r in graph.resources if r.type == "vault:kv/secretV2:SecretV2" and "cache" in r.inputs["name"]
        ]
        assert cache.inputs["name"] == f"{APP}/{stack}/cache"
    # Generated secrets are written once for the environment, by the mount's owner.
    generated = [r.inputs["name"] for r in prod.resources if r.name.startswith("vault-generated-")]
    assert sorted(generated) == sorted([f"{APP}/pepper", "monitoring/grafana"])
    assert not [r for r in eu.resources if r.name.startswith("vault-generated-")]


def test_the_secondary_gives_replicas_the_sources_settings_and_forwards_writes(
    project_synthesizer: Synthesizer,
) -> None:
    eu = project_synthesizer.synthesize("prod-eu")
    by_type = {r.type.rsplit(":", 1)[1]: r for r in eu.resources if r.type.startswith(("aws:ecr/", "aws:rds/cluster:"))}
    template = by_type["RepositoryCreationTemplate"]
    assert template.inputs["appliedFors"] == ["REPLICATION"] and template.inputs["imageTagMutability"] == "IMMUTABLE"
    assert by_type["RegistryScanningConfiguration"].inputs["rules"][0]["scanFrequency"] == "SCAN_ON_PUSH"
    assert by_type["Cluster"].inputs["enableGlobalWriteForwarding"] is True


def test_vaults_network_and_the_cross_cloud_standby_reach_the_database_and_nothing_else_does(prod: Graph) -> None:
    (group,) = [r for r in prod.resources if r.name == "database-clients"]
    cluster, vault_rule, replica_rule = group.inputs["ingress"]
    assert cluster["securityGroups"][0].startswith("sg-") and "cidrBlocks" not in cluster
    assert vault_rule["cidrBlocks"] == ["10.250.0.0/24"] and vault_rule["fromPort"] == vault_rule["toPort"] == 5432
    # prod-gcp's standby (its private services range), on 5432 only.
    assert replica_rule["cidrBlocks"] == ["10.40.16.0/20"]
    assert (replica_rule["protocol"], replica_rule["fromPort"], replica_rule["toPort"]) == ("tcp", 5432, 5432)


def test_a_region_creates_the_group_roles_before_vault_issues_users(prod: Graph) -> None:
    (job,) = [j for j in objects(prod, "Job") if j["metadata"]["name"].startswith("database-bootstrap-")]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("444455556666.dkr.ecr.us-east-1.amazonaws.com/project-ai/api:")
    sql = next(e["value"] for e in container["env"] if e["name"] == "BOOTSTRAP_SQL").splitlines()
    assert sql[0].startswith('DO $$ BEGIN CREATE ROLE "project_ai_owner" NOLOGIN;')
    # Default privileges are set as the owner (the master user is no superuser).
    assert sql[-4:] == [
        'SET ROLE "project_ai_owner";',
        'ALTER DEFAULT PRIVILEGES IN SCHEMA "public" '
        'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "project_ai_app";',
        'ALTER DEFAULT PRIVILEGES IN SCHEMA "public" GRANT USAGE, SELECT ON SEQUENCES TO "project_ai_app";',
        "RESET ROLE;",
    ]
    # The root credential is a read-only file from the Job's own Secret, not an environment variable.
    url_file = next(e["value"] for e in container["env"] if e["name"] == "BOOTSTRAP_URL_FILE")
    assert all("valueFrom" not in e for e in container["env"])
    pod = job["spec"]["template"]["spec"]
    assert container["volumeMounts"] == [{"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True}]
    (volume,) = pod["volumes"]
    assert volume["projected"]["sources"] == [{"secret": {"name": "database-bootstrap-credential"}}]
    (credential,) = [s for s in objects(prod, "Secret") if s["metadata"]["name"] == "database-bootstrap-credential"]
    assert list(credential["stringData"]) == ["url"] and url_file == f"{SECRETS_DIR}/url"
    job_urn = next(r.urn for r in prod.resources if r.name == "database-bootstrap-job")
    database_secrets = [r for r in prod.resources if r.type.endswith(":ExternalSecret") and "database" in r.name]
    assert len(database_secrets) == 2 and all(job_urn in r.dependencies for r in database_secrets)


def test_review_fixes_for_the_regions(project_synthesizer: Synthesizer, prod: Graph) -> None:
    addons = {r.inputs["addonName"]: r.inputs for r in prod.resources if r.type == "aws:eks/addon:Addon"}
    # NetworkPolicies are enforced on EKS only when the VPC CNI is told to.
    assert json.loads(addons["vpc-cni"]["configurationValues"]) == {"enableNetworkPolicy": "true"}
    (provider,) = [r for r in prod.resources if r.type == "pulumi:providers:aws"]
    assert json.loads(provider.inputs["allowedAccountIds"]) == ["444455556666"]
    # Vault and the bootstrap connect once the database has instances.
    (connection,) = [r for r in prod.resources if r.type == CONNECTION]
    instances = {r.urn for r in prod.resources if r.type == "aws:rds/clusterInstance:ClusterInstance"}
    assert instances and instances <= set(connection.dependencies)
    # The bootstrap Job is never replaced by a later release.
    job = next(r for r in prod.resources if r.name == "database-bootstrap-job")
    assert "ttlSecondsAfterFinished" not in job.inputs["spec"]
    staging = project_synthesizer.synthesize("staging")
    assert not [r for r in staging.resources if r.type == "aws:ecr/repository:Repository"]
    assert staging.outputs["registryUrl"] == "111122223333.dkr.ecr.us-east-1.amazonaws.com/project-ai/api"


def test_the_ops_image_has_a_repository_where_the_judge_pulls_it(project_synthesizer: Synthesizer) -> None:
    """The canary judge runs the ops image from each AWS region's registry: prod owns the
    repository beside the API's, with its settings, and one rule replicates both."""
    prod = project_synthesizer.synthesize("prod")
    repositories = {r.inputs["name"]: r.inputs for r in prod.of_type("aws:ecr/repository:Repository")}
    assert set(repositories) == {"project-ai/api", "project-ai/ops"}
    ops, api = repositories["project-ai/ops"], repositories["project-ai/api"]
    assert {k: v for k, v in ops.items() if k != "name"} == {k: v for k, v in api.items() if k != "name"}
    (replication,) = prod.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    (rule,) = replication.inputs["replicationConfiguration"]["rules"]
    assert rule["repositoryFilters"] == [{"filter": "project-ai/", "filterType": "PREFIX_MATCH"}]
    for stack in ("prod", "prod-eu"):
        judge = stack_config(stack)["projectai:delivery"]["canary"]["judge"]["image"]["repository"]
        registry = project_synthesizer.synthesize(stack).outputs["registryUrl"]
        assert judge == registry.removesuffix("/api") + "/ops"
