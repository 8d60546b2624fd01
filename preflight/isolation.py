"""Synthesis in child interpreters, in parallel, each stack once.

Each stack's program runs in a child (`preflight.child`), so nothing it does reaches
the gate: not the packs, not the reports, not the exit code. Stacks run concurrently,
as many at a time as there are cores; a child that waits for a referenced stack gives
its core to another until the answer comes. A child that ends without delivering a
complete result (it exited, was killed, or ran past the timeout) fails its stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preflight import ROOT
from preflight.graph import Graph
from preflight.mocks import ResolvedReference
from preflight.project import PreflightError, Program
from preflight.stream import read_resources
from preflight.synth import ProgramError

# A stack's program that runs longer than this is stopped: a gate must end.
DEFAULT_TIMEOUT_SECONDS = 600.0
# Program output kept per stack, from its end: what explains a failure.
OUTPUT_LIMIT = 16_384


@dataclass
class Synthesis:
    graph: Graph
    exports: ResolvedReference


class IsolatedSynthesizer:
    """The same contract as `Synthesizer.synthesize`, each program in a child process."""

    def __init__(self, program: Program, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.program = program
        self.timeout = timeout
        self._cores = threading.BoundedSemaphore(workers or os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._runs: dict[str, Future[Synthesis]] = {}
        # Which stack each waiting stack waits for, to refuse a cycle instead of hanging.
        self._waits_for: dict[str, str] = {}
        # What each stack's program printed (stdout, then stderr), kept apart from reports.
        self.program_output: dict[str, str] = {}
        self._scratch = tempfile.TemporaryDirectory(prefix="preflight-")

    def synthesize(self, stack: str) -> Graph:
        return self._start(stack).result().graph

    def synthesize_all(self, stacks: list[str]) -> dict[str, Graph | PreflightError]:
        """Every stack, concurrently; each one's graph, or the error that stopped it."""
        futures = {stack: self._start(stack) for stack in stacks}
        results: dict[str, Graph | PreflightError] = {}
        for stack, future in futures.items():
            error = future.exception()
            results[stack] = error if isinstance(error, PreflightError) else future.result().graph
        return results

    def close(self) -> None:
        self._scratch.cleanup()

    def _start(self, stack: str) -> Future[Synthesis]:
        with self._lock:
            future = self._runs.get(stack)
            if future is None:
                future = self._runs[stack] = Future()
                threading.Thread(target=self._run, args=(stack, future), name=f"preflight-{stack}").start()
        return future

    def _run(self, stack: str, future: Future[Synthesis]) -> None:
        try:
            future.set_result(self._child(stack))
        except PreflightError as error:
            future.set_exception(error)
        except Exception as error:  # noqa: BLE001 - any failure ends this stack, not the gate
            future.set_exception(PreflightError(f"stack '{stack}': {type(error).__name__}: {error}"))

    def _child(self, stack: str) -> Synthesis:
        folder = Path(self._scratch.name) / stack
        folder.mkdir()
        result = folder / "result.json"
        resources = folder / "resources.jsonl"
        ask_read, ask_write = os.pipe()
        answer_read, answer_write = os.pipe()
        command = [
            sys.executable,
            "-m",
            "preflight.child",
            f"--program={self.program.directory}",
            f"--stack={stack}",
            f"--result={result}",
            f"--resources={resources}",
            f"--ask-fd={ask_write}",
            f"--answer-fd={answer_read}",
        ]
        # The child imports preflight from here, and the program from its own directory.
        paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}
        with self._cores, open(folder / "stdout", "wb") as stdout, open(folder / "stderr", "wb") as stderr:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(ask_write, answer_read),
                env=environment,
                cwd=self.program.directory,
            )
            os.close(ask_write)
            os.close(answer_read)
            stopped = threading.Event()

            def stop() -> None:
                stopped.set()
                child.kill()

            timer = threading.Timer(self.timeout, stop)
            timer.start()
            try:
                with os.fdopen(ask_read, "r") as asks, os.fdopen(answer_write, "w") as answers:
                    for line in asks:
                        answers.write(json.dumps(self._answer(stack, line)) + "\n")
                        answers.flush()
                code = child.wait()
            finally:
                timer.cancel()
                child.kill()
                child.wait()
        self.program_output[stack] = _tail(folder / "stdout") + _tail(folder / "stderr")
        try:
            return self._delivered(stack, result, resources, code, timed_out=stopped.is_set())
        finally:
            # Read (or not to be): a large graph's file is not left for the run's end.
            resources.unlink(missing_ok=True)

    def _answer(self, stack: str, line: str) -> dict[str, Any]:
        """The answer to one StackReference of `stack`'s child. While it waits, its core
        is another's."""
        try:
            request = json.loads(line)
            referenced = str(request["reference"])
        except (ValueError, KeyError, TypeError):
            return {"error": f"stack '{stack}': its program sent the gate something it did not ask for"}
        if not self.program.stack_file(referenced).is_file():
            return {
                "error": f"stack '{stack}' references stack '{referenced}', which has no stack file "
                f"{self.program.stack_file(referenced).name} (stacks: {', '.join(self.program.stacks())})"
            }
        with self._lock:
            chain = [stack, referenced]
            while chain[-1] in self._waits_for and chain[-1] != stack:
                chain.append(self._waits_for[chain[-1]])
            if chain[-1] == stack:
                return {"error": f"StackReference cycle: {' → '.join(chain)}"}
            self._waits_for[stack] = referenced
        self._cores.release()
        try:
            future = self._start(referenced)
            error = future.exception()
        finally:
            self._cores.acquire()
            with self._lock:
                del self._waits_for[stack]
        if error is not None:
            return {"error": str(error)}
        synthesis = future.result()
        return {
            "outputs": synthesis.exports.outputs,
            "secrets": synthesis.exports.secret_output_names,
            "graph_outputs": synthesis.graph.outputs,
        }

    def _delivered(self, stack: str, result: Path, resources: Path, code: int, timed_out: bool) -> Synthesis:
        if timed_out:
            raise PreflightError(f"stack '{stack}': the program ran longer than {self.timeout:g} s and was stopped")
        try:
            document = json.loads(result.read_text())
            complete = document.get("complete") is True
        except (OSError, ValueError):
            complete = False
        if not complete:
            # Its output is shown apart, as the program's: a report never carries it.
            raise PreflightError(f"stack '{stack}': the program ended (exit code {code}) without delivering its graph")
        if "error" in document:
            raise (ProgramError if document.get("program") else PreflightError)(document["error"])
        data = document["graph"]
        try:
            # Written as they were recorded; their outputs land as they are read.
            recorded = read_resources(resources, document["resource_lines"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise PreflightError(f"stack '{stack}': the program's resources arrived incomplete ({error})") from None
        graph = Graph(
            project=data["project"],
            stack=data["stack"],
            resources=recorded,
            outputs=data["outputs"],
            diagnostics=data["diagnostics"],
        )
        exports = document["exports"]
        return Synthesis(graph, ResolvedReference(exports["outputs"], exports["secrets"]))


def _tail(path: Path) -> str:
    with open(path, "rb") as stream:
        stream.seek(max(0, path.stat().st_size - OUTPUT_LIMIT))
        return stream.read().decode(errors="replace")
