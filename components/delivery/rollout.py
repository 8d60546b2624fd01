"""Rollout strategies: canary steps through traffic shares; blue-green switches Services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.delivery.analysis import (
    LATENCY,
    SMOKE_TEST,
    STABLE_HASH_ARG,
    STATISTICAL_JUDGE,
    SUCCESS_RATE,
    hash_args,
)
from components.delivery.args import BlueGreenArgs, CanaryArgs


def _analysis(*templates: str, stable_hash: bool = False) -> dict[str, Any]:
    args = hash_args() + (hash_args("Stable", STABLE_HASH_ARG) if stable_hash else [])
    return {"templates": [{"templateName": name} for name in templates], "args": args}


# Routes Argo Rollouts adds to the VirtualService during a canary (and removes after it),
# ahead of the weighted route, in this order: the first that matches a request wins.
INTERNAL_ROUTE, COHORT_ROUTE, MIRROR_ROUTE = "canary-internal", "canary-cohort", "canary-mirror"
# Internal users ask for the canary with a header; the A/B cohort carries a cookie.
CANARY_HEADER, CANARY_HEADER_VALUE = "x-canary", "always"
COHORT_COOKIE, COHORT_VALUE = "canary-cohort", "b"
# Istio matches a header regex against the whole value (RE2): the cookie anywhere in the list.
COHORT_COOKIE_REGEX = f"^(.*;\\s*)?{COHORT_COOKIE}={COHORT_VALUE}(;.*)?$"
# Only safe methods are mirrored: a mirrored POST would write twice to the one database.
MIRRORED_METHODS = ("GET", "HEAD")


def header_routes() -> list[dict[str, Any]]:
    """setHeaderRoute steps: `x-canary: always`, and the cookie `canary-cohort=b`, go to
    the canary subset whatever the weight."""
    return [
        {
            "setHeaderRoute": {
                "name": INTERNAL_ROUTE,
                "match": [{"headerName": CANARY_HEADER, "headerValue": {"exact": CANARY_HEADER_VALUE}}],
            }
        },
        {
            "setHeaderRoute": {
                "name": COHORT_ROUTE,
                "match": [{"headerName": "cookie", "headerValue": {"regex": COHORT_COOKIE_REGEX}}],
            }
        },
    ]


def mirror_route(percent: int | None) -> dict[str, Any]:
    """setMirrorRoute: `percent` of the safe requests copied to the canary (their answers
    dropped); with no percent, the mirror route is removed."""
    if percent is None:
        return {"setMirrorRoute": {"name": MIRROR_ROUTE}}
    return {
        "setMirrorRoute": {
            "name": MIRROR_ROUTE,
            "percentage": percent,
            "match": [{"method": {"exact": method}} for method in MIRRORED_METHODS],
        }
    }


def managed_routes(args: CanaryArgs) -> list[dict[str, str]]:
    routes = [INTERNAL_ROUTE, COHORT_ROUTE, *([MIRROR_ROUTE] if args.mirror_steps and args.mirror_percent else [])]
    return [{"name": route} for route in routes]


@dataclass(frozen=True)
class IstioRouting:
    """The mesh's VirtualService route and DestinationRule subsets the canary's weights move."""

    virtual_service: str
    route: str
    destination_rule: str
    stable_subset: str = "stable"
    canary_subset: str = "canary"


def istio_traffic_routing(routing: IstioRouting, managed: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Subset-level splitting: one Service, two DestinationRule subsets that Argo pins to
    the stable and canary ReplicaSets' pod-template hashes; `managed`, the routes Argo
    adds ahead of the weighted one (header and mirror routes)."""
    return {
        **({"managedRoutes": managed} if managed else {}),
        "istio": {
            "virtualService": {"name": routing.virtual_service, "routes": [routing.route]},
            "destinationRule": {
                "name": routing.destination_rule,
                "canarySubsetName": routing.canary_subset,
                "stableSubsetName": routing.stable_subset,
            },
        },
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
    traffic returns to stable at once. From the first step, header routes send internal
    users (`x-canary: always`) and the A/B cohort (cookie `canary-cohort=b`) to the
    canary; in the mirror steps a share of GET and HEAD requests is also copied to it.
    Argo removes these routes when the rollout completes or aborts.

    With the judge (`args.judge`), each step's analysis also asks the statistical judge,
    which compares the canary's requests with the stable version's."""
    # Without the mesh, nginx splits real traffic by weight (a canary Ingress Argo
    # manages), so a weight is a share of requests, not a share of replicas.
    nginx = {"nginx": {"stableIngress": stable_ingress}}
    traffic = istio_traffic_routing(istio, managed_routes(args)) if istio is not None else nginx
    templates = (SUCCESS_RATE, LATENCY, *((STATISTICAL_JUDGE,) if args.judge is not None else ()))
    mirrored = set(args.mirror_steps) if istio is not None and args.mirror_percent else set()
    steps: list[dict[str, Any]] = []
    for number, weight in enumerate(args.weights, start=1):
        steps.append({"setWeight": weight})
        if istio is not None and number == 1:
            # From the first step on (the canary has pods once it has a weight).
            steps += header_routes()
        if number in mirrored:
            steps.append(mirror_route(args.mirror_percent))
        elif number - 1 in mirrored:
            steps.append(mirror_route(None))
        if args.pause_seconds:
            steps.append({"pause": {"duration": f"{args.pause_seconds}s"}})
        steps.append({"analysis": _analysis(*templates, stable_hash=args.judge is not None)})
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
