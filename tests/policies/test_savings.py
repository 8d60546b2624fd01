"""The measured saving (policies/cost/savings.py): the baseline file is read strictly, and
on a real stack the saving comes from two different syntheses, each optimization's share
is the drop it makes, and the shares add up to the whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policies.cost import prices, savings
from policies.cost.estimate import Estimate, Item
from policies.cost.savings import BaselineError, load_baseline, measure, merge
from preflight.graph import Graph


def test_the_baseline_file_states_each_naive_choice_and_why() -> None:
    found = load_baseline()
    names = [o.name for o in found]
    assert {"spot in non-prod", "right-sizing", "night scale-down in non-prod", "log retention"} <= set(names)
    assert all(len(o.why) > 40 and o.naive for o in found)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("optimizations: [", "cannot be read as YAML"),
        ("{}", "expected `optimizations:`"),
        ("optimizations: []", "expected `optimizations:`"),
        ("optimizations: [{name: a, why: b}]", "exactly the keys name, why and naive"),
        ("optimizations: [{name: '', why: b, naive: {dev: {}}}]", "non-empty text"),
        ("optimizations: [{name: a, why: b, naive: {dev: 3}}]", "naive must map stacks"),
        ("optimizations: [{name: a, why: b, naive: {dev: {}}}, {name: a, why: c, naive: {dev: {}}}]", "repeat"),
    ],
)
def test_a_malformed_baseline_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "baseline.yaml"
    path.write_text(text)
    with pytest.raises(BaselineError, match=message):
        load_baseline(path)


def test_an_unreadable_baseline_is_an_error_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert savings.main(["--baseline", str(tmp_path / "absent.yaml")]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_merge_lays_the_naive_choice_over_the_stack_file() -> None:
    base = {"projectai:platform": {"appPool": {"types": ["t3.large"], "spot": True}, "cidr": "10.0.0.0/16"}}
    over = {"projectai:platform": {"appPool": {"spot": False}, "offHours": None}}
    assert merge(base, over) == {
        "projectai:platform": {
            "appPool": {"types": ["t3.large"], "spot": False},
            "cidr": "10.0.0.0/16",
            "offHours": None,
        }
    }


def test_the_saving_on_dev_is_measured_from_two_graphs(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = [o for o in load_baseline() if o.name in ("spot in non-prod", "night scale-down in non-prod")]
    seen: list[Graph] = []
    synthesize = savings.synthesize

    def recording(program: Any, stacks: list[str]) -> dict[str, Graph]:
        graphs = synthesize(program, stacks)
        seen.append(graphs["dev"])
        return graphs

    monkeypatch.setattr(savings, "synthesize", recording)
    result = measure(stacks=["dev"], baseline=chosen)
    # Configured, the baseline, and the baseline with spot taken back: three syntheses.
    assert len(seen) == 3
    configured, baseline, spot_back = seen

    def app_group(graph: Graph) -> dict[str, Any]:
        return next(
            r.inputs for r in graph.resources if r.type == "aws:eks/nodeGroup:NodeGroup" and r.name.endswith("apps")
        )

    def schedules(graph: Graph) -> int:
        return sum(r.type == "aws:autoscaling/schedule:Schedule" for r in graph.resources)

    assert app_group(configured)["capacityType"] == "SPOT" and app_group(baseline)["capacityType"] == "ON_DEMAND"
    assert schedules(configured) == 2 and schedules(baseline) == 0
    assert app_group(spot_back)["capacityType"] == "SPOT" and schedules(spot_back) == 0
    # The figures are those graphs' estimates, not constants.
    assert result.baseline["dev"] > result.optimized["dev"] > 0
    by = result.by_optimization
    assert by["spot in non-prod"]["dev"] > 0 and by["night scale-down in non-prod"]["dev"] > 0
    assert sum(saved["dev"] for saved in by.values()) == pytest.approx(result.saving("dev"))
    assert 0 < result.share("dev") < 1
    text = savings.as_text(result, "note")
    assert "dev" in text and "spot in non-prod" in text and f"{result.share():.1%}" in text


def _item(driver: str, kind: str, unit: str, monthly: float) -> Item:
    price = monthly / 730
    return Item(what=driver, kind=kind, quantity=730, unit=unit, unit_price=price, monthly=monthly, driver=driver)


def test_commitments_cover_only_always_on_databases_caches_and_on_demand_nodes() -> None:
    table = prices.load()
    items = (
        _item("databases", "db.r6g.xlarge instance-hours", "instance-hours", 400.0),
        _item("caches", "cache.r6g.large node-hours", "node-hours", 300.0),
        _item("node group apps", "m6i.xlarge on-demand node-hours", "node-hours", 200.0),
        # Spot nodes, storage and transfer are not committed.
        _item("node group spot", "m6i.large spot node-hours", "node-hours", 100.0),
        _item("databases", "Aurora storage", "GB-month", 10.0),
        _item("data transfer", "internet egress GB", "GB", 45.0),
    )
    estimate = Estimate(stack="prod", monthly_usd=1055.0, items=items, note="", assumptions={})
    saved = savings.commitment_savings(estimate, "aws", table)
    term = savings.COMMITMENT_TERM["aws"]
    assert saved == pytest.approx(
        {
            "rdsReserved": 400.0 * table.commitment("aws", "rdsReserved", term),
            "elasticacheReserved": 300.0 * table.commitment("aws", "elasticacheReserved", term),
            "computeSavingsPlan": 200.0 * table.commitment("aws", "computeSavingsPlan", term),
        }
    )
    # A cloud with no committable product saves nothing, rather than failing.
    assert savings.commitment_savings(estimate, "kubernetes", table) == {}
