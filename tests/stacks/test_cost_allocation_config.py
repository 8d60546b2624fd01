"""`cost` (CostConfig): OpenCost and the VPA recommender are on in every stack that runs
the API, and every mistake in the section gets one clear line."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import parse
from stacks.cost import pricing
from stacks.model import CostConfig
from tests.conftest import PROJECT_STACKS, stack_config
from tests.stacks.test_config import namespace, problems, prod, stack

WORKLOAD_STACKS = tuple(s for s in PROJECT_STACKS if stack_config(s).get("projectai:role") != "edge")


@pytest.mark.parametrize("name", WORKLOAD_STACKS)
def test_every_stack_that_runs_the_api_allocates_and_recommends(name: str) -> None:
    config = parse(namespace(name), f"Pulumi.{name}.yaml")
    assert config.cost.opencost.enabled and config.cost.vpa.enabled  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "expected"), [("prod", "aws"), ("prod-eu", "aws"), ("prod-gcp", "gcp"), ("local", "custom")]
)
def test_prices_come_from_the_stacks_cloud(name: str, expected: str) -> None:
    config = parse(namespace(name), f"Pulumi.{name}.yaml")
    assert pricing(config) == expected  # type: ignore[arg-type]


def one_problem(raw: dict[str, Any]) -> str:
    found = problems(raw)
    assert len(found) == 1, found
    return found[0]


def test_opencost_without_monitoring_names_both_keys() -> None:
    line = one_problem(prod(monitoring__enabled=False, cost={"opencost": {"enabled": True}}))
    assert "opencost.enabled" in line and "expected monitoring.enabled: true" in line
    assert line.startswith("Pulumi.prod.yaml")


@pytest.mark.parametrize("opencost", [{}, {"enabled": False}])
def test_opencost_follows_monitoring_unless_the_stack_says_otherwise(opencost: dict[str, Any]) -> None:
    config = parse(prod(monitoring__enabled=False, cost={"opencost": opencost}), "Pulumi.prod.yaml")
    assert config.cost.opencost.enabled is False and config.cost.vpa.enabled  # type: ignore[union-attr]
    assert parse(prod(cost={"opencost": opencost}), "Pulumi.prod.yaml").cost.opencost.enabled is (  # type: ignore[union-attr]
        "enabled" not in opencost
    )


@pytest.mark.parametrize(
    ("cost", "expected"),
    [
        ({"vpa": {"bounds": {"minAllowed": {"cpu": "8", "memory": "64Mi"}}}}, "expected minAllowed ≤ maxAllowed"),
        (
            {
                "vpa": {
                    "bounds": {"minAllowed": {"cpu": "1m", "memory": "32Gi"}, "maxAllowed": {"cpu": 1, "memory": "1Gi"}}
                }
            },
            "exceeds maxAllowed",
        ),
        ({"vpa": {"bounds": {"maxAllowed": {"cpu": "lots", "memory": "1Gi"}}}}, "cpu"),
        ({"opencost": {"namespace": "kube-system"}}, "belongs to the cluster"),
        ({"vpa": {"namespace": "default"}}, "belongs to the cluster"),
        ({"opencost": {"namespace": "Not_A_Label"}}, "opencost.namespace"),
        ({"opencost": {"namespace": "project-ai"}}, "is the API's"),
        ({"vpa": {"namespace": "monitoring"}}, "is the monitoring stack's"),
        ({"vpa": {"namespace": "opencost"}}, "OpenCost's too"),
        ({"opencost": {"chartVersion": "latest"}}, "chartVersion"),
        ({"vpa": {"chartVersion": "5.0"}}, "chartVersion"),
        ({"opencost": {"customPricing": {"cpu": -0.01}}}, "customPricing.cpu"),
        ({"opencost": {"customPricing": {"ram": 1e9}}}, "customPricing.ram"),
        ({"opencost": {"queryResolutionSeconds": 59}}, "queryResolutionSeconds"),
        ({"opencost": {"queryResolutionSeconds": 3601}}, "queryResolutionSeconds"),
        ({"opencost": {"resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}}, "resources"),
        ({"opencost": {"uiEnabled": True}}, "uiEnabled"),
        ({"budget": 10}, "budget"),
    ],
)
def test_mistakes_in_cost_get_one_clear_line(cost: dict[str, Any], expected: str) -> None:
    line = one_problem(prod(cost=cost))
    assert "cost" in line and expected in line, line


def test_bounds_at_their_limits_are_accepted() -> None:
    bounds = {"minAllowed": {"cpu": "1", "memory": "1Gi"}, "maxAllowed": {"cpu": "1", "memory": "1Gi"}}
    config = parse(prod(cost={"vpa": {"bounds": bounds}}), "Pulumi.prod.yaml")
    assert config.cost.vpa.bounds.min_allowed == config.cost.vpa.bounds.max_allowed  # type: ignore[union-attr]
    resolution = {"opencost": {"queryResolutionSeconds": 60, "customPricing": {"cpu": 0, "gpu": 1000}}}
    assert parse(prod(cost=resolution), "Pulumi.prod.yaml").cost.opencost.query_resolution_seconds == 60  # type: ignore[union-attr]


def test_a_section_the_stack_file_leaves_out_is_off() -> None:
    # Without defaults (no environment) nothing is turned on by itself.
    assert not CostConfig().opencost.enabled and not CostConfig().vpa.enabled


def test_a_local_stack_takes_its_own_prices() -> None:
    raw = stack("local", cost={"opencost": {"customPricing": {"cpu": 0.05, "ram": 0.006}}})
    config = parse(raw, "Pulumi.local.yaml")
    prices = config.cost.opencost.custom_pricing  # type: ignore[union-attr]
    assert (prices.cpu, prices.ram, prices.storage) == (0.05, 0.006, 0.00005479452)
