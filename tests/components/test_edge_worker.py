"""The edge Worker's component under mocks: the module uploaded is the file the workerd
tests run (edge/worker, `make edge-worker-test`), with its compatibility date, its
settings as plain-text bindings, and a route on the API hostname."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.edge.worker import WORKER_DIR, EdgeWorkerArgs, worker_module
from preflight.graph import Graph, Resource
from tests.conftest import component_program

PROGRAM = """
import pulumi

from components.edge.worker import EdgeWorker, EdgeWorkerArgs

config = pulumi.Config("edge")
worker = EdgeWorker(
    "api-edge",
    EdgeWorkerArgs(
        account_id="0123456789abcdef0123456789abcdef",
        zone_id="fedcba9876543210fedcba9876543210",
        hostname="api.project-ai.dev",
        models_cache_ttl_seconds=config.get_int("ttl") or 30,
        maintenance=config.get_bool("maintenance") or False,
    ),
)
pulumi.export("workerScript", worker.script_name)
pulumi.export("workerRoute", worker.route_pattern)
pulumi.export("workerSha256", worker.content_sha256)
"""


def synthesize(folder: Path, config: dict[str, object] | None = None) -> Graph:
    return component_program(folder, "edge-worker", PROGRAM, config or {})


def one(graph: Graph, type_: str) -> Resource:
    (found,) = [r for r in graph.resources if r.type == type_]
    return found


def test_the_script_is_the_tested_module_with_its_date_and_settings(tmp_path: Path) -> None:
    graph = synthesize(tmp_path)
    script = one(graph, "cloudflare:index/workersScript:WorkersScript")
    inputs = script.revealed_inputs
    config = json.loads((WORKER_DIR / "worker.json").read_text())
    assert inputs["content"] == (WORKER_DIR / config["source"]).read_text()
    assert inputs["mainModule"] == "index.js"
    assert "export default" in inputs["content"] and "bodyPart" not in inputs  # an ES module, not a service worker
    assert inputs["compatibilityDate"] == config["compatibility_date"]
    assert inputs.get("compatibilityFlags", []) == config["compatibility_flags"]
    assert inputs["scriptName"] == "project-ai-api-edge"
    assert inputs["accountId"] == "0123456789abcdef0123456789abcdef"
    bindings = {b["name"]: (b["type"], b["text"]) for b in inputs["bindings"]}
    assert bindings == {
        "MODELS_CACHE_TTL_SECONDS": ("plain_text", "30"),
        "RETRY_AFTER_SECONDS": ("plain_text", "30"),
        "MAINTENANCE": ("plain_text", "false"),
    }
    component = one(graph, "projectai:edge:EdgeWorker")
    assert script.parent == component.urn


def test_the_route_takes_every_path_of_the_api_hostname_to_the_script(tmp_path: Path) -> None:
    graph = synthesize(tmp_path)
    route = one(graph, "cloudflare:index/workersRoute:WorkersRoute")
    assert route.inputs["pattern"] == "api.project-ai.dev/*"
    assert route.inputs["zoneId"] == "fedcba9876543210fedcba9876543210"
    assert route.inputs["script"] == "project-ai-api-edge"
    script = one(graph, "cloudflare:index/workersScript:WorkersScript")
    assert script.urn in route.dependencies
    assert graph.outputs["workerRoute"] == "api.project-ai.dev/*"
    assert graph.outputs["workerScript"] == "project-ai-api-edge"
    assert len(graph.outputs["workerSha256"]) == 64


def test_settings_reach_the_bindings(tmp_path: Path) -> None:
    graph = synthesize(tmp_path, {"edge:ttl": 10, "edge:maintenance": True})
    bindings = {
        b["name"]: b["text"] for b in one(graph, "cloudflare:index/workersScript:WorkersScript").inputs["bindings"]
    }
    assert bindings["MODELS_CACHE_TTL_SECONDS"] == "10"
    assert bindings["MAINTENANCE"] == "true"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hostname": "https://api.project-ai.dev/"}, "not a hostname"),
        ({"models_cache_ttl_seconds": 0}, "short by design"),
        ({"models_cache_ttl_seconds": 3600}, "short by design"),
        ({"retry_after_seconds": 0}, "Retry-After"),
        ({"compatibility_date": "April 2026"}, "YYYY-MM-DD"),
    ],
)
def test_arguments_are_checked(changes: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"account_id": "a", "zone_id": "z", "hostname": "api.project-ai.dev"}
    with pytest.raises(ValueError, match=message):
        EdgeWorkerArgs(**{**base, **changes})  # type: ignore[arg-type]


def test_the_module_stands_alone(tmp_path: Path) -> None:
    # Uploaded as one file: an import would need a bundler the deployment does not run.
    assert worker_module(WORKER_DIR / "src" / "index.js")
    importing = tmp_path / "index.js"
    importing.write_text('import { x } from "./other.js";\nexport default { fetch() { return x; } };\n')
    with pytest.raises(ValueError, match="imports another module"):
        worker_module(importing)


def test_the_workerd_tests_pin_miniflare_exactly_with_a_lockfile() -> None:
    package = json.loads((WORKER_DIR / "package.json").read_text())
    lock = json.loads((WORKER_DIR / "package-lock.json").read_text())
    pinned = package["devDependencies"]["miniflare"]
    assert pinned[0].isdigit(), "an exact version, no range"
    assert lock["packages"]["node_modules/miniflare"]["version"] == pinned
