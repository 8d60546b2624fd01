"""What one run of a program registered, recorded by a mock monitor."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from preflight.graph import SECRET, STACK_TYPE, Resource
from preflight.project import PreflightError


@dataclass
class Run:
    stack: str
    resources: list[Resource] = field(default_factory=list)
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
        super().__init__(mocks)
        self.run = run
        self.root_urn: str | None = None
        self._by_urn: dict[str, Resource] = {}

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

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        values = rpc.deserialize_properties(request.outputs)
        with self.run.lock:
            if request.urn == self.root_urn:
                self.run.outputs = plain(values)
                self.run.exported = {name: _unwrap_secret(value) for name, value in values.items()}
                self.run.secret_output_names = sorted(name for name, value in values.items() if _is_secret(value))
            elif request.urn in self._by_urn:
                self._by_urn[request.urn].outputs = plain(values)
        return super().RegisterResourceOutputs(request)

    def _record(self, request: Any, urn: str, custom: bool, inputs: Any, dependencies: Any) -> None:
        registration = self.resources.get(urn)
        properties = rpc.deserialize_properties(inputs)
        resource = Resource(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=custom,
            parent=request.parent or None,
            provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
            id=(registration.id if registration else None) or None,
            inputs=plain(properties),
            secret_inputs={key: reveal(value) for key, value in properties.items() if _is_secret(value)},
            outputs=plain(registration.state) if registration else {},
            dependencies=sorted(set(dependencies)),
            timeouts=_timeouts(request),
        )
        with self.run.lock:
            self.run.resources.append(resource)
            self._by_urn[urn] = resource


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
