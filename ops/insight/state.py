"""The service's learned state on disk: one JSON file, written whole or not at all.

A save writes a temporary file beside it, flushes it to disk and renames it over the old
one, so a process killed mid-save leaves the previous state, never half of one. A state
that cannot be read back (unreadable, not JSON, too large, another format, learned at
another interval) is moved aside under a name that says when, and the service starts
afresh: what it learned is lost, the service is not; the file stays for a human to read.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

FILE_NAME = "insight-state.json"
FORMAT = 1
# Four signals' models hold weeks of history at a one-minute interval: a few megabytes.
# Anything far larger is not a state this service wrote.
MAX_BYTES = 64 * 1024 * 1024


class StateError(ValueError):
    """The state on disk cannot be used; says why."""


class StateStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / FILE_NAME

    def load(self, interval_seconds: int) -> dict[str, Any] | None:
        """The saved state, or None when there is none. StateError when there is one this
        service cannot use."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StateError(f"cannot read {self.path}: {error.strerror}") from None
        if size > MAX_BYTES:
            raise StateError(f"{self.path} is {size} bytes, more than the {MAX_BYTES} a state can be")
        try:
            state = json.loads(self.path.read_bytes())
        except OSError as error:
            raise StateError(f"cannot read {self.path}: {error.strerror}") from None
        except ValueError as error:  # not UTF-8, not JSON
            raise StateError(f"{self.path} is not JSON: {str(error)[:120]}") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise StateError(f"{self.path} is not a state of format {FORMAT}")
        if state.get("interval_seconds") != interval_seconds:
            learned = state.get("interval_seconds")
            raise StateError(f"{self.path} was learned at an interval of {learned!r} s, not {interval_seconds} s")
        if not isinstance(state.get("signals"), dict):
            raise StateError(f"{self.path} has no signals")
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Replaces the saved state at once (OSError if the folder cannot take it)."""
        encoded = json.dumps({**state, "format": FORMAT}, separators=(",", ":")).encode()
        handle, temporary = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=self.folder)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(encoded)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def set_aside(self, now: float) -> Path | None:
        """Moves an unusable state out of the way; where it went, or None if it could not be moved."""
        aside = self.path.with_name(f"{FILE_NAME}.unusable-{int(now)}")
        try:
            os.replace(self.path, aside)
        except OSError:
            return None
        return aside
