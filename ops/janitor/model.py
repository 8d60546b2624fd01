"""What the janitor found, and the one rule that decides whether it may be deleted.

A finding is a resource that looks unused (or lacks the cost tags), with the time it
became a candidate (`since`: created, stopped, pushed, first seen) and, where the price
table knows it, what it costs a month. `decide` turns it into a verdict: delete only
what is ours (the exact ownership tags), of the asked environment, idle at least the
grace period; everything else is kept, and the verdict says why.

Tags are compared exactly, byte for byte: `Part-Of`, `part-of ` or a value spelt with a
look-alike letter is not the project's tag. A resource whose keys merely *resemble* the
ownership keys is kept as ambiguous rather than guessed at: a mis-tagged resource costs
a report line, a wrongly deleted one cannot be undone.
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# components/labels.py `cloud_tags` (the ops image does not ship the program: a test
# checks the two agree).
PART_OF = "project-ai"
MANAGED_BY = "pulumi"
OWNERSHIP = {"part-of": PART_OF, "managed-by": MANAGED_BY}
# Present and non-empty on anything the janitor may delete: who answers for it.
OWNER_KEYS = ("team", "environment")
# The cost-allocation set every resource of the project carries.
COST_TAGS = ("team", "cost-center", "environment", "service", "managed-by", "part-of")

Cloud = Literal["aws", "gcp"]
DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Finding:
    cloud: Cloud
    # volume, elastic-ip, snapshot, load-balancer, instance, ecr-image, untagged, disk, address
    kind: str
    id: str
    region: str
    # Why it looks unused (or, for `untagged`, which tags are missing).
    reason: str
    # Since when it has been a candidate; None: unknown (never deleted then).
    since: datetime.datetime | None
    tags: Mapping[str, str] = field(default_factory=dict)
    monthly_usd: float | None = None
    # Never deleted, whatever its tags (`untagged`: it may be in use, or someone else's).
    report_only: bool = False
    # Where the cloud needs more than the id to delete it: a disk's zone, an image's repository.
    location: str | None = None
    # What is done about it when deleted, beyond the kind ("terminate", "release").
    name: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "kind": self.kind,
            "id": self.id,
            "region": self.region,
            **({"location": self.location} if self.location else {}),
            **({"name": self.name} if self.name else {}),
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else None,
            "monthlyUsd": None if self.monthly_usd is None else round(self.monthly_usd, 2),
            "tags": dict(self.tags),
        }


@dataclass(frozen=True)
class Rules:
    grace: datetime.timedelta
    # Only this environment's resources are deleted (their `environment` tag); None: any.
    environment: str | None = None


@dataclass(frozen=True)
class Verdict:
    finding: Finding
    delete: bool
    # Why it is deleted, or why it is kept.
    why: str
    age_days: float | None

    def describe(self) -> dict[str, Any]:
        age = None if self.age_days is None else round(self.age_days, 2)
        return {**self.finding.describe(), "ageDays": age, "deletable": self.delete, "why": self.why}


def _folded(text: str) -> str:
    """What a careless (or deceptive) spelling of a key or value reduces to."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def ownership_problem(tags: Mapping[str, str]) -> str | None:
    """None where the tags say, exactly, that the project owns the resource; else why not."""
    wanted = (*OWNERSHIP, *OWNER_KEYS)
    look_alikes = sorted(key for key in tags if key not in wanted and _folded(key) in wanted)
    if look_alikes:
        shown = ", ".join(repr(key[:24]) for key in look_alikes[:3]) + (", ..." if len(look_alikes) > 3 else "")
        return f"ambiguous ownership: tag key(s) {shown} resemble the project's; fix the tags, nothing is guessed"
    for key, value in OWNERSHIP.items():
        found = tags.get(key)
        if found is None:
            return f"not ours: no '{key}' tag"
        if found != value:
            close = " (resembles it, but is not exactly it)" if _folded(found) == value else ""
            return f"not ours: '{key}' is {found[:64]!r}, expected {value!r}{close}"
    empty = [key for key in OWNER_KEYS if not tags.get(key, "").strip()]
    if empty:
        return f"no owner to answer for it: '{empty[0]}' tag missing or empty"
    return None


def missing_cost_tags(tags: Mapping[str, str]) -> list[str]:
    return [key for key in COST_TAGS if not tags.get(key, "").strip()]


def decide(finding: Finding, rules: Rules, now: datetime.datetime) -> Verdict:
    age = (now - finding.since) / DAY if finding.since is not None else None
    if finding.report_only:
        return Verdict(finding, False, "report only: the janitor never deletes a resource it cannot prove is ours", age)
    problem = ownership_problem(finding.tags)
    if problem:
        return Verdict(finding, False, problem, age)
    environment = finding.tags.get("environment")
    if rules.environment is not None and environment != rules.environment:
        return Verdict(finding, False, f"environment {environment!r}, not {rules.environment!r}", age)
    if finding.since is None or age is None:
        return Verdict(finding, False, "idle since an unknown time: kept", None)
    grace_days = rules.grace / DAY
    if now - finding.since < rules.grace:
        return Verdict(finding, False, f"within the grace period ({age:.1f} of {grace_days:g} days)", age)
    return Verdict(finding, True, f"ours, idle {age:.1f} days (grace {grace_days:g})", age)


def printable(text: object, limit: int = 120) -> str:
    """One terminal-safe line: control characters (a newline, an escape sequence in a
    resource's name) shown escaped, not obeyed; long names cut."""
    shown = "".join(
        character if character.isprintable() else character.encode("unicode_escape").decode("ascii")
        for character in str(text)
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
