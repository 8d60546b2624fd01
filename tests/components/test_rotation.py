"""Generated secrets renewed on a schedule: a new value each period, and for the pepper
two values in turn, so the previous one stays valid for a whole period after a change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from components.rotation import EPOCH, RotationSchedule
from preflight.graph import Graph
from tests.conftest import objects


def test_the_generation_counts_whole_periods_since_the_epoch() -> None:
    assert RotationSchedule(90, EPOCH).generation == 0
    assert RotationSchedule(90, EPOCH + timedelta(days=89)).generation == 0
    assert RotationSchedule(90, EPOCH + timedelta(days=90)).generation == 1
    assert RotationSchedule(7, date(2026, 11, 30)).generation == 47


@pytest.mark.parametrize("generation", range(6))
def test_each_period_renews_the_older_slot_and_keeps_the_other_as_previous(generation: int) -> None:
    now = RotationSchedule(30, EPOCH + timedelta(days=30 * generation))
    later = RotationSchedule(30, EPOCH + timedelta(days=30 * (generation + 1)))
    current, previous = generation % 2, 1 - generation % 2
    assert now.renewed_at(current, 2) == generation  # renewed this period: a new value
    assert now.renewed_at(previous, 2) == max(generation - 1, -1)
    # Next period the current slot keeps its keeper (and so its value) as the previous one.
    assert later.renewed_at(current, 2) == now.renewed_at(current, 2)
    assert later.renewed_at(previous, 2) == generation + 1


def test_the_pepper_and_grafana_password_are_written_with_their_schedule(local_graph: Graph) -> None:
    import json

    (pepper,) = [r for r in local_graph.resources if r.name == "vault-generated-project-ai-api/pepper"]
    values = json.loads(pepper.secret_inputs["dataJson"])
    assert set(values) == {"value", "previous"} and values["value"] != values["previous"]
    slots = {
        r.name: r.inputs["keepers"]["generation"] for r in local_graph.resources if r.name.startswith("vault-pepper-")
    }
    assert sorted(slots.values(), key=int)[1] == str(RotationSchedule(90, datetime.now(UTC).date()).generation)
    (grafana,) = [r for r in local_graph.resources if r.name == "vault-generated-monitoring/grafana"]
    assert set(json.loads(grafana.secret_inputs["dataJson"])) == {"admin-user", "admin-password"}
    # The dev server seeds everything else, not these.
    assert not [
        r
        for r in local_graph.resources
        if r.name in ("vault-dev-project-ai-api/pepper", "vault-dev-monitoring/grafana")
    ]
    (synced,) = [s for s in objects(local_graph, "ExternalSecret") if s["metadata"]["name"] == "project-ai-api-secrets"]
    previous = {
        "secretKey": "APP_API_KEY_PEPPER_PREVIOUS",
        "remoteRef": {"key": "project-ai-api/pepper", "property": "previous"},
    }
    assert previous in synced["spec"]["data"]
