"""The mesh's zero-trust rules beyond their cases (mesh_cases.py, which test_rules.py runs
with every other rule's): what the table does not show (environments, the implied settings, stacks without a mesh)."""

from __future__ import annotations

from tests.policies.cases import changed, pod, resource, workload
from tests.policies.mesh_cases import FAULT, ISTIOD, MESH_CASES, RELEASE, VS
from tests.policies.test_rules import violations


def test_every_mesh_rule_has_a_case() -> None:
    from policies.zero_trust.rules import PACK

    mesh_rules = {rule.name for rule in PACK.rules if rule.name.startswith("istio-")}
    assert mesh_rules == {case.rule for case in MESH_CASES}


def test_fault_injection_is_allowed_outside_prod() -> None:
    faulty = resource(VS, {"spec": changed(FAULT, "http.0.fault", {"delay": {"fixedDelay": "1s"}})})
    assert violations("istio-no-fault-injection-in-prod", [faulty], {"environment": "staging"}) == []
    assert violations("istio-no-fault-injection-in-prod", [faulty], {"environment": "prod"}) == [
        "http[0] injects faults in prod"
    ]


def test_the_stack_environment_reaches_the_fault_rule() -> None:
    from policies.config import implied

    config = {"projectai:environment": "staging"}
    assert implied.settings("zero-trust", config, "x")["istio-no-fault-injection-in-prod"] == {"environment": "staging"}


def test_a_stack_without_a_mesh_needs_no_authorization_policy() -> None:
    assert violations("istio-authorization-per-namespace", [workload(pod())]) == []


def test_an_istiod_release_makes_the_stack_a_mesh() -> None:
    found = violations("istio-authorization-per-namespace", [resource(RELEASE, ISTIOD, "istiod"), workload(pod())])
    assert found == ["namespace 'app' has no AuthorizationPolicy"]
