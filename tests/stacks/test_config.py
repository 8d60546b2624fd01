"""The typed configuration: good stacks parse, and every mistake gets one clear line."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest

from stacks.config import ConfigError, load, parse
from tests.conftest import PROJECT_STACKS, stack_config

SOURCE = "Pulumi.prod.yaml"


def namespace(stack: str) -> dict[str, Any]:
    """A stack file's projectai: keys, as the program receives them (objects as JSON)."""
    return {
        key.split(":", 1)[1]: value if isinstance(value, str) else json.dumps(value)
        for key, value in stack_config(stack).items()
        if key.startswith("projectai:")
    }


def stack(name: str, **changes: Any) -> dict[str, Any]:
    """A stack file's namespace, as the program receives it, with `changes` laid over it
    (a path of keys joined by `__`; DELETE removes the key)."""
    raw = copy.deepcopy({key: json.loads(v) if v[:1] in "{[" else v for key, v in namespace(name).items()})
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = raw
        for part in parents:
            target = target.setdefault(part, {})
        if value is DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return raw


def prod(**changes: Any) -> dict[str, Any]:
    return stack("prod", **changes)


DELETE = object()


def problems(raw: dict[str, Any], secret_keys: frozenset[str] = frozenset()) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(raw, SOURCE, secret_keys)
    return caught.value.problems


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_every_stack_file_parses(stack: str) -> None:
    config = parse(namespace(stack), f"Pulumi.{stack}.yaml")
    assert config.environment in ("local", "dev", "staging", "prod")


def test_environment_defaults_apply_and_stack_file_overrides() -> None:
    config = parse(prod(), SOURCE)
    assert (config.app.replicas.min, config.app.replicas.max) == (3, 10)
    assert config.delivery.strategy == "canary"
    assert config.delivery.canary.weights == [10, 50] and config.delivery.canary.pause_seconds == 120
    assert config.delivery.analysis.min_success_rate == 0.995
    assert config.monitoring.availability_slo == 99.95  # the stack file's own value
    assert (config.monitoring.prometheus_replicas, config.monitoring.alertmanager_replicas) == (2, 3)
    assert config.monitoring.prometheus_resources.limits.memory == "8Gi"
    staging = parse(namespace("staging"), "Pulumi.staging.yaml")
    assert staging.delivery.strategy == "blueGreen" and staging.delivery.blue_green.auto_promotion is True
    local = parse(namespace("local"), "Pulumi.local.yaml")
    assert local.delivery.strategy == "rolling"  # no Argo Rollouts needed on a laptop cluster
    assert (local.monitoring.retention, local.monitoring.prometheus_resources.requests.memory) == ("1d", "512Mi")
    overridden = parse(prod(app__replicas={"min": 4, "max": 12}), SOURCE)
    assert (overridden.app.replicas.min, overridden.app.replicas.max) == (4, 12)


def test_numbers_are_accepted_as_kubernetes_quantities() -> None:
    resources = {"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": 2.5, "memory": "2Gi"}}
    config = parse(prod(app__resources=resources), SOURCE)
    assert (config.app.resources.requests.cpu, config.app.resources.limits.cpu) == ("1", "2.5")


def test_references_by_name_are_not_secrets() -> None:
    parse(prod(app__settings={"DB_SECRET_NAME": "database-credentials", "TOKEN_FILE": "/var/run/token"}), SOURCE)


def test_structured_values_arrive_as_json_text() -> None:
    config = parse(namespace("local"), "Pulumi.local.yaml")
    assert config.app.image.reference == "ghcr.io/project-ai/api:0.1.0"
    assert [endpoint.name for endpoint in config.network.egress][:2] == ["database", "cache"]


MALFORMED = [
    pytest.param(
        prod(role=["region"]),
        "Pulumi.prod.yaml: projectai:role: got ['region']; expected one of 'cluster', 'region', 'edge'",
        id="role-not-a-string",
    ),
    pytest.param(
        prod(platform__masterCidr="172.16.0.0/28"),
        "Pulumi.prod.yaml: projectai:platform.masterCidr: a key of GCP regions, not of AWS regions",
        id="other-clouds-key",
    ),
    pytest.param(
        prod(kubernetes__apiServerCidrs=[]),
        "Pulumi.prod.yaml: projectai:kubernetes.apiServerCidrs: expected at least 1 item(s), got none",
        id="empty-list",
    ),
    pytest.param(
        prod(app__replicas={"min": "three", "max": 10}),
        "Pulumi.prod.yaml: projectai:app.replicas.min: expected an integer, got 'three'",
        id="wrong-type",
    ),
    pytest.param(
        prod(aap={"image": {}}),
        "Pulumi.prod.yaml: projectai:aap: unknown key; did you mean 'app'?",
        id="unknown-key",
    ),
    pytest.param(
        prod(app__imagee={"tag": "1"}),
        "Pulumi.prod.yaml: projectai:app.imagee: unknown key; did you mean 'image'?",
        id="unknown-nested-key",
    ),
    pytest.param(
        prod(app__replicas={"min": 5, "max": 2}),
        "Pulumi.prod.yaml: projectai:app.replicas: expected min ≤ max, got min 5 > max 2",
        id="min-above-max",
    ),
    pytest.param(
        prod(region="us-east1"),
        "Pulumi.prod.yaml: projectai:region: 'us-east1' is not a region of AWS; did you mean 'us-east-1'?",
        id="unknown-region",
    ),
    pytest.param(
        prod(region="us-central1"),
        "Pulumi.prod.yaml: projectai:region: 'us-central1' is not a region of AWS",
        id="region-of-other-cloud",
    ),
    pytest.param(
        prod(role=DELETE), "Pulumi.prod.yaml: projectai:role: missing required key; expected one of", id="missing-key"
    ),
    pytest.param(
        prod(app__image={"repository": "ghcr.io/project-ai/api"}),
        "Pulumi.prod.yaml: projectai:app.image: expected a tag or a digest, so the image is pinned",
        id="unpinned-image",
    ),
    pytest.param(
        prod(app__image={"repository": "ghcr.io/project-ai/api", "tag": "latest"}),
        "Pulumi.prod.yaml: projectai:app.image.tag: tag 'latest' moves between builds; "
        "expected an immutable tag (a version or commit) or a digest",
        id="mutable-tag",
    ),
    pytest.param(
        prod(app__image={"repository": "ghcr.io/Project AI/api", "tag": "1.0"}),
        "Pulumi.prod.yaml: projectai:app.image.repository: expected an image repository such as "
        "'registry.example.com/team/api', without tag or digest",
        id="bad-image-reference",
    ),
    pytest.param(
        prod(app__image={"repository": "ghcr.io/project-ai/api", "digest": "sha256:abc"}),
        "Pulumi.prod.yaml: projectai:app.image.digest: expected 'sha256:' followed by 64 lower-case hex digits",
        id="bad-digest",
    ),
    pytest.param(
        prod(vault={"address": "https://vault.example.com", "rootPassword": "hunter2-very-secret"}),
        "Pulumi.prod.yaml: projectai:vault.rootPassword: looks like a secret in plaintext; expected it in "
        "Vault, or set with `pulumi config set --secret --path 'projectai:vault.rootPassword'`",
        id="secret-looking-key",
    ),
    pytest.param(
        prod(app__settings={"UPSTREAM": "sk-abcdefghijklmnopqrstuvwxyz012345"}),
        "Pulumi.prod.yaml: projectai:app.settings.UPSTREAM: looks like a secret in plaintext; expected it in "
        "Vault (app settings go into a ConfigMap)",
        id="secret-looking-value",
    ),
    pytest.param(
        prod(environment="qa"),
        "Pulumi.prod.yaml: projectai:environment: expected one of 'local', 'dev', 'staging' or 'prod', got 'qa'",
        id="unknown-environment",
    ),
    pytest.param(
        prod(cloud="gcp"),
        "Pulumi.prod.yaml: projectai:region: 'us-east-1' is not a region of GCP; did you mean 'us-east1'?",
        id="cloud-region-mismatch",
    ),
    pytest.param(
        prod(cloud="cloudflare"),
        "Pulumi.prod.yaml: projectai:cloud: got 'cloudflare'; the region role runs on aws or gcp",
        id="role-cloud-mismatch",
    ),
    pytest.param(
        prod(
            app__resources={
                "requests": {"cpu": "2", "memory": "512Mi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            }
        ),
        "Pulumi.prod.yaml: projectai:app.resources: expected requests.cpu ≤ limits.cpu, got 2 > 1",
        id="requests-above-limits",
    ),
    pytest.param(
        prod(
            app__resources={
                "requests": {"cpu": "lots", "memory": "512Mi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            }
        ),
        "Pulumi.prod.yaml: projectai:app.resources.requests.cpu: expected a CPU quantity such as '250m' or '1', "
        "got 'lots'",
        id="bad-quantity",
    ),
    pytest.param(
        prod(ingress={"host": "API_example", "tlsSecretName": "t", "clusterIssuer": "i"}),
        "Pulumi.prod.yaml: projectai:ingress.host: got 'API_example', expected a lower-case DNS name such as "
        "'api.example.com'",
        id="bad-hostname",
    ),
    pytest.param(
        prod(network={"egress": [{"name": "db", "ports": [5432], "cidr": "10.0.0.0/8", "namespace": "data"}]}),
        "Pulumi.prod.yaml: projectai:network.egress[0]: expected exactly one of 'cidr' or 'namespace'",
        id="ambiguous-egress",
    ),
    pytest.param(
        prod(app__port=70000),
        "Pulumi.prod.yaml: projectai:app.port: expected a value ≤ 65535, got 70000",
        id="port-out-of-range",
    ),
    pytest.param(
        prod(kubernetes={"version": "1.2"}),
        "Pulumi.prod.yaml: projectai:kubernetes.version: got '1.2', expected a Kubernetes minor version "
        "from 1.30 to 1.39, such as '1.33'",
        id="bad-kubernetes-version",
    ),
    pytest.param(
        prod(role="edge", cloud="cloudflare", region=DELETE),
        "Pulumi.prod.yaml: projectai:app: the edge role takes no 'app' key (only the cluster and region roles do)",
        id="workload-on-edge",
    ),
    pytest.param(
        prod(kubernetes={"version": 1.3}),
        'Pulumi.prod.yaml: projectai:kubernetes.version: got the number 1.3; quote it, e.g. version: "1.30"',
        id="unquoted-version",
    ),
    pytest.param(
        prod(kubernetes={"version": "1.28"}),
        "Pulumi.prod.yaml: projectai:kubernetes.version: got '1.28', expected a Kubernetes minor version from 1.30",
        id="kubernetes-too-old",
    ),
    pytest.param(
        prod(app__settings={"logLevel": "x"}),
        "Pulumi.prod.yaml: projectai:app.settings: key 'logLevel': expected an environment variable name in "
        "UPPER_SNAKE_CASE",
        id="bad-settings-key",
    ),
    pytest.param(
        prod(app__settings={"PORT": "9000"}),
        "Pulumi.prod.yaml: projectai:app.settings: PORT set by the program from port; expected other names",
        id="settings-owned-by-component",
    ),
    pytest.param(
        prod(app__settings={"APP_TRUSTED_PROXIES": "0.0.0.0/0"}),
        "Pulumi.prod.yaml: projectai:app.settings: APP_TRUSTED_PROXIES set by the program from ingress.controllerCidrs",
        id="trusted-proxies-in-settings",
    ),
    pytest.param(
        prod(ingress__controllerCidrs="10.0.0.0/16"),
        "Pulumi.prod.yaml: projectai:ingress.controllerCidrs: expected a list, got '10.0.0.0/16'",
        id="controller-cidrs-not-a-list",
    ),
    pytest.param(
        prod(app__namespace="kube-system"),
        "Pulumi.prod.yaml: projectai:app.namespace: 'kube-system' belongs to the cluster",
        id="system-namespace",
    ),
    pytest.param(
        prod(app__name="a" * 41),
        "Pulumi.prod.yaml: projectai:app.name: expected at most 40 characters, got 41",
        id="name-too-long-for-labels",
    ),
    pytest.param(
        prod(
            network={"egress": [{"name": "web", "ports": [443], "cidr": "10.0.0.0/8", "exceptCidrs": ["11.0.0.0/8"]}]}
        ),
        "Pulumi.prod.yaml: projectai:network.egress[0].exceptCidrs: 11.0.0.0/8 is not inside cidr 10.0.0.0/8",
        id="except-outside-cidr",
    ),
    pytest.param(
        prod(network={"egress": [{"name": "db", "ports": [5432], "namespace": "data", "podLabels": {"app": "BAD!"}}]}),
        "Pulumi.prod.yaml: projectai:network.egress[0].podLabels: label value 'BAD!' is not a valid Kubernetes label",
        id="bad-pod-label",
    ),
    pytest.param(
        prod(stackReferences={"Primary Region": "prod"}),
        "Pulumi.prod.yaml: projectai:stackReferences: key 'Primary Region': expected a lower-case DNS label",
        id="bad-reference-alias",
    ),
    pytest.param(
        prod(delivery={"strategy": "canary", "canary": {"weights": [50, 10]}}),
        "Pulumi.prod.yaml: projectai:delivery.canary.weights: expected rising weights, each once, got [50, 10]",
        id="falling-canary-weights",
    ),
    pytest.param(
        prod(delivery={"strategy": "linear"}),
        "Pulumi.prod.yaml: projectai:delivery.strategy: expected one of 'rolling', 'canary' or 'blueGreen', "
        "got 'linear'",
        id="unknown-strategy",
    ),
    pytest.param(
        prod(delivery={"analysis": {"minSuccessRate": 1.5}}),
        "Pulumi.prod.yaml: projectai:delivery.analysis.minSuccessRate: expected a value ≤ 1.0, got 1.5",
        id="success-rate-above-one",
    ),
    pytest.param(
        prod(delivery={"blueGreen": {"autoPromote": True}}),
        "Pulumi.prod.yaml: projectai:delivery.blueGreen.autoPromote: unknown key; did you mean 'autoPromotion'?",
        id="misspelt-delivery-key",
    ),
    pytest.param(
        prod(ingress=DELETE),
        "Pulumi.prod.yaml: projectai:ingress: missing required key for the region role",
        id="missing-role-section",
    ),
    pytest.param(
        prod(secrets__expiry={"upstream": "2027-06-30", "pagerduty": "2027-09-30"}),
        "Pulumi.prod.yaml: projectai:secrets.expiry: missing pagerduty-escalation, slack; expected the date",
        id="third-party-expiry-unrecorded",
    ),
    pytest.param(
        prod(secrets__expiry={"upstream": "30/06/2027"}),
        "Pulumi.prod.yaml: projectai:secrets.expiry.upstream: Input should be a valid date",
        id="expiry-not-a-date",
    ),
    pytest.param(
        prod(secrets__expiry={"openai": "2027-06-30"}),
        "Pulumi.prod.yaml: projectai:secrets.expiry.openai",
        id="expiry-of-an-unknown-secret",
    ),
    pytest.param(
        prod(app__shutdownSeconds=20),
        "Pulumi.prod.yaml: projectai:app.shutdownSeconds: 20 leaves 12 s to drain requests (8 s go to closing",
        id="drain-shorter-than-the-upstream-timeout",
    ),
    pytest.param(
        prod(app__settings={"APP_UPSTREAM_TIMEOUT_SECONDS": "30"}),
        "Pulumi.prod.yaml: projectai:app.shutdownSeconds: 25 leaves 17 s to drain requests",
        id="upstream-timeout-longer-than-the-drain",
    ),
    pytest.param(
        prod(app__settings={"APP_SHUTDOWN_GRACE_SECONDS": "30"}),
        "Pulumi.prod.yaml: projectai:app.settings: APP_SHUTDOWN_GRACE_SECONDS set by the program from shutdownSeconds",
        id="drain-set-by-hand",
    ),
    pytest.param(
        prod(secrets__rotationDays=1),
        "Pulumi.prod.yaml: projectai:secrets.rotationDays: expected a value ≥ 7, got 1",
        id="rotation-too-often",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), MALFORMED)
def test_malformed_configuration_is_named_precisely(raw: dict[str, Any], expected: str) -> None:
    found = problems(raw)
    assert any(line.startswith(expected) for line in found), found


@pytest.mark.parametrize("cidr", ["ingress-nginx", "10.244.0.0/33", "10.244.0.1/16", "fd00::/129"])
def test_an_ingress_controller_range_that_is_no_cidr_is_one_line(cidr: str) -> None:
    assert problems(prod(ingress__controllerCidrs=["10.10.0.0/16", cidr])) == [
        f"Pulumi.prod.yaml: projectai:ingress.controllerCidrs[1]: '{cidr}' is not a CIDR such as 10.0.0.0/16"
    ]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "8.8.8.0/24", "::/0"])
def test_a_public_ingress_controller_range_is_refused_before_any_pod_would_be(cidr: str) -> None:
    (problem,) = problems(prod(ingress__controllerCidrs=["10.10.0.0/16", cidr]))
    assert problem.startswith(f"Pulumi.prod.yaml: projectai:ingress.controllerCidrs[1]: '{cidr}' is not internal")


def test_ingress_controller_ranges_take_ipv4_and_ipv6_networks() -> None:
    config = parse(prod(ingress__controllerCidrs=["10.10.0.0/16", "fd00::/64"]), SOURCE)
    assert config.ingress.controller_cidrs == ["10.10.0.0/16", "fd00::/64"]


def test_one_line_per_problem() -> None:
    found = problems(prod(app__replicas={"min": "x", "max": "y"}, aap={}))
    assert len(found) == 3
    assert all(line.startswith("Pulumi.prod.yaml: projectai:") and "\n" not in line for line in found)


def test_a_secret_config_key_is_not_flagged_but_secrets_never_reach_app_settings() -> None:
    raw = prod(vault={"address": "https://vault.example.com", "token": "s.placeholder"})
    assert "projectai:vault.token: looks like a secret in plaintext" in problems(raw)[0]
    assert not any("looks like a secret" in line for line in problems(raw, frozenset({"vault"})))
    assert problems(prod(), frozenset({"app"})) == [
        "Pulumi.prod.yaml: projectai:app: set with --secret, but app settings go into a ConfigMap; "
        "expected secrets in Vault, synced to a Kubernetes Secret"
    ]


def test_unknown_environment_does_not_drown_in_missing_defaults() -> None:
    assert problems(prod(environment="qa")) == [
        "Pulumi.prod.yaml: projectai:environment: expected one of 'local', 'dev', 'staging' or 'prod', got 'qa'"
    ]


def test_load_reads_the_config_the_engine_passes_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real `pulumi up` hands config to the program as JSON in PULUMI_CONFIG.
    engine_config = {f"projectai:{key}": value for key, value in namespace("prod").items()}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({**engine_config, "projectai:regoin": "x"}))
    with pytest.raises(ConfigError) as caught:
        load()
    assert caught.value.problems == ["Pulumi.stack.yaml: projectai:regoin: unknown key; did you mean 'region'?"]
    assert isinstance(caught.value, pulumi.RunError), "Pulumi prints a RunError without a traceback"


def test_a_role_no_model_names_still_reports_every_other_problem() -> None:
    found = problems(prod(role="regoin", app__replicas={"min": "x", "max": 3}, vault__adress="x", environment="prd"))
    assert found == [
        "Pulumi.prod.yaml: projectai:role: got 'regoin'; expected one of 'cluster', 'region', 'edge'",
        "Pulumi.prod.yaml: projectai:environment: expected one of 'local', 'dev', 'staging' or 'prod', got 'prd'",
        "Pulumi.prod.yaml: projectai:app.replicas.min: expected an integer, got 'x'",
        "Pulumi.prod.yaml: projectai:vault.adress: unknown key; did you mean 'address'?",
    ]


def test_a_cloud_the_role_does_not_run_on_is_one_line_not_one_per_default() -> None:
    raw = {key: json.loads(v) if v[:1] in "{[" else v for key, v in namespace("prod-global").items()}
    assert problems({**raw, "cloud": "aws"}) == [
        "Pulumi.prod.yaml: projectai:cloud: got 'aws'; the edge role runs on cloudflare"
    ]
