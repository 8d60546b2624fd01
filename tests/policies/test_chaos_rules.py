"""The chaos rule beyond its cases (chaos_cases.py, which test_rules.py runs with every
other rule's): outside prod it allows what prod refuses, and the stack's environment
reaches it from the stack's own configuration."""

from __future__ import annotations

import pytest

from tests.policies.chaos_cases import CHAOS_CASES
from tests.policies.test_rules import violations


def test_every_chaos_rule_has_a_case() -> None:
    from policies.zero_trust.rules import PACK

    chaos_rules = {rule.name for rule in PACK.rules if rule.name.startswith("chaos-")}
    assert chaos_rules == {case.rule for case in CHAOS_CASES} == {"chaos-mesh-not-in-prod"}


@pytest.mark.parametrize("environment", ["local", "dev", "staging"])
def test_outside_prod_chaos_mesh_is_allowed(environment: str) -> None:
    (case,) = CHAOS_CASES
    assert violations(case.rule, case.bad, {"environment": environment}) == []


def test_in_prod_every_way_in_is_refused() -> None:
    (case,) = CHAOS_CASES
    assert len(violations(case.rule, case.bad, {"environment": "prod"})) == len(case.bad)


def test_the_stack_environment_reaches_the_rule() -> None:
    from policies.config import implied

    for environment in ("dev", "prod"):
        config = {"projectai:environment": environment}
        assert implied.settings("zero-trust", config, "x")["chaos-mesh-not-in-prod"] == {"environment": environment}
