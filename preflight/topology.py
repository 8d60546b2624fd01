"""A picture of a stack's topology as a Mermaid flowchart (GitHub renders it in Markdown).

Components contain their children; providers and StackReferences are drawn as edges,
so it shows what deploys where and which other stacks this one reads.
"""

from __future__ import annotations

from preflight.graph import STACK_TYPE, Graph, Resource

STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


def _node_id(index: int) -> str:
    return f"r{index}"


def _label(resource: Resource) -> str:
    kind = resource.type.rsplit(":", 1)[-1]
    return f'"{kind}<br/>{resource.name}"'


def mermaid(graph: Graph) -> str:
    resources = [r for r in graph.resources if r.type != STACK_TYPE]
    ids = {resource.urn: _node_id(index) for index, resource in enumerate(resources)}
    children: dict[str | None, list[Resource]] = {}
    for resource in resources:
        parent = resource.parent if resource.parent in ids else None
        children.setdefault(parent, []).append(resource)

    lines = ["flowchart LR", f'subgraph stack["{graph.project}/{graph.stack}"]']

    def draw(resource: Resource, indent: str) -> None:
        node = ids[resource.urn]
        if resource.urn in children:
            lines.append(f"{indent}subgraph {node}_group[{_label(resource)}]")
            for child in children[resource.urn]:
                draw(child, indent + "  ")
            lines.append(f"{indent}end")
        elif resource.type == STACK_REFERENCE_TYPE:
            referenced = str(resource.inputs.get("name", resource.name)).rsplit("/", 1)[-1]
            lines.append(f'{indent}{node}[["reads {referenced}"]]')
        else:
            lines.append(f"{indent}{node}[{_label(resource)}]")

    for resource in children.get(None, []):
        draw(resource, "  ")
    lines.append("end")
    # One "deploys through" edge per provider and top-level resource or component.
    by_urn = {resource.urn: resource for resource in resources}
    edges = set()
    for resource in resources:
        if resource.provider not in ids:
            continue
        top = resource
        while top.parent in by_urn:
            top = by_urn[top.parent]
        target = f"{ids[top.urn]}_group" if top.urn in children else ids[top.urn]
        edges.add(f"  {ids[resource.provider]} -.-> {target}")
    lines.extend(sorted(edges))
    return "\n".join(lines) + "\n"
