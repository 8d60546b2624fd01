"""A TCP proxy that puts network faults between the API and one of its dependencies
(the database, Redis, the inference upstream): the drill's links.

Each link listens on 127.0.0.1 and forwards to its target. Its fault, changed at any
time, applies to the connections already open as well as to new ones:

- `none`: bytes pass as they come;
- `latency`: the target's answers reach the client `seconds` late (each chunk, in order,
  without slowing the throughput), as a slow dependency or a long network path would;
- `reset`: every connection, open or new, is closed with a TCP reset, as a crashed peer
  or a middlebox dropping state would;
- `blackhole`: nothing passes either way and nothing is closed: open connections stall,
  new ones are accepted (the kernel completes the handshake) and never answered, as
  behind a partition that drops packets. Healing lets stalled connections go on, as
  TCP's retransmissions would.

`python -m ops.chaos.fault_proxy --control PORT --link NAME=LISTEN:TARGET ...` runs
several links in one process, told what to do over a control port on 127.0.0.1: one
JSON object per line in, one per line out (`FaultLinks` is the client). A process of
its own, so the drill's load generator and the links it measures through do not share
one interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

KINDS = ("none", "latency", "reset", "blackhole")
# Connecting to the target: a target that does not accept within this is treated as refusing.
CONNECT_SECONDS = 2.0
CHUNK_BYTES = 64 * 1024


class FaultError(ValueError):
    """A fault that cannot be applied (an unknown kind, a negative latency)."""


@dataclass(frozen=True)
class Fault:
    kind: str = "none"
    seconds: float = 0.0  # latency only

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultError(f"unknown fault {self.kind!r}; expected one of {', '.join(KINDS)}")
        if not math.isfinite(self.seconds) or self.seconds < 0 or (self.kind != "latency" and self.seconds):
            raise FaultError(f"{self.kind}: seconds must be 0 (or, for latency, a number of seconds ≥ 0)")

    @classmethod
    def parse(cls, data: dict) -> Fault:
        return cls(str(data.get("fault", "none")), float(data.get("seconds", 0.0)))


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST instead of FIN: SO_LINGER on, with a zero timeout."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    target: asyncio.StreamWriter | None = None

    def reset(self) -> None:
        for writer in (self.client, self.target):
            if writer is not None:
                _reset(writer)


@dataclass
class LinkStats:
    accepted: int = 0
    open: int = 0
    reset: int = 0
    refused_by_target: int = 0


@dataclass(eq=False)
class FaultProxy:
    """One link: 127.0.0.1:`port` to `target_port` on 127.0.0.1."""

    name: str
    target_port: int
    port: int = 0
    fault: Fault = field(default_factory=Fault)
    stats: LinkStats = field(default_factory=LinkStats)
    _flowing: asyncio.Event = field(default_factory=asyncio.Event)
    _connections: set[_Connection] = field(default_factory=set)
    _server: asyncio.Server | None = None

    async def start(self) -> int:
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._flowing.set()  # stalled connections end rather than hang the shutdown
        for connection in list(self._connections):
            connection.reset()

    def set_fault(self, fault: Fault) -> None:
        self.fault = fault
        if fault.kind == "blackhole":
            self._flowing.clear()
        else:
            self._flowing.set()
        if fault.kind == "reset":
            for connection in list(self._connections):
                self.stats.reset += 1
                connection.reset()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        if self.fault.kind == "reset":
            self.stats.reset += 1
            _reset(writer)
            return
        connection = _Connection(writer)
        self._connections.add(connection)
        self.stats.open += 1
        try:
            await self._flowing.wait()  # behind a blackhole no new connection gets through either
            try:
                target_reader, target_writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.target_port), CONNECT_SECONDS
                )
            except (OSError, TimeoutError):
                self.stats.refused_by_target += 1
                _reset(writer)  # the target refused: so does the link, as the closed port would
                return
            connection.target = target_writer
            await asyncio.gather(
                self._pump(reader, target_writer, answers=False),
                self._pump(target_reader, writer, answers=True),
            )
        except (OSError, asyncio.IncompleteReadError):
            connection.reset()
        finally:
            self._connections.discard(connection)
            self.stats.open -= 1
            for end in (connection.client, connection.target):
                if end is not None:
                    end.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answers: bool) -> None:
        """One direction. Answers go through a queue stamped with when each chunk is due,
        so latency delays every chunk by the same time without adding up."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                due, data = item
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                with contextlib.suppress(OSError):
                    writer.write_eof()

        delivering = asyncio.create_task(deliver())
        try:
            while True:
                await self._flowing.wait()
                data = await reader.read(CHUNK_BYTES)
                if not data:
                    break
                delay = self.fault.seconds if answers and self.fault.kind == "latency" else 0.0
                queue.put_nowait((time.monotonic() + delay, data))
        finally:
            queue.put_nowait(None)
            with contextlib.suppress(OSError, ConnectionError):
                await delivering


# The control protocol: {"link": NAME, "fault": KIND, "seconds": S} sets a fault;
# {"stats": true} reads every link's fault and counters. Each answer has "ok".


async def _control(links: dict[str, FaultProxy], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            try:
                request = json.loads(line)
                if request.get("stats"):
                    answer = {
                        "ok": True,
                        "links": {
                            name: {"fault": asdict(link.fault), "port": link.port, **asdict(link.stats)}
                            for name, link in links.items()
                        },
                    }
                else:
                    name = str(request.get("link"))
                    if name not in links:
                        raise FaultError(f"no link {name!r}; the links are {', '.join(sorted(links))}")
                    links[name].set_fault(Fault.parse(request))
                    answer = {"ok": True}
            except (ValueError, TypeError) as error:
                answer = {"ok": False, "error": str(error)}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
    finally:
        writer.close()


async def serve(control_port: int, links: dict[str, FaultProxy]) -> None:
    for link in links.values():
        await link.start()
    control = await asyncio.start_server(lambda r, w: _control(links, r, w), "127.0.0.1", control_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    print(json.dumps({"control": control.sockets[0].getsockname()[1]}), flush=True)
    await stop.wait()
    control.close()
    for link in links.values():
        await link.close()


def _link(value: str) -> FaultProxy:
    name, _, ports = value.partition("=")
    listen, _, target = ports.partition(":")
    if not name or not listen.isdigit() or not target.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME=LISTEN_PORT:TARGET_PORT")
    return FaultProxy(name, int(target), int(listen))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.chaos.fault_proxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--control", type=int, default=0, help="the control port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--link", type=_link, action="append", required=True, help="NAME=LISTEN_PORT:TARGET_PORT")
    arguments = parser.parse_args(argv)
    links = {link.name: link for link in arguments.link}
    if len(links) != len(arguments.link):
        parser.error("each link needs a name of its own")
    try:
        asyncio.run(serve(arguments.control, links))
    except OSError as error:
        print(f"fault proxy: {error}", file=sys.stderr)
        return 1
    return 0


class FaultLinks:
    """The drill's side of the control port: set a link's fault, read the counters."""

    def __init__(self, control_port: int, timeout_seconds: float = 5.0) -> None:
        self.control_port = control_port
        self.timeout_seconds = timeout_seconds

    def _ask(self, request: dict) -> dict:
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=self.timeout_seconds) as control:
            control.sendall(json.dumps(request).encode() + b"\n")
            answer = json.loads(control.makefile("rb").readline() or b"{}")
        if not answer.get("ok"):
            raise FaultError(answer.get("error") or "the fault proxy gave no answer")
        return answer

    def set(self, link: str, fault: Fault) -> None:
        self._ask({"link": link, "fault": fault.kind, "seconds": fault.seconds})

    def heal(self, link: str) -> None:
        self.set(link, Fault())

    def stats(self) -> dict[str, dict]:
        return self._ask({"stats": True})["links"]


if __name__ == "__main__":
    sys.exit(main())
