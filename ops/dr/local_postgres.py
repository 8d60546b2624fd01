"""Local PostgreSQL servers: one, or a primary with a streaming standby, for the DR drill
and the tests. On 127.0.0.1 only, on free ports, in temporary folders removed afterwards.

The operations are the ones a failover runbook needs, done the way a real one does them:
start and wait for replication, measure lag, a clean switchover (fast-stop the primary,
check the standby replayed its shutdown checkpoint, promote, the old primary rejoins as a
standby), and the faults: SIGKILL a server (a host crash), SIGSTOP it (a hung host).
Everything waits by polling a condition under a deadline, never by sleeping a fixed time.

Only the standard library (and ops.steps) is imported here; psycopg where a query is made,
so the drill's dry run needs neither it nor PostgreSQL.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.steps import wait_until

# The superuser initdb creates, and the database every connection opens.
USER = "projectai"
DATABASE = "postgres"
# Polling interval for every wait here: short, since local servers answer in milliseconds.
POLL_SECONDS = 0.05


class LocalPostgresError(RuntimeError):
    """A local server could not be set up or did not behave; the message says which."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian's layout, else the PATH)."""

    def version(initdb: str) -> tuple[int, ...]:
        return tuple(int(part) for part in Path(initdb).parts[-3].split(".") if part.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise LocalPostgresError("PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)")


def _run_as() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its programs as `postgres`."""
    if os.geteuid() != 0:
        return []
    import pwd  # POSIX only: imported here so the CLI still loads on Windows

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise LocalPostgresError("running as root needs the user 'postgres' (Debian package postgresql)") from None
    return ["runuser", "-u", "postgres", "--"]


def _give_to_server(path: Path) -> None:
    """Files we create for a server must be its own when it runs as `postgres`."""
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)


@contextlib.contextmanager
def scratch_folder(prefix: str = "projectai-pg-") -> Iterator[Path]:
    """A temporary folder the servers may write, removed afterwards. Under /tmp: a Unix
    socket's path must stay short."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        _give_to_server(folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (PostgreSQL forks a process per connection)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                queue.extend(int(child) for child in (task / "children").read_text().split())
    return found


class LocalServer:
    """A server process that can be stopped, started again on the same port, killed,
    frozen and thawed, as an outage, a crash or a hung host would. `pid` reads the
    server's own process id (not a wrapper's), which `stop_signal` goes to."""

    def __init__(
        self,
        what: str,
        command: list[str],
        port: int,
        pid: Callable[[subprocess.Popen], int] = lambda process: process.pid,
        stop_signal: int = signal.SIGTERM,
        log: Path | None = None,
    ) -> None:
        self.what, self.command, self.port, self._pid = what, command, port, pid
        self.stop_signal = stop_signal
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, seconds: float = 30.0) -> None:
        output = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(self.command, stdout=output, stderr=subprocess.STDOUT)
        finally:
            if self.log:
                output.close()  # type: ignore[union-attr]
        wait_until(self._listening, seconds, f"{self.what} listening on 127.0.0.1:{self.port}", POLL_SECONDS)

    def _listening(self) -> bool:
        self._check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
            return True
        return False

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            self.process = None
            raise LocalServerExited(f"{self.what} exited{self._log_tail()}")

    def _log_tail(self) -> str:
        if self.log is None or not self.log.exists():
            return ""
        lines = self.log.read_text(errors="replace").splitlines()[-5:]
        return ":\n  " + "\n  ".join(lines) if lines else ""

    def stop(self, seconds: float = 30.0) -> None:
        if self.process is not None:
            self.thaw()
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._server_pid(), self.stop_signal)
            self._wait_for_exit(seconds)

    def kill(self, seconds: float = 30.0) -> None:
        """SIGKILL to every process of the server at once, as when its host dies: no
        shutdown, no last word to a client or a standby."""
        if self.process is not None:
            # The server and all it forked, but not a wrapper (runuser): the wrapper reaps
            # the server and exits, so once it has, no dead server holds its pid or port.
            for pid in process_tree(self._server_pid()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.thaw()  # a frozen wrapper must run to reap
            self._wait_for_exit(seconds)

    def _server_pid(self) -> int:
        assert self.process is not None
        try:
            return self._pid(self.process)
        except (OSError, ValueError, IndexError):  # no pid file yet: the process we started
            return self.process.pid

    def _wait_for_exit(self, seconds: float) -> None:
        assert self.process is not None
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise LocalPostgresError(f"{self.what} did not stop within {seconds:g} s") from None
        self.process = None

    def _signal(self, signal_number: int) -> None:
        # The whole tree from the process we started: a wrapper such as runuser stops
        # itself when its child stops, and must be continued too.
        if self.process is None:
            raise LocalPostgresError(f"{self.what} is not running")
        for pid in process_tree(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal_number)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and the kernel still accepts new ones, but
        nothing answers, as with a hung host."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            self._signal(signal.SIGCONT)


class LocalServerExited(LocalPostgresError):
    """The server process ended while we waited for it."""


def lsn(text: str) -> int:
    """A WAL position (`16/B374D848`) as a number of bytes."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


class Postgres(LocalServer):
    """One cluster: its data folder `<folder>/<name>`, its log `<folder>/<name>.log`, its
    socket in `folder`; `settings` are extra `-c name=value` options."""

    def __init__(self, name: str, folder: Path, settings: Sequence[str] = (), binaries: Path | None = None) -> None:
        self.name, self.folder = name, folder
        self.data = folder / name
        self.binaries = binaries or postgres_bin()
        self._as_server = _run_as()
        port = free_port()
        options = ["listen_addresses=127.0.0.1", f"unix_socket_directories={folder}", *settings]
        command = [
            *self._as_server,
            str(self.binaries / "postgres"),
            *("-D", str(self.data), "-p", str(port)),
            *(item for option in options for item in ("-c", option)),
        ]
        # SIGINT is PostgreSQL's fast shutdown: open sessions end instead of being waited for.
        super().__init__(
            f"postgres {name}", command, port, self._postmaster, stop_signal=signal.SIGINT, log=folder / f"{name}.log"
        )

    def _postmaster(self, process: subprocess.Popen) -> int:
        # runuser is the parent; the postmaster writes its own pid first in this file.
        if not self._as_server:
            return process.pid
        return int((self.data / "postmaster.pid").read_text().split()[0])

    # Addresses.

    @property
    def url(self) -> str:
        """A SQLAlchemy URL (psycopg, async-capable) over TCP."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def socket_url(self) -> str:
        """The same over the Unix socket (where trust holds even with TCP passwords)."""
        return f"postgresql+psycopg://{USER}@/{DATABASE}?host={self.folder}&port={self.port}"

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} dbname={DATABASE}"

    # Programs.

    def _program(self, program: str, *arguments: str, what: str) -> str:
        command = [*self._as_server, str(self.binaries / program), *arguments]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise LocalPostgresError(f"{what} failed ({program} exited {done.returncode}): {' '.join(detail)}")
        return done.stdout

    def initdb(self, host_auth: str = "trust", checksums: bool = False) -> None:
        self._program(
            "initdb",
            *("-D", str(self.data), "-U", USER, "-E", "UTF8", "--auth-local=trust", f"--auth-host={host_auth}"),
            # Checksums let pg_rewind bring a failed primary back (as wal_log_hints would).
            *(["--data-checksums"] if checksums else []),
            what=f"initdb of {self.name}",
        )

    def base_backup(self, primary: Postgres) -> None:
        """This server's data as a copy of `primary`'s, WAL streamed during the copy."""
        self._program(
            "pg_basebackup",
            *("-D", str(self.data), "-h", "127.0.0.1", "-p", str(primary.port), "-U", USER),
            *("-X", "stream", "-c", "fast", "--no-sync"),
            what=f"base backup of {primary.name} for {self.name}",
        )

    def rewind(self, source: Postgres) -> None:
        """Discard what this (stopped) former primary wrote after `source` took over, so
        it can follow `source`. A server killed mid-write is first recovered by pg_rewind."""
        # pg_rewind reads the source's timeline from its control file, which a promotion
        # updates only at its next checkpoint: ask for that checkpoint now.
        source.query("CHECKPOINT", timeout_seconds=60)
        self._program(
            "pg_rewind",
            *("-D", str(self.data), "--source-server", source.conninfo),
            what=f"pg_rewind of {self.name} from {source.name}",
        )

    def shutdown_checkpoint(self) -> int:
        """Where the WAL of this cleanly stopped server ends: its shutdown checkpoint."""
        control = self._program("pg_controldata", "-D", str(self.data), what=f"pg_controldata of {self.name}")
        fields = dict(line.split(":", 1) for line in control.splitlines() if ":" in line)
        state = fields.get("Database cluster state", "").strip()
        if state not in ("shut down", "shut down in recovery"):
            raise LocalPostgresError(f"{self.name} was not shut down cleanly (cluster state: {state or 'unknown'})")
        return lsn(fields["Latest checkpoint location"].strip())

    def follow(self, primary: Postgres) -> None:
        """Configure this (stopped) server as a standby of `primary`, as pg_basebackup -R
        would: standby.signal, and primary_conninfo naming it by its own name."""
        settings = self.data / "postgresql.auto.conf"
        kept = [line for line in settings.read_text().splitlines() if not line.startswith("primary_conninfo")]
        conninfo = f"host=127.0.0.1 port={primary.port} user={USER} application_name={self.name}"
        settings.write_text("\n".join([*kept, f"primary_conninfo = '{conninfo}'"]) + "\n")
        standby_signal = self.data / "standby.signal"
        standby_signal.touch()
        _give_to_server(standby_signal)

    # Start, and queries.

    def start(self, seconds: float = 30.0) -> None:
        """Started and accepting logins (a standby: once it is consistent)."""
        super().start(seconds)
        wait_until(self._accepting, seconds, f"{self.what} accepting logins", POLL_SECONDS)

    def _accepting(self) -> bool:
        self._check_alive()
        ready = subprocess.run(
            [str(self.binaries / "pg_isready"), "-q", "-h", str(self.folder), "-p", str(self.port)],
            capture_output=True,
        )
        return ready.returncode == 0

    def query(self, sql: str, parameters: Sequence[Any] = (), timeout_seconds: int = 5) -> list[tuple]:
        """Rows of one statement, in a connection of its own (autocommit)."""
        import psycopg

        options = f"-c statement_timeout={timeout_seconds * 1000}"
        with psycopg.connect(
            self.conninfo, connect_timeout=timeout_seconds, autocommit=True, options=options
        ) as connection:
            cursor = connection.execute(sql, parameters)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def value(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        return self.query(sql, parameters)[0][0]

    def answers(self) -> bool:
        """Whether the server takes a login and a query now (2 s at most: libpq's least
        connect timeout)."""
        import psycopg

        try:
            self.query("SELECT 1", timeout_seconds=2)
        except psycopg.Error:
            return False
        return True

    def replay_position(self) -> int:
        """How far this standby has replayed the WAL it received."""
        return lsn(self.value("SELECT pg_last_wal_replay_lsn()"))

    def promote(self, seconds: float = 30.0) -> None:
        """End recovery: this standby becomes a primary (on a new timeline)."""
        if not self.value("SELECT pg_promote(true, %s)", (max(1, round(seconds)),)):
            raise LocalPostgresError(f"{self.name} was not promoted within {seconds:g} s")


@dataclass(frozen=True)
class Lag:
    """How far the standby trails: WAL bytes not yet replayed, and the primary's
    `replay_lag` for them (0 when caught up)."""

    streaming: bool
    bytes: int
    seconds: float


# Settings of the pair's servers. fsync is off: the drill kills processes, not hosts, and
# a killed process's writes are in the kernel's cache either way. wal_keep_size keeps the
# WAL a rejoining server needs; status every second keeps `replay_lag` fresh.
PAIR_SETTINGS = ("fsync=off", "wal_keep_size=256MB", "wal_receiver_status_interval=1s")


class Pair:
    """A primary and a standby streaming from it (asynchronous replication, as a regional
    replica or a cross-region one is). `primary` and `standby` follow the roles through
    switchovers and failovers."""

    def __init__(self, folder: Path, names: tuple[str, str] = ("pg1", "pg2"), binaries: Path | None = None) -> None:
        binaries = binaries or postgres_bin()
        self.primary = Postgres(names[0], folder, PAIR_SETTINGS, binaries)
        self.standby = Postgres(names[1], folder, PAIR_SETTINGS, binaries)

    @classmethod
    @contextlib.contextmanager
    def running(cls, seconds: float = 60.0) -> Iterator[Pair]:
        """A started, replicating pair, stopped and removed afterwards."""
        with scratch_folder("projectai-pair-") as folder:
            pair = cls(folder)
            try:
                pair.start(seconds)
                yield pair
            finally:
                pair.close()

    @property
    def servers(self) -> tuple[Postgres, Postgres]:
        return (self.primary, self.standby)

    def start(self, seconds: float = 60.0) -> Lag:
        self.primary.initdb(checksums=True)
        self.primary.start(seconds)
        self.standby.base_backup(self.primary)
        self.standby.follow(self.primary)
        self.standby.start(seconds)
        return self.wait_for_replication(seconds)

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(LocalPostgresError):
                server.stop()
            if server.running:  # a fast shutdown that did not end: nothing else to wait for
                server.kill()

    def lag(self) -> Lag:
        rows = self.primary.query(
            "SELECT state, coalesce(extract(epoch FROM replay_lag), 0)::float FROM pg_stat_replication "
            "WHERE application_name = %s",
            (self.standby.name,),
        )
        flushed = lsn(self.primary.value("SELECT pg_current_wal_flush_lsn()"))
        behind = max(flushed - self.standby.replay_position(), 0)
        streaming = bool(rows) and rows[0][0] == "streaming"
        return Lag(streaming, behind, float(rows[0][1]) if rows and behind else 0.0)

    def wait_for_replication(self, seconds: float = 30.0) -> Lag:
        """Until the standby streams and has replayed all the primary has flushed."""

        def caught_up() -> Lag | None:
            lag = self.lag()
            return lag if lag.streaming and lag.bytes == 0 else None

        return wait_until(caught_up, seconds, f"{self.standby.name} catching up with {self.primary.name}", POLL_SECONDS)

    def switchover(self, seconds: float = 30.0) -> int:
        """Planned: fast-stop the primary (its WAL senders send everything, up to the
        shutdown checkpoint, before it exits), check the standby replayed past that
        checkpoint, then promote it. No committed write is lost. Returns the checkpoint's
        position. The old primary is left stopped, for `rejoin`."""
        old, new = self.primary, self.standby
        old.stop(seconds)
        checkpoint = old.shutdown_checkpoint()
        try:
            wait_until(
                lambda: new.replay_position() > checkpoint,
                seconds,
                f"{new.name} replaying {old.name}'s shutdown checkpoint",
                POLL_SECONDS,
            )
        except Exception as error:
            raise LocalPostgresError(
                f"{new.name} lacks WAL of {old.name}, so it was not promoted ({error}); "
                f"{old.name} can be started again as the primary"
            ) from error
        new.promote(seconds)
        self.primary, self.standby = new, old
        return checkpoint

    def kill_primary(self) -> None:
        self.primary.kill()

    def confirm_primary_down(self, confirm_seconds: float, seconds: float = 30.0) -> float:
        """Until the primary has failed every check for `confirm_seconds` (a blip is not
        an outage, and two primaries are worse than a short wait). Returns how long it
        had been failing when confirmed."""
        down_since: list[float] = []

        def confirmed() -> float | None:
            if self.primary.answers():
                down_since.clear()
                return None
            down_since[:] = down_since or [time.monotonic()]
            down_for = time.monotonic() - down_since[0]
            return down_for if down_for >= confirm_seconds else None

        return wait_until(confirmed, seconds, f"{self.primary.name} confirmed down", POLL_SECONDS)

    def promote_standby(self, seconds: float = 30.0) -> None:
        """Unplanned: promote the standby in the failed primary's place. What the primary
        committed but had not sent is lost (asynchronous replication)."""
        self.standby.promote(seconds)
        self.primary, self.standby = self.standby, self.primary

    def rejoin(self, rewind: bool, seconds: float = 30.0) -> Lag:
        """The stopped former primary follows the new one. After a clean switchover its
        WAL is all on the new primary, so it simply follows it onto the new timeline;
        after a crash it may have WAL the new primary never got, which `rewind` discards."""
        old = self.standby
        if old.running:
            raise LocalPostgresError(f"{old.name} is running; stop it before it rejoins")
        if rewind:
            old.rewind(self.primary)
        old.follow(self.primary)
        old.start(seconds)
        return self.wait_for_replication(seconds)
