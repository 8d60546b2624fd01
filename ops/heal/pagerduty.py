"""Opening an incident: PagerDuty's Events API v2 (`trigger`, with a dedup key so an
alert that keeps firing stays one incident). The routing key comes from a file and is
sent only in the request body, never logged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ops.heal.executors import OPEN_INCIDENT, Action, ExecutorError, Impact

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SOURCE = "ops-heal"


class PagerDuty:
    kinds = frozenset({OPEN_INCIDENT})

    def __init__(self, routing_key: str, url: str = EVENTS_URL, timeout_seconds: float = 5.0) -> None:
        self.routing_key, self.url = routing_key, url
        self.http = httpx.Client(timeout=timeout_seconds, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def assess(self, action: Action) -> Impact:
        return Impact("pagerduty", units=1)

    def execute(self, action: Action) -> Mapping[str, Any]:
        event = {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": action.params["dedup_key"],
            "payload": {
                "summary": action.params["summary"],
                "source": SOURCE,
                "severity": action.params["severity"],
            },
        }
        try:
            response = self.http.post(self.url, json=event)
        except httpx.HTTPError as error:
            raise ExecutorError(f"PagerDuty did not answer: {type(error).__name__}") from None
        if response.status_code != 202:
            raise ExecutorError(f"PagerDuty refused the event: {response.status_code} {response.text[:200]}")
        return {"incident": action.params["dedup_key"]}
