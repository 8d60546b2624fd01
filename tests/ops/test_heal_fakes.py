"""Local stand-ins for what the healer's executors call, on 127.0.0.1, recording every
request: a Kubernetes API server (just the endpoints the executors use, so the official
client's real HTTP calls are exercised), PagerDuty's Events API, and Cloudflare's pool
API with pool health (test_edge's stand-in, extended). Each can hang until released."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.ops import test_edge

NAMESPACE = "project-ai"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, which is also what a strategic merge patch does to these objects' fields."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class Recording(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.requests: list[tuple[str, str, str | None, Any]] = []
        self.hang = threading.Event()
        self.hanging = False
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Recording

    def log_message(self, *args: object) -> None:
        pass

    def send_json(self, status: int, body: Any) -> None:
        encoded = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def take(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((self.command, self.path, self.headers.get("Content-Type"), body))
        if self.server.hanging:
            self.server.hang.set()
            self.server.release.wait(10)
        return body


class FakeKubernetes(Recording):
    def __init__(self) -> None:
        super().__init__(KubernetesHandler)
        self.objects: dict[str, dict[str, Any]] = {}

    def put(self, path: str, body: dict[str, Any]) -> None:
        self.objects[path] = body

    def pod(self, name: str, owner: dict[str, Any] | None = None, **metadata: Any) -> None:
        owners = [owner] if owner else []
        self.put(pod_path(name), {"kind": "Pod", "metadata": {"name": name, "ownerReferences": owners, **metadata}})

    def workload(self, replica_set: str, replicas: int, pods: list[str], parent: str = "project-ai-api") -> None:
        parent_owner = {"kind": "Rollout", "name": parent, "controller": True}
        self.put(
            f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets/{replica_set}",
            {"metadata": {"name": replica_set, "ownerReferences": [parent_owner]}, "spec": {"replicas": replicas}},
        )
        for name in pods:
            self.pod(name, {"kind": "ReplicaSet", "name": replica_set, "controller": True})


def pod_path(name: str) -> str:
    return f"/api/v1/namespaces/{NAMESPACE}/pods/{name}"


class KubernetesHandler(_Handler):
    server: FakeKubernetes

    def _object_path(self) -> str:
        path = urlsplit(self.path).path
        return path.removesuffix("/status") if "/rollouts/" in path else path

    def _missing(self) -> None:
        self.send_json(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})

    def do_GET(self) -> None:
        self.take()
        found = self.server.objects.get(self._object_path())
        return self._missing() if found is None else self.send_json(200, found)

    def do_DELETE(self) -> None:
        self.take()
        found = self.server.objects.pop(self._object_path(), None)
        return self._missing() if found is None else self.send_json(200, found)

    def do_PATCH(self) -> None:
        patch = self.take()
        path = self._object_path()
        if path not in self.server.objects:
            return self._missing()
        self.server.objects[path] = merge_patch(self.server.objects[path], patch)
        self.send_json(200, self.server.objects[path])


class FakePagerDuty(Recording):
    def __init__(self, status: int = 202) -> None:
        super().__init__(PagerDutyHandler)
        self.status = status


class PagerDutyHandler(_Handler):
    server: FakePagerDuty

    def do_POST(self) -> None:
        event = self.take()
        if self.server.status != 202:
            return self.send_json(self.server.status, {"status": "invalid event", "errors": ["routing key"]})
        self.send_json(202, {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]})


class FakeCloudflare(test_edge.FakeCloudflare):
    """test_edge's pool API, with each pool's health (`healthy` per pool id) as well."""

    def __init__(self, pools: list[dict], healthy: dict[str, bool], hang: threading.Event | None = None) -> None:
        super().__init__(pools, hang=hang)
        self.RequestHandlerClass = CloudflareHandler
        self.healthy = healthy


class CloudflareHandler(test_edge.Handler):
    server: FakeCloudflare

    def do_GET(self) -> None:  # noqa: N802
        for pool in self.server.pools:
            if self.path == f"{test_edge.POOLS}/{pool['id']}/health":
                self.server.requests.append((self.command, self.path, self.headers.get("Authorization"), None))
                if pool["id"] not in self.server.healthy:
                    return self._answer(404, None)
                health = {"pool_id": pool["id"], "pop_health": {"healthy": self.server.healthy[pool["id"]]}}
                return self._answer(200, health)
        return self._handle()
