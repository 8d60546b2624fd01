from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterator
from socketserver import BaseServer

import pytest

from ops.audit import AuditLog
from ops.cli import main
from ops.steps import Clock


class FakeClock:
    """Time that moves only when the code under test sleeps: polling is exercised to its
    deadline without waiting for it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def clock(self) -> Clock:
        return Clock(self.monotonic, self.sleep)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def audit(dry_run: bool) -> AuditLog:
    return AuditLog("test", dry_run=dry_run, stream=io.StringIO(), clock=lambda: "t")


@contextlib.contextmanager
def serving(server: BaseServer, hang: threading.Event | None = None) -> Iterator[BaseServer]:
    """A local stand-in server on its own thread, stopped (and its frozen handlers
    released) when the test is done with it."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if hang is not None:
            hang.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`python -m ops ARGV` in this process: its exit code, stdout and stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def audit_lines(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]
