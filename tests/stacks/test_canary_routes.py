"""The canary's routes in the mesh (issue #17): header and cookie routes to the canary
from the first step, mirroring of safe requests in the configured steps, and fault
injection on the canary's route outside production only (refused in prod by the config
and by the zero-trust pack). Full-mesh copies of prod and staging, as in test_mesh.py."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.delivery import rollout as strategies
from preflight import policies
from preflight.graph import Graph
from preflight.synth import Synthesizer
from stacks.config import ConfigError, parse
from tests.conftest import one, projectai_values, stack_config, valid_and_clean
from tests.stacks.copies import project_copy
from tests.stacks.test_mesh import signed

FAULT = {"delayMs": 250, "delayPercent": 5.0, "abortHttpStatus": 503, "abortPercent": 1.5}
CONFIGS: dict[str, Any] = {}


def staging_canary(config: dict[str, Any]) -> None:
    """Staging as a meshed canary with faults injected, for a resilience test."""
    signed(config)
    delivery = config.get("projectai:delivery", {})
    canary = {**delivery.get("canary", {}), "faultInjection": FAULT}
    config["projectai:delivery"] = {**delivery, "strategy": "canary", "canary": canary}


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    program = project_copy(tmp_path_factory.mktemp("prod"), {"prod": signed})
    CONFIGS["prod"] = program.stack_config("prod").values
    return Synthesizer(program).synthesize("prod")


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    program = project_copy(tmp_path_factory.mktemp("staging"), {"staging": staging_canary})
    CONFIGS["staging"] = program.stack_config("staging").values
    return Synthesizer(program).synthesize("staging")


HEADER_ROUTES = [
    {
        "setHeaderRoute": {
            "name": "canary-internal",
            "match": [{"headerName": "x-canary", "headerValue": {"exact": "always"}}],
        }
    },
    {
        "setHeaderRoute": {
            "name": "canary-cohort",
            "match": [{"headerName": "cookie", "headerValue": {"regex": r"^(.*;\s*)?canary-cohort=b(;.*)?$"}}],
        }
    },
]
MIRROR = {
    "setMirrorRoute": {
        "name": "canary-mirror",
        "percentage": 10,
        "match": [{"method": {"exact": "GET"}}, {"method": {"exact": "HEAD"}}],
    }
}
UNMIRROR = {"setMirrorRoute": {"name": "canary-mirror"}}


def canary(graph: Graph) -> dict[str, Any]:
    return one(graph, "Rollout")["spec"]["strategy"]["canary"]


def without_analysis(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [step for step in steps if "analysis" not in step and "pause" not in step]


def test_prod_routes_internal_users_and_the_cohort_to_the_canary_and_mirrors_its_first_step(prod: Graph) -> None:
    strategy = canary(prod)
    assert strategy["trafficRouting"]["managedRoutes"] == [
        {"name": "canary-internal"},
        {"name": "canary-cohort"},
        {"name": "canary-mirror"},
    ]
    # Header routes from the first step on; the mirror in the first step only.
    assert without_analysis(strategy["steps"]) == [
        {"setWeight": 10},
        *HEADER_ROUTES,
        MIRROR,
        {"setWeight": 50},
        UNMIRROR,
    ]
    # Every step still pauses, then is judged.
    assert [next(iter(step)) for step in strategy["steps"]].count("analysis") == 2


@pytest.mark.parametrize(
    ("cookie", "matches"),
    [
        ("canary-cohort=b", True),
        ("session=1; canary-cohort=b", True),
        ("session=1;canary-cohort=b; theme=dark", True),
        ("canary-cohort=a", False),
        ("canary-cohort=bb", False),
        ("xcanary-cohort=b", False),
        ("session=canary-cohort=b", False),
    ],
)
def test_the_cohort_regex_matches_the_whole_cookie_header(cookie: str, matches: bool) -> None:
    # Istio (Envoy's RE2) matches a header regex against the whole value.
    assert bool(re.fullmatch(strategies.COHORT_COOKIE_REGEX, cookie)) is matches


def test_staging_mirrors_every_step_and_injects_faults_on_the_canary_route(staging: Graph) -> None:
    assert without_analysis(canary(staging)["steps"]) == [
        {"setWeight": 10},
        *HEADER_ROUTES,
        MIRROR,
        {"setWeight": 50},
        MIRROR,
    ]
    (route,) = one(staging, "VirtualService")["spec"]["http"]
    assert route["name"] == "primary"
    assert route["fault"] == {
        "delay": {"fixedDelay": "250ms", "percentage": {"value": 5.0}},
        "abort": {"httpStatus": 503, "percentage": {"value": 1.5}},
    }
    assert [(d["destination"]["subset"], d["weight"]) for d in route["route"]] == [("stable", 100), ("canary", 0)]


def test_prod_injects_no_faults(prod: Graph) -> None:
    (route,) = one(prod, "VirtualService")["spec"]["http"]
    assert "fault" not in route


@pytest.mark.parametrize("name", ["prod", "staging"])
def test_the_routed_stacks_are_valid_and_pass_both_packs(name: str, prod: Graph, staging: Graph) -> None:
    valid_and_clean({"prod": prod, "staging": staging}[name], CONFIGS[name])


def test_the_pack_refuses_faults_in_prod_even_past_the_config(staging: Graph) -> None:
    prod_like = {**CONFIGS["staging"], "projectai:environment": "prod"}
    report = policies.check(staging, prod_like)
    found = {(f.policy, f.message) for f in report.outcome.mandatory}
    assert ("istio-no-fault-injection-in-prod", "http[0] injects faults in prod") in found


def problems(stack: str, mesh: dict[str, Any] | None = None, **delivery: Any) -> str:
    config = stack_config(stack)
    raw = projectai_values(config)
    raw["delivery"] = {**raw.get("delivery", {}), **delivery}
    if mesh is not None:
        raw["mesh"] = mesh
    with pytest.raises(ConfigError) as caught:
        parse(raw, f"Pulumi.{stack}.yaml")
    return str(caught.value)


def test_fault_injection_is_refused_in_prod_in_one_line() -> None:
    message = problems("prod", canary={"faultInjection": FAULT})
    (line,) = [line for line in message.splitlines() if "faultInjection" in line]
    assert "delivery.canary.faultInjection" in line and "not in prod" in line


def test_fault_injection_needs_the_mesh() -> None:
    message = problems("dev", mesh={"enabled": False}, canary={"faultInjection": FAULT})
    assert "expected mesh.enabled: true" in message


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"delayMs": 100}, "delayMs and delayPercent go together"),
        ({"abortPercent": 5}, "abortHttpStatus and abortPercent go together"),
        ({}, "expected a delay"),
        ({"abortHttpStatus": 200, "abortPercent": 5}, "abortHttpStatus"),
    ],
)
def test_a_fault_is_a_delay_or_an_abort_with_its_share(fault: dict[str, Any], expected: str) -> None:
    assert expected in problems("staging", canary={"faultInjection": fault})


def test_mirror_steps_are_steps_of_the_canary() -> None:
    message = problems("prod", canary={"weights": [10, 50], "mirrorPercent": 10, "mirrorSteps": [3]})
    assert "mirrorSteps: [3] beyond the 2 weight steps" in message
