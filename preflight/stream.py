"""A run's resources on disk as they are recorded, so a large program's graph is never
held whole by the interpreter it runs in.

One JSON document per line: `{"resource": {...}}` when a resource is registered (its
`Resource` fields), and `{"outputs": urn, "values": {...}}` when outputs it registers
later (a component's `register_outputs`) arrive; those land on the latest resource of
that URN, as they would in memory. The child writes it, the parent reads it.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from preflight.graph import Resource

_FIELDS = tuple(field.name for field in fields(Resource))


class ResourceStream:
    """Writes a run's resources to `path` as they are recorded; keeps none of them."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.lines = 0

    def add(self, resource: Resource) -> None:
        self._write({"resource": {name: getattr(resource, name) for name in _FIELDS}})

    def set_outputs(self, urn: str, outputs: dict[str, Any]) -> None:
        self._write({"outputs": urn, "values": outputs})

    def close(self) -> None:
        self._file.close()

    def _write(self, document: dict[str, Any]) -> None:
        self._file.write(json.dumps(document, separators=(",", ":")) + "\n")
        self.lines += 1


def read_resources(path: Path, lines: int) -> list[Resource]:
    """The resources of a stream of `lines` lines, their outputs landed, in URN order.
    A stream with fewer lines (or a torn one) is incomplete: ValueError."""
    resources: list[Resource] = []
    latest: dict[str, Resource] = {}
    count = 0
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            document = json.loads(line)
            count += 1
            if "resource" in document:
                resource = Resource(**document["resource"])
                resources.append(resource)
                latest[resource.urn] = resource
            else:
                latest[document["outputs"]].outputs = document["values"]
    if count != lines:
        raise ValueError(f"{count} of {lines} lines")
    # Registrations arrive from several threads; URN order makes reports diff cleanly.
    resources.sort(key=lambda resource: resource.urn)
    return resources
