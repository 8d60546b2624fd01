"""The self-healing receiver as synthesized (components/heal.py, stacks/heal.py): an ops
service with a projected API token, a Role of exactly what ops/heal/kube.py calls, its
tokens as files from Vault, Alertmanager alone as its caller; Alertmanager's webhook to
it, checked by amtool; valid against the schemas and both policy packs."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from components import heal
from components.heal import NAME, PORT, STATE_PATH, HealSecrets
from components.monitoring.alerting import HEAL_MAX_ALERTS, HEAL_RECEIVER, AlertingArgs, config
from components.monitoring.stack import kube_prometheus_values
from components.ops_service import SERVICE_ACCOUNT_DIR
from components.secret_volume import SECRETS_DIR
from components.vault.policies import Layout
from ops import cli
from ops.heal import catalog, payload
from preflight.graph import Graph
from preflight.synth import Synthesizer
from stacks.config import parse
from stacks.heal import SelfHealingConfig, alert_healing, heal_secrets, self_healing_args
from stacks.model import WorkloadStack
from stacks.monitoring import monitoring_stack_args
from tests.conftest import ROOT, objects, policies_in, projectai_values, stack_config, valid_and_clean, write_program
from tests.policies.test_rules import violations

NAMESPACE = "project-ai"
MONITORING = "monitoring"
APP = "project-ai-api"
OPS_IMAGE = {"repository": "ghcr.io/project-ai/ops", "digest": "sha256:" + "1" * 64}
ACCOUNT = "0123456789abcdef0123456789abcdef"
HEAL = {"enabled": True, "edgeAccountId": ACCOUNT}
CANARY = {"strategy": "canary", "canary": {"judge": {"image": OPS_IMAGE}}}
LAYOUT = Layout(kv_mount="project-ai-local", app=APP, scope="test")

PROGRAM = """
import json

import pulumi

from components import heal
from components.heal import SelfHealing
from components.vault.external_secrets import external_secret
from components.vault.policies import Layout
from stacks.config import parse
from stacks.heal import heal_secrets, self_healing_args
from stacks.heal import SelfHealingConfig

settings = pulumi.Config("test")
config = parse(json.loads(settings.require("stack")), "Pulumi.test.yaml")
healing = SelfHealingConfig.model_validate(json.loads(settings.require("heal")))
args = self_healing_args(config, healing)
if args is not None:
    receiver = SelfHealing("heal", args)
    pulumi.export("url", receiver.url)
    layout = Layout(kv_mount="project-ai-local", app=config.app.name, scope="test")
    for secret in heal.synced_secrets(heal_secrets(config, healing), layout, "1h"):
        external_secret(f"secret-{secret.namespace}-{secret.name}", secret, {}, pulumi.ResourceOptions())
"""


def local_stack(**changes: Any) -> dict[str, Any]:
    stack = projectai_values(stack_config("local"))
    stack["mesh"] = {"enabled": False}
    stack.update(changes)
    return stack


def workload(**changes: Any) -> WorkloadStack:
    config = parse(local_stack(**changes), "Pulumi.test.yaml")
    assert isinstance(config, WorkloadStack)
    return config


def synthesize(folder: Path, heal_config: dict[str, Any], stack: dict[str, Any]) -> Graph:
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"test:stack": json.dumps(stack), "test:heal": json.dumps(heal_config)}
    program = write_program(folder, "heal", PROGRAM, {"test": settings})
    for package in ("components", "stacks", "app", "policies"):
        (folder / package).symlink_to(ROOT / package)
    return Synthesizer(program).synthesize("test")


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return synthesize(tmp_path_factory.mktemp("heal"), HEAL, local_stack(delivery=CANARY))


def named(graph: Graph, kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in objects(graph, kind) if m["metadata"]["name"] == name]
    return found


def pod(graph: Graph) -> dict[str, Any]:
    return named(graph, "Deployment", NAME)["spec"]["template"]["spec"]


def test_every_object_is_valid_and_both_packs_pass(graph: Graph) -> None:
    report = valid_and_clean(graph, stack_config("local"))
    role = [r.urn for r in graph.resources if r.type == "kubernetes:rbac.authorization.k8s.io/v1:Role"]
    assert len(role) == 1
    rbac_rules = ("k8s-rbac-no-dangerous-permissions", "k8s-no-wildcard-rbac")
    assert [f for f in report.outcome.violations if f.policy in rbac_rules or f.urn == role[0]] == []


def test_the_role_grants_exactly_what_the_receiver_calls(graph: Graph) -> None:
    role = named(graph, "Role", NAME)
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "delete"]},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get"]},
        {"apiGroups": ["argoproj.io"], "resources": ["rollouts"], "verbs": ["get"], "resourceNames": [APP]},
        {"apiGroups": ["argoproj.io"], "resources": ["rollouts/status"], "verbs": ["patch"], "resourceNames": [APP]},
        {
            "apiGroups": ["autoscaling"],
            "resources": ["horizontalpodautoscalers"],
            "verbs": ["get", "patch"],
            "resourceNames": [APP],
        },
        # Read only: the runbook's KEDA candidate finds none here and steps aside.
        {"apiGroups": ["keda.sh"], "resources": ["scaledobjects"], "verbs": ["get"], "resourceNames": [APP]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"], "resourceNames": [f"{APP}-flags"]},
    ]
    binding = named(graph, "RoleBinding", NAME)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    assert named(graph, "ServiceAccount", NAME)["metadata"]["namespace"] == NAMESPACE


def test_the_role_follows_the_workload() -> None:
    def grants(config: WorkloadStack) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        args = self_healing_args(config, SelfHealingConfig(enabled=True, image=OPS_IMAGE))  # type: ignore[arg-type]
        assert args is not None
        return [
            (r.api_groups[0], r.resources[0], tuple(r.verbs), tuple(r.resource_names or ()))
            for r in heal.role_rules(args)
        ]

    # A Deployment (rolling): nothing to abort; KEDA's ScaledObject in place of the HPA.
    keda = {"enabled": True, "requestsPerReplica": 10}
    rolling = grants(workload(insight={"enabled": True, "image": OPS_IMAGE}, predictiveScaling=keda))
    assert [g for g in rolling if g[0] == "argoproj.io"] == []
    assert ("keda.sh", "scaledobjects", ("get", "patch"), (APP,)) in rolling
    assert ("autoscaling", "horizontalpodautoscalers", ("get",), (f"keda-hpa-{APP}", APP)) in rolling


def test_dangerous_grants_would_be_caught_on_this_role(graph: Graph) -> None:
    """The rules pass the Role for what it lacks, not for not reading it: one grant more fails."""
    from tests.policies.cases import resource

    role = named(graph, "Role", NAME)
    kind = "kubernetes:rbac.authorization.k8s.io/v1:Role"
    assert violations("k8s-rbac-no-dangerous-permissions", [resource(kind, role)]) == []
    assert violations("k8s-no-wildcard-rbac", [resource(kind, role)]) == []
    creating = {**role, "rules": [*role["rules"], {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]}
    assert violations("k8s-rbac-no-dangerous-permissions", [resource(kind, creating)]) != []
    wildcard = {**role, "rules": [{**role["rules"][0], "verbs": ["*"]}]}
    assert violations("k8s-no-wildcard-rbac", [resource(kind, wildcard)]) != []


def test_the_role_covers_every_kubernetes_target_the_runbooks_name() -> None:
    args = self_healing_args(workload(delivery=CANARY), SelfHealingConfig(enabled=True))
    assert args is not None
    named_objects = {(r.resources[0], name) for r in heal.role_rules(args) for name in (r.resource_names or ())}
    for runbook in catalog.load().runbooks:
        for action in runbook.actions:
            wanted = {
                "abort_rollout": ("rollouts", getattr(action, "rollout", None)),
                "scale_out": ("horizontalpodautoscalers", getattr(action, "autoscaler", None)),
                "shed_load": ("configmaps", getattr(action, "configmap", None)),
            }.get(action.kind)
            if wanted is not None:
                assert wanted in named_objects, (runbook.alert, action.kind)


def test_the_receiver_runs_with_a_projected_token_and_its_secrets_as_files(graph: Graph) -> None:
    deployment = named(graph, "Deployment", NAME)
    assert deployment["metadata"]["namespace"] == NAMESPACE
    assert deployment["spec"]["strategy"] == {"type": "Recreate"} and deployment["spec"]["replicas"] == 1
    spec = pod(graph)
    (container,) = spec["containers"]
    assert container["image"] == f"ghcr.io/project-ai/ops@{OPS_IMAGE['digest']}"
    # Never the automounted token: a projected one, where the Kubernetes client reads it.
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == NAME
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert {name: m["mountPath"] for name, m in mounts.items()} == {
        "tmp": "/tmp",
        "state": STATE_PATH,
        "secrets": SECRETS_DIR,
        "kube-api-access": SERVICE_ACCOUNT_DIR,
    }
    assert mounts["secrets"]["readOnly"] is True and mounts["kube-api-access"]["readOnly"] is True
    volumes = {v["name"]: v for v in spec["volumes"]}
    sources = volumes["kube-api-access"]["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}
    assert sources[1]["configMap"] == {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert volumes["secrets"]["projected"]["sources"] == [{"secret": {"name": heal.SECRET}}]
    assert volumes["state"]["persistentVolumeClaim"] == {"claimName": f"{NAME}-state"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_no_secret_is_in_its_environment_or_arguments(graph: Graph) -> None:
    (container,) = pod(graph)["containers"]
    assert "env" not in container and "envFrom" not in container
    # Files only: the arguments name paths, never values.
    files = [value for flag, value in zip(container["args"], container["args"][1:], strict=False) if "file" in flag]
    assert files and all(value.startswith(f"{SECRETS_DIR}/") for value in files)


def test_its_arguments_are_the_receivers_own_options(graph: Graph) -> None:
    (container,) = pod(graph)["containers"]
    arguments = cli.parser().parse_args(container["args"])
    assert arguments.audit_log == Path(STATE_PATH) / "audit.jsonl"
    assert arguments.state_dir == Path(STATE_PATH) and arguments.port == PORT and arguments.listen == "0.0.0.0"
    assert arguments.token_file == Path(SECRETS_DIR) / "webhook-token"
    assert arguments.approval_token_file == Path(SECRETS_DIR) / "approval-token"
    assert arguments.cloudflare_token_file == Path(SECRETS_DIR) / "cloudflare-api-token"
    assert arguments.cloudflare_account_id == ACCOUNT
    assert arguments.pagerduty_key_file == Path(SECRETS_DIR) / "pagerduty-routing-key"
    assert arguments.kubernetes == "in-cluster" and arguments.timeout_seconds == 10.0
    # A dry run unless the stack says apply.
    assert arguments.apply is False
    applying = self_healing_args(workload(delivery=CANARY), SelfHealingConfig(enabled=True, apply=True))
    assert applying is not None and cli.parser().parse_args(heal.command(applying)).apply is True


def test_alertmanager_alone_calls_it_and_it_reaches_the_api_server_dns_and_https(graph: Graph) -> None:
    mine = {name: spec for name, spec in policies_in(graph, NAMESPACE).items() if name.startswith(NAME)}
    assert set(mine) == {
        f"{NAME}-allow-alertmanager",
        f"{NAME}-allow-egress-api-server-0",
        f"{NAME}-allow-egress-https",
        f"{NAME}-allow-dns",
    }
    selector = named(graph, "Service", NAME)["spec"]["selector"]
    assert all(spec["podSelector"]["matchLabels"] == selector for spec in mine.values())
    caller = mine[f"{NAME}-allow-alertmanager"]
    assert caller["policyTypes"] == ["Ingress"]
    ((peer,), ports) = caller["ingress"][0]["from"], caller["ingress"][0]["ports"]
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "alertmanager"}
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": MONITORING}
    assert ports == [{"port": PORT, "protocol": "TCP"}]
    api_server = mine[f"{NAME}-allow-egress-api-server-0"]["egress"][0]
    assert api_server["ports"] == [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]
    https = mine[f"{NAME}-allow-egress-https"]["egress"][0]
    assert https["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert all(spec["policyTypes"] == ["Egress"] for name, spec in mine.items() if "allow-egress" in name)


def test_without_cloudflare_or_pagerduty_it_has_no_way_out_but_the_api_server() -> None:
    args = self_healing_args(workload(delivery=CANARY), SelfHealingConfig(enabled=True, incidents=False))
    assert args is not None
    assert [rule.name for rule in heal.egress(args)] == ["api-server-0"]
    arguments = heal.command(args)
    assert "--cloudflare-token-file" not in arguments and "--pagerduty-key-file" not in arguments


# --- its Secrets, from Vault ---


def test_its_tokens_come_from_vault_and_alertmanager_shares_the_webhook_token(graph: Graph) -> None:
    secrets = heal.synced_secrets(HealSecrets(NAMESPACE, MONITORING, edge=True, incidents=True), LAYOUT, "1h")
    receiver, alertmanager = secrets
    assert (receiver.name, receiver.namespace) == (heal.SECRET, NAMESPACE)
    assert (alertmanager.name, alertmanager.namespace) == ("alertmanager-heal", MONITORING)
    entries = {entry.key: (entry.vault_path, entry.vault_property) for entry in receiver.entries}
    assert entries == {
        "webhook-token": (f"{APP}/test/heal", "webhook-token"),
        "approval-token": (f"{APP}/test/heal", "approval-token"),
        "cloudflare-api-token": (f"{APP}/cloudflare-edge", "api-token"),
        "pagerduty-routing-key": ("monitoring/pagerduty", "routing-key"),
    }
    (shared,) = alertmanager.entries
    assert (shared.vault_path, shared.vault_property) == entries["webhook-token"]
    # The synthesized ExternalSecrets write those Secrets.
    targets = {(s["metadata"]["namespace"], s["spec"]["target"]["name"]) for s in objects(graph, "ExternalSecret")}
    assert targets == {(NAMESPACE, heal.SECRET), (MONITORING, "alertmanager-heal")}


def test_only_the_tokens_are_synced_where_edge_and_incidents_are_off() -> None:
    (receiver, _) = heal.synced_secrets(HealSecrets(NAMESPACE, MONITORING, edge=False, incidents=False), LAYOUT, "1h")
    assert [entry.key for entry in receiver.entries] == ["webhook-token", "approval-token"]


# --- Alertmanager's webhook to it ---


def alerting(**changes: Any) -> AlertingArgs:
    healing = alert_healing(workload(), SelfHealingConfig(enabled=True))
    return AlertingArgs(
        team_channels={"ai-platform": "#ai-platform-alerts"},
        low_noise_channel="#ai-platform-info",
        healing=healing,
        **changes,
    )


@pytest.fixture(scope="module")
def alertmanager_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alertmanager") / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config(alerting()), sort_keys=False))
    return path


def amtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["amtool", *arguments], capture_output=True, text=True, timeout=60)


def test_amtool_accepts_the_configuration_with_the_webhook(alertmanager_config: Path) -> None:
    result = amtool("check-config", str(alertmanager_config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "5 receivers" in result.stdout


def test_the_webhook_presents_the_mounted_token_and_hears_resolutions() -> None:
    (receiver,) = [r for r in config(alerting())["receivers"] if r["name"] == HEAL_RECEIVER]
    (webhook,) = receiver["webhook_configs"]
    assert webhook["url"] == f"http://{NAME}.{NAMESPACE}.svc.cluster.local:{PORT}/v1/alerts"
    assert webhook["send_resolved"] is True
    assert webhook["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/etc/alertmanager/secrets/alertmanager-heal/webhook-token",
    }
    # Truncated here, never refused there.
    assert 0 < webhook["max_alerts"] == HEAL_MAX_ALERTS <= payload.MAX_ALERTS
    # Alertmanager mounts the Secret it names (under /etc/alertmanager/secrets/<Secret>/).
    values = kube_prometheus_values(dataclasses.replace(monitoring_stack_args(workload()), alerting=alerting()))
    assert "alertmanager-heal" in values["alertmanager"]["alertmanagerSpec"]["secrets"]


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        # The receiver first, and the people as before.
        (("alertname=ApiPodCrashLooping", "severity=critical", "team=ai-platform"), "self-healing,pagerduty"),
        (("alertname=ApiHighLatencyP99", "severity=warning", "team=ai-platform"), "self-healing,slack-ai-platform"),
        (
            ("alertname=CriticalAlertUnresolved", "severity=escalation", "team=ai-platform"),
            "self-healing,pagerduty-escalation",
        ),
        # Not a runbook's alert (nor a name that merely contains one): people only.
        (("alertname=ReplicationLag", "severity=warning", "team=ai-platform"), "slack-ai-platform"),
        (("alertname=ApiPodCrashLoopingSoon", "severity=critical", "team=ai-platform"), "pagerduty"),
    ],
)
def test_runbook_alerts_reach_the_receiver_and_the_humans(
    alertmanager_config: Path, labels: tuple[str, ...], receivers: str
) -> None:
    result = amtool("config", "routes", "test", "--config.file", str(alertmanager_config), *labels)
    assert result.stdout.strip() == receivers, result.stderr


def test_the_webhook_takes_exactly_the_runbooks_alerts() -> None:
    assert set(heal.HEALED_ALERTS) == {runbook.alert for runbook in catalog.load().runbooks}


def test_without_self_healing_alertmanager_is_unchanged() -> None:
    plain = config(dataclasses.replace(alerting(), healing=None))
    assert HEAL_RECEIVER not in json.dumps(plain)
    values = kube_prometheus_values(monitoring_stack_args(workload()))
    assert "alertmanager-heal" not in values["alertmanager"]["alertmanagerSpec"]["secrets"]


def test_prometheus_labels_alerts_with_the_stack() -> None:
    args = dataclasses.replace(monitoring_stack_args(workload()), stack="prod-eu")
    assert kube_prometheus_values(args)["prometheus"]["prometheusSpec"]["externalLabels"] == {"stack": "prod-eu"}
    unnamed = kube_prometheus_values(dataclasses.replace(args, stack=None))
    assert "externalLabels" not in unnamed["prometheus"]["prometheusSpec"]


# --- the stack config ---


def test_off_by_default_and_off_means_nothing() -> None:
    config = workload()
    off = SelfHealingConfig()
    assert off.enabled is False and off.apply is False
    assert self_healing_args(config, off) is None
    assert heal_secrets(config, off) is None and alert_healing(config, off) is None


def test_without_its_own_image_it_shares_the_canary_judges() -> None:
    args = self_healing_args(workload(delivery=CANARY), SelfHealingConfig(enabled=True))
    assert args is not None and args.image.endswith(OPS_IMAGE["digest"])


@pytest.mark.parametrize(
    ("stack", "problem"),
    [
        ({}, "selfHealing.image: missing; expected the ops image by digest"),
        ({"monitoring": {"enabled": False}}, "expected monitoring.enabled: true"),
    ],
)
def test_what_it_needs_from_the_stack_is_named(stack: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        self_healing_args(workload(**stack), SelfHealingConfig(enabled=True))


def test_a_cluster_without_api_server_addresses_is_refused() -> None:
    args = self_healing_args(workload(delivery=CANARY), SelfHealingConfig(enabled=True))
    assert args is not None
    with pytest.raises(ValueError, match="expected the API server's CIDRs"):
        heal.spec(dataclasses.replace(args, api_server_cidrs=()))


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"image": {"repository": "ghcr.io/project-ai/ops", "tag": "1.2"}}, "expected the ops image pinned by digest"),
        ({"edgeAccountId": "not-an-account"}, "should match pattern"),
        ({"edgeAccountId": ACCOUNT.upper()}, "should match pattern"),
        ({"timeoutSeconds": 0.1}, "greater than or equal to 0.5"),
        ({"timeoutSeconds": 61}, "less than or equal to 60"),
        ({"stateSize": "1T"}, "should match pattern"),
        ({"storageClass": "Not_A_Name"}, "should match pattern"),
        ({"apply": "sometimes"}, "valid boolean"),
        ({"dryRun": True}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config_says_what_was_expected(values: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        SelfHealingConfig.model_validate({"enabled": True, **values})
