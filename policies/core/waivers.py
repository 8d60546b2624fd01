"""Waivers: a reviewed exemption of one resource from one policy, with a reason, an
owner and an expiry date. They live in `policies/waivers.yaml`, so every change to them
goes through review; an expired waiver fails the gate until it is renewed or removed.
"""

from __future__ import annotations

import datetime
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

WAIVERS_FILE = Path(__file__).resolve().parents[1] / "waivers.yaml"
REQUIRED = ("policy", "resource", "reason", "owner", "expires")


class WaiverError(ValueError):
    pass


@dataclass(frozen=True)
class Waiver:
    policy: str
    # A resource URN, or a glob over URNs (`*::monitoring-namespace`).
    resource: str
    reason: str
    owner: str
    expires: datetime.date
    # Stacks it applies to; empty means every stack.
    stacks: tuple[str, ...] = ()

    def covers(self, policy: str, urn: str, stack: str) -> bool:
        if self.policy != policy or (self.stacks and stack not in self.stacks):
            return False
        return fnmatch.fnmatchcase(canonical(urn), canonical(self.resource))

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires


def canonical(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<type>::<name>`, with only the resource's own type.

    The engine writes the whole chain of parent types (`A$B$type`) and Pulumi's mocks
    only the nearest (with `pulumi:pulumi:Stack$` on top-level resources), so a waiver
    written from either tool's output must match in the other.
    """
    parts = urn.split("::")
    if len(parts) >= 4:
        parts[2] = parts[2].rsplit("$", 1)[-1]
    return "::".join(parts)


def load(path: Path | None = None) -> list[Waiver]:
    path = path or WAIVERS_FILE
    if not path.exists():
        return []
    try:
        document = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError as error:
        raise WaiverError(f"{path.name}: not valid YAML ({error})") from None
    if not isinstance(document, list):
        raise WaiverError(f"{path.name}: expected a list of waivers")
    return [parse(entry, f"{path.name}[{index}]") for index, entry in enumerate(document)]


def parse(entry: Any, where: str) -> Waiver:
    if not isinstance(entry, dict):
        raise WaiverError(f"{where}: expected a mapping with {', '.join(REQUIRED)}")
    missing = [key for key in REQUIRED if not entry.get(key)]
    unknown = sorted(set(entry) - {*REQUIRED, "stacks"})
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"unknown keys {', '.join(unknown)}"] if unknown else []
        raise WaiverError(f"{where}: {'; '.join(parts)}")
    expires = entry["expires"]
    if isinstance(expires, str):
        try:
            expires = datetime.date.fromisoformat(expires)
        except ValueError:
            raise WaiverError(f"{where}: expires '{expires}' is not a date (YYYY-MM-DD)") from None
    if not isinstance(expires, datetime.date):
        raise WaiverError(f"{where}: expires must be a date (YYYY-MM-DD)")
    return Waiver(
        policy=str(entry["policy"]),
        resource=str(entry["resource"]),
        reason=str(entry["reason"]),
        owner=str(entry["owner"]),
        expires=expires,
        stacks=tuple(entry.get("stacks") or ()),
    )
