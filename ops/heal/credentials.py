"""Secrets the healer reads from files (never flags or environment variables, which leak
into shell history, process listings and pod specs), and the bearer check of its HTTP
endpoints: constant-time, against a token file re-read when it changes (rotation needs
no restart), so Alertmanager's `authorization.credentials_file` can be the same file."""

from __future__ import annotations

import hmac
import threading
from pathlib import Path

from ops.steps import OpsError

MAX_SECRET = 4096


def read_secret(path: Path, what: str) -> str:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_SECRET + 1)
    except OSError as error:
        raise OpsError(f"cannot read the {what} file {path}: {error.strerror}") from None
    try:
        secret = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise OpsError(f"{path} is not UTF-8 text; expected one {what} on one line") from None
    if len(raw) > MAX_SECRET or not secret or any(character.isspace() for character in secret):
        raise OpsError(f"{path} must hold one {what} on one line (at most {MAX_SECRET} bytes)")
    return secret


class BearerToken:
    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what
        self._lock = threading.Lock()
        self._token = read_secret(path, what).encode()  # an unusable file fails at startup
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int] | None:
        try:
            status = self.path.stat()
        except OSError:
            return None  # a file being swapped: the last token stays
        return status.st_mtime_ns, status.st_size

    def _current(self) -> bytes:
        with self._lock:
            stamp = self._stat()
            if stamp is not None and stamp != self._stamp:
                try:
                    self._token = read_secret(self.path, self.what).encode()
                    self._stamp = stamp
                except OpsError:
                    pass  # half-written: the last good token until it is whole
            return self._token

    def accepts(self, header: str | None) -> bool:
        """`Authorization: Bearer <token>`, compared in constant time."""
        scheme, _, presented = (header or "").partition(" ")
        expected = self._current()
        # Compared even when the scheme is wrong: the answer takes the same time.
        matches = hmac.compare_digest(presented.strip().encode("utf-8", "replace"), expected)
        return matches and bool(expected) and scheme.lower() == "bearer"
