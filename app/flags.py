"""Feature flags: OpenFeature's Python SDK with flagd's provider, in process.

The stack declares its flags (`projectai:flags`); the program renders them into flagd's
flag-definition file (stacks/model.py, `flagd_file`) in a ConfigMap mounted read-only into
every API pod, and `APP_FLAGS_FILE` names it. The provider's FILE resolver reads it in this
process (no flagd sidecar, no network call per request) and looks at its modification time
every `APP_FLAGS_POLL_SECONDS`: Kubernetes swaps the mounted file in place when the
ConfigMap changes, so a flag changes without a restart.

Flags are evaluated per caller with the API key's id as the targeting key (never the key
itself), so a cohort (`fractional`, a hash of the flag's name and the key id) is stable per
key and the same on every pod and in every region. Whenever the file is unusable (missing,
not JSON, not flagd's format) or a flag is absent or of another type, the flag's default
applies: off. `feature_flags_source_ready` says whether the file was read, each change of
that state is logged once, and `feature_flag_evaluations_total{reason}` counts the
evaluations that fell back. With `APP_FLAGS_FILE` unset (local runs) nothing is gated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from pathlib import Path

from openfeature import api
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.provider import ProviderStatus
from openfeature.provider.no_op_provider import NoOpProvider

from app.logs import log
from app.metrics import FLAG_EVALUATIONS, FLAGS_SOURCE_READY

# The flags this app evaluates, by the name the stack declares them under.
V2_BETA_ROUTES = "v2-beta-routes"
# An evaluation that did not reach the provider: the file is not (or no longer) usable.
SOURCE_UNAVAILABLE = "source_unavailable"

# The provider logs a traceback on every poll while the file is unusable; the app logs
# each change of the file's state once instead (FeatureFlags.observe).
logging.getLogger("openfeature.contrib").setLevel(logging.CRITICAL)


class FeatureFlags:
    """Boolean flags, evaluated per API key id, from a flagd file read in process."""

    def __init__(self, path: Path | None, poll_seconds: float = 1.0) -> None:
        self.path = path
        self.poll_seconds = poll_seconds
        self.ready: bool | None = None  # the file's state as last observed
        self._reported: set[tuple[str, str]] = set()
        self.provider: FlagdProvider | None = None
        # A domain of this instance's own: the SDK's registry is per process.
        self.domain = f"project-ai-{uuid.uuid4().hex}"
        self.client = api.get_client(self.domain)

    @property
    def gated(self) -> bool:
        return self.path is not None

    def start(self) -> None:
        """Read the file once (blocking: run it off the event loop). An unusable file
        leaves the provider in error, and every flag at its default, until it is fixed."""
        if self.path is None:
            return
        self.provider = FlagdProvider(
            resolver_type=ResolverType.FILE,
            offline_flag_source_path=str(self.path),
            # The FILE resolver looks at the file's modification time this often.
            deadline_ms=max(1, round(self.poll_seconds * 1000)),
        )
        # An unusable file raises here: observe() reports it, and the defaults apply.
        with contextlib.suppress(Exception):
            api.set_provider_and_wait(self.provider, self.domain)
        self.observe()

    def stop(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()
            api.set_provider(NoOpProvider(), self.domain)
            self.provider = None

    def observe(self) -> bool:
        """Whether the file is in use; a change is logged once and sets the gauge."""
        ready = self.client.get_provider_status() == ProviderStatus.READY
        if ready != self.ready:
            FLAGS_SOURCE_READY.set(1 if ready else 0)
            if ready:
                log.info("feature flags read", file=self.path.name if self.path else None)
            else:
                log.warning(
                    "feature flag file unusable (missing or malformed): every flag takes its default",
                    file=self.path.name if self.path else None,
                )
            self.ready = ready
            self._reported.clear()
        return ready

    async def keep_watching(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                self.observe()
            except Exception:  # noqa: BLE001 - the next look may succeed; the watcher must not die
                log.exception("observing the feature flags failed")

    def enabled(self, flag: str, key_id: str) -> bool:
        """The boolean flag for this caller; its default (off) when it cannot be evaluated."""
        if self.path is None:
            return True  # no flag file: nothing is gated
        if self.client.get_provider_status() != ProviderStatus.READY:
            FLAG_EVALUATIONS.labels(flag, "off", SOURCE_UNAVAILABLE).inc()
            return False
        details = self.client.get_boolean_details(flag, False, EvaluationContext(targeting_key=key_id))
        value = details.value is True
        if details.error_code is not None:
            reason = str(details.error_code).lower()
            if (flag, reason) not in self._reported:
                # Once per flag and error until the file changes: no key id, no flag content.
                self._reported.add((flag, reason))
                log.warning("feature flag not evaluated, its default applies", flag=flag, error=reason)
        else:
            reason = str(details.reason or "unknown").lower()
        FLAG_EVALUATIONS.labels(flag, "on" if value else "off", reason).inc()
        return value
