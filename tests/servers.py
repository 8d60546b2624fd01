"""Real PostgreSQL and Redis servers for the tests: on 127.0.0.1, on a free port, in a
temporary folder, stopped by the test session that started them. The servers themselves
are the DR drill's (ops/dr/local_postgres.py): one way to run them, for both."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator

from ops.dr.local_postgres import LocalServer, Postgres, free_port, scratch_folder

# A server the tests can stop, start again on the same port, freeze and thaw.
Server = LocalServer

__all__ = ["Server", "free_port", "postgres", "postgres_server", "redis", "redis_server"]


@contextlib.contextmanager
def postgres_server(passwords: bool = False) -> Iterator[tuple[Server, str]]:
    """A throwaway cluster and a SQLAlchemy URL (psycopg, async-capable) for its
    superuser. With `passwords`, TCP logins need a password (the superuser still logs in
    through the Unix socket the URL names), so a wrong or expired one is refused."""
    with scratch_folder() as folder:
        server = Postgres("data", folder, settings=["fsync=off"])
        server.initdb(host_auth="scram-sha-256" if passwords else "trust")
        server.start()
        try:
            yield server, server.socket_url if passwords else server.url
        finally:
            server.stop()


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
    server = Server("redis-server", command, port)
    server.start()
    try:
        yield server, f"redis://127.0.0.1:{port}/0"
    finally:
        server.stop()


@contextlib.contextmanager
def redis() -> Iterator[str]:
    with redis_server() as (_, url):
        yield url
