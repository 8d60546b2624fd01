"""The stacks with chaos on (dev and staging as they are; local with it turned on, its
data in the cluster and its mesh signed by its dev root), and what the tests read of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from preflight.graph import Graph
from preflight.synth import Synthesizer
from tests.conftest import copy_project, objects, stack_config

NAMESPACE = "project-ai"
OPS_IMAGE = "ghcr.io/project-ai/ops@sha256:" + "ab" * 32
# The local stack's data namespace, as its egress names it (README, "The local cluster").
LOCAL_DATABASE = "postgresql.project-ai-data.svc.cluster.local"
LOCAL_CACHE = "redis-master.project-ai-data.svc.cluster.local"


def local_with_chaos(**chaos: Any) -> dict[str, Any]:
    config = stack_config("local")
    config["projectai:chaos"] = {
        "enabled": True,
        "zone": "zone-a",
        "databaseHost": LOCAL_DATABASE,
        "guardImage": {"repository": OPS_IMAGE.split("@")[0], "digest": OPS_IMAGE.split("@")[1]},
        **chaos,
    }
    return config


@pytest.fixture(scope="session")
def dev(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("dev")


@pytest.fixture(scope="session")
def staging(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("staging")


@pytest.fixture(scope="session")
def local_chaos(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    folder: Path = tmp_path_factory.mktemp("local-chaos")
    return Synthesizer(copy_project(folder, "local", local_with_chaos())).synthesize("local")


def schedules(graph: Graph) -> dict[str, dict[str, Any]]:
    return {s["metadata"]["name"]: s for s in objects(graph, "Schedule")}


def templates(schedule: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in schedule["spec"]["workflow"]["templates"]}
