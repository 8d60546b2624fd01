"""`python -m app.bench`: what the middleware stack costs, measured against a bare endpoint.

Starts two uvicorn servers on 127.0.0.1 in the same run: the full API (key check, rate
limits, versioning, body guard, security headers, metrics, access log) and a bare
FastAPI app with one endpoint returning the same body. Drives each with the same fixed
number of requests at a fixed concurrency from an asyncio load driver, and prints p50,
p99 and requests per second for both, and their ratios. Goal: full p50 ≤ 1.5 × bare p50.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parent.parent
BODY = {"object": "list", "data": [{"id": "echo-1", "object": "model"}]}

bare_app = FastAPI()


@bare_app.get("/v1/models")
async def bare_models() -> dict:
    return BODY


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", headers=env_headers(env)).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"server on port {port} did not start")


def env_headers(env: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['BENCH_KEY']}"} if "BENCH_KEY" in env else {}


async def drive(url: str, headers: dict[str, str], requests: int, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}: {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


def summarize(latencies: list[float], elapsed: float) -> tuple[float, float, float]:
    quantiles = statistics.quantiles(latencies, n=100)
    return quantiles[49] * 1000, quantiles[98] * 1000, len(latencies) / elapsed


def measure(targets: dict[str, tuple[str, dict[str, str]]], requests: int, concurrency: int, rounds: int) -> dict:
    """Rounds alternate between the targets, so a noisy moment on this shared machine
    falls on both rather than on one."""
    for url, headers in targets.values():
        asyncio.run(drive(url, headers, min(200, requests), concurrency))  # warm-up
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    elapsed = dict.fromkeys(targets, 0.0)
    for _ in range(rounds):
        for name, (url, headers) in targets.items():
            taken, seconds = asyncio.run(drive(url, headers, requests // rounds, concurrency))
            latencies[name] += taken
            elapsed[name] += seconds
    return {name: summarize(latencies[name], elapsed[name]) for name in targets}


def main() -> None:
    cli = argparse.ArgumentParser(prog="python -m app.bench", description=__doc__.splitlines()[0])
    cli.add_argument("--requests", type=int, default=3000)
    # One request at a time measures what the stack adds to each request; more
    # concurrency mostly measures this two-core machine's scheduler.
    cli.add_argument("--concurrency", type=int, default=1)
    cli.add_argument("--rounds", type=int, default=6)
    args = cli.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "APP_ENVIRONMENT": "test",
            "APP_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/bench.db",
            # Limits far above the load: the limiter runs on every request but never refuses.
            "APP_RATE_LIMIT_DEFAULT": "100000/100000",
            "APP_RATE_LIMIT_PER_IP": "100000/100000",
        }
        run = [sys.executable, "-m", "app"]
        subprocess.run([*run, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        key = (
            subprocess.run(
                [*run, "keys", "create", "--name", "bench"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        full_port, bare_port = free_port(), free_port()
        full_env = {**env, "PORT": str(full_port), "BENCH_KEY": key}
        uvicorn_bare = [
            sys.executable,
            "-m",
            "uvicorn",
            "app.bench:bare_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        servers = [start([*run, "serve"], full_env, full_port), start(uvicorn_bare, env, bare_port)]
        try:
            targets = {
                "full": (f"http://127.0.0.1:{full_port}/v1/models", env_headers(full_env)),
                "bare": (f"http://127.0.0.1:{bare_port}/v1/models", {}),
            }
            results = measure(targets, args.requests, args.concurrency, args.rounds)
            full, bare = results["full"], results["bare"]
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)

    print(
        f"{args.requests} requests each in {args.rounds} alternating rounds, concurrency {args.concurrency}, "
        "GET /v1/models on 127.0.0.1"
    )
    print(f"{'':<14}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
    print(f"{'bare FastAPI':<14}{bare[0]:>10.2f}{bare[1]:>10.2f}{bare[2]:>10.0f}")
    print(f"{'full stack':<14}{full[0]:>10.2f}{full[1]:>10.2f}{full[2]:>10.0f}")
    print(f"{'full / bare':<14}{full[0] / bare[0]:>10.2f}{full[1] / bare[1]:>10.2f}{full[2] / bare[2]:>10.2f}")
    verdict = "within" if full[0] / bare[0] <= 1.5 else "OVER"
    print(f"p50 ratio {full[0] / bare[0]:.2f}: {verdict} the 1.5x goal")


if __name__ == "__main__":
    main()
