"""preflight's synthesis: StackReferences, mock realism, determinism, any program."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from preflight.project import PreflightError, Program
from preflight.synth import Synthesizer
from tests.conftest import FIXTURES, copy_project, stack_config, write_program

REFS = FIXTURES / "refs"


@pytest.fixture
def refs() -> Synthesizer:
    return Synthesizer(Program.load(REFS))


def test_reference_is_resolved_by_synthesizing_the_referenced_stack_first(refs: Synthesizer) -> None:
    assert refs.synthesize("secondary").outputs == {"from-primary": "db.primary.internal"}


def test_references_resolve_transitively_and_fully_qualified(refs: Synthesizer) -> None:
    assert refs.synthesize("edge").outputs == {"from-secondary": "db.primary.internal"}


def test_missing_output_names_the_stack_and_what_it_exports(refs: Synthesizer) -> None:
    with pytest.raises(PreflightError) as caught:
        refs.synthesize("missing-output")
    assert str(caught.value) == (
        "stack 'missing-output': the program failed: KeyError: 'clusterName'; stack 'primary', which it "
        "references, has no such output (it exports: endpoint, region)"
    )


def test_missing_stack_is_named(refs: Synthesizer) -> None:
    with pytest.raises(
        PreflightError,
        match=r"stack 'missing-stack' references stack 'nowhere', which has no "
        r"stack file Pulumi.nowhere.yaml \(stacks: cycle-one, ",
    ):
        refs.synthesize("missing-stack")


def test_reference_cycle_is_reported_with_its_path(refs: Synthesizer) -> None:
    with pytest.raises(PreflightError, match=r"^StackReference cycle: cycle-one → cycle-two → cycle-one$"):
        refs.synthesize("cycle-one")


def test_reference_to_another_project_is_refused(refs: Synthesizer) -> None:
    with pytest.raises(PreflightError, match="references 'acme/other-project/prod' in project 'other-project'"):
        refs.synthesize("foreign")


def test_same_program_gives_the_same_graph() -> None:
    first = Synthesizer(Program.load(Path(__file__).parents[2])).synthesize("local")
    second = Synthesizer(Program.load(Path(__file__).parents[2])).synthesize("local")
    assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(second.to_dict(), sort_keys=True)


def test_graph_records_urns_parents_providers_and_dependencies(local_graph) -> None:
    deployment = next(r for r in local_graph.resources if r.type == "kubernetes:apps/v1:Deployment")
    assert deployment.urn == (
        "urn:pulumi:local::project-ai::projectai:workload:AppService$kubernetes:apps/v1:Deployment::api-deployment"
    )
    assert deployment.parent.endswith("projectai:workload:AppService::api")
    assert deployment.provider.endswith("pulumi:providers:kubernetes::cluster")
    assert deployment.id == "project-ai/project-ai-api"
    config_map = next(r for r in local_graph.resources if r.name == "api-settings")
    assert config_map.urn in deployment.dependencies  # the pod template uses its name
    assert re.fullmatch(r"api-settings-[0-9a-f]{8}", config_map.outputs["metadata"]["name"])
    assert config_map.outputs["metadata"]["namespace"] == "project-ai"


CLOUD_PROGRAM = """
import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp

bucket = aws.s3.Bucket("artifacts")
group = aws.ec2.SecurityGroup("api", description="api")
identity = aws.get_caller_identity()
zones = aws.get_availability_zones()
network = gcp.compute.Network("vpc", auto_create_subnetworks=False)
pulumi.export("bucketArn", bucket.arn)
pulumi.export("groupArn", group.arn)
pulumi.export("account", identity.account_id)
pulumi.export("zones", zones.names)
pulumi.export("networkLink", network.self_link)
"""


def test_cloud_mocks_carry_the_stack_account_region_and_project(tmp_path: Path) -> None:
    eu = {"aws:region": "eu-west-1", "aws:allowedAccountIds": '["210987654321"]', "gcp:project": "acme-prod"}
    outputs = Synthesizer(write_program(tmp_path, "clouds", CLOUD_PROGRAM, {"eu": eu})).synthesize("eu").outputs
    assert outputs["account"] == "210987654321"
    assert re.fullmatch(r"arn:aws:ec2:eu-west-1:210987654321:security-group/api-[0-9a-f]{7}", outputs["groupArn"])
    assert outputs["bucketArn"].startswith("arn:aws:s3:::artifacts-")
    assert outputs["zones"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert outputs["networkLink"].startswith("https://www.googleapis.com/compute/v1/projects/acme-prod/global/")


def test_bad_config_stops_with_one_line_per_problem_and_no_traceback(tmp_path: Path) -> None:
    config = stack_config("prod")
    config["projectai:app"] = {**config["projectai:app"], "replicas": {"min": 9, "max": 3}}
    config["projectai:regin"] = "us-east-1"
    with pytest.raises(PreflightError) as caught:
        Synthesizer(copy_project(tmp_path, "broken", config)).synthesize("broken")
    assert str(caught.value).splitlines() == [
        "stack 'broken': invalid configuration:",
        "Pulumi.broken.yaml: projectai:app.replicas: expected min ≤ max, got min 9 > max 3",
        "Pulumi.broken.yaml: projectai:regin: unknown key; did you mean 'region'?",
    ]


def test_encrypted_values_become_flagged_placeholders(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\nconfig:\n  logLevel:\n    default: info\n")
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  demo:token:\n    secure: v1:AAAA\n  demo:db:\n    host: db\n    password:\n      secure: v1:BBBB\n"
        "  demo:replicas: 3\n"
    )
    config = Program.load(tmp_path).stack_config("dev")
    assert config.values == {
        "demo:logLevel": "info",
        "demo:token": "preflight-secret-placeholder",
        "demo:db": '{"host": "db", "password": "preflight-secret-placeholder"}',
        "demo:replicas": "3",
    }
    assert config.secret_keys == ("demo:token", "demo:db")


ISOLATION_PROGRAM = """
import pulumi
from pulumi.runtime.settings import SETTINGS

pulumi.export("pendingOutputs", str(id(SETTINGS.outputs)))
pulumi.export("lock", str(id(SETTINGS.lock)))
other = pulumi.Config().get("reads")
if other:
    pulumi.export("theirs", pulumi.StackReference("other", stack_name=other).require_output("pendingOutputs"))
"""


def test_a_stack_and_the_stack_it_references_share_no_runtime_state(tmp_path: Path) -> None:
    # The referenced stack runs on another thread while the referencing one waits; the
    # SDK's bookkeeping of pending outputs must be their own, or one run's outputs are
    # awaited (or dropped) by the other.
    from pulumi.runtime.settings import SETTINGS

    stacks = {"first": {}, "second": {"isolation:reads": "first"}}
    synthesizer = Synthesizer(write_program(tmp_path, "isolation", ISOLATION_PROGRAM, stacks))
    second = synthesizer.synthesize("second").outputs
    first = synthesizer.synthesize("first").outputs
    assert second["theirs"] == first["pendingOutputs"]
    assert first["pendingOutputs"] != second["pendingOutputs"]
    assert first["lock"] != second["lock"]
    assert str(id(SETTINGS.outputs)) not in (first["pendingOutputs"], second["pendingOutputs"])


def test_each_stack_imports_the_program_afresh(tmp_path: Path) -> None:
    # Pulumi runs every stack in a new interpreter: import-time reads see their own stack.
    (tmp_path / "Pulumi.yaml").write_text("name: fresh\nruntime: python\n")
    (tmp_path / "naming.py").write_text(
        "import pulumi\n\nPREFIX = f'{pulumi.get_stack()}-{pulumi.Config().get(\"x\")}'\n"
    )
    (tmp_path / "__main__.py").write_text(
        "import pulumi\nimport naming\n\npulumi.export('prefix', naming.PREFIX)\n"
        "pulumi.export('root', pulumi.get_root_directory())\n"
    )
    for stack in ("one", "two"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(f"config:\n  fresh:x: {stack}-value\n")
    synthesizer = Synthesizer(Program.load(tmp_path))
    assert synthesizer.synthesize("one").outputs["prefix"] == "one-one-value"
    assert synthesizer.synthesize("two").outputs["prefix"] == "two-two-value"
    assert synthesizer.synthesize("two").outputs["root"] == str(tmp_path.resolve())


def test_a_linked_package_is_the_same_code_and_is_not_imported_again(
    tmp_path: Path, project_synthesizer: Synthesizer
) -> None:
    """A program copy that links this project's packages shares their modules: the app's
    metrics, imported by the test process, are not imported a second time (which would
    register every Prometheus metric twice)."""
    import sys

    import app.metrics

    loaded = sys.modules["app.metrics"]
    copy = copy_project(tmp_path, "dev", stack_config("dev"))
    Synthesizer(copy).synthesize("dev")
    project_synthesizer.synthesize("prod-global")
    Synthesizer(copy).synthesize("dev")
    assert sys.modules["app.metrics"] is loaded is app.metrics


def test_a_package_of_the_same_name_from_another_program_is_forgotten(tmp_path: Path) -> None:
    """Another program's `naming` module is not this one's, linked or not."""
    for program, value in (("first", 1), ("second", 2)):
        folder = tmp_path / program
        folder.mkdir()
        (folder / "Pulumi.yaml").write_text(f"name: {program}\nruntime: python\n")
        (folder / "naming.py").write_text(f"VALUE = {value}\n")
        (folder / "__main__.py").write_text("import pulumi\nimport naming\n\npulumi.export('value', naming.VALUE)\n")
        (folder / "Pulumi.only.yaml").write_text("config: {}\n")
    assert Synthesizer(Program.load(tmp_path / "first")).synthesize("only").outputs["value"] == 1
    assert Synthesizer(Program.load(tmp_path / "second")).synthesize("only").outputs["value"] == 2


SECRET_PROGRAM = """
import pulumi

config = pulumi.Config()
if config.get("reads"):
    reference = pulumi.StackReference("source", stack_name=config.get("reads"))
    password = reference.require_output("password")
    pulumi.export("sawSecret", pulumi.Output.is_secret(password))
    pulumi.export("length", password.apply(len))
else:
    pulumi.export("password", pulumi.Output.secret("hunter2"))
    pulumi.export("user", "app")
if config.get("unrelated"):
    {}["unrelated"]
"""


def test_secret_outputs_stay_secret_through_a_reference_and_out_of_reports(tmp_path: Path) -> None:
    stacks = {"source": {}, "reader": {"secrets:reads": "source"}}
    synthesizer = Synthesizer(write_program(tmp_path, "secrets", SECRET_PROGRAM, stacks))
    reader = synthesizer.synthesize("reader").outputs
    assert reader == {"sawSecret": True, "length": "[secret]"}  # the length of a secret is secret too
    source = synthesizer.synthesize("source")
    assert source.outputs == {"password": "[secret]", "user": "app"}
    assert "hunter2" not in json.dumps(source.to_dict())


def test_a_key_error_names_the_references_it_may_come_from(tmp_path: Path) -> None:
    stacks = {"source": {}, "reader": {"secrets:reads": "source", "secrets:unrelated": "yes"}}
    with pytest.raises(PreflightError) as caught:
        Synthesizer(write_program(tmp_path, "secrets", SECRET_PROGRAM, stacks)).synthesize("reader")
    assert str(caught.value) == (
        "stack 'reader': the program failed: KeyError: 'unrelated'; stack 'source', which it references, "
        "has no such output (it exports: password, user)"
    )


def test_config_of_an_outer_engine_does_not_leak_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"projectai:bogus": "1"}))
    graph = Synthesizer(Program.load(Path(__file__).parents[2])).synthesize("dev")
    assert graph.outputs["region"] == "us-east-1"
