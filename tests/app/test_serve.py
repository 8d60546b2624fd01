"""`python -m app serve` as a real process: HOST and PORT, no banner, graceful SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_serve_honours_host_and_port_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "APP_ENVIRONMENT": "test",
        "APP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db",
    }
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert "server" not in response.headers
        server.send_signal(signal.SIGTERM)
        # uvicorn finishes its shutdown, then re-raises the signal so the exit status says why.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
    output = server.stdout.read().decode()
    assert '"event": "Shutting down"' in output and '"event": "Application shutdown complete."' in output
