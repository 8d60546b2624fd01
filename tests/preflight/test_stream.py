"""The child streams a stack's resources to disk as they are recorded (preflight.stream):
the parent's graph is the one synthesized in process, outputs a component registers
later land on it, and a stream that arrives torn or short fails the stack."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from preflight.graph import Resource
from preflight.isolation import IsolatedSynthesizer
from preflight.project import PreflightError
from preflight.stream import ResourceStream, read_resources
from preflight.synth import Synthesizer
from tests.conftest import write_program

COMPONENT = """
import pulumi
import pulumi_kubernetes as k8s


class Box(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("test:index:Box", name, None, opts)
        self.config = k8s.core.v1.ConfigMap(
            name, metadata={"namespace": "default"}, data={"token": pulumi.Output.secret("s3cret")},
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Arrives after the children: lands on the component all the same.
        self.register_outputs({"configName": self.config.metadata.name, "count": 2.0})


first = Box("first")
Box("second", pulumi.ResourceOptions(aliases=[pulumi.Alias(name="old-second")]))
pulumi.export("name", first.config.metadata.name)
"""


def test_the_streamed_graph_is_the_one_synthesized_in_process(tmp_path: Path) -> None:
    program = write_program(tmp_path, "streamed", COMPONENT, {"dev": {}})
    in_process = Synthesizer(program).synthesize("dev")
    isolated = IsolatedSynthesizer(program)
    try:
        streamed = isolated.synthesize("dev")
    finally:
        isolated.close()
    assert asdict(streamed) == asdict(in_process)
    boxes = {r.name: r for r in streamed.resources if r.type == "test:index:Box"}
    outputs = boxes["first"].outputs
    assert outputs["configName"].startswith("first-") and outputs["count"] == 2
    assert boxes["second"].aliases and all("old-second" in alias for alias in boxes["second"].aliases)
    # A child inherits its parent's aliases, which the recorder keeps without the resources.
    (child,) = [r for r in streamed.resources if r.parent == boxes["second"].urn]
    assert child.aliases


def test_outputs_land_on_the_latest_resource_of_their_urn(tmp_path: Path) -> None:
    stream = ResourceStream(tmp_path / "resources.jsonl")
    stream.add(Resource(urn="urn:b", type="t", name="b", custom=False))
    stream.add(Resource(urn="urn:a", type="t", name="a", custom=True, secret_inputs={"k": "v"}))
    stream.set_outputs("urn:b", {"x": 1})
    stream.close()
    resources = read_resources(tmp_path / "resources.jsonl", stream.lines)
    assert [(r.urn, r.outputs, r.secret_inputs) for r in resources] == [
        ("urn:a", {}, {"k": "v"}),
        ("urn:b", {"x": 1}, {}),
    ]


def test_a_short_stream_is_incomplete(tmp_path: Path) -> None:
    stream = ResourceStream(tmp_path / "resources.jsonl")
    stream.add(Resource(urn="urn:a", type="t", name="a", custom=True))
    stream.close()
    with pytest.raises(ValueError, match="1 of 2 lines"):
        read_resources(tmp_path / "resources.jsonl", 2)


def test_a_result_whose_stream_is_short_fails_its_stack(tmp_path: Path) -> None:
    program = write_program(tmp_path, "short", "", {"dev": {}})
    result, resources = tmp_path / "result.json", tmp_path / "resources.jsonl"
    stream = ResourceStream(resources)
    stream.add(Resource(urn="urn:a", type="t", name="a", custom=True))
    stream.close()
    graph = {"project": "short", "stack": "dev", "outputs": {}, "diagnostics": []}
    document = {"graph": graph, "resource_lines": 2, "exports": {"outputs": {}, "secrets": []}, "complete": True}
    result.write_text(json.dumps(document))
    isolated = IsolatedSynthesizer(program)
    try:
        with pytest.raises(PreflightError, match=r"stack 'dev': the program's resources arrived incomplete \(1 of 2"):
            isolated._delivered("dev", result, resources, 0, timed_out=False)
    finally:
        isolated.close()
