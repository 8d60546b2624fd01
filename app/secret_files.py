"""Secrets that change without a restart: the pepper, its predecessor and the upstream token.

Kubernetes updates a mounted Secret in place (an atomic swap of the directory's `..data`
link) a minute or so after Vault and External Secrets change it. The app looks at those
files every `interval_seconds` and takes new values as they come, so rotating them
restarts no pod. (The database and cache URLs need new connection pools: Reloader
restarts the pods for those.) A file that cannot be read keeps the value in use.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.logs import log
from app.metrics import SECRET_RELOADS
from app.settings import Settings


@dataclass
class Credentials:
    """The current values; the app reads them per request, never from Settings."""

    pepper: str
    previous_pepper: str | None
    upstream_token: str | None
    # When this process took the current pepper (monotonic seconds).
    pepper_since: float = field(default_factory=time.monotonic)

    @classmethod
    def from_settings(cls, settings: Settings) -> Credentials:
        previous = settings.api_key_pepper_previous
        token = settings.upstream_token
        return cls(
            pepper=settings.api_key_pepper.get_secret_value(),
            previous_pepper=previous.get_secret_value() if previous else None,
            upstream_token=token.get_secret_value() if token else None,
        )


# File name (the setting's variable) -> the Credentials field it feeds.
RELOADABLE = {
    "APP_API_KEY_PEPPER": "pepper",
    "APP_API_KEY_PEPPER_PREVIOUS": "previous_pepper",
    "APP_UPSTREAM_TOKEN": "upstream_token",
}


class SecretFiles:
    def __init__(self, directory: Path, credentials: Credentials, interval_seconds: float = 10.0) -> None:
        self.directory = directory
        self.credentials = credentials
        self.interval_seconds = interval_seconds

    def reload(self) -> list[str]:
        """Take the files' current values; the names of those that changed (never values)."""
        changed = []
        for file_name, attribute in RELOADABLE.items():
            path = self.directory / file_name
            try:
                value: str | None = path.read_text().strip() or None
            except FileNotFoundError:
                value = None
            except (OSError, UnicodeDecodeError) as error:
                log.warning(
                    "secret file unreadable, keeping the value in use", file=file_name, error=type(error).__name__
                )
                continue
            if attribute == "pepper" and value is None:
                continue  # never run without a pepper: keep the one in use
            if value != getattr(self.credentials, attribute):
                setattr(self.credentials, attribute, value)
                if attribute == "pepper":
                    self.credentials.pepper_since = time.monotonic()
                changed.append(file_name)
                SECRET_RELOADS.labels(file_name).inc()
        if changed:
            log.info("secrets reloaded from files", files=changed)
        return changed

    async def keep_watching(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            try:
                self.reload()
            except Exception:  # noqa: BLE001 - the next look may succeed; the watcher must not die
                log.exception("reading the secret files failed")
