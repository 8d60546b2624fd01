"""What one run of a program registered, recorded by a mock monitor."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from preflight import urns
from preflight.graph import SECRET, STACK_TYPE, Resource
from preflight.project import PreflightError


class Sink(Protocol):
    """Where a run's resources go as they are recorded (called under the run's lock)."""

    def add(self, resource: Resource) -> None: ...

    def set_outputs(self, urn: str, outputs: dict[str, Any]) -> None: ...


class Recorded:
    """A run's resources, kept in memory."""

    def __init__(self) -> None:
        self.resources: list[Resource] = []
        self._latest: dict[str, Resource] = {}

    def add(self, resource: Resource) -> None:
        self.resources.append(resource)
        self._latest[resource.urn] = resource

    def set_outputs(self, urn: str, outputs: dict[str, Any]) -> None:
        self._latest[urn].outputs = outputs


@dataclass
class Run:
    stack: str
    # Kept in memory, or written out as they come (preflight.stream).
    sink: Sink = field(default_factory=Recorded)
    # Stack outputs as reports show them: secrets redacted.
    outputs: dict[str, Any] = field(default_factory=dict)
    # Stack outputs as a StackReference hands them on: real values, secrets named.
    exported: dict[str, Any] = field(default_factory=dict)
    secret_output_names: list[str] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    # A problem found inside a mock call, re-raised once the run is over.
    fatal: PreflightError | None = None
    referenced: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping what each registration asked for."""

    def __init__(self, mocks: pulumi_mocks.Mocks, run: Run) -> None:
        self._seen = _InputsSeen(mocks)
        super().__init__(self._seen)
        self.run = run
        self.root_urn: str | None = None
        # Engine URN of each recorded URN, for the aliases of the resources below it;
        # the resources themselves are the sink's, not kept here.
        self._engine_urns: dict[str, str] = {}
        # Aliases of the recorded resources that have any, which their children inherit.
        self._aliases: dict[str, list[str]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self._seen.forget()
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            self.root_urn = response.urn
        inputs = self._seen.inputs(request, request.object)
        self._record(request, response.urn, bool(request.custom), inputs, request.dependencies)
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - reads: StackReference, .get()
        self._seen.forget()
        response = super().ReadResource(request)
        inputs = self._seen.inputs(request, request.properties)
        self._record(request, response.urn, True, inputs, request.dependencies)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        values = rpc.deserialize_properties(request.outputs)
        with self.run.lock:
            if request.urn == self.root_urn:
                self.run.outputs = plain(values)
                self.run.exported = {name: _unwrap_secret(value) for name, value in values.items()}
                self.run.secret_output_names = sorted(name for name, value in values.items() if _is_secret(value))
            elif request.urn in self._engine_urns:
                self.run.sink.set_outputs(request.urn, plain(values))
        return super().RegisterResourceOutputs(request)

    def _record(self, request: Any, urn: str, custom: bool, properties: dict[str, Any], dependencies: Any) -> None:
        registration = self.resources.get(urn)
        parent = request.parent or None
        with self.run.lock:
            goal = self._goal(request, urn, parent)
            self._engine_urns[urn] = goal.urn
            parent_aliases = self._aliases.get(parent, []) if parent else []
        own = [self._alias(alias, goal) for alias in getattr(request, "aliases", [])]
        # What an SDK sends an engine without alias specs: URNs it computed itself.
        own += list(getattr(request, "aliasURNs", []))
        resource = Resource(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=custom,
            parent=parent,
            provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
            id=(registration.id if registration else None) or None,
            inputs=plain(properties),
            secret_inputs={key: reveal(value) for key, value in properties.items() if _is_secret(value)},
            outputs=plain(registration.state) if registration else {},
            dependencies=sorted(set(dependencies)),
            timeouts=_timeouts(request),
            aliases=urns.with_inherited(goal, own, parent_aliases),
            # A read (StackReference, `.get()`) carries no such options.
            ignore_changes=list(getattr(request, "ignoreChanges", [])),
            replace_on_changes=list(getattr(request, "replaceOnChanges", [])),
            delete_before_replace=bool(getattr(request, "deleteBeforeReplace", False)),
            protect=bool(getattr(request, "protect", False)),
        )
        with self.run.lock:
            self.run.sink.add(resource)
            if resource.aliases:
                self._aliases[urn] = resource.aliases
            else:
                self._aliases.pop(urn, None)

    def _goal(self, request: Any, urn: str, parent: str | None) -> urns.Goal:
        stack, project = urn.removeprefix("urn:pulumi:").split("::")[:2]
        engine_parent = self._engine_urns.get(parent, parent) if parent else None
        return urns.Goal(stack, project, engine_parent, request.type, request.name)

    def _alias(self, alias: Any, goal: urns.Goal) -> str:
        """One alias the SDK sent (a URN, or a spec the engine completes) as an engine URN."""
        if alias.WhichOneof("alias") == "urn":
            return alias.urn
        spec = alias.spec
        # A parent named by a resource arrives as its mock URN.
        parent = self._engine_urns.get(spec.parentUrn, spec.parentUrn)
        return urns.spec_alias(goal, spec.name, spec.type, spec.stack, spec.project, parent, spec.noParent)


class _InputsSeen(pulumi_mocks.Mocks):
    """The mocks, also keeping the inputs the SDK deserialized for the registration this
    thread is making, so that the recorder need not deserialize them again."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        self.mocks = mocks
        self._local = threading.local()

    def forget(self) -> None:
        self._local.seen = None

    def inputs(self, request: Any, wire: Any) -> dict[str, Any]:
        """The inputs of `request` as the SDK gave them to the mocks, else from the wire
        (the root stack's registration never reaches the mocks)."""
        seen = getattr(self._local, "seen", None)
        self._local.seen = None
        if seen is not None and seen[0] == request.type and seen[1] == request.name:
            return seen[2]
        return rpc.deserialize_properties(wire)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> Any:
        self._local.seen = (args.typ, args.name, args.inputs)
        return self.mocks.new_resource(args)

    def call(self, args: pulumi_mocks.MockCallArgs) -> Any:
        return self.mocks.call(args)

    def register_transform(self, transform: Any) -> None:
        self.mocks.register_transform(transform)

    def register_invoke_transform(self, transform: Any) -> None:
        self.mocks.register_invoke_transform(transform)


class DiagnosticsHandler(logging.Handler):
    """Keeps what the program logs at warning level and above."""

    def __init__(self, run: Run) -> None:
        super().__init__(logging.WARNING)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        self.run.diagnostics.append(f"{record.levelname.lower()}: {record.getMessage()}")


def _timeouts(request: Any) -> dict[str, str]:
    timeouts = getattr(request, "customTimeouts", None)
    if timeouts is None:
        return {}
    return {kind: value for kind in ("create", "update", "delete") if (value := getattr(timeouts, kind, ""))}


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def _unwrap_secret(value: Any) -> Any:
    return value["value"] if _is_secret(value) else value


def reveal(value: Any) -> Any:
    """Like `plain`, with secrets in the clear."""
    if _is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {str(key): reveal(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [reveal(item) for item in value]
    return plain(value)


def plain(value: Any) -> Any:
    """Wire values as plain JSON data: whole numbers as ints, secrets redacted."""
    # The wire's own types first, by identity (what the checks below make of them).
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is dict and value.get(rpc._special_sig_key) != rpc._special_secret_sig:
        return {str(key): plain(item) for key, item in value.items()}
    if kind is list:
        return [plain(item) for item in value]
    if _is_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
