"""Rollout strategies: canary steps through traffic shares; blue-green switches Services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.delivery.analysis import LATENCY, SMOKE_TEST, SUCCESS_RATE, hash_args
from components.delivery.args import BlueGreenArgs, CanaryArgs


def _analysis(*templates: str) -> dict[str, Any]:
    return {"templates": [{"templateName": name} for name in templates], "args": hash_args()}


@dataclass(frozen=True)
class IstioRouting:
    """The mesh's VirtualService route and DestinationRule subsets the canary's weights move."""

    virtual_service: str
    route: str
    destination_rule: str
    stable_subset: str = "stable"
    canary_subset: str = "canary"


def istio_traffic_routing(routing: IstioRouting) -> dict[str, Any]:
    """Subset-level splitting: one Service, two DestinationRule subsets that Argo pins to
    the stable and canary ReplicaSets' pod-template hashes."""
    return {
        "istio": {
            "virtualService": {"name": routing.virtual_service, "routes": [routing.route]},
            "destinationRule": {
                "name": routing.destination_rule,
                "canarySubsetName": routing.canary_subset,
                "stableSubsetName": routing.stable_subset,
            },
        }
    }


def canary(
    args: CanaryArgs,
    stable_service: str,
    canary_service: str,
    stable_ingress: str,
    istio: IstioRouting | None = None,
) -> dict[str, Any]:
    """setWeight → pause → analysis, for each weight; then 100%. A failed analysis aborts:
    traffic goes back to the stable pods at once, and the canary pods are scaled down.

    With the mesh (`istio`), the sidecars split traffic: Argo rewrites the weights of the
    VirtualService's route over the DestinationRule's stable and canary subsets, and on
    abort sets the stable subset back to 100% in one write (no stepping down), so all
    traffic returns to stable at once."""
    # Without the mesh, nginx splits real traffic by weight (a canary Ingress Argo
    # manages), so a weight is a share of requests, not a share of replicas.
    nginx = {"nginx": {"stableIngress": stable_ingress}}
    traffic = istio_traffic_routing(istio) if istio is not None else nginx
    steps: list[dict[str, Any]] = []
    for weight in args.weights:
        steps.append({"setWeight": weight})
        if args.pause_seconds:
            steps.append({"pause": {"duration": f"{args.pause_seconds}s"}})
        steps.append({"analysis": _analysis(SUCCESS_RATE, LATENCY)})
    services = {} if istio is not None else {"stableService": stable_service, "canaryService": canary_service}
    return {
        "canary": {
            **services,
            "trafficRouting": traffic,
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
