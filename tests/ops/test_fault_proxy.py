"""The chaos drill's fault proxy (ops/chaos/fault_proxy.py), run as the drill runs it (a
process of its own, told what to do over its control port) between a client and a local
echo server: each fault's measured effect, and healing."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from ops.chaos.fault_proxy import Fault, FaultError, FaultLinks
from ops.steps import wait_until
from tests.conftest import ROOT
from tests.servers import free_port

LATENCY = 0.4
# How long a connection behind a blackhole is watched for an answer that must not come.
SILENCE = 0.5


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.request.recv(65536):
                self.request.sendall(data)


@contextlib.contextmanager
def _echo_server() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def _proxy(target_port: int) -> Iterator[tuple[int, FaultLinks]]:
    """A fault proxy process with one link, `echo`, in front of `target_port`."""
    control, listen = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ops.chaos.fault_proxy",
            "--control",
            str(control),
            f"--link=echo={listen}:{target_port}",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def listening() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", control), timeout=0.2):
                return True
            return False

        wait_until(listening, 20, "the fault proxy listening", 0.05)
        yield listen, FaultLinks(control)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def link() -> Iterator[tuple[int, FaultLinks]]:
    with _echo_server() as echo_port, _proxy(echo_port) as proxy:
        yield proxy


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _round_trip(connection: socket.socket, data: bytes = b"ping") -> float:
    started = time.monotonic()
    connection.sendall(data)
    assert connection.recv(len(data)) == data
    return time.monotonic() - started


def test_latency_delays_every_answer_by_the_fault_and_healing_removes_it(link) -> None:
    port, links = link
    with _connect(port) as open_before:
        assert _round_trip(open_before) < LATENCY / 2
        links.set("echo", Fault("latency", LATENCY))
        # Connections already open are slowed as much as new ones.
        with _connect(port) as opened_after:
            for connection in (open_before, opened_after):
                assert LATENCY <= _round_trip(connection) < LATENCY + 0.3
        links.heal("echo")
        assert _round_trip(open_before) < LATENCY / 2


def test_reset_closes_open_and_new_connections_with_a_tcp_reset(link) -> None:
    port, links = link
    with _connect(port) as open_before:
        _round_trip(open_before)
        links.set("echo", Fault("reset"))
        with pytest.raises(ConnectionResetError):
            open_before.sendall(b"ping")
            open_before.recv(4)
        # The reset may come as soon as the connection is accepted: connect counts too.
        with pytest.raises(ConnectionResetError), _connect(port) as new:
            new.sendall(b"ping")
            new.recv(4)
    assert links.stats()["echo"]["reset"] >= 2
    links.heal("echo")
    with _connect(port) as healed:
        assert _round_trip(healed) < LATENCY


def test_a_blackhole_answers_nothing_closes_nothing_and_lets_it_all_through_once_healed(link) -> None:
    port, links = link
    with _connect(port) as open_before:
        _round_trip(open_before)
        links.set("echo", Fault("blackhole"))
        new = _connect(port)  # accepted by the kernel: a partition does not refuse
        try:
            for connection in (open_before, new):
                connection.sendall(b"lost?")
                connection.settimeout(SILENCE)
                with pytest.raises(TimeoutError):  # neither an answer nor a close
                    connection.recv(5)
            links.heal("echo")
            for connection in (open_before, new):
                connection.settimeout(5)
                assert connection.recv(5) == b"lost?"  # delivered late, as TCP would
        finally:
            new.close()


def test_a_link_whose_target_refuses_resets_its_clients() -> None:
    with _proxy(free_port()) as (port, links), _connect(port) as client:
        with pytest.raises(ConnectionResetError):
            client.sendall(b"ping")
            client.recv(4)
        assert links.stats()["echo"]["refused_by_target"] == 1


def test_the_control_port_refuses_what_it_cannot_do(link) -> None:
    _, links = link
    with pytest.raises(FaultError, match="no link 'database'; the links are echo"):
        links.set("database", Fault("reset"))
    with pytest.raises(FaultError, match="unknown fault 'drop'"):
        links._ask({"link": "echo", "fault": "drop"})
    with pytest.raises(FaultError, match="seconds must be 0"):
        links._ask({"link": "echo", "fault": "latency", "seconds": -1})
    assert links.stats()["echo"]["fault"] == {"kind": "none", "seconds": 0.0}


def test_faults_are_checked_where_they_are_made() -> None:
    assert Fault("latency", 1.5).seconds == 1.5
    for kind, seconds in (("slow", 0.0), ("latency", float("nan")), ("reset", 1.0)):
        with pytest.raises(FaultError):
            Fault(kind, seconds)


def test_a_malformed_link_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops.chaos.fault_proxy", "--link", "echo=here:there"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "'echo=here:there' is not NAME=LISTEN_PORT:TARGET_PORT" in done.stderr
    assert "Traceback" not in done.stderr
