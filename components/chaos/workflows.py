"""Every experiment as a Chaos Mesh Workflow: its fault (or a game day's faults) in
parallel with the steady-state check, and the Schedule that runs it.

    <name>                 Parallel, bounded by the whole experiment's deadline
    ├── <name>-fault       the fault, bounded by its deadline (a game day: one template
    │                      per fault, all at once, or under a Serial one after the other)
    └── <name>-steady-state
                           StatusCheck, Continuous, HTTP GET of the steady-state guard
                           every `interval` seconds through the fault and the recovery
                           after it; `abortWithStatusCheck: true`

The guard (ops/chaos/guard.py) answers 200 while none of the API's burn-rate alerts
fires. `failureThreshold` failed checks in a row complete the StatusCheck without its
success condition, which marks the node aborted; Chaos Mesh then annotates the Workflow
aborted and propagates the abort to every running node, whose chaos is recovered
(pkg/workflow/controllers: statuscheck_reconciler.go, abort_*_reconciler.go). A guard
that cannot ask Prometheus answers 503 and one that is down fails the request: both count
as failures, so the experiment stops rather than run blind.

`problems()` holds the Workflow to what Chaos Mesh's admission webhook checks
(api/v1alpha1/workflow_webhook.go, statuscheck_webhook.go at v2.8.3): no `duration` in
a workflow's chaos, children that exist, unique DNS-1123 names, a parseable URL and a
status code; and to this project's own rules: a deadline on every template, and every
status check aborting. The component refuses a Workflow that breaks one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from components.chaos.faults import TEMPLATE_KEYS

STATUS_CHECK = "StatusCheck"
SERIAL, PARALLEL = "Serial", "Parallel"
# A Workflow's template names: DNS-1123 subdomains (the webhook's rule).
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DURATION = re.compile(r"^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$")
# An experiment's entry node outlives its children by this much, so they end on their own.
GRACE_SECONDS = 60


@dataclass(frozen=True)
class Timing:
    """How long each part lasts, and how the steady state is checked."""

    fault_seconds: int
    # The steady state is still checked this long after the faults end: recovery counts.
    recovery_seconds: int
    # How often the guard is asked, how long an answer may take, and how many failures
    # in a row abort (one transient failure does not).
    interval_seconds: int = 10
    timeout_seconds: int = 5
    failure_threshold: int = 2
    grace_seconds: int = GRACE_SECONDS


@dataclass(frozen=True)
class Fault:
    """One fault template of a workflow: its name, Chaos Mesh kind and spec."""

    name: str
    kind: str
    spec: Mapping[str, Any]


def _seconds(value: int) -> str:
    return f"{value}s"


def steady_state(name: str, guard_url: str, seconds: int, timing: Timing) -> dict[str, Any]:
    return {
        "name": name,
        "templateType": STATUS_CHECK,
        "deadline": _seconds(seconds),
        "abortWithStatusCheck": True,
        "statusCheck": {
            "mode": "Continuous",
            "type": "HTTP",
            "intervalSeconds": timing.interval_seconds,
            "timeoutSeconds": timing.timeout_seconds,
            "failureThreshold": timing.failure_threshold,
            "successThreshold": 1,
            "duration": _seconds(seconds),
            "http": {"url": guard_url, "method": "GET", "criteria": {"statusCode": "200"}},
        },
    }


def fault_template(fault: Fault, timing: Timing) -> dict[str, Any]:
    return {
        "name": fault.name,
        "templateType": fault.kind,
        "deadline": _seconds(timing.fault_seconds),
        TEMPLATE_KEYS[fault.kind]: dict(fault.spec),
    }


def workflow(name: str, faults: Sequence[Fault], serial: bool, guard_url: str, timing: Timing) -> dict[str, Any]:
    """The Workflow spec (entry and templates) of one experiment."""
    in_sequence = len(faults) if serial else 1
    seconds = in_sequence * timing.fault_seconds + timing.recovery_seconds
    check = steady_state(f"{name}-steady-state", guard_url, seconds, timing)
    templates = [fault_template(fault, timing) for fault in faults]
    if serial and len(faults) > 1:
        sequence = {
            "name": f"{name}-faults",
            "templateType": SERIAL,
            "deadline": _seconds(in_sequence * timing.fault_seconds),
            "children": [fault.name for fault in faults],
        }
        children = [sequence["name"], check["name"]]
        templates.append(sequence)
    else:
        children = [*(fault.name for fault in faults), check["name"]]
    entry = {
        "name": name,
        "templateType": PARALLEL,
        "deadline": _seconds(seconds + timing.grace_seconds),
        "children": children,
    }
    return {"entry": name, "templates": [entry, *templates, check]}


def schedule(cron: str, spec: Mapping[str, Any], starting_deadline_seconds: int, history_limit: int) -> dict[str, Any]:
    """A Schedule (type Workflow) that runs the workflow at `cron`, never twice at once."""
    return {
        "schedule": cron,
        "type": "Workflow",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": starting_deadline_seconds,
        "historyLimit": history_limit,
        "workflow": dict(spec),
    }


def problems(spec: Mapping[str, Any]) -> list[str]:
    """What Chaos Mesh's admission webhook would refuse in this Workflow spec."""
    found: list[str] = []
    templates = list(spec.get("templates", []))
    names = [template.get("name", "") for template in templates]
    if not templates:
        found.append("templates: none; a workflow needs at least one")
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        found.append(f"templates: names used twice: {', '.join(duplicated)}")
    if spec.get("entry") not in names:
        found.append(f"entry: '{spec.get('entry')}' names no template")
    for template in templates:
        name, kind = template.get("name", ""), template.get("templateType")
        where = f"template '{name}'"
        if not _NAME.match(name) or len(name) > 253:
            found.append(f"{where}: not a DNS-1123 subdomain")
        deadline = template.get("deadline")
        if deadline is None or not _DURATION.match(str(deadline)):
            found.append(f"{where}: deadline {deadline!r}; every template is bounded by a Go duration such as '300s'")
        if kind in (SERIAL, PARALLEL):
            missing = [child for child in template.get("children", []) if child not in names]
            found += [f"{where}: child '{child}' names no template" for child in missing]
            if not template.get("children"):
                found.append(f"{where}: no children")
        elif kind == STATUS_CHECK:
            found += _status_check_problems(where, template)
        elif kind in TEMPLATE_KEYS:
            chaos = template.get(TEMPLATE_KEYS[kind])
            if not isinstance(chaos, Mapping):
                found.append(f"{where}: missing its {TEMPLATE_KEYS[kind]} spec")
            elif "duration" in chaos:
                found.append(f"{where}: a workflow's chaos takes no duration (the template's deadline bounds it)")
            extra = [key for key in TEMPLATE_KEYS.values() if key in template and key != TEMPLATE_KEYS[kind]]
            if extra:
                found.append(f"{where}: holds {', '.join(extra)} besides its {TEMPLATE_KEYS[kind]}")
        else:
            found.append(f"{where}: templateType {kind!r} is not one this project uses")
    return found


def _status_check_problems(where: str, template: Mapping[str, Any]) -> list[str]:
    check = template.get("statusCheck") or {}
    http = check.get("http") or {}
    found = []
    if check.get("type") != "HTTP" or not http:
        found.append(f"{where}: an HTTP status check needs type HTTP and its http detail")
    url = http.get("url")
    if isinstance(url, str):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            found.append(f"{where}: url {url!r} is not an absolute http(s) URL")
    code = str(http.get("criteria", {}).get("statusCode", ""))
    if not re.fullmatch(r"[1-9]\d{0,2}(-[1-9]\d{0,2})?", code):
        found.append(f"{where}: statusCode {code!r}; expected a code (200) or a range (200-299)")
    if template.get("abortWithStatusCheck") is not True:
        found.append(f"{where}: abortWithStatusCheck is not true; a broken steady state would not stop the experiment")
    return found
