"""Runs a Pulumi Python program under the mock runtime and records its resource graph.

Each run gets a fresh `contextvars.Context` and event loop, so several stacks can be
synthesized in one process without the runtime's globals (root stack, config, settings)
leaking from one into the next. A StackReference to a stack not yet synthesized is
resolved by synthesizing that stack first, on a thread of its own, while the run waits.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import runpy
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.settings import SETTINGS, Settings, configure
from pulumi.runtime.stack import run_in_stack

from preflight.graph import Graph
from preflight.imports import program_on_path
from preflight.mocks import RealisticMocks, ResolvedReference
from preflight.project import PreflightError, Program
from preflight.recording import DiagnosticsHandler, Recorded, RecordingMonitor, Run, Sink

ORGANIZATION = "organization"
ENGINE_CONFIG_VARIABLES = ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS")


class ProgramError(PreflightError):
    """The program itself failed: a config error it raised, or an exception."""


# Where a run's StackReferences come from, when not from this process: given the
# referencing and the referenced stack, the referenced one's exports and outputs.
ReferenceSource = Callable[[str, str], tuple[ResolvedReference, dict[str, Any]]]


class Synthesizer:
    """Synthesizes the stacks of one program, each once, resolving references between them.

    A StackReference is resolved while the referencing run waits: by `references` where
    given (the parent of an isolated run), else by synthesizing the referenced stack on
    a thread of its own, with its own context and event loop.
    """

    def __init__(self, program: Program, references: ReferenceSource | None = None) -> None:
        self.program = program
        self._references = references
        # preflight stands in for the engine: config an outer engine left in the
        # environment (a preflight run inside `pulumi up`, say) must not reach the program.
        for variable in ENGINE_CONFIG_VARIABLES:
            os.environ.pop(variable, None)
        self._graphs: dict[str, Graph] = {}
        # What each stack hands to a StackReference: real values, secret names.
        self._exports: dict[str, ResolvedReference] = {}
        self._in_progress: list[str] = []
        # One lock per referencing stack: its references resolve one at a time.
        self._reference_locks: dict[str, threading.Lock] = {}

    def synthesize(self, stack: str, sink: Sink | None = None) -> Graph:
        """The stack's graph. Given a sink (a `preflight.stream.ResourceStream`), its
        resources go there as they are recorded, and the graph returned holds none."""
        if stack in self._graphs:
            return self._graphs[stack]
        if stack in self._in_progress:
            chain = " → ".join([*self._in_progress[self._in_progress.index(stack) :], stack])
            raise PreflightError(f"StackReference cycle: {chain}")
        self._in_progress.append(stack)
        self._reference_locks[stack] = threading.Lock()
        recorded = Recorded()
        try:
            run = self._run(stack, sink or recorded)
        finally:
            self._in_progress.remove(stack)
        # Registrations arrive from several threads; URN order makes reports diff cleanly.
        resources = sorted(recorded.resources, key=lambda resource: resource.urn)
        graph = Graph(self.program.name, stack, resources, run.outputs, run.diagnostics)
        self._exports[stack] = ResolvedReference(run.exported, run.secret_output_names)
        self._graphs[stack] = graph
        return graph

    def _resolve_reference(self, run: Run, name: str) -> ResolvedReference:
        with self._reference_locks[run.stack]:
            try:
                stack = self._stack_of_reference(run.stack, name)
                if not self.program.stack_file(stack).is_file():
                    raise PreflightError(
                        f"stack '{run.stack}' references stack '{stack}', which has no stack file "
                        f"{self.program.stack_file(stack).name} (stacks: {', '.join(self.program.stacks())})"
                    )
                if self._references is not None:
                    exports, outputs = self._references(run.stack, stack)
                    run.referenced[stack] = outputs
                    return exports
                if stack not in self._graphs:
                    self._synthesize_on_own_thread(stack)
            except PreflightError as error:
                run.fatal = run.fatal or error
                return ResolvedReference({}, [])
        run.referenced[stack] = self._graphs[stack].outputs
        return self._exports[stack]

    def exports(self, stack: str) -> ResolvedReference:
        """What a StackReference to a synthesized stack hands on."""
        return self._exports[stack]

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

    def _run(self, stack: str, sink: Sink) -> Run:
        config = self.program.stack_config(stack)
        run = Run(stack, sink)
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

    def _run_in_fresh_context(self, run: Run, values: dict[str, str], secret_keys: tuple[str, ...]) -> None:
        mocks = RealisticMocks(self.program.name, run.stack, values, lambda name: self._resolve_reference(run, name))
        logger = logging.getLogger(f"preflight.program.{run.stack}")
        logger.propagate = False
        handler = DiagnosticsHandler(run)
        logger.addHandler(handler)
        pulumi.runtime.set_all_config(values, list(secret_keys))
        monitor = RecordingMonitor(mocks, run)
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
            root_directory=str(self.program.directory),
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
            with program_on_path(self.program.directory):
                loop.run_until_complete(run_in_stack(lambda: self._run_program()))
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            for thread_loop in [*thread_loops, loop]:
                thread_loop.close()
            asyncio.set_event_loop(None)
            logger.removeHandler(handler)

    def _run_program(self) -> Awaitable[None]:
        runpy.run_path(str(self.program.main), run_name="__main__")
        return _outputs_settled()

    @staticmethod
    def _explain(stack: str, run: Run, error: BaseException) -> str:
        if isinstance(error, pulumi.RunError):
            return f"stack '{stack}': {error}"
        message = f"stack '{stack}': the program failed: {type(error).__name__}: {error}"
        if isinstance(error, KeyError) and error.args:
            # require_output raises a bare KeyError; name the reference it may come from.
            for referenced, outputs in run.referenced.items():
                if error.args[0] not in outputs:
                    exported = ", ".join(sorted(outputs)) or "nothing"
                    message += (
                        f"; stack '{referenced}', which it references, has no such output (it exports: {exported})"
                    )
        return message


async def _outputs_settled() -> None:
    """Returns once every output the program made so far (and those they made) is done.

    The SDK waits for them too, once the stack is finished, but one at a time: each
    wait watches every pending output until the first is done, which costs the pending
    count per output done (quadratic in a large program). Waiting for all of them at
    once costs each output one callback; what fails is left for the SDK to report."""
    while True:
        with SETTINGS.lock:
            pending = [task for task in SETTINGS.outputs if not task.done()]
        if not pending:
            return
        await asyncio.wait(pending)


def _give_thread_a_loop(loops: list[asyncio.AbstractEventLoop]) -> None:
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, context: None)
    asyncio.set_event_loop(loop)
    loops.append(loop)
