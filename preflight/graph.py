"""The synthesized resource graph of one stack, as plain data that serializes to JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

STACK_TYPE = "pulumi:pulumi:Stack"
SECRET = "[secret]"


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None = None
    provider: str | None = None
    id: str | None = None
    # Engine wire format: camelCase property names, as the provider receives them.
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    # customTimeouts the program asked for (create/update/delete), when any.
    timeouts: dict[str, str] = field(default_factory=dict)
    # Earlier URNs the engine would take this resource for (its aliases, then those its
    # parents' aliases give it), as engine URNs (preflight.urns); `diff` reads them.
    aliases: list[str] = field(default_factory=list)
    # Resource options the engine reads when it compares this resource with its state
    # (`diff` honours them): property paths (engine names, camelCase) whose changes are
    # ignored, or force a replacement; a replacement that deletes first; protection.
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    protect: bool = False
    # The inputs `inputs` shows as "[secret]", in the clear, for checks run in this
    # process (under preflight they hold placeholders and mock values); never written out.
    secret_inputs: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def revealed_inputs(self) -> dict[str, Any]:
        """The inputs with secrets in the clear, for checks run in this process."""
        return {**self.inputs, **self.secret_inputs}


@dataclass
class Graph:
    project: str
    stack: str
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Messages the program logged at warning or error level.
    diagnostics: list[str] = field(default_factory=list)

    def by_urn(self) -> dict[str, Resource]:
        return {resource.urn: resource for resource in self.resources}

    def of_type(self, resource_type: str) -> list[Resource]:
        """The resources of one type token (`aws:rds/cluster:Cluster`), in graph order."""
        return [r for r in self.resources if r.type == resource_type]

    def deployed(self) -> list[Resource]:
        """Everything but the stack's own root resource."""
        return [r for r in self.resources if r.type != STACK_TYPE]

    def count_by_type(self) -> Counter[str]:
        return Counter(r.type for r in self.deployed())

    def count_by_component(self) -> Counter[str]:
        """Custom resources by the component that holds them; top-level ones as '(stack)'."""
        index = self.by_urn()
        counts: Counter[str] = Counter()
        for resource in self.deployed():
            parent = index.get(resource.parent or "")
            if resource.custom:
                holder = parent if parent is not None and parent.type != STACK_TYPE else None
                counts[f"{holder.type} {holder.name}" if holder else "(stack)"] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for resource in data["resources"]:
            del resource["secret_inputs"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Graph:
        # A graph.json from before a field was recorded reads with its default.
        resources = [Resource(**item) for item in data.get("resources", [])]
        return cls(
            project=data["project"],
            stack=data["stack"],
            resources=resources,
            outputs=data.get("outputs", {}),
            diagnostics=data.get("diagnostics", []),
        )
