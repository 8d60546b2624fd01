"""AnalysisTemplates: what Prometheus must say about a new version before it gets more traffic.

The queries read the app's own metrics (`http_requests_total`, the latency histogram),
for the pods of one ReplicaSet: the ServiceMonitor copies the pods'
`rollouts-pod-template-hash` label onto every series. A query with no data (no traffic
yet) is neither a success nor a failure: the measurement is inconclusive, and too many
of those pause the rollout for a human instead of promoting blindly.
"""

from __future__ import annotations

from typing import Any

from components import secret_volume
from components.api_metrics import LATENCY as LATENCY_METRIC
from components.api_metrics import PROBE_ROUTES
from components.api_metrics import REQUESTS as REQUESTS_METRIC
from components.delivery.args import AnalysisArgs
from components.ops_service import OPS_USER

HASH_LABEL = "rollouts_pod_template_hash"
HASH_ARG = "pod-hash"
# The stable version's pod-template hash: the judge's baseline.
STABLE_HASH_ARG = "stable-hash"
SUCCESS_RATE, LATENCY, SMOKE_TEST = "success-rate", "latency-p99", "smoke-test"
STATISTICAL_JUDGE = "statistical-judge"


def hash_args(which: str = "Latest", name: str = HASH_ARG) -> list[dict[str, Any]]:
    """The argument every template takes: the pod-template hash of the version under test
    (or, with `Stable`, of the version it is compared with)."""
    return [{"name": name, "valueFrom": {"podTemplateHashValue": which}}]


def _selector(namespace: str, extra: str = "") -> str:
    return f'namespace="{namespace}",{HASH_LABEL}="{{{{args.{HASH_ARG}}}}}",route!~"{PROBE_ROUTES}"{extra}'


def _judged(value_ok: str, value_bad: str) -> dict[str, str]:
    # No series, or NaN (0/0 with no requests), matches neither: inconclusive.
    measured = "len(result) > 0 && !isNaN(result[0])"
    return {"successCondition": f"{measured} && {value_ok}", "failureCondition": f"{measured} && {value_bad}"}


def _metric(name: str, query: str, analysis: AnalysisArgs, judged: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "interval": f"{analysis.interval_seconds}s",
        "count": analysis.count,
        "failureLimit": analysis.failure_limit,
        "inconclusiveLimit": analysis.inconclusive_limit,
        # Prometheus unreachable a few times in a row is an error, and ends the analysis.
        "consecutiveErrorLimit": 3,
        **judged,
        "provider": {"prometheus": {"address": analysis.prometheus_address, "query": query}},
    }


def success_rate(namespace: str, analysis: AnalysisArgs) -> dict[str, Any]:
    window = f"{analysis.interval_seconds}s"
    failed = _selector(namespace, ',status=~"5.."')
    # 1 - errors/total: a canary that fails every request measures 0 (a failure), while
    # no traffic at all still gives no result (inconclusive).
    errors = f"(sum(rate({REQUESTS_METRIC}{{{failed}}}[{window}])) or vector(0))"
    total = f"sum(rate({REQUESTS_METRIC}{{{_selector(namespace)}}}[{window}]))"
    threshold = analysis.min_success_rate
    judged = _judged(f"result[0] >= {threshold}", f"result[0] < {threshold}")
    query = f"1 - ({errors} / {total})"
    return {"args": [{"name": HASH_ARG}], "metrics": [_metric(SUCCESS_RATE, query, analysis, judged)]}


def latency_p99(namespace: str, analysis: AnalysisArgs) -> dict[str, Any]:
    window = f"{analysis.interval_seconds}s"
    query = f"histogram_quantile(0.99, sum by (le) (rate({LATENCY_METRIC}_bucket{{{_selector(namespace)}}}[{window}])))"
    limit = analysis.max_p99_latency_seconds
    judged = _judged(f"result[0] <= {limit}", f"result[0] > {limit}")
    return {"args": [{"name": HASH_ARG}], "metrics": [_metric(LATENCY, query, analysis, judged)]}


# The key in the smoke test's Secret, and so its file in SECRETS_DIR.
SMOKE_TEST_KEY = "api-key"


def smoke_test(preview_url: str, secret_name: str, image: str, labels: dict[str, str]) -> dict[str, Any]:
    """A Job of the ops image against the preview Service: readiness, then one
    authenticated API request (`ops smoke`), the key read from its file: in no
    environment and no process's arguments."""
    container = {
        "name": SMOKE_TEST,
        "image": image,
        # After the image's ENTRYPOINT, `python -m ops`.
        "args": ["smoke", "--url", preview_url, "--key-file", f"{secret_volume.SECRETS_DIR}/{SMOKE_TEST_KEY}"],
        "volumeMounts": [secret_volume.mount()],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": OPS_USER,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    job = {
        "metadata": {"labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 120,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    # fsGroup: the key file is readable by the pod's group only.
                    "securityContext": {
                        "runAsNonRoot": True,
                        "fsGroup": OPS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [secret_volume.volume([secret_name])],
                },
            },
        },
    }
    return {"metrics": [{"name": SMOKE_TEST, "count": 1, "failureLimit": 0, "provider": {"job": job}}]}


def judge_query(namespace: str, window_seconds: int) -> str:
    """The judge's verdict for the canary against the stable version, over one interval."""
    return (
        f"/v1/judge?namespace={namespace}"
        f"&canary={{{{args.{HASH_ARG}}}}}&baseline={{{{args.{STABLE_HASH_ARG}}}}}&window={window_seconds}"
    )


def statistical_judge(url: str, analysis: AnalysisArgs, timeout_seconds: int) -> dict[str, Any]:
    """Argo's web provider asks the judge (ops/canary/server.py); `verdict` is pass, fail
    or inconclusive. Inconclusive (too few requests to tell) matches neither condition:
    after `inconclusiveLimit` of them the rollout pauses for a human. The judge failing to
    answer (Prometheus down: a 502) is an error, and three in a row end the analysis."""
    return {
        "args": [{"name": HASH_ARG}, {"name": STABLE_HASH_ARG}],
        "metrics": [
            {
                "name": STATISTICAL_JUDGE,
                "interval": f"{analysis.interval_seconds}s",
                "count": analysis.count,
                "failureLimit": analysis.failure_limit,
                "inconclusiveLimit": analysis.inconclusive_limit,
                "consecutiveErrorLimit": 3,
                "successCondition": 'result == "pass"',
                "failureCondition": 'result == "fail"',
                "provider": {"web": {"url": url, "jsonPath": "{$.verdict}", "timeoutSeconds": timeout_seconds}},
            }
        ],
    }
