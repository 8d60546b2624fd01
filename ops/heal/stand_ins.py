"""What the remediation drill puts around the chaos topology, on 127.0.0.1:

- the edge: an HAProxy in front of two "regions", each one of its servers (the pools a
  global load balancer has). Region us is the topology's own HAProxy; region eu reaches
  the same HAProxy through a link of a fault proxy of its own, so it can fail alone. The
  edge's health checks are TCP connects, as a pool's often are: a region that accepts
  connections and then fails every request stays in rotation until someone takes it out;
- PagerDuty's Events API v2 (`POST /v2/enqueue`), which keeps the events it was sent.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

from ops.chaos.fault_proxy import FaultLinks
from ops.chaos.processes import HAProxy, Service
from ops.dr.local_postgres import free_port
from ops.web import JsonHandler, JsonServer

REGIONS = ("project-ai-prod-us", "project-ai-prod-eu")
FAILING_REGION = "project-ai-prod-eu"
REGION_LINK = "region-eu"
EVENTS_PATH = "/v2/enqueue"


class Edge(HAProxy):
    """HAProxy with one backend, `edge`, whose servers are the regions: `pools` maps each
    region's name to its port."""

    def __init__(self, folder: Path, port: int, pools: dict[str, int]) -> None:
        folder.mkdir(exist_ok=True)
        super().__init__(folder, port, pools)
        self.what = "the edge"

    def _config(self, port: int, workers: dict[str, int]) -> str:
        servers = [f"    server {name} 127.0.0.1:{pool_port} check" for name, pool_port in workers.items()]
        return "\n".join(
            [
                "global",
                "    maxconn 1024",
                f"    stats socket {self.socket_path} mode 600 level admin",
                "defaults",
                "    mode http",
                "    timeout connect 100ms",
                "    timeout client 30s",
                "    timeout server 5s",
                "    timeout check 1s",
                "frontend edge",
                f"    bind 127.0.0.1:{port}",
                "    default_backend edge",
                "backend edge",
                "    balance roundrobin",
                "    default-server inter 250ms fall 2 rise 2",
                *servers,
                "",
            ]
        )


class Regions:
    """The edge and region eu's fault link, started in `start`, stopped in `close`."""

    def __init__(self, folder: Path, lb_port: int) -> None:
        self.ports = {"edge": free_port(), "control": free_port(), "link": free_port()}
        command = [sys.executable, "-m", "ops.chaos.fault_proxy", "--control", str(self.ports["control"])]
        command.append(f"--link={REGION_LINK}={self.ports['link']}:{lb_port}")
        self.proxy = Service("the region link", command, self.ports["control"], folder / "region-link.log")
        pools = {REGIONS[0]: lb_port, REGIONS[1]: self.ports["link"]}
        self.edge = Edge(folder / "edge", self.ports["edge"], pools)
        self.links = FaultLinks(self.ports["control"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['edge']}"

    def start(self) -> None:
        self.proxy.start()
        self.edge.start()

    def close(self) -> None:
        for service in (self.edge, self.proxy):
            service.kill(10)


class EventsApi(JsonServer):
    """PagerDuty's Events API v2 stand-in: each event accepted (202) and kept."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EventsHandler)
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{EVENTS_PATH}"

    def triggered(self) -> list[str]:
        with self.lock:
            return [event.get("dedup_key", "") for event in self.events if event.get("event_action") == "trigger"]


class _EventsHandler(JsonHandler):
    server: EventsApi

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        if self.path != EVENTS_PATH:
            return self.answer(404, {"status": "not found"})
        try:
            event = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        except ValueError:
            return self.answer(400, {"status": "invalid event", "message": "expected JSON"})
        if not isinstance(event, dict) or not event.get("routing_key"):
            return self.answer(400, {"status": "invalid event", "message": "expected an object with a routing_key"})
        with self.server.lock:
            self.server.events.append(event)
        self.answer(202, {"status": "success", "dedup_key": event.get("dedup_key")})
