"""The drill's topology: real processes on 127.0.0.1, started and stopped by the drill.

    client ── HAProxy ──┬─ worker-1 ─┐           ┌─ link database-1 ── PostgreSQL pg1 (primary)
    (health checks on   ├─ worker-2 ─┼── links ──┼─ link database-2 ── PostgreSQL pg2 (standby)
     /readyz)           └ (worker-3) ┘           ├─ link redis ─────── redis-server
                                                 └─ link upstream ──── the upstream stub

The workers are the API itself (`python -m app serve`), configured as the workload
configures a pod: settings in the environment, secrets as files in `APP_SECRETS_DIR`.
Every dependency is reached through a link of the fault proxy (ops/chaos/fault_proxy.py)
so the network between them can fail. The database URL names both servers with
`target_session_attrs=read-write`, as the DR drill's writers do: after a failover libpq
finds the new primary by itself, as the app does behind a writer endpoint that moves.
worker-3 is the slot of a new release, checked like the others: DOWN while nothing
listens there, and only its own health checks can put it in rotation once the
bad-release experiment deploys a release there. (Not a slot in maintenance: HAProxy
2.6 puts a server leaving maintenance UP before its first check, and a broken release
took requests that way.)

HAProxy fails open: when every worker fails its health check at once (a database outage
makes every /readyz fail), it still sends requests to them, as AWS's load balancers do,
so requests that need no database are still served. The app bounds everything else.

Everything waits by polling a condition under a deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ops.chaos.fault_proxy import FaultLinks
from ops.dr import local_postgres
from ops.dr.local_postgres import LocalServer, Pair, free_port, process_tree
from ops.steps import OpsError, wait_until

ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.05
START_SECONDS = 30.0

# The API's settings in the drill: the workload's, with its timeouts scaled down so that
# fourteen experiments fit in three minutes; the order between them is kept (every bound
# the app sets ends before HAProxy's server timeout, the upstream's before the grace).
APP_SETTINGS = {
    "APP_ENVIRONMENT": "dev",
    "APP_LOG_LEVEL": "warning",
    "APP_MODELS": "stub-1",
    "APP_DB_POOL_SIZE": "10",
    "APP_DB_MAX_OVERFLOW": "10",
    "APP_DB_STATEMENT_TIMEOUT_SECONDS": "1",  # the client's deadline: 2 s
    "APP_DB_CONNECT_TIMEOUT_SECONDS": "1",
    "APP_DB_POOL_TIMEOUT_SECONDS": "1",
    "APP_DB_RETRY_AFTER_SECONDS": "1",
    "APP_READINESS_CACHE_SECONDS": "0.5",
    "APP_REDIS_TIMEOUT_SECONDS": "0.25",
    "APP_REDIS_BREAKER_RESET_SECONDS": "1",
    "APP_UPSTREAM_TIMEOUT_SECONDS": "1",
    "APP_UPSTREAM_CONNECT_TIMEOUT_SECONDS": "0.5",
    "APP_BREAKER_FAILURE_THRESHOLD": "5",
    "APP_BREAKER_RESET_SECONDS": "2",
    "APP_SHUTDOWN_GRACE_SECONDS": "2",
    "APP_RATE_LIMIT_FALLBACK_REPLICAS": "2",
    # The drill's own load must not be what is limited: limits far above it.
    "APP_RATE_LIMIT_DEFAULT": "10000/20000",
    "APP_RATE_LIMITS": "POST /v1/completions=10000/20000",
    "APP_RATE_LIMIT_PER_IP": "10000/20000",
}
# HAProxy's bounds: above every bound of the app (its database deadline, 2 s, is the longest).
LB_SERVER_TIMEOUT = "3s"
LB_CHECK_INTERVAL = "250ms"
WORKERS = ("worker-1", "worker-2")
NEW_RELEASE = "worker-3"
# A user the database does not have: the bad release's stale credentials.
STALE_USER = "projectai_retired"


class TopologyError(OpsError):
    """A process of the drill did not start or behave; the message says which."""


@dataclass(frozen=True)
class Tool:
    command: str
    package: str


TOOLS = (Tool("haproxy", "haproxy"), Tool("stress-ng", "stress-ng"), Tool("redis-server", "redis-server"))


def missing_tools() -> list[str]:
    """What the drill needs and this machine lacks, each with its Debian package."""
    missing = [f"{tool.command} (Debian package {tool.package})" for tool in TOOLS if not shutil.which(tool.command)]
    try:
        local_postgres.postgres_bin()
    except local_postgres.LocalPostgresError:
        missing.append("PostgreSQL (Debian package postgresql)")
    return missing


class Service(LocalServer):
    """A process of the drill: run from the repository root with an environment of its
    own, its output in a log file. `launch` starts it without waiting, so several start
    at once; `wait_listening` then waits for each."""

    def __init__(self, what: str, command: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(what, command, port, log=log)
        self.env = env

    def launch(self) -> None:
        if self.running:
            return
        with self.log.open("ab") as output:  # type: ignore[union-attr]
            self.process = subprocess.Popen(
                self.command, stdout=output, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
            )

    def wait_listening(self, seconds: float = START_SECONDS) -> None:
        try:
            wait_until(self._listening, seconds, f"{self.what} listening on 127.0.0.1:{self.port}", POLL_SECONDS)
        except local_postgres.LocalPostgresError as error:
            raise TopologyError(str(error)) from None

    def start(self, seconds: float = START_SECONDS) -> None:
        self.launch()
        self.wait_listening(seconds)


def _env(extra: dict[str, str]) -> dict[str, str]:
    """The drill's environment without any APP_ or OTEL_ setting of its own, plus ours."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("APP_", "OTEL_")) and name not in ("PROMETHEUS_MULTIPROC_DIR", "HOST", "PORT")
    }
    return {**kept, "PYTHONPATH": str(ROOT), **extra}


def _write_secrets(folder: Path, values: dict[str, str]) -> Path:
    """One file per secret setting, read-only, as the projected volume mounts them."""
    folder.mkdir(mode=0o700)
    for name, value in values.items():
        path = folder / name
        path.write_text(value + "\n", encoding="utf-8")
        path.chmod(0o400)
    return folder


@dataclass(frozen=True)
class ServerState:
    """One HAProxy server as `show stat` reports it."""

    status: str  # UP, DOWN, MAINT, "UP 1/2" (going down), "DOWN 1/2" (going up), no check
    sessions: int  # stot: requests it was given
    selected: int  # lbtot: times the balancer chose it

    @property
    def up(self) -> bool:
        return self.status == "UP" or self.status.startswith("UP ")


class HAProxy(Service):
    """The load balancer, and its runtime API on a Unix socket."""

    def __init__(self, folder: Path, port: int, workers: dict[str, int]) -> None:
        self.socket_path = folder / "haproxy.sock"
        self.config = folder / "haproxy.cfg"
        self.config.write_text(self._config(port, workers), encoding="utf-8")
        binary = shutil.which("haproxy") or "haproxy"
        super().__init__("haproxy", [binary, "-db", "-f", str(self.config)], port, folder / "haproxy.log")

    def _config(self, port: int, workers: dict[str, int]) -> str:
        servers = [f"    server {name} 127.0.0.1:{worker_port} check" for name, worker_port in workers.items()]
        # Fail open: the same workers again, unchecked, used only when every checked one is down.
        backups = [
            f"    server {name}-failopen 127.0.0.1:{worker_port} backup"
            for name, worker_port in workers.items()
            if name != NEW_RELEASE
        ]
        return "\n".join(
            [
                "global",
                "    maxconn 4096",
                f"    stats socket {self.socket_path} mode 600 level admin",
                "defaults",
                "    mode http",
                # Local connections take microseconds; this is also HAProxy's pause before it
                # retries a refused connection elsewhere, so keep it short.
                "    timeout connect 100ms",
                "    timeout client 30s",
                f"    timeout server {LB_SERVER_TIMEOUT}",
                "    timeout queue 2s",
                "    timeout check 1s",
                # A refused or dropped connection, or a server that never answers, is retried
                # on another worker; a POST only when it never reached one (not twice written).
                "    retries 2",
                "    option redispatch 1",
                "    retry-on conn-failure empty-response response-timeout",
                "frontend api",
                f"    bind 127.0.0.1:{port}",
                "    default_backend workers",
                "backend workers",
                "    balance roundrobin",
                "    option httpchk GET /readyz",
                "    http-check expect status 200",
                "    http-request disable-l7-retry if METH_POST",
                f"    default-server inter {LB_CHECK_INTERVAL} fall 2 rise 2",
                "    option allbackups",
                *servers,
                *backups,
                "",
            ]
        )

    def runtime(self, text: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as runtime:
            runtime.settimeout(5)
            runtime.connect(str(self.socket_path))
            runtime.sendall(text.encode() + b"\n")
            chunks = []
            while chunk := runtime.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stat(self, backend: str = "workers") -> dict[str, dict[str, str]]:
        """`show stat` of one backend: each server's row, and the backend's own as BACKEND."""
        lines = self.runtime("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        found = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == backend and row.get("svname"):
                found[row["svname"]] = row
        return found

    def servers(self) -> dict[str, ServerState]:
        return {
            name: ServerState(row["status"], int(row["stot"] or 0), int(row["lbtot"] or 0))
            for name, row in self.stat().items()
            if name != "BACKEND"
        }


@dataclass
class Pressure:
    """stress-ng, bounded by its own --timeout whatever happens to the drill."""

    kind: str  # cpu | memory
    process: subprocess.Popen

    @classmethod
    def start(cls, kind: str, seconds: float, workers: int, megabytes: int) -> Pressure:
        binary = shutil.which("stress-ng") or "stress-ng"
        if kind == "cpu":
            stressors = ["--cpu", str(workers), "--cpu-load", "100"]
        else:
            # --vm-bytes is what the stressors hold between them (stress-ng divides it).
            stressors = ["--vm", str(workers), "--vm-bytes", f"{megabytes}M", "--vm-keep"]
        command = [binary, *stressors, "--timeout", f"{max(1, round(seconds))}s", "--quiet"]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        return cls(kind, process)

    def usage(self) -> dict[str, float]:
        """What the stressors hold now: processes, resident memory, CPU time used."""
        tick = os.sysconf("SC_CLK_TCK")
        rss = cpu = 0.0
        pids = process_tree(self.process.pid) if self.process.poll() is None else []
        for pid in pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / tick
                rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        return {"processes": len(pids), "rssBytes": rss, "cpuSeconds": round(cpu, 2)}

    def stop(self, seconds: float = 10.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(seconds)


@dataclass
class Topology:
    """Every process of the drill, started in `start`, all stopped in `close`."""

    folder: Path
    pepper: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    upstream_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    pair: Pair | None = None
    redis: Service | None = None
    upstream: Service | None = None
    proxy: Service | None = None
    links: FaultLinks | None = None  # once the proxy is up
    workers: dict[str, Service] = field(default_factory=dict)
    lb: HAProxy | None = None
    pressure: list[Pressure] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def lb_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['lb']}"

    def worker_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    # Starting.

    def start(self) -> None:
        """Every process, as many at once as can be: the pair on a thread of its own while
        Redis and the stub start; then the links, the schema, the workers, HAProxy. Done
        when HAProxy has both workers in rotation."""
        names = ("lb", "redis", "upstream", "control", *WORKERS, NEW_RELEASE)
        links = ("database-1", "database-2", "redis", "upstream")
        self.ports = {name: free_port() for name in (*names, *(f"link-{link}" for link in links))}
        pair_errors: list[BaseException] = []
        pair_thread = threading.Thread(target=self._start_pair, args=(pair_errors,), name="chaos-pair")
        pair_thread.start()
        self.redis = self._redis()
        self.upstream = self._upstream()
        self.redis.launch()
        self.upstream.launch()
        pair_thread.join(START_SECONDS * 2)
        if pair_errors or self.pair is None or pair_thread.is_alive():
            reason = pair_errors[0] if pair_errors else "timed out"
            raise TopologyError(f"the PostgreSQL pair did not start: {reason}")
        self.proxy = self._proxy()
        self.proxy.launch()
        for service in (self.redis, self.upstream, self.proxy):
            service.wait_listening()
        self.links = FaultLinks(self.ports["control"])
        secrets_dir = self._secrets("secrets", self.database_url())
        self._migrate(secrets_dir)
        for name in WORKERS:
            self.workers[name] = self._worker(name, secrets_dir)
            self.workers[name].launch()
        self.workers[NEW_RELEASE] = self._worker(
            NEW_RELEASE, self._secrets("secrets-new-release", self.database_url(STALE_USER))
        )
        self.lb = HAProxy(self.folder, self.ports["lb"], {name: self.ports[name] for name in (*WORKERS, NEW_RELEASE)})
        self.lb.launch()
        for name in WORKERS:
            self.workers[name].wait_listening()
        self.lb.wait_listening()
        self.wait_for_lb(set(WORKERS), START_SECONDS)

    def _redis(self) -> Service:
        port = str(self.ports["redis"])
        command = [shutil.which("redis-server") or "redis-server", "--port", port, "--bind", "127.0.0.1"]
        # Nothing persisted: a killed Redis comes back empty, as a cache node replaced does.
        command += ["--save", "", "--appendonly", "no"]
        return Service("redis-server", command, self.ports["redis"], self.folder / "redis.log")

    def _upstream(self) -> Service:
        token_file = _write_secrets(self.folder / "upstream", {"TOKEN": self.upstream_token}) / "TOKEN"
        command = [sys.executable, "-m", "ops.chaos.upstream_stub", "--port", str(self.ports["upstream"])]
        command += ["--token-file", str(token_file)]
        return Service("the upstream stub", command, self.ports["upstream"], self.folder / "upstream.log", _env({}))

    def _proxy(self) -> Service:
        assert self.pair is not None
        targets = {
            "database-1": self.pair.primary.port,
            "database-2": self.pair.standby.port,
            "redis": self.ports["redis"],
            "upstream": self.ports["upstream"],
        }
        command = [sys.executable, "-m", "ops.chaos.fault_proxy", "--control", str(self.ports["control"])]
        command += [f"--link={name}={self.ports[f'link-{name}']}:{port}" for name, port in targets.items()]
        return Service("the fault proxy", command, self.ports["control"], self.folder / "fault-proxy.log", _env({}))

    def _secrets(self, name: str, database_url: str) -> Path:
        return _write_secrets(
            self.folder / name,
            {
                "APP_API_KEY_PEPPER": self.pepper,
                "APP_DATABASE_URL": database_url,
                "APP_REDIS_URL": f"redis://127.0.0.1:{self.ports['link-redis']}/0",
                "APP_UPSTREAM_TOKEN": self.upstream_token,
            },
        )

    def _start_pair(self, errors: list[BaseException]) -> None:
        try:
            pair = Pair(self.folder)
            self.pair = pair
            pair.start(START_SECONDS)
        except BaseException as error:  # noqa: BLE001 - reported by start(), on the drill's thread
            errors.append(error)

    def database_url(self, user: str = local_postgres.USER) -> str:
        hosts = "&".join(f"host=127.0.0.1:{self.ports[f'link-database-{n}']}" for n in (1, 2))
        return f"postgresql+psycopg://{user}@/{local_postgres.DATABASE}?{hosts}&target_session_attrs=read-write"

    def _migrate(self, secrets_dir: Path) -> None:
        """The schema at head, as the release's migration Job does before any pod starts."""
        done = subprocess.run(
            [sys.executable, "-m", "app", "migrate"],
            env=_env({**APP_SETTINGS, "APP_SECRETS_DIR": str(secrets_dir)}),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            detail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise TopologyError(f"the migration failed (exit {done.returncode}): {detail}")

    def _worker(self, name: str, secrets_dir: Path) -> Service:
        env = _env(
            {
                **APP_SETTINGS,
                "HOST": "127.0.0.1",
                "PORT": str(self.ports[name]),
                "APP_SECRETS_DIR": str(secrets_dir),
                "APP_UPSTREAM_URL": f"http://127.0.0.1:{self.ports['link-upstream']}",
            }
        )
        return Service(name, [sys.executable, "-m", "app", "serve"], self.ports[name], self.folder / f"{name}.log", env)

    # What the experiments act on.

    def add_worker(self, name: str, secrets_dir: Path | None = None) -> Service:
        """Another API worker, not in HAProxy's configuration (a replica added at run time,
        a release): a free port, the workers' secrets unless others are given. Not started;
        `close` stops it with the others."""
        self.ports[name] = free_port()
        self.workers[name] = self._worker(name, secrets_dir or self.folder / "secrets")
        return self.workers[name]

    def new_key(self, name: str) -> tuple[str, str]:
        """A new API key (the key, its id), stored on the primary as `app keys create` does."""
        from app import keys

        assert self.pair is not None
        new = keys.generate(self.pepper)
        self.pair.primary.query(
            "INSERT INTO api_keys (id, name, secret_hash) VALUES (%s, %s, %s)", (new.key_id, name, new.secret_hash)
        )
        return new.plaintext, new.key_id

    def process(self, target: str) -> LocalServer:
        """A process by the name experiments use: a worker, redis, database-primary or
        database-standby (the roles, whichever server holds them now)."""
        assert self.pair is not None and self.redis is not None
        found = {
            **self.workers,
            "redis": self.redis,
            "database-primary": self.pair.primary,
            "database-standby": self.pair.standby,
        }
        if target not in found:
            raise TopologyError(f"no process {target!r}; expected one of {', '.join(sorted(found))}")
        return found[target]

    def lb_servers(self) -> dict[str, ServerState]:
        assert self.lb is not None
        return self.lb.servers()

    def wait_for_lb(self, up: set[str], seconds: float) -> dict[str, ServerState]:
        """Until exactly the workers in `up` are UP in HAProxy (a new release's slot aside)."""

        def settled() -> dict[str, ServerState] | None:
            servers = self.lb_servers()
            serving = {name for name, state in servers.items() if state.up and not name.endswith("-failopen")}
            return servers if serving == up else None

        what = f"HAProxy serving from {', '.join(sorted(up)) or 'no worker'}"
        return wait_until(settled, seconds, what, POLL_SECONDS)

    # Stopping.

    def close(self) -> None:
        for pressure in self.pressure:
            with contextlib.suppress(Exception):
                pressure.stop()
        services = [self.lb, *self.workers.values(), self.proxy, self.upstream, self.redis]
        for service in services:
            if service is not None:
                with contextlib.suppress(Exception):
                    service.thaw()
                    service.kill(10)
        if self.pair is not None:
            self.pair.close()


@contextlib.contextmanager
def running() -> Iterator[Topology]:
    with local_postgres.scratch_folder("projectai-chaos-") as folder:
        topology = Topology(folder)
        try:
            topology.start()
            yield topology
        finally:
            topology.close()
