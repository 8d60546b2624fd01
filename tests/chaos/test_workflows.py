"""The Workflows held to what Chaos Mesh's admission webhook refuses (and to this
project's rule that every steady-state check aborts), before anything is deployed; and a
fault that would hit more than it should is refused by the component."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.chaos import faults, workflows
from components.chaos.faults import Sizes, Targets
from components.chaos.workflows import Fault, Timing

TARGETS = Targets(
    namespace="app",
    selector={"app.kubernetes.io/name": "api"},
    container="api",
    port=8000,
    zone="zone-a",
    database_hosts=("db.internal",),
    cache_hosts=("cache.internal",),
    hostnames=("db.internal", "cache.internal"),
)
SIZES = Sizes("2000ms", "6000ms", 40, "5000ms", "-5m", 1, 80, "268MB")
GUARD = "http://guard.app.svc.cluster.local:8080/v1/steady-state"


def workflow(serial: bool = False) -> dict[str, Any]:
    kinds = [faults.fault(name, TARGETS, SIZES) for name in ("api-redis-delay", "api-cpu-stress")]
    found = [Fault(f"x-{index}", kind, spec) for index, (kind, spec) in enumerate(kinds)]
    return workflows.workflow("x", found, serial, GUARD, Timing(fault_seconds=60, recovery_seconds=30))


def broken(path: list[Any], value: Any, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = copy.deepcopy(spec or workflow())
    target = spec
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return spec


def test_the_workflows_built_here_pass() -> None:
    assert workflows.problems(workflow()) == [] and workflows.problems(workflow(serial=True)) == []
    assert [t["templateType"] for t in workflow(serial=True)["templates"]] == [
        "Parallel",
        "NetworkChaos",
        "StressChaos",
        "Serial",
        "StatusCheck",
    ]


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (["entry"], "nowhere", "entry: 'nowhere' names no template"),
        (["templates", 1, "name"], "x", "templates: names used twice: x"),
        (["templates", 1, "name"], "Not_DNS", "template 'Not_DNS': not a DNS-1123 subdomain"),
        (["templates", 1, "deadline"], "3 minutes", "deadline '3 minutes'"),
        (["templates", 1, "networkChaos", "duration"], "60s", "a workflow's chaos takes no duration"),
        (["templates", 0, "children"], ["x-0", "ghost"], "child 'ghost' names no template"),
        (["templates", 3, "abortWithStatusCheck"], False, "abortWithStatusCheck is not true"),
        (["templates", 3, "statusCheck", "http", "url"], "guard:8080/v1", "is not an absolute http(s) URL"),
        (["templates", 3, "statusCheck", "http", "criteria", "statusCode"], "2xx", "statusCode '2xx'"),
        (["templates", 1, "templateType"], "KernelChaos", "templateType 'KernelChaos' is not one this project uses"),
        (["templates", 2, "podChaos"], {"action": "pod-kill"}, "holds podChaos besides its stressChaos"),
    ],
)
def test_what_the_webhook_would_refuse_is_named(path: list[Any], value: Any, problem: str) -> None:
    found = workflows.problems(broken(path, value))
    assert [line for line in found if problem in line], found


def test_dns_chaos_is_never_without_patterns() -> None:
    empty = Targets(**{**TARGETS.__dict__, "hostnames": ()})
    with pytest.raises(ValueError, match="an empty pattern list would fail every lookup"):
        faults.fault("api-dns-error", empty, SIZES)
    assert faults.hosts_needed(Targets(**{**TARGETS.__dict__, "cache_hosts": ()})) == [
        "cache hosts (api-redis-partition, api-redis-delay)"
    ]
