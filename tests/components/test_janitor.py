"""The scheduled janitor as synthesized (components/janitor.py, stacks/janitor.py): the
project's stacks run it as a dry run; with `apply` on, its identity gains the deleting
permissions, bound to the project's ownership tags. Hardened like the other ops pods,
reaching DNS, the cloud's APIs and the credential endpoint alone; valid against the
schemas and both policy packs."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from components.janitor import (
    GKE_METADATA,
    NAME,
    NAMESPACE,
    POD_IDENTITY_AGENT,
    SERVICE_ACCOUNT,
    aws_policy,
    gcp_account_id,
    gcp_permissions,
)
from ops.cli import parser
from ops.janitor.aws import FIRST_SEEN
from preflight.graph import Graph
from preflight.project import Program
from preflight.synth import Synthesizer
from stacks.config import parse
from stacks.janitor import janitor_args, janitor_image
from stacks.model import JanitorConfig
from tests.conftest import (
    ROOT,
    copy_project,
    link_program,
    objects,
    policies_in,
    projectai_values,
    stack_config,
    valid_and_clean,
)
from tests.stacks.copies import project_copy
from tests.stacks.test_mesh import signed

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def with_janitor(stack: str, **janitor: Any) -> dict[str, Any]:
    config = stack_config(stack)
    config["projectai:janitor"] = {**config.get("projectai:janitor", {}), **janitor}
    return config


@pytest.fixture(scope="module")
def dev(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("dev")


@pytest.fixture(scope="module")
def dev_applying(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    config = with_janitor("dev", apply=True, graceDays=14, maxDeletions=5)
    return Synthesizer(copy_project(tmp_path_factory.mktemp("janitor-apply"), "dev", config)).synthesize("dev")


@pytest.fixture(scope="module")
def gcp_applying(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    config = with_janitor("prod-gcp", apply=True)
    folder = tmp_path_factory.mktemp("janitor-gcp")
    link_program(folder)
    # Its primary, whose contract it reads.
    (folder / "Pulumi.prod.yaml").write_text((ROOT / "Pulumi.prod.yaml").read_text())
    (folder / "Pulumi.prod-gcp.yaml").write_text(yaml.safe_dump({"config": config}))
    return Synthesizer(Program.load(folder)).synthesize("prod-gcp")


def cron_job(graph: Graph) -> dict[str, Any]:
    (job,) = [job for job in objects(graph, "CronJob") if job["metadata"]["name"] == NAME]
    return job


def of_type(graph: Graph, kind: str) -> list[Any]:
    return [resource for resource in graph.resources if resource.type == kind]


def test_dev_runs_a_hardened_nightly_dry_run(dev: Graph) -> None:
    job = cron_job(dev)
    spec = job["spec"]
    assert job["metadata"]["namespace"] == NAMESPACE
    assert spec["concurrencyPolicy"] == "Forbid" and spec["schedule"] == "23 2 * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 1800
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == SERVICE_ACCOUNT
    assert pod["restartPolicy"] == "Never"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "384Mi"}
    # The dev stack shares the chaos guard's ops image, by digest.
    config = stack_config("dev")
    assert container["image"].endswith("@" + config["projectai:chaos"]["guardImage"]["digest"])
    assert container["args"] == [
        "janitor", "aws", "--region", "us-east-1", "--environment", "dev", "--grace-days", "7",
        "--max-deletions", "10", "--timeout-seconds", "20", "--snapshot-age-days", "30", "--keep-snapshots", "2",
        "--image-age-days", "90", "--keep-images", "20", "--format", "json",
    ]  # fmt: skip
    labels = spec["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "project-ai" and labels["environment"] == "dev"
    (namespace,) = [n for n in objects(dev, "Namespace") if n["metadata"]["name"] == NAMESPACE]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_job_is_a_command_the_cli_accepts(dev: Graph, gcp_applying: Graph) -> None:
    for graph in (dev, gcp_applying):
        args = cron_job(graph)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        parsed = parser().parse_args(args)
        assert parsed.group == "janitor" and parsed.format == "json"


def test_off_by_default() -> None:
    # Without a `janitor` section (prod-eu's taken out): off unless a stack says so.
    values = projectai_values(stack_config("prod-eu"))
    del values["janitor"]
    config = parse(values, "Pulumi.prod-eu.yaml")
    assert janitor_args(config, "cluster") is None  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def prod_meshed(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    """prod with its mesh intermediate signed: Istio on the region's cluster."""
    return Synthesizer(project_copy(tmp_path_factory.mktemp("prod-meshed"), {"prod": signed})).synthesize("prod")


def test_in_a_meshed_stack_its_namespace_denies_everything_in_the_mesh(prod_meshed: Graph) -> None:
    policies = [p for p in objects(prod_meshed, "AuthorizationPolicy") if p["metadata"]["namespace"] == NAMESPACE]
    assert [(p["metadata"]["name"], p["spec"]) for p in policies] == [("allow-nothing", {})]
    (namespace,) = [n for n in objects(prod_meshed, "Namespace") if n["metadata"]["name"] == NAMESPACE]
    assert "istio-injection" not in namespace["metadata"]["labels"]
    (mesh,) = [r for r in prod_meshed.resources if r.type.endswith(":IstioMesh")]
    (deny,) = [r for r in prod_meshed.resources if r.name == "janitor-allow-nothing"]
    # After Istio (its CRDs): a dependency on the mesh is one on each of its resources.
    assert mesh.urn in deny.dependencies or any("projectai:mesh:IstioMesh$" in urn for urn in deny.dependencies)


def test_it_reaches_dns_the_endpoints_and_the_pod_identity_agent_alone(dev: Graph) -> None:
    policies = policies_in(dev, NAMESPACE)
    assert set(policies) == {
        "default-deny",
        "allow-dns",
        "allow-egress-aws-endpoints",
        "allow-egress-pod-identity-agent",
    }
    assert policies["default-deny"]["policyTypes"] == ["Ingress", "Egress"]
    endpoints = policies["allow-egress-aws-endpoints"]["egress"][0]
    assert endpoints["to"] == [{"ipBlock": {"cidr": stack_config("dev")["projectai:platform"]["cidr"]}}]
    assert endpoints["ports"] == [{"port": 443, "protocol": "TCP"}]
    agent = policies["allow-egress-pod-identity-agent"]["egress"][0]
    assert agent["to"] == [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}] and agent["ports"][0]["port"] == 80


def test_a_dry_run_identity_reads_and_cannot_delete(dev: Graph) -> None:
    (association,) = [r for r in of_type(dev, "aws:eks/podIdentityAssociation:PodIdentityAssociation") if
                      r.inputs.get("namespace") == NAMESPACE]  # fmt: skip
    assert association.inputs["serviceAccount"] == SERVICE_ACCOUNT
    (policy,) = [r for r in of_type(dev, ROLE_POLICY) if "janitor" in r.name]
    document = json.loads(policy.inputs["policy"])
    actions = [action for statement in document["Statement"] for action in statement["Action"]]
    assert actions and not [action for action in actions if "Delete" in action or "Terminate" in action]
    assert not [action for action in actions if "*" in action]
    listed = document["Statement"][0]
    assert listed["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}


def test_an_applying_identity_deletes_only_what_is_tagged_as_ours(dev_applying: Graph) -> None:
    (policy,) = [r for r in of_type(dev_applying, ROLE_POLICY) if "janitor" in r.name]
    statements = {statement["Sid"]: statement for statement in json.loads(policy.inputs["policy"])["Statement"]}
    deleting = statements["DeleteOwned"]
    assert deleting["Condition"] == {
        "StringEquals": {
            "aws:ResourceTag/part-of": "project-ai",
            "aws:ResourceTag/managed-by": "pulumi",
            "aws:ResourceTag/environment": "dev",
        }
    }
    assert all(resource.startswith(("arn:aws:ec2:us-east-1:", "arn:aws:e")) for resource in deleting["Resource"])
    assert "*" not in deleting["Resource"]
    assert statements["MarkOwnedAddresses"]["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": [FIRST_SEEN]}
    args = cron_job(dev_applying)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-1] == "--apply" and args[args.index("--grace-days") + 1] == "14"
    assert args[args.index("--max-deletions") + 1] == "5"
    valid_and_clean(dev_applying, with_janitor("dev", apply=True, graceDays=14, maxDeletions=5))


def test_on_gcp_it_runs_under_workload_identity_with_a_role_of_its_own(gcp_applying: Graph) -> None:
    config = stack_config("prod-gcp")
    project = config["projectai:platform"]["project"]
    (account,) = [sa for sa in objects(gcp_applying, "ServiceAccount") if sa["metadata"]["name"] == SERVICE_ACCOUNT]
    assert "iam.gke.io/gcp-service-account" in account["metadata"]["annotations"]
    (role,) = of_type(gcp_applying, "gcp:projects/iAMCustomRole:IAMCustomRole")
    assert role.inputs["permissions"] == gcp_permissions(apply=True)
    (binding,) = [r for r in of_type(gcp_applying, "gcp:serviceaccount/iAMMember:IAMMember") if "janitor" in r.name]
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["member"] == f"serviceAccount:{project}.svc.id.goog[{NAMESPACE}/{SERVICE_ACCOUNT}]"
    policies = policies_in(gcp_applying, NAMESPACE)
    google = policies["allow-egress-google-apis"]["egress"][0]
    assert (
        google["ports"] == [{"port": 443, "protocol": "TCP"}] and "10.0.0.0/8" in google["to"][0]["ipBlock"]["except"]
    )
    for name, cidr, port in GKE_METADATA:
        rule = policies[f"allow-egress-{name}"]["egress"][0]
        assert rule["to"] == [{"ipBlock": {"cidr": cidr}}] and rule["ports"][0]["port"] == port
    args = cron_job(gcp_applying)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:4] == ["janitor", "gcp", "--project", project] and "--snapshot-age-days" not in args


def test_gcp_permissions_read_only_without_apply() -> None:
    assert gcp_permissions(apply=False) == [
        "compute.addresses.list",
        "compute.disks.list",
        "compute.globalAddresses.list",
    ]
    assert all(".delete" not in p for p in gcp_permissions(apply=False))
    assert gcp_account_id("a-very-long-environment-name-that-goes-on") == "janitor-a-very-long-environmen"
    assert len(gcp_account_id("x" * 40)) <= 30


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "prod-gcp"])
def test_the_regions_run_it_as_a_dry_run(stack: str) -> None:
    config = parse(projectai_values(stack_config(stack)), f"Pulumi.{stack}.yaml")
    args = janitor_args(config, "cluster")  # type: ignore[arg-type]
    assert args is not None and args.apply is False
    assert not any(s["Sid"] == "DeleteOwned" for s in aws_policy(args)["Statement"]) if args.cloud == "aws" else True


def test_the_image_falls_back_and_says_so_when_there_is_none() -> None:
    values = projectai_values(stack_config("dev"))
    values["chaos"] = {**values["chaos"]}
    del values["chaos"]["guardImage"]
    values["chaos"]["enabled"] = False
    config = parse(values, "Pulumi.dev.yaml")
    with pytest.raises(ValueError, match=r"janitor\.image: missing; expected the ops image by digest"):
        janitor_image(config, JanitorConfig(enabled=True))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("janitor", "message"),
    [
        ({"graceDays": 0}, "greater than or equal to 1"),
        ({"maxDeletions": 201}, "less than or equal to 200"),
        ({"schedule": "every night"}, "String should match pattern"),
        ({"timeZone": "Mars/Olympus"}, "Mars/Olympus"),
        ({"image": {"repository": "ghcr.io/project-ai/ops", "tag": "1.0"}}, "pinned by digest"),
        ({"deleteEverything": True}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config_is_refused(janitor: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        JanitorConfig.model_validate(janitor)
