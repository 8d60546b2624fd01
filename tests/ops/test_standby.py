"""Promoting prod-gcp's standby: Google's DMS client over real gRPC to a local server that
serves the DataMigrationService methods and records each request."""

from __future__ import annotations

import contextlib
import threading
from concurrent import futures

import boto3
import grpc
import pytest
from google.cloud import clouddms_v1
from google.longrunning import operations_pb2

from ops.dr import runbooks
from ops.dr.standby import Standby, dms_client
from ops.steps import OpsError, PreconditionFailed
from tests.ops.conftest import audit
from tests.ops.test_aurora import aws  # noqa: F401 (fixture)

SERVICE = "google.cloud.clouddms.v1.DataMigrationService"
JOB = "projects/project-ai-prod/locations/us-central1/migrationJobs/project-ai-prod-gcp-replication"
TIMING = runbooks.Timing(settle_seconds=600, interval_seconds=15)
State, Phase = clouddms_v1.MigrationJob.State, clouddms_v1.MigrationJob.Phase


class FakeDms:
    """A migration job that DMS would report; promoting it completes it after `lag` reads."""

    def __init__(self, state: int, phase: int, lag: int = 0, hang: threading.Event | None = None) -> None:
        self.state, self.phase, self.lag, self.hang = state, phase, lag, hang
        self.requests: list[tuple[str, str]] = []
        self.promoted = False

    def get(
        self, request: clouddms_v1.GetMigrationJobRequest, context: grpc.ServicerContext
    ) -> clouddms_v1.MigrationJob:
        self.requests.append(("GetMigrationJob", request.name))
        if self.hang is not None:
            self.hang.wait(10)
        if request.name != JOB:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Resource '{request.name}' was not found")
        if self.promoted:
            if self.lag:
                self.lag -= 1
            else:
                self.state, self.phase = State.COMPLETED, Phase.PHASE_UNSPECIFIED
        return clouddms_v1.MigrationJob(name=JOB, state=self.state, phase=self.phase)

    def promote(self, request: clouddms_v1.PromoteMigrationJobRequest, context) -> operations_pb2.Operation:
        self.requests.append(("PromoteMigrationJob", request.name))
        self.promoted = True
        self.phase = Phase.PROMOTE_IN_PROGRESS
        return operations_pb2.Operation(name=f"{JOB}/operations/promote-1", done=False)


@contextlib.contextmanager
def dms(fake: FakeDms):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handlers = {
        "GetMigrationJob": grpc.unary_unary_rpc_method_handler(
            fake.get,
            request_deserializer=clouddms_v1.GetMigrationJobRequest.deserialize,
            response_serializer=clouddms_v1.MigrationJob.serialize,
        ),
        "PromoteMigrationJob": grpc.unary_unary_rpc_method_handler(
            fake.promote,
            request_deserializer=clouddms_v1.PromoteMigrationJobRequest.deserialize,
            response_serializer=operations_pb2.Operation.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield dms_client(channel=channel)
    finally:
        if fake.hang is not None:
            fake.hang.set()
        channel.close()
        server.stop(grace=None).wait(5)


def test_a_replicating_standby_is_promoted_once_and_polled_until_completed(fake_clock):
    fake = FakeDms(State.RUNNING, Phase.CDC, lag=2)
    with dms(fake) as client:
        log = audit(dry_run=False)
        runbooks.promote_standby(Standby(JOB, client), None, False, TIMING, fake_clock.clock).run(log)
    assert fake.requests == [
        ("GetMigrationJob", JOB),  # done?
        ("GetMigrationJob", JOB),  # replicating?
        ("PromoteMigrationJob", JOB),
        ("GetMigrationJob", JOB),  # promote in progress
        ("GetMigrationJob", JOB),
        ("GetMigrationJob", JOB),  # completed
    ]
    assert [line["outcome"] for line in log.lines] == ["applying", "applied"]
    assert log.lines[0]["detail"] | {"summary": None} == {
        "summary": None,
        "job": JOB,
        "state": "RUNNING",
        "phase": "CDC",
        "forced": False,
        "aws": "not checked",
    }


def test_a_dry_run_reads_only(fake_clock):
    fake = FakeDms(State.RUNNING, Phase.CDC)
    with dms(fake) as client:
        runbooks.promote_standby(Standby(JOB, client), None, False, TIMING, fake_clock.clock).run(audit(dry_run=True))
    assert {method for method, _ in fake.requests} == {"GetMigrationJob"}


def test_a_promoted_standby_is_done_already(fake_clock):
    fake = FakeDms(State.COMPLETED, Phase.PHASE_UNSPECIFIED)
    with dms(fake) as client:
        log = audit(dry_run=False)
        runbooks.promote_standby(Standby(JOB, client), None, False, TIMING, fake_clock.clock).run(log)
    assert [line["outcome"] for line in log.lines] == ["already-done"] and len(fake.requests) == 1


def test_a_standby_still_copying_is_refused_unless_forced(fake_clock):
    fake = FakeDms(State.RUNNING, Phase.FULL_DUMP)
    with dms(fake) as client:
        with pytest.raises(PreconditionFailed, match="RUNNING in phase FULL_DUMP: the standby is not following"):
            runbooks.promote_standby(Standby(JOB, client), None, False, TIMING, fake_clock.clock).run(
                audit(dry_run=False)
            )
        assert ("PromoteMigrationJob", JOB) not in fake.requests
        runbooks.promote_standby(Standby(JOB, client), None, True, TIMING, fake_clock.clock).run(audit(dry_run=False))
    assert ("PromoteMigrationJob", JOB) in fake.requests


def test_a_job_that_does_not_exist_is_a_clear_error(fake_clock):
    other = JOB.replace("project-ai-prod-gcp-replication", "project-ai-staging-gcp-replication")
    with (
        dms(FakeDms(State.RUNNING, Phase.CDC)) as client,
        pytest.raises(OpsError, match=r"failed to read .* was not found"),
    ):
        Standby(other, client).state()


def test_a_frozen_service_fails_at_the_deadline():
    with (
        dms(FakeDms(State.RUNNING, Phase.CDC, hang=threading.Event())) as client,
        pytest.raises(OpsError, match=r"Database Migration Service (failed|did not answer) to read"),
    ):
        Standby(JOB, client, deadline_seconds=0.5).state()


def test_a_stopped_service_fails_at_the_deadline():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        with pytest.raises(OpsError, match=r"Database Migration Service (failed|did not answer) to read"):
            Standby(JOB, dms_client(channel=channel), deadline_seconds=0.5).state()
    finally:
        channel.close()


@pytest.mark.parametrize(
    "job",
    [
        "project-ai-prod-gcp",
        "projects/project-ai-prod/locations/us-central1/migrationJobs/",
        "projects/p/locations/us-central1/migrationJobs/job",
        JOB + "/../../other",
        JOB.replace("project-ai-prod-gcp-replication", "x" * 61),
        JOB + "\n",
    ],
)
def test_a_malformed_job_name_says_what_was_expected(job):
    with pytest.raises(OpsError, match="is not a migration job name"):
        Standby(job, client=None)


def test_a_job_waiting_for_source_writes_to_stop_has_no_copy_yet_and_is_refused(fake_clock):
    # DMS's phase before the dump (RDS sources): the standby holds nothing yet.
    fake = FakeDms(State.RUNNING, Phase.WAITING_FOR_SOURCE_WRITES_TO_STOP)
    with dms(fake) as client, pytest.raises(PreconditionFailed, match="not following the primary"):
        runbooks.promote_standby(Standby(JOB, client), None, False, TIMING, fake_clock.clock).run(audit(dry_run=True))


def test_a_healthy_aurora_writer_refuses_the_promotion_unless_forced(aws, fake_clock):  # noqa: F811
    """A second writer beside a serving Aurora is a split brain."""
    fake = FakeDms(State.RUNNING, Phase.CDC)
    with dms(fake) as client:
        with pytest.raises(PreconditionFailed, match=r"Aurora's writer in us-east-1 is available .*second writer"):
            runbooks.promote_standby(Standby(JOB, client), aws, False, TIMING, fake_clock.clock).run(
                audit(dry_run=False)
            )
        assert ("PromoteMigrationJob", JOB) not in fake.requests
        boto3.client("rds", region_name="us-east-1").stop_db_cluster(DBClusterIdentifier="project-ai-prod")
        log = audit(dry_run=True)
        runbooks.promote_standby(Standby(JOB, client), aws, False, TIMING, fake_clock.clock).run(log)
    assert log.lines[0]["outcome"] == "would-apply" and log.lines[0]["detail"]["aws"] == "writer stopped"
