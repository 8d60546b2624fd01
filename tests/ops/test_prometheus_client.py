"""ops/prometheus.py against answers that are JSON but not Prometheus's envelope: each is
a clear OpsError, never an AttributeError from deep inside (the judge, the guard and the
insight service all read through this client)."""

from __future__ import annotations

import json

import httpx
import pytest

from ops.prometheus import Prometheus
from ops.steps import OpsError


def answering(body: object, status: int = 200) -> Prometheus:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode())

    return Prometheus("http://prometheus.test:9090", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([1, 2], "Prometheus refused the query (200): no JSON"),
        ("success", "Prometheus refused the query (200): no JSON"),
        ({"status": "error", "error": "bad_data"}, "Prometheus refused the query (200): bad_data"),
        ({"status": "success", "data": []}, "Prometheus answered a None, not a vector"),
        ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "answered a 'matrix', not a vector"),
        ({"status": "success", "data": {"resultType": "vector", "result": {}}}, "not a list of series"),
    ],
)
def test_an_answer_that_is_not_the_envelope_is_a_clear_error(body: object, expected: str) -> None:
    with pytest.raises(OpsError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        answering(body).vector("up")


def test_a_vector_is_returned_as_its_series() -> None:
    series = [{"metric": {"job": "api"}, "value": [1.0, "1"]}]
    assert answering({"status": "success", "data": {"resultType": "vector", "result": series}}).vector("up") == series
