"""preflight reports each stack's monthly cost estimate against its budget: a `cost:`
line (every item with -v), `stacks[].cost` in JSON, a table in report.md; a stack over
its budget fails with the estimate's main drivers in the message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policies.cost.estimate import Estimate, Item, Unpriced
from preflight import policies
from preflight.cli import main
from preflight.graph import Graph
from preflight.report import MARKDOWN_BUDGET, StackReport, as_markdown
from tests.conftest import write_program

NODES = """
import pulumi
import pulumi_aws as aws

# An explicit provider, as the project's stacks declare theirs: its region prices the resources.
opts = pulumi.ResourceOptions(provider=aws.Provider("aws", region="us-east-1"))
aws.eks.NodeGroup(
    "apps",
    cluster_name="c",
    node_role_arn="arn:aws:iam::111122223333:role/nodes",
    subnet_ids=["subnet-1"],
    instance_types=["{instance}"],
    capacity_type="ON_DEMAND",
    scaling_config={{"desired_size": {nodes}, "min_size": 1, "max_size": {nodes}}},
    opts=opts,
)
aws.ec2.NatGateway("nat", subnet_id="subnet-1", allocation_id="eipalloc-1", opts=opts)
aws.budgets.Budget(
    "budget", budget_type="COST", limit_amount="500", limit_unit="USD", time_unit="MONTHLY", opts=opts
)
"""
CONFIG = {"aws:region": "us-east-1"}


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], instance: str, nodes: int, *extra: str) -> tuple[int, str]:
    folder = tmp_path / "program"
    folder.mkdir()
    # `team`: no environment's settings, so the budget is the stack's declared one.
    write_program(folder, "small", NODES.format(instance=instance, nodes=nodes), {"team": CONFIG})
    code = main(["--program", str(folder), "--stack", "team", "--no-cache", *extra])
    return code, capsys.readouterr().out


def test_under_budget_shows_the_cost_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _run(tmp_path, capsys, "t3.medium", 2)
    # 2 x t3.medium (60.74), their boot volumes (3.20), a NAT gateway (32.85 + 9.00 of assumed traffic).
    assert "   cost: 106 USD/month, 21% of the 500 budget; drivers: node group apps 64 (60%), NAT 42 (40%)" in out
    assert "cost-estimate-within-budget" not in out


def test_over_budget_fails_with_the_drivers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(tmp_path, capsys, "m6i.xlarge", 4, "-v")
    assert code == 1
    assert "   cost: 609 USD/month, 122% of the 500 budget; drivers: node group apps 567 (93%), NAT 42 (7%)" in out
    line = next(line for line in out.splitlines() if "cost/cost-estimate-within-budget" in line)
    assert line.startswith("     MANDATORY cost/cost-estimate-within-budget (high) (stack): estimated 609 USD/month")
    assert "over the budget of 500 (122%); main drivers: node group apps 567 (93%), NAT 42 (7%)" in line
    # -v: every item, with its quantity and unit price; the assumptions and the prices' date.
    assert "         561  apps: m6i.xlarge on-demand node-hours, 2,920.0 node-hours x 0.192" in out
    assert "           9  nat: NAT gateway GB processed (its share), 200.0 GB x 0.045 (assumed)" in out
    assert "     assumptions: natGbPerMonth 200" in out
    assert "     prices: USD list prices recorded " in out


def test_json_and_markdown_carry_the_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(tmp_path, capsys, "m6i.xlarge", 4, "--format", "json", "--out", str(tmp_path / "out"))
    assert code == 1
    cost = json.loads(out)["stacks"][0]["cost"]
    assert cost["monthlyUsd"] == pytest.approx(560.64 + 6.40 + 32.85 + 9.00)
    assert cost["budgetUsd"] == 500 and cost["percentOfBudget"] == 121.8
    assert [d["driver"] for d in cost["drivers"]] == ["node group apps", "NAT"]
    kinds = {item["kind"] for item in cost["items"]}
    assert {"m6i.xlarge on-demand node-hours", "gp3 boot volumes", "NAT gateway hours"} <= kinds
    assert cost["assumptions"] == {"natGbPerMonth": 200.0}
    assert cost["note"].startswith("USD list prices recorded") and cost["unpriced"] == []
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Cost estimate" in report
    assert "| team | **609** | 500 | **122%** | node group apps 567; NAT 42 | – |" in report


def test_an_unpriced_resource_is_a_finding_naming_what_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = _run(tmp_path, capsys, "x9.huge", 1)
    assert "     1 resources not priced (the estimate is a floor)" in out
    line = next(line for line in out.splitlines() if "cost/cost-estimate-priced" in line)
    assert "apps is not in the estimate: no price for aws instance type 'x9.huge' in us-east-1" in line


def test_the_markdown_cost_table_stays_within_the_budget_and_escaped() -> None:
    drivers = [f"driver {i} | <b>x</b>\n# forged" for i in range(400)]
    items = tuple(Item(f"r{i}", "k", 1, "hours", 1.0, 1.0, drivers[i % 400], f"urn:{i}") for i in range(2000))
    unpriced = tuple(Unpriced(f"u{i} |", "aws:x/y:Z", f"urn:u{i}", "why") for i in range(50))
    cost = policies.Cost(Estimate("s", 2000.0, items, "note | x", {}, unpriced), 100.0)
    reports = []
    for index in range(300):
        report = StackReport(f"stack-{index}", graph=Graph("p", f"stack-{index}", [], {}, []))
        report.policies = policies.PolicyReport(cost=cost)
        reports.append(report)
    document = as_markdown(reports)
    assert len(document.encode()) <= MARKDOWN_BUDGET
    section = document.split("## Cost estimate", 1)[1]
    assert "more, see report.json" in section
    row = next(line for line in section.splitlines() if line.startswith("| stack-0 |"))
    # Each row keeps its six cells: the names' pipes are escaped, no line is forged.
    assert row.count(" | ") == 5
    assert "\n# forged" not in section and "<b>" not in section


def test_default_providers_price_in_the_stack_region(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No explicit provider: the engine's default one takes `aws:region`, and so does the estimate.
    program = NODES.replace("opts=opts", "").replace(",\n)", "\n)").format(instance="t3.medium", nodes=2)
    folder = tmp_path / "program"
    folder.mkdir()
    write_program(folder, "small", program, {"team": CONFIG})
    main(["--program", str(folder), "--stack", "team", "--no-cache"])
    out = capsys.readouterr().out
    assert "   cost: 106 USD/month, 21% of the 500 budget" in out
    assert "cost-estimate-priced" not in out
