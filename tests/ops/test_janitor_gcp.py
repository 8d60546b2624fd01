"""`ops janitor gcp` against recorded Compute API answers (tests/ops/fixtures/janitor/gcp/),
replayed by a fake HTTP transport under the real google-api-python-client: each answer is
given only to the request it was recorded for (method, path and query), in order, so a
wrong call fails the test, and every recorded exchange must be used."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httplib2
import pytest

from ops.cli import main
from ops.janitor import cli as janitor_cli
from ops.janitor import gcp as janitor_gcp
from ops.janitor import pricing
from ops.janitor.gcp import GcpJanitor, Malformed, compute_client
from ops.janitor.model import Rules
from ops.janitor.sweep import Report, sweep
from ops.steps import OpsError
from tests.ops.conftest import audit
from tests.servers import free_port

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "janitor" / "gcp"
PROJECT = "project-ai-prod"
# The clock the recordings were made at: the deletions' request ids derive from it.
NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)


class Replay:
    """An httplib2.Http stand-in that answers from a recording, and fails on any request
    the recording does not expect next."""

    def __init__(self, exchanges: list[dict[str, Any]]) -> None:
        self.exchanges = list(exchanges)
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.timeout = None

    @classmethod
    def of(cls, name: str) -> Replay:
        return cls(json.loads((FIXTURES / name).read_text(encoding="utf-8")))

    def request(self, uri, method="GET", body=None, headers=None, redirections=5, connection_type=None):
        parts = urlsplit(uri)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        self.seen.append((method, parts.path, query))
        assert self.exchanges, f"unexpected request {method} {parts.path} {query}: the recording is used up"
        exchange = self.exchanges.pop(0)
        expected = exchange["request"]
        assert (method, parts.path, query) == (expected["method"], expected["path"], expected["query"]), (
            f"request {method} {parts.path} {query} does not match the recording's {expected}"
        )
        answer = exchange["response"]
        raw = answer["raw"].encode() if "raw" in answer else json.dumps(answer["body"]).encode()
        content_type = answer.get("contentType", "application/json; charset=UTF-8")
        return httplib2.Response({"status": str(answer["status"]), "content-type": content_type}), raw

    def close(self) -> None:
        pass

    @property
    def used_up(self) -> bool:
        return not self.exchanges


class Sleeps:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def janitor(replay: Replay, regions: tuple[str, ...] = (), retries: int = 0, sleeps: Sleeps | None = None):
    compute = compute_client(5.0, http=replay, sleep=sleeps or Sleeps())
    return GcpJanitor(compute, PROJECT, regions, NOW, pricing.load(), retries)


def run(replay: Replay, apply: bool, environment: str | None = "prod", max_deletions: int = 10, **options):
    log = audit(dry_run=not apply)
    report = Report("gcp", PROJECT, not apply, pricing.load())
    rules = Rules(datetime.timedelta(days=7), environment)
    sweep([janitor(replay, **options)], rules, NOW, apply, max_deletions, log, report)
    return report, log.lines


def by_name(report: Report) -> dict[str, Any]:
    return {verdict.finding.id: verdict for verdict in report.verdicts}


def test_unattached_disks_and_reserved_addresses_are_found_across_pages():
    replay = Replay.of("scan.json")
    report, lines = run(replay, apply=False)
    assert replay.used_up
    found = by_name(report)
    assert set(found) == {
        "orphan-data",
        "fresh-volume",
        "someone-elses",
        "no-labels",
        "other-region",
        "old-ingress",
        "spare-ip",
        "internal-ip",
    }
    # In use: the node's boot disk, the NAT's address.
    assert "gke-node-boot" not in found and "nat-ip" not in found
    orphan = found["orphan-data"]
    assert orphan.delete and orphan.finding.location == "us-central1-a" and orphan.finding.region == "us-central1"
    assert orphan.finding.since == datetime.datetime(2026, 5, 1, 16, 30, 12, 345000, tzinfo=datetime.UTC)
    table = pricing.load().table
    assert orphan.finding.monthly_usd == pytest.approx(100 * table.unit("gcp", "pdBalancedGbMonth"))
    assert found["fresh-volume"].finding.monthly_usd == pytest.approx(10 * table.unit("gcp", "pdSsdGbMonth"))
    # pd-standard and static addresses: not in the table, left unpriced rather than guessed.
    assert found["someone-elses"].finding.monthly_usd is None and found["spare-ip"].finding.monthly_usd is None
    assert not found["fresh-volume"].delete and "within the grace period" in found["fresh-volume"].why
    assert "resembles it" in found["someone-elses"].why and not found["someone-elses"].delete
    assert "not ours" in found["no-labels"].why
    assert "environment 'staging', not 'prod'" in found["internal-ip"].why
    assert {line["detail"]["id"] for line in lines} == {"orphan-data", "other-region", "old-ingress", "spare-ip"}
    assert all(line["outcome"] == "would-apply" for line in lines)
    assert report.exit_code == 0


def test_regions_narrow_the_scan_but_global_addresses_stay():
    replay = Replay.of("scan.json")
    report, _ = run(replay, apply=False, regions=("us-central1",))
    assert "other-region" not in by_name(report) and "old-ingress" in by_name(report)


def test_apply_deletes_and_waits_for_each_operation():
    replay = Replay.of("apply.json")
    report, lines = run(replay, apply=True, regions=("us-central1",))
    assert replay.used_up  # every recorded delete and wait was asked, in order
    assert [finding.id for finding in report.deleted] == ["orphan-data", "old-ingress", "spare-ip"]
    assert report.exit_code == 0
    applied = [line["detail"] for line in lines if line["outcome"] == "applied"]
    assert [detail["action"] for detail in applied] == [
        "compute.disks.delete",
        "compute.globalAddresses.delete",
        "compute.addresses.delete",
    ]


def test_a_disk_taken_meanwhile_fails_and_the_rest_go_on():
    replay = Replay.of("apply_disk_taken.json")
    report, lines = run(replay, apply=True, regions=("us-central1",))
    assert replay.used_up
    assert [finding.id for finding in report.deleted] == ["old-ingress", "spare-ip"]
    [(failed, error)] = report.failed
    assert failed.id == "orphan-data" and "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE" in error and "batch-7" in error
    assert report.exit_code == 1
    assert [line["detail"]["id"] for line in lines if line["outcome"] == "failed"] == ["orphan-data"]


def test_the_bound_refuses_before_any_call_to_delete():
    replay = Replay.of("scan.json")
    report, _ = run(replay, apply=True, max_deletions=3)
    assert replay.used_up  # the scan only: no delete was sent
    assert report.exit_code == 2 and "4 resources would be deleted" in report.refused


@pytest.mark.parametrize(
    ("recording", "message"),
    [
        ("forbidden.json", "HTTP 403: permission denied"),
        ("not_found.json", "HTTP 404: not found: check --project"),
    ],
)
def test_api_errors_are_one_line_each(recording, message):
    replay = Replay.of(recording)
    findings, errors = janitor(replay).scan()
    assert replay.used_up and findings == []
    assert len(errors) == 2 and all(message in error for error in errors)
    assert "compute.disks.aggregatedList" in errors[0] and "compute.addresses.aggregatedList" in errors[1]
    assert all("\n" not in error for error in errors)


def test_a_server_error_is_retried_then_reported_without_sleeping():
    replay, sleeps = Replay.of("server_error.json"), Sleeps()
    findings, errors = janitor(replay, retries=1, sleeps=sleeps).scan()
    assert replay.used_up and len(sleeps.seconds) == 1
    assert errors == [
        "compute.disks.aggregatedList: HTTP 500: the Compute API failed even after retries: Internal error. "
        "Please try again or contact Google Support. (Code: '5C0E1A2B3C4D5')"
    ]
    assert {finding.id for finding in findings} == {"old-ingress", "spare-ip", "internal-ip"}


def test_a_server_error_then_success_is_a_clean_scan():
    replay, sleeps = Replay.of("server_error_then_ok.json"), Sleeps()
    findings, errors = janitor(replay, retries=1, sleeps=sleeps).scan()
    assert replay.used_up and errors == [] and len(sleeps.seconds) == 1
    assert "orphan-data" in {finding.id for finding in findings}


@pytest.mark.parametrize(
    ("recording", "problem"),
    [
        ("malformed.json", "items is not a mapping of scopes"),
        ("malformed_fields.json", "creationTimestamp 'yesterday'"),
        ("malformed_size.json", "sizeGb 'a lot'"),
        ("repeating_token.json", "nextPageToken repeats"),
    ],
)
def test_a_malformed_answer_is_an_error_that_names_the_call(recording, problem):
    replay = Replay.of(recording)
    findings, errors = janitor(replay).scan()
    assert replay.used_up
    assert errors[0].startswith("compute.disks.aggregatedList: malformed response") and problem in errors[0]
    assert "orphan-data" not in {finding.id for finding in findings}


def test_an_address_without_a_status_is_malformed():
    replay = Replay.of("malformed.json")
    _, errors = janitor(replay).scan()
    assert errors[1] == "compute.addresses.aggregatedList: malformed response: an address has no status"


def test_a_body_that_is_not_json_is_malformed():
    page = {"method": "GET", "path": f"/compute/v1/projects/{PROJECT}/aggregated/disks"}
    html = {"status": 200, "raw": "<html><body>Proxy login</body></html>", "contentType": "text/html"}
    replay = Replay([{"request": {**page, "query": {"maxResults": "500", "alt": "json"}}, "response": html}])
    with pytest.raises(Malformed, match=r"compute\.disks\.aggregatedList: malformed response"):
        janitor(replay).disks()


def test_a_request_the_recording_does_not_expect_fails():
    replay = Replay.of("scan.json")
    replay.exchanges[0]["request"]["query"]["maxResults"] = "100"
    with pytest.raises(AssertionError, match="does not match the recording"):
        janitor(replay).disks()


def test_a_frozen_api_is_a_timeout_in_one_line():
    class Frozen(Replay):
        def request(self, *args, **kwargs):
            raise TimeoutError("timed out")

    with pytest.raises(OpsError, match=r"compute.disks.aggregatedList: the Compute API did not answer in time"):
        janitor(Frozen([])).disks()


# --- the command line ---


def test_the_command_runs_the_recording_and_prints_json(monkeypatch, capsys):
    replay = Replay.of("scan.json")
    monkeypatch.setattr(janitor_cli, "now", lambda: NOW)
    monkeypatch.setattr(janitor_gcp, "compute_client", lambda timeout, **_: compute_client(timeout, http=replay))
    code = main(["janitor", "gcp", "--project", PROJECT, "--environment", "prod", "--format", "json"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and replay.used_up and printed["dryRun"]
    assert printed["totals"]["deletable"] == 4 and printed["totals"]["found"] == 8


def test_missing_google_credentials_are_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    code = main(["janitor", "gcp", "--project", PROJECT])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("ops: error: no Google credentials") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_token_endpoint_that_is_down_is_reported_per_listing_not_a_traceback(monkeypatch, capsys):
    # Real user credentials whose token endpoint (a port nothing listens on) cannot be
    # reached: each listing fails to get a token, as it does with no route to Google.
    import google.auth
    from google.oauth2.credentials import Credentials

    token_uri = f"http://127.0.0.1:{free_port()}/token"
    credentials = Credentials(None, refresh_token="r", token_uri=token_uri, client_id="c", client_secret="s")
    monkeypatch.setattr(google.auth, "default", lambda scopes=None: (credentials, PROJECT))
    code = main(["janitor", "gcp", "--project", PROJECT, "--region", "us-central1", "--timeout-seconds", "5"])
    out, err = capsys.readouterr()
    failures = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert code == 1 and "Traceback" not in out + err
    assert len(failures) == 2 and all("the Compute API could not be reached" in line for line in failures)
    assert "totals: 0 found" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: --project"),
        (["--project", "Project AI"], "is not a Google Cloud project id"),
        (["--project", "abc"], "is not a Google Cloud project id"),
        (["--project", "a" * 31], "is not a Google Cloud project id"),
        (["--project", PROJECT, "--region", "us-central-1"], "is not a Google Cloud region name"),
        (["--project", PROJECT, "--retries", "11"], "11 is outside 0 to 10"),
    ],
)
def test_bad_flags_are_refused_clearly(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["janitor", "gcp", *argv])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and message in err


def test_the_report_names_what_it_could_not_price():
    replay = Replay.of("scan.json")
    report, _ = run(replay, apply=False)
    text = io.StringIO()
    report.write_text(text)
    last = text.getvalue().splitlines()[-1]
    assert "unpriced" in last and "recorded" in last
