"""The topology picture: components as groups, providers and references as edges."""

from __future__ import annotations

from preflight import topology
from preflight.graph import Graph
from preflight.synth import Synthesizer


def test_components_group_their_children_and_providers_point_at_them(local_graph: Graph) -> None:
    picture = topology.mermaid(local_graph)
    lines = picture.splitlines()
    assert lines[:2] == ["flowchart LR", 'subgraph stack["project-ai/local"]']
    group = next(line for line in lines if '"ApiDeployment<br/>api"' in line).split()[1].split("[")[0]
    provider = next(line for line in lines if '"kubernetes<br/>cluster"' in line).split("[")[0].strip()
    # The provider goes to the component that composes the rest; AppService sits inside it.
    assert f"  {provider} -.-> {group}" in lines
    assert next(line for line in lines if '"AppService<br/>api"' in line).startswith("    subgraph ")
    # The API's eight, and each platform chart namespace's default deny and allowances.
    assert sum('["NetworkPolicy<br/>api-' in line for line in lines) == 8


def test_stack_references_show_which_stacks_are_read(project_synthesizer: Synthesizer) -> None:
    picture = topology.mermaid(project_synthesizer.synthesize("prod-global"))
    for stack in ("prod", "prod-eu", "prod-gcp"):
        assert f'[["reads {stack}"]]' in picture
