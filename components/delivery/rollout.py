"""Rollout strategies: canary steps through traffic shares; blue-green switches Services."""

from __future__ import annotations

from typing import Any

from components.delivery.analysis import LATENCY, SMOKE_TEST, SUCCESS_RATE, hash_args
from components.delivery.args import BlueGreenArgs, CanaryArgs


def _analysis(*templates: str) -> dict[str, Any]:
    return {"templates": [{"templateName": name} for name in templates], "args": hash_args()}


def canary(args: CanaryArgs, stable_service: str, canary_service: str, stable_ingress: str) -> dict[str, Any]:
    """setWeight → pause → analysis, for each weight; then 100%. A failed analysis aborts:
    traffic goes back to the stable pods at once, and the canary pods are scaled down."""
    steps: list[dict[str, Any]] = []
    for weight in args.weights:
        steps.append({"setWeight": weight})
        if args.pause_seconds:
            steps.append({"pause": {"duration": f"{args.pause_seconds}s"}})
        steps.append({"analysis": _analysis(SUCCESS_RATE, LATENCY)})
    return {
        "canary": {
            "stableService": stable_service,
            "canaryService": canary_service,
            # nginx splits real traffic by weight (a canary Ingress Argo manages), so a
            # weight is a share of requests, not a share of replicas.
            "trafficRouting": {"nginx": {"stableIngress": stable_ingress}},
            "steps": steps,
            "abortScaleDownDelaySeconds": 30,
        }
    }


def blue_green(args: BlueGreenArgs, active_service: str, preview_service: str) -> dict[str, Any]:
    """The new version runs beside the old behind the preview Service; a smoke test must
    pass before promotion switches the active Service's selector; Prometheus analysis of
    real traffic follows (a failure switches back). The old pods stay for
    `scaleDownDelaySeconds`, so going back is the same switch, not a redeploy."""
    return {
        "blueGreen": {
            "activeService": active_service,
            "previewService": preview_service,
            "autoPromotionEnabled": args.auto_promotion,
            "scaleDownDelaySeconds": args.scale_down_delay_seconds,
            # The preview gets no user traffic, so rate-based analysis there would only be
            # inconclusive: the smoke test gates promotion, the metrics judge it after.
            "prePromotionAnalysis": _analysis(SMOKE_TEST),
            "postPromotionAnalysis": _analysis(SUCCESS_RATE, LATENCY),
        }
    }
