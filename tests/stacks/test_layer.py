"""The shape of the stacks layer: roles compose components and never each other, a new
production region is one stack file, and a refactor keeps every deployed resource's
identity (its URN, or an alias to it), so `pulumi up` never replaces one by accident."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from preflight.cli import main
from preflight.graph import Graph
from preflight.synth import Synthesizer
from preflight.urns import engine_urns
from tests.conftest import CRD_SCHEMAS, FIXTURES, PROJECT_STACKS, ROOT, link_program, stack_config

ROLES = ("cluster", "region", "edge")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("role", ROLES)
def test_no_role_imports_another(role: str) -> None:
    imported = imported_modules(ROOT / "stacks" / f"{role}.py")
    others = {f"stacks.{other}" for other in ROLES if other != role}
    assert not imported & others


def test_the_import_check_sees_a_role_importing_another(tmp_path: Path) -> None:
    module = tmp_path / "region.py"
    module.write_text("from stacks import cluster\nfrom stacks.edge import build\n")
    assert {"stacks.cluster", "stacks.edge"} <= imported_modules(module)


def test_no_stacks_module_reads_a_section_it_must_assert_first() -> None:
    # One model per role types every section it needs as present.
    for path in (ROOT / "stacks").glob("*.py"):
        tree = ast.parse(path.read_text())
        asserts = [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert not [node for node in asserts if "config" in ast.unparse(node)], path.name


IDENTITIES = sorted((FIXTURES / "identities").glob("*.txt"))


def test_every_recorded_stack_still_exists() -> None:
    assert IDENTITIES and {path.stem for path in IDENTITIES} <= set(PROJECT_STACKS)


@pytest.mark.parametrize("record", IDENTITIES, ids=lambda path: path.stem)
def test_every_deployed_resource_keeps_its_identity(project_synthesizer: Synthesizer, record: Path) -> None:
    """Each custom resource the stack had (tests/fixtures/identities, engine URNs) is still
    there under its URN or an alias. A resource removed on purpose: delete its line."""
    graph: Graph = project_synthesizer.synthesize(record.stem)
    known = set(engine_urns(graph).values())
    for resource in graph.resources:
        known.update(resource.aliases)
    recorded = record.read_text().split()
    assert recorded and [urn for urn in recorded if urn not in known] == []


def test_the_identity_check_sees_a_resource_moved_without_an_alias(project_synthesizer: Synthesizer) -> None:
    graph = project_synthesizer.synthesize("local")
    (integration,) = [r for r in graph.resources if r.type == "projectai:vault:VaultIntegration"]
    moved = next(r for r in graph.resources if r.parent == integration.urn and r.aliases)
    # The same resource without its aliases is under a URN the record does not know.
    recorded = set((FIXTURES / "identities" / "local.txt").read_text().split())
    assert engine_urns(graph)[moved.urn] not in recorded and set(moved.aliases) & recorded


def region_copy(folder: Path, region: str, cidr: str) -> Path:
    """A copy of prod-eu moved to another region with its own ranges, beside prod (its
    primary), in a program folder of its own."""
    link_program(folder)
    (folder / "Pulumi.prod.yaml").write_text((ROOT / "Pulumi.prod.yaml").read_text())
    text = (ROOT / "Pulumi.prod-eu.yaml").read_text().replace("eu-west-1", region).replace("10.31.", cidr)
    (folder / "Pulumi.prod-new.yaml").write_text(text)
    return folder


def test_a_new_region_is_one_stack_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = region_copy(tmp_path, "ap-southeast-1", "10.32.")
    config = yaml.safe_load((program / "Pulumi.prod-new.yaml").read_text())["config"]
    assert config["projectai:platform"]["cidr"] == "10.32.0.0/16"
    code = main(["--stack", "prod-new", "--program", str(program), "--crd-schemas", str(CRD_SCHEMAS)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "policies: 0 mandatory, " in out
    # Its prices are not in the table yet: advisory findings (cost-estimate-priced), and the
    # cost line says the estimate is a floor.
    assert "resources not priced (the estimate is a floor)" in out
    # The one line it needs elsewhere, named: the primary replicates its registry there.
    assert (
        "the primary stack 'prod' does not replicate its registry to ap-southeast-1: add 'ap-southeast-1' to "
        "projectai:platform.registryReplicas in Pulumi.prod.yaml"
    ) in out


def test_a_region_the_primary_replicates_to_gets_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = region_copy(tmp_path, "ap-southeast-1", "10.32.")
    primary = (program / "Pulumi.prod.yaml").read_text().replace("[eu-west-1]", "[eu-west-1, ap-southeast-1]")
    (program / "Pulumi.prod.yaml").write_text(primary)
    assert main(["--stack", "prod-new", "--program", str(program), "--crd-schemas", str(CRD_SCHEMAS)]) == 0
    assert "does not replicate its registry" not in capsys.readouterr().out


def test_api_server_ranges_are_derived_from_the_regions_network() -> None:
    # No region file names them: a copied file cannot keep another region's ranges.
    for stack in PROJECT_STACKS:
        config = stack_config(stack)
        if config.get("projectai:role") == "region":
            assert "apiServerCidrs" not in config.get("projectai:kubernetes", {}), stack
