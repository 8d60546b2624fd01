"""Runs a Pulumi Python program under the mock runtime and records its resource graph.

Each run gets a fresh `contextvars.Context` and event loop, so several stacks can be
synthesized in one process without the runtime's globals (root stack, config, settings)
leaking from one into the next. A StackReference to a stack not yet synthesized makes
the run stop; the referenced stack is synthesized first and the run is repeated.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import runpy
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import Settings, configure
from pulumi.runtime.stack import run_in_stack

from preflight.graph import SECRET, STACK_TYPE, Graph, Resource
from preflight.mocks import RealisticMocks
from preflight.project import PreflightError, Program

ORGANIZATION = "organization"


class ProgramError(PreflightError):
    """The program itself failed: a config error it raised, or an exception."""


@dataclass
class _Run:
    stack: str
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    diagnostics: list[str] = field(default_factory=list)
    # A problem found inside a mock call, re-raised once the run is over.
    fatal: PreflightError | None = None
    referenced: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping what each registration asked for."""

    def __init__(self, mocks: RealisticMocks, run: _Run) -> None:
        super().__init__(mocks)
        self.run = run
        self.root_urn: str | None = None

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            self.root_urn = response.urn
        self._record(request, response.urn, bool(request.custom), request.object, request.dependencies)
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - reads: StackReference, .get()
        response = super().ReadResource(request)
        self._record(request, response.urn, True, request.properties, request.dependencies)
        return response

    def _record(self, request: Any, urn: str, custom: bool, inputs: Any, dependencies: Any) -> None:
        registration = self.resources.get(urn)
        resource = Resource(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=custom,
            parent=request.parent or None,
            provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
            id=(registration.id if registration else None) or None,
            inputs=plain(rpc.deserialize_properties(inputs)),
            outputs=plain(registration.state) if registration else {},
            dependencies=sorted(set(dependencies)),
        )
        with self.run.lock:
            self.run.resources.append(resource)

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        outputs = plain(rpc.deserialize_properties(request.outputs))
        with self.run.lock:
            if request.urn == self.root_urn:
                self.run.outputs = outputs
            else:
                for resource in self.run.resources:
                    if resource.urn == request.urn:
                        resource.outputs = outputs
        return super().RegisterResourceOutputs(request)


class _DiagnosticsHandler(logging.Handler):
    def __init__(self, run: _Run) -> None:
        super().__init__(logging.WARNING)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        self.run.diagnostics.append(f"{record.levelname.lower()}: {record.getMessage()}")


class Synthesizer:
    """Synthesizes the stacks of one program, each once, resolving references between them.

    A StackReference is resolved while the referencing run waits: the referenced stack
    is synthesized on a thread of its own, with its own context and event loop.
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        self._graphs: dict[str, Graph] = {}
        self._in_progress: list[str] = []
        # One lock per referencing stack: its references resolve one at a time.
        self._reference_locks: dict[str, threading.Lock] = {}

    def synthesize(self, stack: str) -> Graph:
        if stack in self._graphs:
            return self._graphs[stack]
        if stack in self._in_progress:
            chain = " → ".join([*self._in_progress[self._in_progress.index(stack) :], stack])
            raise PreflightError(f"StackReference cycle: {chain}")
        self._in_progress.append(stack)
        self._reference_locks[stack] = threading.Lock()
        try:
            run = self._run(stack)
        finally:
            self._in_progress.remove(stack)
        # Registrations arrive from several threads; URN order makes reports diff cleanly.
        resources = sorted(run.resources, key=lambda resource: resource.urn)
        graph = Graph(self.program.name, stack, resources, run.outputs, run.diagnostics)
        self._graphs[stack] = graph
        return graph

    def _resolve_reference(self, run: _Run, name: str) -> dict[str, Any]:
        with self._reference_locks[run.stack]:
            try:
                stack = self._stack_of_reference(run.stack, name)
                if not self.program.stack_file(stack).is_file():
                    raise PreflightError(
                        f"stack '{run.stack}' references stack '{stack}', which has no stack file "
                        f"{self.program.stack_file(stack).name} (stacks: {', '.join(self.program.stacks())})"
                    )
                if stack not in self._graphs:
                    self._synthesize_on_own_thread(stack)
            except PreflightError as error:
                run.fatal = run.fatal or error
                return {}
        outputs = self._graphs[stack].outputs
        run.referenced[stack] = outputs
        return outputs

    def _synthesize_on_own_thread(self, stack: str) -> None:
        failure: list[BaseException] = []

        def target() -> None:
            try:
                self.synthesize(stack)
            except BaseException as error:  # noqa: BLE001 - handed back to the waiting run
                failure.append(error)

        thread = threading.Thread(target=target, name=f"preflight-{stack}")
        thread.start()
        thread.join()
        if failure:
            raise failure[0] if isinstance(failure[0], PreflightError) else PreflightError(str(failure[0]))

    def _stack_of_reference(self, referencing: str, name: str) -> str:
        parts = name.split("/")
        if len(parts) == 3 and parts[1] != self.program.name:
            raise PreflightError(
                f"stack '{referencing}' references '{name}' in project '{parts[1]}'; preflight "
                f"resolves stacks of this program ('{self.program.name}') only"
            )
        return parts[-1]

    def _run(self, stack: str) -> _Run:
        config = self.program.stack_config(stack)
        run = _Run(stack)
        error: BaseException | None = None
        try:
            contextvars.Context().run(self._run_in_fresh_context, run, config.values, config.secret_keys)
        except PreflightError:
            raise
        except BaseException as caught:  # noqa: BLE001 - the program's own failure, reported below
            error = caught
        if run.fatal is not None:
            raise run.fatal
        if error is None:
            return run
        raise ProgramError(self._explain(stack, run, error))

    def _run_in_fresh_context(self, run: _Run, values: dict[str, str], secret_keys: tuple[str, ...]) -> None:
        mocks = RealisticMocks(self.program.name, run.stack, values, lambda name: self._resolve_reference(run, name))
        logger = logging.getLogger(f"preflight.program.{run.stack}")
        logger.propagate = False
        handler = _DiagnosticsHandler(run)
        logger.addHandler(handler)
        pulumi.runtime.set_all_config(values, list(secret_keys))
        monitor = _RecordingMonitor(mocks, run)
        # A full Settings, not the SDK's MockSettings: that one leaves the pending-outputs
        # set and its lock unset, so they fall back to process-wide defaults and two runs
        # on two threads (a stack and the stack it references) would share them.
        settings = Settings(
            project=self.program.name,
            stack=run.stack,
            monitor=monitor,
            engine=pulumi_mocks.MockEngine(logger),
            dry_run=False,
            organization=ORGANIZATION,
        )
        settings.monitor_features = set(monitor.GetDeploymentInfo(None).supportedFeatures)
        configure(settings)
        loop = asyncio.new_event_loop()
        # A failed program leaves tasks behind; its error is reported, not their noise.
        loop.set_exception_handler(lambda _loop, context: None)
        asyncio.set_event_loop(loop)
        # The SDK sends registrations to the monitor from executor threads, and the mock
        # monitor gives each thread an event loop; own them, so they are closed with the run.
        thread_loops: list[asyncio.AbstractEventLoop] = []
        executor = ThreadPoolExecutor(
            thread_name_prefix=f"preflight-{run.stack}", initializer=_give_thread_a_loop, initargs=(thread_loops,)
        )
        loop.set_default_executor(executor)
        try:
            with _program_on_path(self.program.directory):
                loop.run_until_complete(
                    run_in_stack(lambda: runpy.run_path(str(self.program.main), run_name="__main__"))
                )
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            for thread_loop in [*thread_loops, loop]:
                thread_loop.close()
            asyncio.set_event_loop(None)
            logger.removeHandler(handler)

    @staticmethod
    def _explain(stack: str, run: _Run, error: BaseException) -> str:
        if isinstance(error, pulumi.RunError):
            return f"stack '{stack}': {error}"
        if isinstance(error, KeyError) and run.referenced:
            missing = error.args[0] if error.args else "?"
            for referenced, outputs in run.referenced.items():
                if missing not in outputs:
                    exported = ", ".join(sorted(outputs)) or "nothing"
                    return (
                        f"stack '{stack}' requires output '{missing}' of stack '{referenced}', "
                        f"which exports: {exported}"
                    )
        return f"stack '{stack}': the program failed: {type(error).__name__}: {error}"


_active_runs = 0
_path_lock = threading.Lock()


@contextmanager
def _program_on_path(directory: Path):
    """Runs with the program's directory as cwd and first on sys.path, as Pulumi does.

    Nested runs (a referenced stack) share the setting. A module the program owns but
    that was loaded from elsewhere (another program with a package of the same name,
    say `stacks`) is dropped first, so each program imports its own.
    """
    global _active_runs
    with _path_lock:
        if _active_runs == 0:
            _forget_foreign_modules(directory)
            previous = os.getcwd()
            sys.path.insert(0, str(directory))
            os.chdir(directory)
        _active_runs += 1
    try:
        yield
    finally:
        with _path_lock:
            _active_runs -= 1
            if _active_runs == 0:
                os.chdir(previous)
                sys.path.remove(str(directory))


def _give_thread_a_loop(loops: list[asyncio.AbstractEventLoop]) -> None:
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, context: None)
    asyncio.set_event_loop(loop)
    loops.append(loop)


def _forget_foreign_modules(directory: Path) -> None:
    own = {path.stem for path in directory.iterdir() if path.suffix == ".py" or (path / "__init__.py").is_file()}
    own.discard("__main__")  # runpy runs the entry point; the interpreter's __main__ stays
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if name.split(".", 1)[0] in own and not origin.startswith(str(directory) + os.sep):
            del sys.modules[name]


def plain(value: Any) -> Any:
    """Wire values as plain JSON data: whole numbers as ints, secrets redacted."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
