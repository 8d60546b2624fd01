"""New requests and limits for one container, from its usage and its VPA recommendation
(POLICY, which the report prints and the README repeats)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ops.rightsize import quantity
from ops.rightsize.usage import Container
from ops.rightsize.vpa import Recommendation

POLICY = """\
CPU request = max(p95 of usage, VPA target) x 1.10, at least 10m, in 5m steps.
Memory request = max(peak working set, VPA target) x 1.15, at least 32Mi, in 16Mi steps.
Memory limit = max(request, VPA upperBound); without a VPA, 2 x request (the stack
defaults' ratio); after an OOM kill, at least 1.5 x today's limit.
CPU limit (the project always sets one, 2-4x the request in its defaults) = max(2 x
request, p99 x 1.10); when throttled in over 10% of CFS periods, at least 1.5 x today's.
A container with no usage data and no recommendation keeps what it has."""

CPU_HEADROOM = 1.10
MEMORY_HEADROOM = 1.15
MIN_CPU = 0.010
MIN_MEMORY = 32 * quantity.MI
CPU_STEP = 0.005
MEMORY_STEP = 16 * quantity.MI
CPU_LIMIT_RATIO = 2.0
MEMORY_LIMIT_RATIO = 2.0
# Flags: "usage << request" is usage under half the request, by at least this much.
OVER_RATIO = 0.5
OVER_CPU = 0.050
OVER_MEMORY = 64 * quantity.MI
THROTTLED = 0.10
OOM_RISK = 0.90
RAISE_AFTER_PRESSURE = 1.5


@dataclass
class Proposal:
    requests: dict[str, float]
    limits: dict[str, float]
    flags: list[str] = field(default_factory=list)
    # over- or under-provisioned (or neither), for sorting and the JSON.
    verdict: str = "ok"


def propose(usage: Container, vpa: Recommendation | None) -> Proposal:
    flags = [f"invalid usage ({', '.join(usage.invalid)})"] if usage.invalid else []
    target = vpa.target if vpa else {}
    now_req, now_lim = usage.requests, usage.limits
    p95, peak = usage.cpu_p95, usage.memory_peak
    if p95 is None and "cpu" not in target:
        cpu_request = now_req.get("cpu")
        flags.append("no CPU usage data")
    else:
        cpu_request = _step(max(p95 or 0.0, target.get("cpu", 0.0)) * CPU_HEADROOM, CPU_STEP, MIN_CPU)
    if peak is None and "memory" not in target:
        memory_request = now_req.get("memory")
        flags.append("no memory usage data")
    else:
        memory_request = _step(max(peak or 0.0, target.get("memory", 0.0)) * MEMORY_HEADROOM, MEMORY_STEP, MIN_MEMORY)
    if p95 == 0.0 and (peak or 0.0) == 0.0:
        flags.append("idle: no CPU or memory used in the window")

    cpu_limit = memory_limit = None
    if cpu_request is not None:
        tail = (usage.cpu_p99 if usage.cpu_p99 is not None else p95) or 0.0
        cpu_limit = max(CPU_LIMIT_RATIO * cpu_request, _step(tail * CPU_HEADROOM, CPU_STEP, MIN_CPU))
        if (usage.throttled or 0.0) > THROTTLED and "cpu" in now_lim:
            cpu_limit = max(cpu_limit, _step(RAISE_AFTER_PRESSURE * now_lim["cpu"], CPU_STEP, MIN_CPU))
    if memory_request is not None:
        upper = vpa.upper_bound.get("memory") if vpa else None
        memory_limit = (
            max(memory_request, _step(upper, MEMORY_STEP, MIN_MEMORY))
            if upper is not None
            else MEMORY_LIMIT_RATIO * memory_request
        )
        if usage.oom_killed and "memory" in now_lim:
            memory_limit = max(memory_limit, _step(RAISE_AFTER_PRESSURE * now_lim["memory"], MEMORY_STEP, MIN_MEMORY))

    under = _under(usage, flags)
    over = _over(usage, flags)
    verdict = "under-provisioned" if under else "over-provisioned" if over else "ok"
    requests = {k: v for k, v in (("cpu", cpu_request), ("memory", memory_request)) if v is not None}
    limits = {k: v for k, v in (("cpu", cpu_limit), ("memory", memory_limit)) if v is not None}
    return Proposal(requests, limits, flags, verdict)


def _step(value: float, step: float, floor: float) -> float:
    return max(floor, quantity.round_up(value, step))


def _under(usage: Container, flags: list[str]) -> bool:
    start = len(flags)
    req, lim = usage.requests, usage.limits
    if usage.throttled is not None and usage.throttled > THROTTLED:
        flags.append(f"CPU throttled in {usage.throttled:.0%} of periods")
    if usage.cpu_p95 is not None and "cpu" in req and usage.cpu_p95 > req["cpu"]:
        flags.append(f"CPU p95 {quantity.cpu_text(usage.cpu_p95)} above its request {quantity.cpu_text(req['cpu'])}")
    if usage.oom_killed:
        flags.append("OOM-killed in the window")
    if usage.memory_peak is not None and lim.get("memory") and usage.memory_peak > OOM_RISK * lim["memory"]:
        flags.append(f"OOM risk: peak memory {usage.memory_peak / lim['memory']:.0%} of its limit")
    for resource in ("cpu", "memory"):
        if resource not in req:
            flags.append(f"no {resource} request")
    return len(flags) > start


def _over(usage: Container, flags: list[str]) -> bool:
    start = len(flags)
    req = usage.requests
    cpu = usage.cpu_p95
    if cpu is not None and req.get("cpu") and cpu < OVER_RATIO * req["cpu"] and req["cpu"] - cpu >= OVER_CPU:
        flags.append(f"CPU p95 {cpu / req['cpu']:.0%} of its request")
    if usage.memory_peak is not None and req.get("memory"):
        peak, asked = usage.memory_peak, req["memory"]
        if peak < OVER_RATIO * asked and asked - peak >= OVER_MEMORY:
            flags.append(f"peak memory {peak / asked:.0%} of its request")
    return len(flags) > start
