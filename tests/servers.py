"""Real PostgreSQL and Redis servers for the tests: on 127.0.0.1, on a free port, in a
temporary folder, stopped by the test session that started them."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, what: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {seconds} s")


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)")
    return Path(found[-1]).parent


@contextlib.contextmanager
def postgres(passwords: bool = False) -> Iterator[str]:
    """A throwaway cluster; yields a SQLAlchemy URL (psycopg, async-capable) for its
    superuser. With `passwords`, TCP logins need a password (the superuser still logs in
    through the Unix socket the URL names), so a wrong or expired one is refused."""
    binaries = _postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="projectai-pg-", dir="/tmp"))
    # PostgreSQL refuses to run as root: run it as the `postgres` user when we are root.
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    subprocess.run(
        [
            *run_as,
            str(binaries / "initdb"),
            *("-D", str(data), "-U", "projectai", "-E", "UTF8", "--auth-local=trust"),
            "--auth-host=scram-sha-256" if passwords else "--auth-host=trust",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            *run_as,
            str(binaries / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={folder}",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, "postgres", server)
        time.sleep(0.3)  # listening comes a moment before accepting logins
        if passwords:
            yield f"postgresql+psycopg://projectai@/postgres?host={folder}&port={port}"
        else:
            yield f"postgresql+psycopg://projectai@127.0.0.1:{port}/postgres"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def redis() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, "redis-server", server)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=30)
