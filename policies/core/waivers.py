"""Waivers: a reviewed exemption of one resource from one policy, with a reason, an
owner and an expiry date. They live in `policies/waivers.yaml`, so every change to them
goes through review; an expired waiver fails the gate until it is renewed or removed.

A waiver names its resource by the fields of a URN, never by the URN as one string:
`urn:pulumi:<stack>::<project>::<type chain>::<name>` is split into the stack, the
project, the chain of types (`parent$parent$type`) and the name (everything after the
third `::`; a name may itself hold `::`). Each field of the waiver is an exact value or a
glob that matches within its own field only, so a resource named
`x::project-ai::kubernetes:core/v1:Namespace::monitoring-namespace` in another project is
not mistaken for this project's monitoring namespace.

The type is the resource's own type, the last of the chain: the engine writes the whole
chain of parent types and Pulumi's mocks only the nearest (with `pulumi:pulumi:Stack$` on
top-level resources), so a waiver written from either tool's output must match in the
other, and a resource moved under another component (with an alias) keeps its waiver.
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
PREFIX = "urn:pulumi:"
# The fields of a URN a waiver names, in URN order. `stack` may be left out (any stack).
FIELDS = ("stack", "project", "type", "name")
SEPARATOR = "::"
FORM = "urn:pulumi:<stack>::<project>::<type>::<name>"


class WaiverError(ValueError):
    pass


@dataclass(frozen=True)
class Urn:
    """A URN's fields. `chain` is the qualified type, outermost parent first."""

    stack: str
    project: str
    chain: tuple[str, ...]
    name: str

    @property
    def type(self) -> str:
        return self.chain[-1]


def parse_urn(urn: object) -> Urn | None:
    """`urn:pulumi:<stack>::<project>::<parent$...$type>::<name>` split into its fields, or
    None for anything else (no prefix, a missing or empty field, an empty type in the chain)."""
    if not isinstance(urn, str) or not urn.startswith(PREFIX):
        return None
    parts = urn[len(PREFIX) :].split(SEPARATOR, 3)
    if len(parts) != 4:
        return None
    stack, project, qualified, name = parts
    chain = tuple(qualified.split("$"))
    if not (stack and project and name and all(chain)):
        return None
    return Urn(stack, project, chain, name)


def _matches(pattern: str, value: str) -> bool:
    """A glob over one field. `::` in a name is a boundary no wildcard crosses: both sides
    are cut at each `::` and matched piece by piece, so `*` never takes in a `::`."""
    patterns, values = pattern.split(SEPARATOR), value.split(SEPARATOR)
    return len(patterns) == len(values) and all(map(fnmatch.fnmatchcase, values, patterns))


@dataclass(frozen=True)
class UrnPattern:
    """What a waiver covers: each field an exact value or a glob within that field."""

    stack: str
    project: str
    type: str
    name: str

    def matches(self, urn: str) -> bool:
        """Whether the URN's fields match; a URN that does not parse matches nothing."""
        parsed = parse_urn(urn)
        return parsed is not None and all(
            _matches(pattern, value)
            for pattern, value in (
                (self.stack, parsed.stack),
                (self.project, parsed.project),
                (self.type, parsed.type),
                (self.name, parsed.name),
            )
        )

    def __str__(self) -> str:
        return f"{PREFIX}{self.stack}{SEPARATOR}{self.project}{SEPARATOR}{self.type}{SEPARATOR}{self.name}"


def pattern(resource: Any, where: str) -> UrnPattern:
    """A waiver's `resource`: a URN (or one with globs inside its fields), parsed into
    fields as a resource's URN is, or a mapping of the fields. A qualified type
    (`A$B$type`) is read as its own type, the last one."""
    if isinstance(resource, str):
        parsed = parse_urn(resource)
        if parsed is None:
            raise WaiverError(
                f"{where}: resource '{resource}' is not a URN of four fields ({FORM}); "
                "a glob matches within one field, so write each field"
            )
        return UrnPattern(parsed.stack, parsed.project, parsed.type, parsed.name)
    if not isinstance(resource, dict):
        raise WaiverError(f"{where}: resource must be a URN ({FORM}) or a mapping of {', '.join(FIELDS)}")
    missing = [key for key in FIELDS[1:] if key not in resource]
    unknown = sorted(str(key) for key in set(resource) - set(FIELDS))
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"unknown keys {', '.join(unknown)}"] if unknown else []
        raise WaiverError(f"{where}: resource: {'; '.join(parts)}")
    fields = {"stack": "*", **resource}
    for key in FIELDS:
        value = fields[key]
        if not isinstance(value, str) or not value:
            raise WaiverError(f"{where}: resource {key} must be a non-empty string (quote it)")
        if key != "name" and SEPARATOR in value:
            raise WaiverError(f"{where}: resource {key} '{value}' holds '{SEPARATOR}', which ends a URN field")
    chain = fields["type"].split("$")
    if not all(chain):
        raise WaiverError(f"{where}: resource type '{fields['type']}' has an empty type in its chain")
    return UrnPattern(fields["stack"], fields["project"], chain[-1], fields["name"])


@dataclass(frozen=True)
class Waiver:
    policy: str
    # The resource as a URN pattern (`urn:pulumi:*::project-ai::<type>::<name>`), for messages.
    resource: str
    # The fields it matches (see the module's docstring).
    fields: UrnPattern
    reason: str
    owner: str
    expires: datetime.date
    # Stacks it applies to; empty means every stack.
    stacks: tuple[str, ...] = ()

    def covers(self, policy: str, urn: str, stack: str) -> bool:
        if self.policy != policy or (self.stacks and stack not in self.stacks):
            return False
        return self.fields.matches(urn)

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires


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
    stacks = entry.get("stacks") or []
    if not isinstance(stacks, list) or not all(isinstance(stack, str) and stack for stack in stacks):
        raise WaiverError(f"{where}: stacks must be a list of stack names")
    fields = pattern(entry["resource"], where)
    return Waiver(
        policy=str(entry["policy"]),
        resource=str(fields),
        fields=fields,
        reason=str(entry["reason"]),
        owner=str(entry["owner"]),
        expires=expires,
        stacks=tuple(stacks),
    )
