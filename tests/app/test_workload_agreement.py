"""The Kubernetes workload and the app agree: settings, probes, port, metrics path."""

from __future__ import annotations

import pytest
from pydantic import AliasChoices

from app.settings import Settings
from preflight.graph import Graph
from tests.app.conftest import Api
from tests.conftest import objects, one


def environment_names() -> set[str]:
    """Every environment variable Settings reads."""
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(f"APP_{name.upper()}")
        if isinstance(field.validation_alias, AliasChoices):
            names.update(str(choice) for choice in field.validation_alias.choices)
    return names


def test_every_configmap_setting_is_one_the_app_reads(local_graph: Graph) -> None:
    (settings,) = [c for c in objects(local_graph, "ConfigMap") if c["metadata"]["name"].startswith("api-settings-")]
    data = settings["data"]
    assert set(data) <= environment_names(), set(data) - environment_names()


@pytest.mark.anyio
async def test_the_probed_paths_and_metrics_answer_on_the_app(local_graph: Graph, api: Api) -> None:
    container = one(local_graph, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert (await api.client.get(container[probe]["httpGet"]["path"])).status_code == 200, probe
    assert (await api.client.get("/metrics")).status_code == 200
    assert container["ports"][0]["containerPort"] == Settings.model_fields["port"].default
