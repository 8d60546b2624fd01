"""URNs as the Pulumi engine writes them, and the aliases it derives for a resource.

Pulumi's mock monitor names a resource with its nearest parent's type only, and puts
`pulumi:pulumi:Stack$` on top-level ones; the engine writes the whole chain of parent
types and leaves the root stack out. Aliases name engine URNs (the ones `pulumi stack
--show-urns` prints), so preflight computes them, and matches graphs, in that form.
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.graph import STACK_TYPE, Graph


def create(stack: str, project: str, parent: str | None, type_: str, name: str) -> str:
    """The engine's `CreateURN`: the parent's type chain (none under the root stack), `$`, the type."""
    # A parent that is no URN at all (a hand-written graph or alias) is taken as no parent.
    chain = qualified_type(parent) if parent and well_formed(parent) else STACK_TYPE
    qualified = type_ if chain == STACK_TYPE else f"{chain}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def qualified_type(urn: str) -> str:
    """A URN's chain of types, without the root stack a mock URN puts on top."""
    return urn.split("::")[2].removeprefix(f"{STACK_TYPE}$")


def name_of(urn: str) -> str:
    return urn.split("::", 3)[3]


def well_formed(urn: str) -> bool:
    return urn.startswith("urn:pulumi:") and urn.count("::") >= 3


@dataclass(frozen=True)
class Goal:
    """A registration as the engine sees it: where the resource is and what it is called."""

    stack: str
    project: str
    parent: str | None  # the parent's engine URN
    type: str
    name: str

    @property
    def urn(self) -> str:
        return create(self.stack, self.project, self.parent, self.type, self.name)


def spec_alias(goal: Goal, name: str, type_: str, stack: str, project: str, parent: str, no_parent: bool) -> str:
    """The engine's `collapseAliasToUrn`: an empty field is the resource's own; no parent
    given is its own parent."""
    return create(
        stack or goal.stack,
        project or goal.project,
        None if no_parent else parent or goal.parent,
        type_ or goal.type,
        name or goal.name,
    )


def with_inherited(goal: Goal, own: list[str], parent_aliases: list[str]) -> list[str]:
    """The engine's `generateAliases`: the resource's own aliases, then every alias of its
    parent carried down to it (and to each of its own), so a moved subtree still matches."""
    aliases = list(own)
    parent_name = name_of(goal.parent) if goal.parent and well_formed(goal.parent) else ""
    for parent_alias in filter(well_formed, parent_aliases):
        aliases.append(_inherited(goal.type, goal.name, parent_name, parent_alias))
        for alias in filter(well_formed, own):
            own_type = qualified_type(alias).rsplit("$", 1)[-1]
            aliases.append(_inherited(own_type, name_of(alias), parent_name, parent_alias))
    return list(dict.fromkeys(aliases))


def _inherited(type_: str, name: str, parent_name: str, parent_alias: str) -> str:
    # As the engine does: a child named after its parent (`app-bucket` under `app`) is
    # taken to have been named after the parent's old name too.
    if parent_name and name.startswith(parent_name):
        name = name_of(parent_alias) + name[len(parent_name) :]
    stack, project = parent_alias.removeprefix("urn:pulumi:").split("::")[:2]
    return create(stack, project, parent_alias, type_, name)


def engine_urns(graph: Graph) -> dict[str, str]:
    """Each recorded URN of a graph, as the engine writes it (from the chain of parents)."""
    by_urn = graph.by_urn()
    found: dict[str, str] = {}

    def engine(urn: str) -> str:
        if urn not in found:
            resource = by_urn[urn]
            parent = resource.parent
            if parent in by_urn:
                parent = engine(parent)
            found[urn] = create(graph.stack, graph.project, parent, resource.type, resource.name)
        return found[urn]

    for urn in by_urn:
        engine(urn)
    return found
