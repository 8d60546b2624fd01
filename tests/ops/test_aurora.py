"""The Aurora global database runbooks: state and preconditions on moto's RDS and
CloudWatch; the calls moto cannot make (switchover, failover; removal across regions is
a no-op there) through botocore's Stubber, which checks each call and answer against
AWS's own service model."""

from __future__ import annotations

import contextlib
import datetime
import socket
import threading

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ops.dr import runbooks
from ops.dr.aurora import AuroraGlobal, boto3_clients
from ops.steps import PreconditionFailed, StepFailed
from tests.ops.conftest import audit

GLOBAL = "project-ai-prod-global"
PRIMARY, SECONDARY = "us-east-1", "eu-west-1"
ACCOUNT = "123456789012"  # moto's
PRIMARY_ARN = f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:cluster:project-ai-prod"
SECONDARY_ARN = f"arn:aws:rds:{SECONDARY}:{ACCOUNT}:cluster:project-ai-prod-eu"
TIMING = runbooks.Timing(lag_wait_seconds=120, settle_seconds=900, interval_seconds=15)


def moto_clients(service: str, region: str):
    return boto3.client(service, region_name=region)


@pytest.fixture
def aws():
    """prod's global database: a writer in us-east-1 and a secondary in eu-west-1."""
    with mock_aws():
        primary = boto3.client("rds", region_name=PRIMARY)
        primary.create_global_cluster(GlobalClusterIdentifier=GLOBAL, Engine="aurora-postgresql", EngineVersion="16.4")
        primary.create_db_cluster(
            DBClusterIdentifier="project-ai-prod",
            Engine="aurora-postgresql",
            EngineVersion="16.4",
            MasterUsername="project_ai_admin",
            MasterUserPassword="not-a-real-password",
            GlobalClusterIdentifier=GLOBAL,
        )
        boto3.client("rds", region_name=SECONDARY).create_db_cluster(
            DBClusterIdentifier="project-ai-prod-eu",
            Engine="aurora-postgresql",
            EngineVersion="16.4",
            GlobalClusterIdentifier=GLOBAL,
        )
        yield AuroraGlobal(GLOBAL, PRIMARY, moto_clients)


def report_lag(milliseconds: float, cluster: str = "project-ai-prod-eu") -> None:
    boto3.client("cloudwatch", region_name=SECONDARY).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "AuroraGlobalDBReplicationLag",
                # A figure from the last minute, as RDS reports them.
                "Timestamp": datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=30),
                "Dimensions": [{"Name": "DBClusterIdentifier", "Value": cluster}],
                "Value": milliseconds,
                "Unit": "Milliseconds",
            }
        ],
    )


def test_state_names_the_writer_and_each_members_health(aws):
    state = aws.state()
    assert state.writer.arn == PRIMARY_ARN and state.writer.healthy
    assert state.in_region(SECONDARY).arn == SECONDARY_ARN and not state.in_region(SECONDARY).is_writer


def test_a_region_that_is_not_a_member_is_a_clear_error(aws):
    with pytest.raises(Exception, match=r"has no member in ap-southeast-1 \(members: eu-west-1, us-east-1\)"):
        aws.state().in_region("ap-southeast-1")


def test_lag_comes_from_cloudwatch_in_seconds_and_is_unknown_without_figures(aws):
    target = aws.state().in_region(SECONDARY)
    assert aws.lag_seconds(target) is None
    report_lag(250)
    assert aws.lag_seconds(target) == pytest.approx(0.25)


def test_dry_run_switchover_reports_lag_against_its_bound_and_acts_not(aws, fake_clock):
    report_lag(3_000)
    log = audit(dry_run=True)
    runbooks.switchover(aws, SECONDARY, 1.0, TIMING, fake_clock.clock).run(log)
    (line,) = log.lines
    assert line["outcome"] == "would-apply"
    assert line["detail"]["lag_seconds"] == 3.0 and line["detail"]["lag_within_bound"] is False
    assert aws.state().writer.region == PRIMARY


def test_switchover_waits_for_lag_then_gives_up_at_its_bound_without_acting(aws, fake_clock):
    report_lag(3_000)  # stays above 1 s: no switchover may be asked for
    log = audit(dry_run=False)
    with pytest.raises(Exception, match="lag of project-ai-prod-eu under 1 s did not happen within 120 s"):
        runbooks.switchover(aws, SECONDARY, 1.0, TIMING, fake_clock.clock).run(log)
    assert fake_clock.now == 120
    assert aws.state().writer.region == PRIMARY  # moto would have raised had switchover been called


def test_switchover_is_refused_while_the_writer_is_down(aws, fake_clock):
    boto3.client("rds", region_name=PRIMARY).stop_db_cluster(DBClusterIdentifier="project-ai-prod")
    with pytest.raises(PreconditionFailed, match="needs a healthy writer, and us-east-1 is stopped"):
        runbooks.switchover(aws, SECONDARY, 1.0, TIMING, fake_clock.clock).run(audit(dry_run=True))


def test_failover_of_a_healthy_writer_is_refused_without_force(aws, fake_clock):
    log = audit(dry_run=False)
    with pytest.raises(PreconditionFailed, match=r"writer in us-east-1 is healthy .*--force"):
        runbooks.failover(aws, SECONDARY_ARN, False, False, None, TIMING, fake_clock.clock).run(log)
    assert log.lines[0]["outcome"] == "refused"


def test_failover_to_the_region_that_already_writes_is_done_already(aws, fake_clock):
    log = audit(dry_run=False)
    runbooks.failover(aws, PRIMARY_ARN, True, False, None, TIMING, fake_clock.clock).run(log)
    assert [line["outcome"] for line in log.lines] == ["already-done"]


def test_dry_run_failover_of_a_stopped_writer_would_apply(aws, fake_clock):
    boto3.client("rds", region_name=PRIMARY).stop_db_cluster(DBClusterIdentifier="project-ai-prod")
    log = audit(dry_run=True)
    runbooks.failover(aws, SECONDARY_ARN, False, False, None, TIMING, fake_clock.clock).run(log)
    assert log.lines[0]["outcome"] == "would-apply"
    assert log.lines[0]["detail"]["writer"]["status"] == "stopped"


# --- what moto cannot do: each call checked against the service model by Stubber ---


def global_cluster(writer_arn: str, status: str = "available") -> dict:
    secondary = SECONDARY_ARN if writer_arn == PRIMARY_ARN else PRIMARY_ARN
    return {
        "GlobalClusters": [
            {
                "GlobalClusterIdentifier": GLOBAL,
                "Status": status,
                "GlobalClusterMembers": [
                    {"DBClusterArn": writer_arn, "IsWriter": True, "Readers": [secondary]},
                    {"DBClusterArn": secondary, "IsWriter": False, "SynchronizationStatus": "connected"},
                ],
            }
        ]
    }


def cluster(arn: str, status: str = "available", member: bool = True) -> dict:
    return {
        "DBClusters": [
            {
                "DBClusterArn": arn,
                "DBClusterIdentifier": arn.rsplit(":", 1)[-1],
                "Status": status,
                **({"GlobalClusterIdentifier": GLOBAL} if member else {}),
            }
        ]
    }


class Stubbed:
    """One stubbed client per (service, region), every expected call in order."""

    def __init__(self) -> None:
        self.stubbers: dict[tuple[str, str], Stubber] = {}

    def __call__(self, service: str, region: str):
        return self.stubber(service, region).client

    def stubber(self, service: str, region: str) -> Stubber:
        if (service, region) not in self.stubbers:
            stubber = Stubber(
                boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
            )
            stubber.activate()
            self.stubbers[service, region] = stubber
        return self.stubbers[service, region]

    def state(self, writer_arn: str, statuses: dict[str, str]) -> None:
        """What one `state()` reads: the global database, then each member's cluster."""
        self.stubber("rds", PRIMARY).add_response(
            "describe_global_clusters", global_cluster(writer_arn), {"GlobalClusterIdentifier": GLOBAL}
        )
        secondary = SECONDARY_ARN if writer_arn == PRIMARY_ARN else PRIMARY_ARN
        for arn in (writer_arn, secondary):
            region = arn.split(":")[3]
            self.stubber("rds", region).add_response(
                "describe_db_clusters", cluster(arn, statuses.get(region, "available")), {"DBClusterIdentifier": arn}
            )

    def assert_all_called(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def lag_response(stubbed: Stubbed, milliseconds: float) -> None:
    now = datetime.datetime.now(datetime.UTC)
    stubbed.stubber("cloudwatch", SECONDARY).add_response(
        "get_metric_statistics", {"Datapoints": [{"Timestamp": now, "Maximum": milliseconds}], "Label": "lag"}
    )


def test_switchover_waits_for_lag_asks_aurora_once_and_polls_for_the_new_writer(fake_clock):
    stubbed = Stubbed()
    stubbed.state(PRIMARY_ARN, {})  # done? no
    stubbed.state(PRIMARY_ARN, {})  # precondition
    lag_response(stubbed, 2_500)  # above the bound: wait
    lag_response(stubbed, 400)  # under it
    stubbed.state(PRIMARY_ARN, {})  # the action finds the target
    stubbed.state(PRIMARY_ARN, {})  # and checks no move is under way already
    stubbed.stubber("rds", PRIMARY).add_response(
        "switchover_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": GLOBAL}},
        {"GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": SECONDARY_ARN},
    )
    stubbed.state(PRIMARY_ARN, {})  # not yet
    stubbed.state(SECONDARY_ARN, {})  # switched
    database = AuroraGlobal(GLOBAL, PRIMARY, stubbed)
    log = audit(dry_run=False)
    runbooks.switchover(database, SECONDARY, 1.0, TIMING, fake_clock.clock).run(log)
    stubbed.assert_all_called()
    assert [line["outcome"] for line in log.lines] == ["applying", "applied"]
    assert log.lines[0]["detail"]["lag_seconds"] == 0.4
    assert fake_clock.sleeps == [15, 15]  # once for the lag, once for the new writer


def test_failover_of_an_unreachable_writer_uses_allow_data_loss_in_the_target_region(fake_clock):
    stubbed = Stubbed()
    stubbed.state(PRIMARY_ARN, {})  # done? no
    # The precondition: the writer's region answers with an error.
    stubbed.stubber("rds", PRIMARY).add_response(
        "describe_global_clusters", global_cluster(PRIMARY_ARN), {"GlobalClusterIdentifier": GLOBAL}
    )
    stubbed.stubber("rds", PRIMARY).add_client_error(
        "describe_db_clusters", "InternalFailure", "service unavailable", 503
    )
    stubbed.stubber("rds", SECONDARY).add_response(
        "describe_db_clusters", cluster(SECONDARY_ARN), {"DBClusterIdentifier": SECONDARY_ARN}
    )
    stubbed.state(PRIMARY_ARN, {PRIMARY: "inaccessible-encryption-credentials"})  # the action finds the target
    stubbed.state(PRIMARY_ARN, {PRIMARY: "inaccessible-encryption-credentials"})  # no move under way
    stubbed.stubber("rds", SECONDARY).add_response(
        "failover_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": GLOBAL}},
        {"GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": SECONDARY_ARN, "AllowDataLoss": True},
    )
    stubbed.state(SECONDARY_ARN, {PRIMARY: "failing-over"})  # done
    database = AuroraGlobal(GLOBAL, PRIMARY, stubbed)
    log = audit(dry_run=False)
    runbooks.failover(database, SECONDARY_ARN, False, False, None, TIMING, fake_clock.clock).run(log)
    stubbed.assert_all_called()
    assert log.lines[0]["detail"]["writer"]["status"].startswith("unreachable: An error occurred (InternalFailure)")


def test_detach_and_promote_removes_the_target_by_arn_in_its_own_region_and_resumes(fake_clock):
    stubbed = Stubbed()
    secondary = stubbed.stubber("rds", SECONDARY)
    secondary.add_response("describe_db_clusters", cluster(SECONDARY_ARN), {"DBClusterIdentifier": SECONDARY_ARN})
    stubbed.state(PRIMARY_ARN, {PRIMARY: "inaccessible-encryption-credentials"})
    secondary.add_response(
        "remove_from_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": GLOBAL}},
        {"GlobalClusterIdentifier": GLOBAL, "DbClusterIdentifier": SECONDARY_ARN},
    )
    secondary.add_response(
        "describe_db_clusters", cluster(SECONDARY_ARN, member=False), {"DBClusterIdentifier": SECONDARY_ARN}
    )
    database = AuroraGlobal(GLOBAL, PRIMARY, stubbed)
    runbooks.failover(database, SECONDARY_ARN, False, True, None, TIMING, fake_clock.clock).run(audit(dry_run=False))
    # Run again (the laptop lost its session): the target stands alone, nothing is called.
    secondary.add_response(
        "describe_db_clusters", cluster(SECONDARY_ARN, member=False), {"DBClusterIdentifier": SECONDARY_ARN}
    )
    log = audit(dry_run=False)
    runbooks.failover(database, SECONDARY_ARN, False, True, None, TIMING, fake_clock.clock).run(log)
    stubbed.assert_all_called()
    assert [line["outcome"] for line in log.lines] == ["already-done"]


def test_aws_refusing_the_failover_is_a_failed_step_with_its_reason(fake_clock):
    stubbed = Stubbed()
    for _ in range(4):  # done?, the precondition, the action's target, no move under way
        stubbed.state(PRIMARY_ARN, {PRIMARY: "stopped"})
    stubbed.stubber("rds", SECONDARY).add_client_error(
        "failover_global_cluster", "InvalidGlobalClusterStateFault", "the global cluster is busy", 400
    )
    database = AuroraGlobal(GLOBAL, PRIMARY, stubbed)
    with pytest.raises(StepFailed, match=r"InvalidGlobalClusterStateFault.*the global cluster is busy"):
        runbooks.failover(database, SECONDARY_ARN, False, False, None, TIMING, fake_clock.clock).run(
            audit(dry_run=False)
        )


# --- AWS stopped and frozen: real clients against endpoints on 127.0.0.1 ---


@contextlib.contextmanager
def frozen_endpoint():
    """Accepts connections and never answers, like a hung endpoint."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


def stopped_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed again: refused


@pytest.mark.parametrize("endpoint", ["stopped", "frozen"])
def test_an_endpoint_that_is_down_or_hangs_is_a_clear_error_within_the_timeout(endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(frozen_endpoint()) if endpoint == "frozen" else stopped_endpoint()
        database = AuroraGlobal(GLOBAL, PRIMARY, boto3_clients(timeout_seconds=0.5, attempts=1, endpoint_url=url))
        with pytest.raises(Exception, match=f"us-east-1 did not answer for {GLOBAL}"):
            database.state()
