"""prod-gcp's standby: the Cloud SQL instance Google's Database Migration Service keeps
replicating from the primary's Aurora (components/gcp/replication.py). Promoting the
migration job makes that instance a writer of its own, and ends the replication: the
last resort when AWS as a whole cannot serve.

The job is read and promoted with Google's client library (`google-cloud-dms`), over
gRPC with a deadline on every call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ops.steps import OpsError

JOB_NAME = re.compile(
    r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z]+-[a-z]+\d/migrationJobs/[a-z][a-z0-9-]{0,59}$"
)
# Replicating changes: the initial copy is done, and the standby follows the primary.
# (WAITING_FOR_SOURCE_WRITES_TO_STOP comes before the dump, for RDS sources: no copy yet.)
REPLICATING = {"CDC"}
DEADLINE_SECONDS = 30.0


def job_name_problem(name: str) -> str | None:
    if JOB_NAME.fullmatch(name):
        return None
    return f"{name!r} is not a migration job name (projects/<project>/locations/<region>/migrationJobs/<id>)"


def dms_client(endpoint: str | None = None, channel: Any = None) -> Any:
    """The DMS client; tests pass a channel to a local server (no credentials needed)."""
    from google.cloud import clouddms_v1
    from google.cloud.clouddms_v1.services.data_migration_service.transports import DataMigrationServiceGrpcTransport

    if channel is not None:
        return clouddms_v1.DataMigrationServiceClient(transport=DataMigrationServiceGrpcTransport(channel=channel))
    from google.auth.exceptions import DefaultCredentialsError

    options = {"api_endpoint": endpoint} if endpoint else None
    try:
        return clouddms_v1.DataMigrationServiceClient(client_options=options)
    except DefaultCredentialsError as error:
        raise OpsError(
            f"no Google credentials: run `gcloud auth application-default login` (or set "
            f"GOOGLE_APPLICATION_CREDENTIALS to a key file) first ({error})"
        ) from error


@dataclass(frozen=True)
class JobState:
    state: str
    phase: str
    error: str | None

    @property
    def replicating(self) -> bool:
        return self.state == "RUNNING" and self.phase in REPLICATING

    @property
    def promoted(self) -> bool:
        # After a promotion DMS marks the job completed: the standby writes on its own.
        return self.state == "COMPLETED"

    def describe(self) -> dict[str, Any]:
        return {"state": self.state, "phase": self.phase, **({"error": self.error} if self.error else {})}


class Standby:
    def __init__(self, job: str, client: Any, deadline_seconds: float = DEADLINE_SECONDS) -> None:
        problem = job_name_problem(job)
        if problem:
            raise OpsError(problem)
        self.job, self.client, self.deadline_seconds = job, client, deadline_seconds

    def _call(self, what: str, call: Any) -> Any:
        from google.api_core import exceptions

        try:
            return call()
        except exceptions.GoogleAPICallError as error:
            raise OpsError(f"Database Migration Service failed to {what} {self.job}: {error.message}") from error
        except exceptions.RetryError as error:
            raise OpsError(f"Database Migration Service did not answer to {what} {self.job}: {error}") from error

    def state(self) -> JobState:
        job = self._call("read", lambda: self.client.get_migration_job(name=self.job, timeout=self.deadline_seconds))
        error = job.error.message if job.error and job.error.message else None
        return JobState(state=job.state.name, phase=job.phase.name, error=error)

    def promote(self) -> None:
        # The call starts a long-running operation; the runbook polls the job's state.
        request = {"name": self.job}
        self._call("promote", lambda: self.client.promote_migration_job(request=request, timeout=self.deadline_seconds))
