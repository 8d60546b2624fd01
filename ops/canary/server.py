"""`ops canary serve`: the judge as Argo Rollouts' web metric provider.

GET /v1/judge?namespace=NS&canary=HASH&baseline=HASH&window=SECONDS answers the verdict
as JSON (`{"verdict": "pass" | "fail" | "inconclusive", ...}`); the AnalysisTemplate's
successCondition and failureCondition read `result.verdict`, so "inconclusive" matches
neither and the measurement is inconclusive: the rollout pauses. A bad request is a 400
that says what was expected; Prometheus failing is a 502 (an error measurement).
"""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

from ops.canary.judge import Thresholds, judge
from ops.canary.prometheus import Prometheus, queries
from ops.steps import OpsError
from ops.web import JsonHandler, JsonServer

MIN_WINDOW, MAX_WINDOW = 60, 3600
MAX_QUERY = 2048
# Judgements at once (each is six Prometheus queries); more wait for none: a 503.
MAX_JUDGEMENTS = 4


class JudgeServer(JsonServer):
    def __init__(self, address: tuple[str, int], prometheus: Prometheus, thresholds: Thresholds) -> None:
        super().__init__(address, Handler)
        self.prometheus, self.thresholds = prometheus, thresholds
        self.slots = threading.BoundedSemaphore(MAX_JUDGEMENTS)


class Handler(JsonHandler):
    """The verdicts are in the rollout's AnalysisRun: no request log with query strings."""

    server: JudgeServer
    server_version = "ops-canary-judge"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        if self.health():
            return None
        if url.path != "/v1/judge":
            return self.answer(404, {"error": f"no such path {url.path[:100]!r}; try /v1/judge"})
        if len(url.query) > MAX_QUERY:
            return self.answer(400, {"error": f"the query string is longer than {MAX_QUERY} characters"})
        try:
            namespace, canary, baseline, window = _parameters(parse_qs(url.query, strict_parsing=False))
            queries(namespace, canary, window)
            queries(namespace, baseline, window)
        except ValueError as problem:
            return self.answer(400, {"error": str(problem)})
        if not self.server.slots.acquire(blocking=False):
            return self.answer(503, {"error": f"{MAX_JUDGEMENTS} judgements under way; try again"})
        try:
            at = time.time()  # both arms over the very same window
            verdict = judge(
                self.server.prometheus.arm(namespace, canary, window, at),
                self.server.prometheus.arm(namespace, baseline, window, at),
                self.server.thresholds,
            )
        except OpsError as failed:
            return self.answer(502, {"error": str(failed)})
        finally:
            self.server.slots.release()
        self.answer(200, verdict.as_json())


def _parameters(query: dict[str, list[str]]) -> tuple[str, str, str, int]:
    def one(name: str) -> str:
        values = query.get(name, [])
        if len(values) != 1:
            raise ValueError(f"give `{name}` exactly once (namespace, canary, baseline, window)")
        return values[0]

    window_text = one("window")
    if not window_text.isdigit() or not MIN_WINDOW <= int(window_text) <= MAX_WINDOW:
        raise ValueError(f"window must be whole seconds from {MIN_WINDOW} to {MAX_WINDOW}, not {window_text[:20]!r}")
    return one("namespace"), one("canary"), one("baseline"), int(window_text)
