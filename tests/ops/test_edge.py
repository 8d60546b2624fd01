"""Disabling the failed region's pool, against a local stand-in for Cloudflare's API that
records every request: the SDK's real HTTP calls, asserted exactly."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ops.dr import runbooks
from ops.dr.aurora import AuroraGlobal
from ops.dr.edge import EdgePools, cloudflare_client, pool_name, read_token
from ops.steps import OpsError
from tests.ops.conftest import audit, serving
from tests.ops.test_aurora import GLOBAL, PRIMARY, SECONDARY_ARN, TIMING, Stubbed

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "test-token-0123456789"
POOLS = f"/client/v4/accounts/{ACCOUNT}/load_balancers/pools"


class FakeCloudflare(ThreadingHTTPServer):
    def __init__(self, pools: list[dict], status: int = 200, hang: threading.Event | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.pools, self.status, self.hang = pools, status, hang
        self.requests: list[tuple[str, str, str | None, object]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/client/v4"


class Handler(BaseHTTPRequestHandler):
    server: FakeCloudflare

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _answer(self, status: int, result: object) -> None:
        body = json.dumps(
            {
                "success": status < 400,
                "errors": [] if status < 400 else [{"code": 1000, "message": "denied"}],
                "messages": [],
                "result": result,
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((self.command, self.path, self.headers.get("Authorization"), body))
        if self.server.hang is not None:
            self.server.hang.wait(10)
            return
        if self.server.status >= 400:
            return self._answer(self.server.status, None)
        if self.command == "GET" and self.path == POOLS:
            return self._answer(200, self.server.pools)
        for pool in self.server.pools:
            if self.command == "PATCH" and self.path == f"{POOLS}/{pool['id']}":
                pool.update(body)
                return self._answer(200, pool)
        self._answer(404, None)

    do_GET = do_PATCH = _handle  # noqa: N815 (http.server's names)


def pool(name: str, enabled: bool = True) -> dict:
    return {"id": f"id-{name}", "name": name, "enabled": enabled, "origins": []}


@contextlib.contextmanager
def fake_cloudflare(*pools: dict, status: int = 200, hang: threading.Event | None = None):
    server = FakeCloudflare(list(pools), status, hang)
    with serving(server, hang):
        yield server


def already_failed_over() -> AuroraGlobal:
    """A global database whose failover was done before this run (the run resumes)."""
    stubbed = Stubbed()
    stubbed.state(SECONDARY_ARN, {PRIMARY: "unreachable"})
    return AuroraGlobal(GLOBAL, PRIMARY, stubbed)


def test_the_failed_regions_pool_is_disabled_with_exactly_these_requests(fake_clock):
    with fake_cloudflare(pool("project-ai-prod"), pool("project-ai-prod-eu")) as api:
        edge = runbooks.EdgeTarget(EdgePools(cloudflare_client(TOKEN, api.url), ACCOUNT), pool_name("prod"))
        log = audit(dry_run=False)
        runbooks.failover(already_failed_over(), SECONDARY_ARN, False, False, edge, TIMING, fake_clock.clock).run(log)
    bearer = f"Bearer {TOKEN}"
    assert api.requests == [
        ("GET", POOLS, bearer, None),  # done?
        ("GET", POOLS, bearer, None),  # another pool still serves?
        ("GET", POOLS, bearer, None),  # find its id
        ("PATCH", f"{POOLS}/id-project-ai-prod", bearer, {"enabled": False}),
        ("GET", POOLS, bearer, None),  # shows as disabled
    ]
    assert [(line["step"], line["outcome"]) for line in log.lines] == [
        ("failover", "already-done"),
        ("disable-edge-pool", "applying"),
        ("disable-edge-pool", "applied"),
    ]
    assert api.pools[1]["enabled"] is True  # the other region's pool is untouched


def test_a_pool_already_disabled_is_only_read(fake_clock):
    with fake_cloudflare(pool("project-ai-prod", enabled=False)) as api:
        edge = runbooks.EdgeTarget(EdgePools(cloudflare_client(TOKEN, api.url), ACCOUNT), "project-ai-prod")
        runbooks.failover(already_failed_over(), SECONDARY_ARN, False, False, edge, TIMING, fake_clock.clock).run(
            audit(dry_run=False)
        )
    assert [request[0] for request in api.requests] == ["GET"]


def test_the_last_enabled_pool_is_never_disabled(fake_clock):
    from ops.steps import PreconditionFailed

    with fake_cloudflare(pool("project-ai-prod"), pool("project-ai-prod-eu", enabled=False)) as api:
        edge = runbooks.EdgeTarget(EdgePools(cloudflare_client(TOKEN, api.url), ACCOUNT), "project-ai-prod")
        with pytest.raises(PreconditionFailed, match="project-ai-prod is the last enabled pool"):
            runbooks.failover(already_failed_over(), SECONDARY_ARN, False, False, edge, TIMING, fake_clock.clock).run(
                audit(dry_run=False)
            )
    assert "PATCH" not in [request[0] for request in api.requests]


def test_an_unknown_pool_name_lists_the_pools_there_are():
    with fake_cloudflare(pool("project-ai-prod"), pool("project-ai-prod-eu")) as api:
        pools = EdgePools(cloudflare_client(TOKEN, api.url), ACCOUNT)
        with pytest.raises(
            OpsError, match=r"no load-balancer pool named 'prod' .*\(pools: project-ai-prod, project-ai-prod-eu\)"
        ):
            pools.enabled("prod")


def test_cloudflare_refusing_is_a_clear_error():
    with fake_cloudflare(status=403) as api, pytest.raises(OpsError, match="Cloudflare refused to list pools"):
        EdgePools(cloudflare_client(TOKEN, api.url, retries=0), ACCOUNT).set_enabled("project-ai-prod", False)


def test_a_frozen_api_fails_within_the_timeout():
    with fake_cloudflare(pool("project-ai-prod"), hang=threading.Event()) as api:
        pools = EdgePools(cloudflare_client(TOKEN, api.url, timeout_seconds=0.5, retries=0), ACCOUNT)
        with pytest.raises(OpsError, match="Cloudflare refused to list pools: Request timed out"):
            pools.enabled("project-ai-prod")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read the Cloudflare API token file"),
        ("", "must hold one"),
        ("a b\n", "must hold one"),
        ("a\nb", "must hold one"),
    ],
)
def test_token_files_that_are_missing_empty_or_not_one_token_are_refused(tmp_path, content, problem):
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    with pytest.raises(OpsError, match=problem):
        read_token(path)


def test_a_token_file_with_a_trailing_newline_is_read():
    import tempfile
    from pathlib import Path

    with tempfile.NamedTemporaryFile("w", suffix=".token", delete=False) as file:
        file.write(TOKEN + "\n")
    try:
        assert read_token(Path(file.name)) == TOKEN
    finally:
        Path(file.name).unlink()
