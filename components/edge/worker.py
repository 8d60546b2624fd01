"""The edge Worker (edge/worker): its module uploaded as a Workers script, on a route of the
API's hostname. What it does, and its tests in workerd, are in edge/worker/src/index.js.

The module is one file with no imports, so the file the tests run is the file deployed:
there is no bundling step. Its compatibility date and flags come from edge/worker/worker.json,
which the tests read too.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_cloudflare as cloudflare

WORKER_DIR = Path(__file__).resolve().parents[2] / "edge" / "worker"
_CONFIG = json.loads((WORKER_DIR / "worker.json").read_text())
COMPATIBILITY_DATE: str = _CONFIG["compatibility_date"]
COMPATIBILITY_FLAGS: tuple[str, ...] = tuple(_CONFIG["compatibility_flags"])
MAIN_MODULE: str = _CONFIG["main_module"]
WORKER_SOURCE = WORKER_DIR / _CONFIG["source"]
# A hostname, or a wildcard's leading label: what a Workers route pattern is made of.
_HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_IMPORT = re.compile(r"^\s*import\b|\bimport\s*\(", re.MULTILINE)


@dataclass(frozen=True)
class EdgeWorkerArgs:
    account_id: pulumi.Input[str]
    zone_id: pulumi.Input[str]
    # The API's public hostname; the Worker takes every path on it.
    hostname: str
    script_name: str = "project-ai-api-edge"
    # GET /v1/models at the edge, per key hash; the maintenance answer's Retry-After.
    models_cache_ttl_seconds: int = 30
    retry_after_seconds: int = 30
    # Every request answered with the maintenance response, without the origin.
    maintenance: bool = False
    source: Path = WORKER_SOURCE
    compatibility_date: str = COMPATIBILITY_DATE
    compatibility_flags: tuple[str, ...] = field(default=COMPATIBILITY_FLAGS)

    def __post_init__(self) -> None:
        if not _HOSTNAME.match(self.hostname):
            raise ValueError(f"edge Worker: {self.hostname!r} is not a hostname")
        if not 1 <= self.models_cache_ttl_seconds <= 300:
            raise ValueError("edge Worker: the /v1/models cache TTL is short by design: 1 to 300 seconds")
        if self.retry_after_seconds < 1:
            raise ValueError("edge Worker: Retry-After is at least one second")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.compatibility_date):
            raise ValueError(f"edge Worker: compatibility date {self.compatibility_date!r} is not YYYY-MM-DD")

    @property
    def route_pattern(self) -> str:
        return f"{self.hostname}/*"


def worker_module(source: Path) -> str:
    """The module as uploaded: the file itself, which must stand alone (no imports)."""
    content = source.read_text()
    if _IMPORT.search(content):
        raise ValueError(f"edge Worker: {source.name} imports another module; it is uploaded as one file")
    if "export default" not in content:
        raise ValueError(f"edge Worker: {source.name} has no default export (an ES module Worker)")
    return content


class EdgeWorker(pulumi.ComponentResource):
    def __init__(self, name: str, args: EdgeWorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:edge:EdgeWorker", name, None, opts)
        content = worker_module(args.source)
        self.content_sha256 = hashlib.sha256(content.encode()).hexdigest()
        variables = {
            "MODELS_CACHE_TTL_SECONDS": str(args.models_cache_ttl_seconds),
            "RETRY_AFTER_SECONDS": str(args.retry_after_seconds),
            "MAINTENANCE": "true" if args.maintenance else "false",
        }
        self.script = cloudflare.WorkersScript(
            f"{name}-script",
            cloudflare.WorkersScriptArgs(
                account_id=args.account_id,
                script_name=args.script_name,
                content=content,
                main_module=MAIN_MODULE,
                compatibility_date=args.compatibility_date,
                compatibility_flags=list(args.compatibility_flags),
                bindings=[
                    cloudflare.WorkersScriptBindingArgs(name=key, type="plain_text", text=value)
                    for key, value in variables.items()
                ],
                logpush=False,
                observability=cloudflare.WorkersScriptObservabilityArgs(enabled=True),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.route = cloudflare.WorkersRoute(
            f"{name}-route",
            cloudflare.WorkersRouteArgs(
                zone_id=args.zone_id,
                pattern=args.route_pattern,
                script=self.script.script_name,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.script_name = self.script.script_name
        self.route_pattern = self.route.pattern
        self.register_outputs(
            {
                "scriptName": self.script_name,
                "routePattern": self.route_pattern,
                "contentSha256": self.content_sha256,
                "compatibilityDate": args.compatibility_date,
            }
        )
