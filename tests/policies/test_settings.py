"""Pack settings by environment: a file per environment, what a stack's configuration
implies (its registry, its environment), an optional override per stack, merged and then
checked as a whole; `python -m policies.config` writes the result for the Pulumi CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.config import effective, implied
from policies.config.__main__ import main
from policies.core.settings import SettingsError, load, merge, resolve
from policies.cost.rules import PACK as COST
from policies.zero_trust.rules import PACK as ZERO_TRUST
from preflight.project import Program
from tests.conftest import PROJECT_STACKS, ROOT, write_program

PACKS = (ZERO_TRUST, COST)
OPENBAO = "quay.io/openbao/"


def engine_config(stack: str, program: Path = ROOT) -> dict[str, str]:
    """The stack's configuration as the engine (and preflight) hands it over."""
    return Program.load(program).stack_config(stack).values


def moved_prod_eu(folder: Path, **changes: Any) -> Path:
    """Pulumi.prod-eu.yaml copied as stack `prod-ap`, moved to ap-southeast-1 and its own
    account, with `changes` (dotted keys) on top."""
    config = yaml.safe_load((ROOT / "Pulumi.prod-eu.yaml").read_text())["config"]
    config["aws:region"] = config["projectai:region"] = "ap-southeast-1"
    config["aws:allowedAccountIds"] = ["777788889999"]
    config["projectai:platform"]["accountId"] = "777788889999"
    for key, value in changes.items():
        *parents, last = key.split(".")
        target = config
        for parent in parents:
            target = target[parent]
        target[last] = value
    write_program(folder, "project-ai", "", {"prod-ap": config})
    return folder


def test_every_environment_has_a_settings_file_for_each_pack_and_every_file_is_valid() -> None:
    for pack in PACKS:
        for environment in implied.ENVIRONMENTS:
            path = effective.environment_file(pack.name, environment)
            resolve(pack.rules, load(path, path.name), source=path.name)
        for path in sorted(effective.override_file(pack.name, "x").parent.glob("*.json")):
            assert path.stem in PROJECT_STACKS, f"{path}: overrides a stack that does not exist"
            resolve(pack.rules, load(path, path.name), source=path.name)


def test_the_environments_differ_where_they_should() -> None:
    dev = effective.applied(COST, "dev", engine_config("dev"))
    prod = effective.applied(COST, "prod", engine_config("prod"))
    assert dev["cost-spot-capacity"].params.require_spot is True
    assert prod["cost-spot-capacity"].params.require_spot is False
    assert dev["cost-aws-node-group-max-size"].params.max_nodes < prod["cost-aws-node-group-max-size"].params.max_nodes
    assert "m6i.xlarge" not in dev["cost-aws-instance-types"].params.allowed_instance_types
    assert prod["cost-nat-gateway-count"].params.max_nat_gateways == 3


def test_a_stack_without_an_override_gets_its_environments_settings() -> None:
    config = {"projectai:environment": "dev", "projectai:role": "cluster", "projectai:cloud": "kubernetes"}
    assert not effective.override_file("cost", "dev-2").exists()
    dev = load(effective.environment_file("cost", "dev"), "dev.json")
    assert effective.applied(COST, "dev-2", config) == resolve(COST.rules, dev)
    zero_trust = effective.applied(ZERO_TRUST, "dev-2", config)
    assert zero_trust["aws-rds-deletion-protection"].params.environment == "dev"
    assert zero_trust["aws-rds-multi-az"].params.environment == "dev"
    # A cluster stack has no registry of its own: the environment's list alone.
    assert zero_trust["k8s-image-allowed-registry"].params.allowed_registries == (OPENBAO,)


def test_a_copy_of_prod_eu_in_another_region_and_account_gets_its_registry_and_prod_caps(tmp_path: Path) -> None:
    config = engine_config("prod-ap", moved_prod_eu(tmp_path))
    zero_trust = effective.applied(ZERO_TRUST, "prod-ap", config)
    assert zero_trust["k8s-image-allowed-registry"].params.allowed_registries == (
        "777788889999.dkr.ecr.ap-southeast-1.amazonaws.com/project-ai/",
        OPENBAO,
    )
    assert zero_trust["aws-rds-deletion-protection"].params.environment == "prod"
    cost = effective.applied(COST, "prod-ap", config)
    assert cost["cost-aws-node-group-max-size"].params.max_nodes == 20
    assert cost["cost-nat-gateway-count"].params.max_nat_gateways == 3
    assert cost == effective.applied(COST, "prod", engine_config("prod"))


def test_the_cli_writes_the_effective_settings_for_the_pulumi_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = moved_prod_eu(tmp_path)
    assert main(["--stack", "prod-ap", "--pack", "zero-trust", "--program", str(program)]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written == {
        "aws-rds-deletion-protection": {"environment": "prod"},
        "aws-rds-multi-az": {"environment": "prod"},
        "istio-no-fault-injection-in-prod": {"environment": "prod"},
        "chaos-mesh-not-in-prod": {"environment": "prod"},
        "k8s-image-allowed-registry": {
            "allowedRegistries": ["777788889999.dkr.ecr.ap-southeast-1.amazonaws.com/project-ai/", OPENBAO]
        },
    }
    # The stack file as written and the engine's strings imply the same.
    from_engine = effective.applied(ZERO_TRUST, "prod-ap", engine_config("prod-ap", program))
    assert resolve(ZERO_TRUST.rules, written) == from_engine


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"projectai:platform.accountId": "7777-8888-9999"},
            "projectai:platform.accountId: expected a 12-digit AWS account id, got '7777-8888-9999'",
        ),
        ({"projectai:platform.accountId": 777788889999}, "expected a 12-digit AWS account id, got 777788889999"),
        ({"projectai:region": "ap southeast 1"}, "projectai:region: expected an AWS region, got 'ap southeast 1'"),
        ({"projectai:platform": ["777788889999"]}, "projectai:platform: expected an object, got ['777788889999']"),
        ({"projectai:cloud": "gcp"}, "projectai:region: expected a GCP region, got 'ap-southeast-1'"),
        ({"projectai:cloud": "azure"}, "projectai:cloud: 'azure', expected aws or gcp for the region role"),
        (
            {"projectai:environment": "production"},
            "projectai:environment: 'production', expected one of local, dev, staging, prod",
        ),
    ],
)
def test_a_malformed_key_the_settings_derive_from_is_named(
    tmp_path: Path, changes: dict[str, Any], problem: str
) -> None:
    config = engine_config("prod-ap", moved_prod_eu(tmp_path, **changes))
    with pytest.raises(SettingsError) as caught:
        effective.applied(ZERO_TRUST, "prod-ap", config)
    assert str(caught.value).startswith("Pulumi.prod-ap.yaml: ") and str(caught.value).endswith(problem)


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"cost-nat-gateways": {"maxNatGateways": 2}}, "unknown policy 'cost-nat-gateways'"),
        ({"cost-nat-gateway-count": {"maxNat": 2}}, "cost-nat-gateway-count.maxNat: Extra inputs are not permitted"),
    ],
)
def test_an_override_with_an_unknown_policy_or_parameter_names_its_file(
    config_root: Path, override: dict[str, Any], problem: str
) -> None:
    path = config_root / "cost" / "stacks" / "prod.json"
    path.write_text(json.dumps(override))
    with pytest.raises(SettingsError) as caught:
        effective.applied(COST, "prod", engine_config("prod"))
    assert str(caught.value) == f"{path}: {problem}"


def test_an_override_widens_a_list_and_replaces_a_value(config_root: Path) -> None:
    path = config_root / "zero-trust" / "stacks" / "prod.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"k8s-image-allowed-registry": {"allowedRegistries": ["mirror.example/"]}}))
    (config_root / "cost" / "stacks" / "prod.json").write_text('{"cost-nat-gateway-count": {"maxNatGateways": 2}}')
    registries = effective.applied(ZERO_TRUST, "prod", engine_config("prod"))["k8s-image-allowed-registry"]
    own = "444455556666.dkr.ecr.us-east-1.amazonaws.com/project-ai/"
    assert registries.params.allowed_registries == ("mirror.example/", own, OPENBAO)
    assert effective.applied(COST, "prod", engine_config("prod"))["cost-nat-gateway-count"].params.max_nat_gateways == 2


def test_an_environment_without_its_file_is_an_error(config_root: Path) -> None:
    (config_root / "cost" / "staging.json").unlink()
    with pytest.raises(SettingsError) as caught:
        effective.applied(COST, "staging", engine_config("staging"))
    assert str(caught.value) == (
        f"{config_root}/cost/staging.json: missing; every environment has a settings file for each pack"
    )


def test_layers_merge_per_policy() -> None:
    environment = {"all": "advisory", "a": "disabled", "b": {"list": ["x"], "value": 1, "map": {"k": 1}}}
    override = {"all": "mandatory", "a": {"p": 2}, "b": {"list": ["y", "x"], "value": 2, "map": {"j": 2}}}
    assert merge(environment, override) == {
        "all": "mandatory",
        "a": {"enforcementLevel": "disabled", "p": 2},
        "b": {"list": ["y", "x"], "value": 2, "map": {"k": 1, "j": 2}},
    }


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_a_region_stacks_images_come_from_the_registry_it_implies(stack: str) -> None:
    config = engine_config(stack)
    own = implied.registry(config, stack)
    if config["projectai:role"] == "region":
        assert own and json.loads(config["projectai:app"])["image"]["repository"].startswith(own)
    else:
        assert own is None


def test_another_program_gets_the_environment_its_stack_is_named_after() -> None:
    assert implied.environment({}, "prod") == "prod"
    assert implied.environment({}, "feature-x") is None
    assert effective.applied(COST, "feature-x", {}) == resolve(COST.rules, {})
