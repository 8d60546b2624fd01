"""Real PostgreSQL and Redis servers for the tests: on 127.0.0.1, on a free port, in a
temporary folder, stopped by the test session that started them."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
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


def _process_tree(pid: int) -> list[int]:
    """A process and all its descendants (PostgreSQL forks a backend per connection)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                queue.extend(int(child) for child in (task / "children").read_text().split())
    return found


class Server:
    """A server the tests can stop, start again on the same port, freeze and thaw, as an
    outage or a hung host would. `pid` reads the server's own process id (not a wrapper's),
    which `stop_signal` goes to."""

    def __init__(
        self,
        what: str,
        command: list[str],
        port: int,
        pid: Callable[[subprocess.Popen], int],
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.what, self.command, self.port, self._pid = what, command, port, pid
        self.stop_signal = stop_signal
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.what, self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.thaw()
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid(self.process), self.stop_signal)
            self.process.wait(timeout=30)
            self.process = None

    def _signal(self, signal_number: int) -> None:
        # The whole tree from the process we started: a wrapper such as runuser stops
        # itself when its child stops, and must be continued too.
        assert self.process is not None, f"{self.what} is not running"
        for pid in _process_tree(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal_number)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and the kernel still accepts new ones, but
        nothing answers, as with a hung host."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            self._signal(signal.SIGCONT)


@contextlib.contextmanager
def postgres_server(passwords: bool = False) -> Iterator[tuple[Server, str]]:
    """A throwaway cluster and a SQLAlchemy URL (psycopg, async-capable) for its
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
    command = [
        *run_as,
        str(binaries / "postgres"),
        *("-D", str(data), "-p", str(port)),
        *("-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={folder}", "-c", "fsync=off"),
    ]

    def postmaster(process: subprocess.Popen) -> int:
        # runuser is the parent; the postmaster writes its own pid first in this file.
        return int((data / "postmaster.pid").read_text().split()[0]) if run_as else process.pid

    # SIGINT is PostgreSQL's fast shutdown: it ends open sessions instead of waiting for them.
    server = Server("postgres", command, port, postmaster, stop_signal=signal.SIGINT)
    server.start()
    try:
        _wait_for_login(server, folder)
        if passwords:
            yield server, f"postgresql+psycopg://projectai@/postgres?host={folder}&port={port}"
        else:
            yield server, f"postgresql+psycopg://projectai@127.0.0.1:{port}/postgres"
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_login(server: Server, socket_folder: Path, seconds: float = 30) -> None:
    """Listening comes a moment before accepting logins."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(_postgres_bin() / "pg_isready"), "-h", str(socket_folder), "-p", str(server.port)],
            capture_output=True,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"postgres on port {server.port} did not accept logins within {seconds} s")


@contextlib.contextmanager
def postgres(passwords: bool = False) -> Iterator[str]:
    with postgres_server(passwords) as (_, url):
        yield url


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[Server, str]]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = Server("redis-server", command, port, lambda process: process.pid)
    server.start()
    try:
        yield server, f"redis://127.0.0.1:{port}/0"
    finally:
        server.stop()


@contextlib.contextmanager
def redis() -> Iterator[str]:
    with redis_server() as (_, url):
        yield url
