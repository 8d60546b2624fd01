"""`python -m preflight.bench` builds its programs from the project's own derivation
(the local stack's configuration, `stacks.workload.app_service_args`): they must
synthesize, so a change to the components that breaks the bench fails here first."""

from __future__ import annotations

import pytest

from preflight import bench
from preflight.project import Program
from preflight.synth import Synthesizer


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Program:
    return bench.generated_program(tmp_path_factory.mktemp("bench"), app_services=[1], config_maps=[3])


def test_the_generated_app_service_synthesizes(program: Program) -> None:
    graph = Synthesizer(program).synthesize(bench.app_services_stack(1))
    (service,) = [r for r in graph.resources if r.type == "projectai:workload:AppService"]
    assert service.name == "api-0"
    children = [r for r in graph.resources if r.parent == service.urn]
    assert len(children) > 10
    namespaces = [r.inputs["metadata"]["name"] for r in graph.resources if r.type == "kubernetes:core/v1:Namespace"]
    assert namespaces == ["bench-0"]


def test_the_generated_config_maps_synthesize(program: Program) -> None:
    graph = Synthesizer(program).synthesize(bench.config_maps_stack(3))
    assert graph.count_by_type()["kubernetes:core/v1:ConfigMap"] == 3


def test_the_bare_sdk_registers_what_preflight_records(program: Program) -> None:
    stack = bench.app_services_stack(1)
    assert bench.bare(program, stack) == len(Synthesizer(program).synthesize(stack).deployed())


def test_the_bench_prints_its_tables(capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["--sizes", "1", "--runs", "1", "--config-maps", "0"])
    out = capsys.readouterr().out
    assert "1 AppService" in out
    assert "the child interpreter" in out


def test_a_fresh_interpreter_reports_time_and_peak_memory() -> None:
    row = bench.in_fresh_interpreter("isolated", 5)
    assert row["resources"] == 7  # the stack, the provider and 5 ConfigMaps
    assert row["peak_mib"] > 0 and row["child_peak_mib"] > 0
