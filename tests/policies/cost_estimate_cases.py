"""Cases for the cost pack's estimate rules (policies/cost/rules.py over
policies/cost/estimate.py): a stack over its budget names its drivers; a resource the
estimate cannot price (a type it does not know, an instance type the table lacks) is
reported. test_rules.py adds them to its table."""

from __future__ import annotations

from typing import Any

from policies.core.props import analyzer_view
from policies.core.rule import Resource
from policies.cost import prices
from tests.policies.cases import resource, urn
from tests.policies.relational_cases import RelationalCase

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
BUDGET = "aws:budgets/budget:Budget"


def in_region(kind: str, props: dict[str, Any], name: str = "subject", region: str = "us-east-1") -> Resource:
    """A resource whose provider names its region, as the AWS provider's inputs do."""
    return Resource(kind, name, urn(kind, name), analyzer_view(props), {"region": region})


def group(instance_type: str, desired: Any) -> Resource:
    return in_region(NODE_GROUP, {"instanceTypes": [instance_type], "scalingConfig": {"desiredSize": desired}}, "ng")


NOTE = prices.load().note
ESTIMATE_CASES = [
    RelationalCase(
        "cost-estimate-within-budget",
        # 2 x m6i.large (140.16) and their 20 GB gp3 boot volumes (3.20): within 500.
        [group("m6i.large", 2), resource(BUDGET, {"limitAmount": "500"}, "b")],
        # 4 x m6i.xlarge (560.64) and boot volumes (6.40): 567, over 500; the desired size as text.
        [group("m6i.xlarge", "4"), resource(BUDGET, {"limitAmount": "500"}, "b")],
        [f"estimated 567 USD/month, over the budget of 500 (113%); main drivers: node group ng 567 (100%) [{NOTE}]"],
    ),
    RelationalCase(
        "cost-estimate-priced",
        [group("m6i.large", 2), resource("aws:iam/role:Role", {}, "r")],
        [
            group("x9.huge", 2),
            in_region("aws:sagemaker/endpoint:Endpoint", {}, "e"),
        ],
        [
            "ng is not in the estimate: no price for aws instance type 'x9.huge' in us-east-1 in prices.yaml "
            f"(it prices: {', '.join(sorted(prices.load().instances['aws']['us-east-1']))}); add it with its source",
            "e is not in the estimate: no price for type aws:sagemaker/endpoint:Endpoint: price it in "
            "policies/cost/estimate.py, or add it under `free:` in policies/cost/prices.yaml with why it costs "
            "nothing of its own",
        ],
    ),
]
