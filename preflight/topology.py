"""Pictures of what a program deploys, as Graphviz DOT rendered to SVG with `dot`.

- `stack_dot`: one stack, left to right. Each component is a box around what it holds;
  a component's resources of one type are one node ("NetworkPolicy ×8"); an arrow goes
  from what a resource depends on to the resource (so what deploys first is on the left);
  dashed arrows from each provider to what it deploys, and from each stack the program
  reads (StackReference). A large stack is drawn with its deeper components closed up, so
  the picture stays readable whatever the stack's size.
- `stacks_dot`: every stack of the program: grouped by role, with its cloud, region and
  environment; an arrow from each stack to the stacks that read it, and from each Vault
  to the stacks that configure it.

`render` needs Graphviz's `dot` (Debian: `apt-get install graphviz`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz

from preflight import escape
from preflight.graph import STACK_TYPE, Graph, Resource
from preflight.project import PreflightError

STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
PROVIDER_PREFIX = "pulumi:providers:"
# Beyond this many nodes a stack's picture closes its deepest components up, one level at
# a time, until it fits (then top-level components of one type share a node).
MAX_NODES = 160
FONT = "Helvetica"
# Fill colours by the resource type's package.
COLOURS = {
    "kubernetes": "#dbe9f8",
    "aws": "#fde6cc",
    "gcp": "#d9f0dc",
    "vault": "#fff4c2",
    "cloudflare": "#fbe0d6",
    "random": "#eeeeee",
}
OTHER_COLOUR = "#f4f4f4"
LEGEND = "arrows: A → B where B depends on A (A deploys first); dashed: provider or stack read"

DOT_INSTALL_HINT = (
    "preflight draws each stack's topology with Graphviz's `dot`, which is not installed "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
)


def dot_available() -> bool:
    return shutil.which("dot") is not None


def render(source: str, target: Path) -> Path:
    """Writes `source` to `target` (.dot) and its SVG beside it; returns the SVG's path."""
    target.write_text(source)
    if not dot_available():
        raise PreflightError(DOT_INSTALL_HINT)
    try:
        svg = graphviz.Source(source).pipe(format="svg", engine="dot", encoding="utf-8")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError) as error:
        raise PreflightError(f"dot could not draw {target}: {error}") from None
    picture = target.with_suffix(".svg")
    picture.write_text(svg)
    return picture


def short_type(type_token: str) -> str:
    """`kubernetes:apps/v1:Deployment` -> `Deployment`; `pulumi:providers:aws` -> `aws`."""
    return type_token.rsplit(":", 1)[-1]


def _package(type_token: str) -> str:
    if type_token.startswith(PROVIDER_PREFIX):
        return type_token.removeprefix(PROVIDER_PREFIX)
    return type_token.split(":", 1)[0]


def _label(*lines: object) -> graphviz.quoting.NoHtml:
    """A label of several lines, each shown literally."""
    return graphviz.nohtml("\\n".join(escape.dot(line) for line in lines))


@dataclass
class _Node:
    id: str
    title: str
    names: list[str] = field(default_factory=list)
    package: str = ""
    shape: str = "box"
    # For a closed component's node: the resources inside it.
    held: int = 0

    def label(self) -> graphviz.quoting.NoHtml:
        if len(self.names) == 1:
            return _label(self.title, self.names[0])
        return _label(f"{self.title} ×{len(self.names)}")


@dataclass
class _Cluster:
    id: str
    title: str
    clusters: list[_Cluster] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)

    def members(self) -> set[str]:
        """The nodes and boxes inside, at any depth."""
        found = set(self.nodes)
        for inner in self.clusters:
            found |= {inner.id} | inner.members()
        return found

    def anchor(self) -> str | None:
        """A node inside, for an arrow drawn to or from the whole box."""
        if self.nodes:
            return self.nodes[0]
        return next((found for inner in self.clusters if (found := inner.anchor())), None)


class _Layout:
    """Which node each resource is drawn in, at a given depth of open components."""

    def __init__(self, graph: Graph, depth: int, merge_top: bool) -> None:
        self.by_urn = graph.by_urn()
        self.nodes: dict[tuple[Any, ...], _Node] = {}
        self.clusters: dict[str, _Cluster] = {}
        self.top: list[str | tuple[Any, ...]] = []  # top-level clusters (URNs) and nodes (keys)
        self.where: dict[str, tuple[str, str]] = {}  # URN -> ("node", key id) or ("cluster", URN)
        self.key_of: dict[tuple[Any, ...], str] = {}
        self.depth, self.merge_top = depth, merge_top
        for resource in graph.resources:
            if resource.type == STACK_TYPE:
                continue
            self._place(resource)

    def chain(self, resource: Resource) -> list[Resource]:
        """The components holding a resource, outermost first."""
        chain = []
        parent = self.by_urn.get(resource.parent or "")
        while parent is not None and parent.type != STACK_TYPE:
            chain.append(parent)
            parent = self.by_urn.get(parent.parent or "")
        return chain[::-1]

    def _cluster(self, component: Resource, outer: _Cluster | None) -> _Cluster:
        if component.urn not in self.clusters:
            cluster = _Cluster(f"cluster_{len(self.clusters)}", f"{short_type(component.type)} {component.name}")
            self.clusters[component.urn] = cluster
            if outer is None:
                self.top.append(component.urn)
            else:
                outer.clusters.append(cluster)
        return self.clusters[component.urn]

    def _place(self, resource: Resource) -> None:
        chain = self.chain(resource) + ([] if resource.custom else [resource])
        opened, closed = chain[: self.depth], chain[self.depth :]
        if not resource.custom and not closed:
            # A component drawn as a box of its own.
            outer = None
            for component in opened:
                outer = self._cluster(component, outer)
            self.where[resource.urn] = ("cluster", resource.urn)
            return
        outer = None
        for component in opened:
            outer = self._cluster(component, outer)
        holder = outer.id if outer else ""
        if closed:
            # Inside a component too deep to open: counted in that component's node.
            component = closed[0]
            merged = self.merge_top and outer is None
            key: tuple[Any, ...] = ("components", component.type) if merged else ("component", component.urn)
            node = self._node(key, outer, short_type(component.type), _package(component.type), "box3d")
            if component.name not in node.names:
                node.names.append(component.name)
            node.held += resource.custom
        else:
            kind = resource.type
            shape = "folder" if kind == STACK_REFERENCE_TYPE else "cds" if kind.startswith(PROVIDER_PREFIX) else "box"
            if kind == STACK_REFERENCE_TYPE or kind.startswith(PROVIDER_PREFIX):
                key = ("one", resource.urn)
            else:
                key = ("type", holder, kind)
            title = "reads stack" if kind == STACK_REFERENCE_TYPE else short_type(kind)
            if kind.startswith(PROVIDER_PREFIX):
                title = f"provider {short_type(kind)}"
            node = self._node(key, outer, title, _package(kind), shape)
            name = str(resource.inputs.get("name", resource.name)) if kind == STACK_REFERENCE_TYPE else resource.name
            node.names.append(name)
        self.where[resource.urn] = ("node", node.id)

    def _node(self, key: tuple[Any, ...], outer: _Cluster | None, title: str, package: str, shape: str) -> _Node:
        if key not in self.nodes:
            node = _Node(f"n{len(self.nodes)}", title, package=package, shape=shape)
            self.nodes[key] = node
            self.key_of[key] = node.id
            if outer is None:
                self.top.append(key)
            else:
                outer.nodes.append(node.id)
        return self.nodes[key]


def _layout(graph: Graph) -> _Layout:
    """The deepest layout with at most MAX_NODES nodes (or the most closed-up one)."""
    by_urn = graph.by_urn()
    depth = 0
    for resource in graph.resources:
        parent, level = by_urn.get(resource.parent or ""), 0
        while parent is not None and parent.type != STACK_TYPE:
            level += 1
            parent = by_urn.get(parent.parent or "")
        depth = max(depth, level)
    for level in range(depth, -1, -1):
        layout = _Layout(graph, level, merge_top=False)
        if len(layout.nodes) <= MAX_NODES:
            return layout
    return _Layout(graph, 0, merge_top=True)


def stack_dot(graph: Graph) -> str:
    """One stack's topology as DOT (see the module's docstring)."""
    layout = _layout(graph)
    resources = len(graph.deployed())
    picture = graphviz.Digraph(name="stack")
    picture.attr(
        rankdir="LR",
        compound="true",
        newrank="true",
        fontname=FONT,
        labelloc="t",
        label=_label(f"{graph.project}/{graph.stack}: {resources} resources", LEGEND),
        ranksep="0.9",
    )
    picture.attr("node", fontname=FONT, fontsize="10", shape="box", style="rounded,filled")
    picture.attr("edge", color="#555555", arrowsize="0.7")
    nodes_by_id = {node.id: node for node in layout.nodes.values()}

    def add_node(target: graphviz.Digraph, node_id: str) -> None:
        node = nodes_by_id[node_id]
        colour = COLOURS.get(node.package, OTHER_COLOUR)
        tooltip = ", ".join(node.names[:40]) + (f" … {len(node.names) - 40} more" if len(node.names) > 40 else "")
        style = "filled" if node.shape != "box" else "rounded,filled"
        target.node(
            node.id, _label_of(node), shape=node.shape, fillcolor=colour, style=style, tooltip=escape.dot(tooltip)
        )

    def add_cluster(target: graphviz.Digraph, cluster: _Cluster) -> None:
        with target.subgraph(name=cluster.id) as box:
            box.attr(label=_label(cluster.title), style="rounded", color="#888888", fontsize="11", labeljust="l")
            for node_id in cluster.nodes:
                add_node(box, node_id)
            for inner in cluster.clusters:
                add_cluster(box, inner)

    for item in layout.top:
        if isinstance(item, str):
            add_cluster(picture, layout.clusters[item])
        else:
            add_node(picture, layout.nodes[item].id)

    def endpoint(urn: str) -> tuple[str, str | None] | None:
        """The node an arrow to or from this resource attaches to, and the box it stands for."""
        place = layout.where.get(urn)
        if place is None:
            return None
        if place[0] == "node":
            return place[1], None
        cluster = layout.clusters[place[1]]
        anchor = cluster.anchor()
        return (anchor, cluster.id) if anchor else None

    inside = {cluster.id: cluster.members() for cluster in layout.clusters.values()}

    def nested(one: tuple[str, str | None], other: tuple[str, str | None]) -> bool:
        """Whether an arrow between the two would start or end inside its own box."""
        return bool(
            (one[1] and (other[0] in inside[one[1]] or other[1] in inside[one[1]]))
            or (other[1] and (one[0] in inside[other[1]] or one[1] in inside[other[1]]))
        )

    ends: dict[str, tuple[str, str | None]] = {}
    solid: set[tuple[str, str]] = set()
    dashed: set[tuple[str, str]] = set()
    for resource in graph.resources:
        here = endpoint(resource.urn)
        if here is None:
            continue
        for dependency in resource.dependencies:
            there = endpoint(dependency)
            if there is None or there == here or nested(there, here):
                continue
            read = layout.by_urn[dependency].type == STACK_REFERENCE_TYPE if dependency in layout.by_urn else False
            ends[there[1] or there[0]], ends[here[1] or here[0]] = there, here
            (dashed if read else solid).add((there[1] or there[0], here[1] or here[0]))
        provider = endpoint(resource.provider) if resource.provider else None
        if provider is not None and resource.custom:
            # To the outermost box holding the resource that does not hold the provider:
            # one arrow per component.
            boxes = [endpoint(component.urn) for component in layout.chain(resource)]
            target = next((box for box in boxes if box and not nested(provider, box)), here)
            if target != provider and not nested(provider, target):
                ends[provider[0]], ends[target[1] or target[0]] = provider, target
                dashed.add((provider[0], target[1] or target[0]))
    # An arrow another path of arrows already implies is left out.
    for (tail, head), style in sorted([(edge, "solid") for edge in _reduced(solid)] + [(e, "dashed") for e in dashed]):
        attributes = {"style": style}
        if ends[tail][1]:
            attributes["ltail"] = ends[tail][1]
        if ends[head][1]:
            attributes["lhead"] = ends[head][1]
        if style == "dashed":
            attributes["color"] = "#999999"
        picture.edge(ends[tail][0], ends[head][0], **attributes)
    return picture.source


# Past this many arrows, a stack's picture keeps every one (the reduction costs
# arrows × (nodes + arrows)).
MAX_REDUCED_EDGES = 4000


def _reduced(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The arrows left when each one that another path already implies is dropped, one at
    a time (so what reaches what stays the same, cycles included)."""
    if len(edges) > MAX_REDUCED_EDGES:
        return edges
    kept = set(edges)
    successors: dict[str, set[str]] = {}
    for tail, head in kept:
        successors.setdefault(tail, set()).add(head)
    for tail, head in sorted(edges):
        successors[tail].discard(head)
        seen, stack = {tail}, [tail]
        while stack and head not in seen:
            for following in successors.get(stack.pop(), ()):
                if following not in seen:
                    seen.add(following)
                    stack.append(following)
        if head in seen:
            kept.discard((tail, head))
        else:
            successors[tail].add(head)
    return kept


def _label_of(node: _Node) -> graphviz.quoting.NoHtml:
    if node.shape == "box3d":
        # A closed component (or several of one type): how many resources it holds.
        head = f"{node.title} ×{len(node.names)}" if len(node.names) > 1 else f"{node.title} {node.names[0]}"
        return _label(head, f"{node.held} resources")
    return node.label()


# Config keys (in any namespace) that say what a stack is, for the picture of all stacks.
FACT_KEYS = ("role", "cloud", "region", "environment")


def stack_facts(config: Mapping[str, Any]) -> dict[str, str]:
    """role, cloud, region and environment from a stack's configuration, where it names them
    (`<namespace>:role`, `aws:region`, ...)."""
    facts: dict[str, str] = {}
    for key, value in sorted(config.items(), key=lambda item: (not item[0].startswith("aws:"), item[0])):
        field_name = key.rsplit(":", 1)[-1]
        if field_name in FACT_KEYS and isinstance(value, str) and field_name not in facts:
            facts[field_name] = value
    return facts


def _vaults(graph: Graph) -> list[str]:
    addresses = []
    for resource in graph.resources:
        if resource.type == f"{PROVIDER_PREFIX}vault":
            address = resource.inputs.get("address")
            if isinstance(address, str) and address not in addresses:
                addresses.append(address)
    return addresses


def _references(graph: Graph) -> list[str]:
    """The stacks a graph reads, by name (`org/project/stack` -> `stack`)."""
    read = []
    for resource in graph.resources:
        if resource.type == STACK_REFERENCE_TYPE:
            stack = str(resource.inputs.get("name", resource.name)).rsplit("/", 1)[-1]
            if stack not in read:
                read.append(stack)
    return read


def stacks_dot(graphs: Iterable[Graph], facts: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """Every stack and what connects them: StackReferences and the Vaults they configure.
    `facts` is each stack's `stack_facts`; stacks are grouped by role where it is known."""
    graphs = list(graphs)
    facts = facts or {}
    picture = graphviz.Digraph(name="stacks")
    project = graphs[0].project if graphs else ""
    picture.attr(
        rankdir="LR",
        fontname=FONT,
        labelloc="t",
        label=_label(f"{project}: stacks", "arrow: a stack → the stacks that read its outputs; dashed: Vault"),
        ranksep="1.2",
    )
    picture.attr("node", fontname=FONT, fontsize="11", shape="box", style="rounded,filled", fillcolor="#dbe9f8")
    picture.attr("edge", color="#555555")
    ids = {graph.stack: f"s{index}" for index, graph in enumerate(graphs)}
    roles: dict[str, list[Graph]] = {}
    for graph in graphs:
        roles.setdefault(facts.get(graph.stack, {}).get("role", ""), []).append(graph)

    def add_stack(target: graphviz.Digraph, graph: Graph) -> None:
        known = facts.get(graph.stack, {})
        where = " ".join(value for value in (known.get("cloud"), known.get("region")) if value)
        lines = [graph.stack, where]
        if known.get("environment"):
            lines.append(f"environment {known['environment']}")
        colour = COLOURS.get(known.get("cloud", ""), "#dbe9f8")
        target.node(ids[graph.stack], _label(*[line for line in lines if line]), fillcolor=colour)

    for index, (role, members) in enumerate(sorted(roles.items())):
        if not role:
            for graph in members:
                add_stack(picture, graph)
            continue
        with picture.subgraph(name=f"cluster_{index}") as box:
            box.attr(label=_label(f"role: {role}"), style="rounded", color="#888888", labeljust="l")
            for graph in members:
                add_stack(box, graph)

    vaults: dict[str, str] = {}
    edges = set()
    for graph in graphs:
        for read in _references(graph):
            if read not in ids:
                ids[read] = f"s{len(ids)}"
                picture.node(ids[read], _label(read, "(not checked)"), style="rounded,dashed")
            edges.add((ids[read], ids[graph.stack], "reads", "solid"))
        for address in _vaults(graph):
            if address not in vaults:
                vaults[address] = f"v{len(vaults)}"
                picture.node(vaults[address], _label("Vault", address), shape="cylinder", fillcolor=COLOURS["vault"])
            edges.add((vaults[address], ids[graph.stack], "", "dashed"))
    for tail, head, label, style in sorted(edges):
        picture.edge(tail, head, label=label, style=style, fontsize="9")
    return picture.source
