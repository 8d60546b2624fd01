"""One JSON line per runbook step, so a night's actions can be replayed and reviewed.

Lines go to stderr (the terminal) and, with `--audit-log FILE`, are appended to a file as
well. They hold identifiers and outcomes, never credentials: a step's `detail` is what
the step chose to say about itself.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


@dataclass
class AuditLog:
    """Where audit lines go. `lines` keeps what was written, for the command's summary."""

    runbook: str
    dry_run: bool
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    path: Path | None = None
    clock: Callable[[], str] = _now
    lines: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A log that cannot be written fails before any step runs, not after one acted.
        if self.path is not None:
            from ops.steps import OpsError

            try:
                with self.path.open("a", encoding="utf-8"):
                    pass
            except OSError as error:
                raise OpsError(f"cannot write the audit log {self.path}: {error.strerror}") from error

    def record(self, step: str, outcome: str, **detail: Any) -> dict[str, Any]:
        line = {
            "time": self.clock(),
            "runbook": self.runbook,
            "step": step,
            "outcome": outcome,
            "dry_run": self.dry_run,
            **({"detail": detail} if detail else {}),
        }
        text = json.dumps(line, sort_keys=True, default=str)
        print(text, file=self.stream, flush=True)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as file:
                file.write(text + "\n")
        self.lines.append(line)
        return line
