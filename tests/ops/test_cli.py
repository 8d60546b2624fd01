"""`python -m ops dr ...` as on-call types it: moto behind the real boto3 session, exit
codes that say what happened, and a clear line for every mistake."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.ops.conftest import audit_lines, run
from tests.ops.test_aurora import PRIMARY, SECONDARY, SECONDARY_ARN, aws, report_lag  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": PRIMARY}.items():
        monkeypatch.setenv(name, value)


def test_status_shows_every_member_and_the_secondarys_lag(aws, capsys):  # noqa: F811
    report_lag(420)
    code, out, _ = run(capsys, "dr", "status")
    assert code == 0
    status = json.loads(out)
    assert [(m["region"], m["role"], m["status"]) for m in status["members"]] == [
        (PRIMARY, "writer", "available"),
        (SECONDARY, "secondary", "available"),
    ]
    assert status["members"][1]["lag_seconds"] == 0.42


def test_status_exits_1_when_the_writer_is_not_healthy(aws, capsys):  # noqa: F811
    boto3.client("rds", region_name=PRIMARY).stop_db_cluster(DBClusterIdentifier="project-ai-prod")
    code, out, _ = run(capsys, "dr", "status")
    assert code == 1 and json.loads(out)["members"][0]["status"] == "stopped"


def test_switchover_is_a_dry_run_unless_applied_and_audits_to_a_file(aws, capsys, tmp_path):  # noqa: F811
    report_lag(100)
    log = tmp_path / "audit.jsonl"
    code, _, err = run(capsys, "--audit-log", str(log), "dr", "switchover", "--to", SECONDARY)
    assert code == 0
    (line,) = audit_lines(err)
    assert line["outcome"] == "would-apply" and line["dry_run"] is True and line["detail"]["lag_within_bound"]
    assert json.loads(log.read_text()) == line


def test_failover_of_a_healthy_writer_exits_2_and_says_why(aws, capsys):  # noqa: F811
    code, _, err = run(capsys, "dr", "failover", "--to", SECONDARY, "--apply")
    assert code == 2
    assert "ops: refused: the writer in us-east-1 is healthy (available)" in err
    assert audit_lines(err)[0]["outcome"] == "refused"


def test_a_region_the_global_database_lacks_is_an_error_not_a_traceback(aws, capsys):  # noqa: F811
    code, _, err = run(capsys, "dr", "failover", "--to", "ap-southeast-1")
    assert code == 1 and err.startswith("ops: error: global database project-ai-prod-global has no member")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["dr", "switchover", "--to", "Europe"], "'Europe' is not an AWS region name"),
        (["dr", "switchover", "--to", "eu-west-1" + "x" * 300], "is not an AWS region name"),
        (["dr", "switchover", "--to", SECONDARY, "--max-lag-seconds", "-1"], "-1 s is outside 0 to 86400 s"),
        (["dr", "switchover", "--to", SECONDARY, "--max-lag-seconds", "nan"], "nan s is outside"),
        (["dr", "switchover", "--to", SECONDARY, "--lag-wait-seconds", "soon"], "'soon' is not a number of seconds"),
        (["dr", "failover"], "one of the arguments --to --to-cluster is required"),
        (["dr", "failover", "--to-cluster", "project-ai-prod-eu"], "is not an Aurora cluster ARN"),
        (["dr", "failover", "--to-cluster", SECONDARY_ARN.replace("cluster:", "db:")], "is not an Aurora cluster ARN"),
        (["dr", "failover", "--to", SECONDARY, "--to-cluster", SECONDARY_ARN], "not allowed with argument"),
        (["dr", "switchover", "--to", "eu-west-1\n"], "is not an AWS region name"),
        (["dr", "teleport"], "invalid choice: 'teleport'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2_with_what_was_expected(capsys, argv, problem):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert problem in err


def test_the_edge_options_go_together(aws, capsys, tmp_path):  # noqa: F811
    boto3.client("rds", region_name=PRIMARY).stop_db_cluster(DBClusterIdentifier="project-ai-prod")
    code, _, err = run(capsys, "dr", "failover", "--to", SECONDARY, "--edge-pool", "project-ai-prod")
    assert code == 1
    assert "--edge-pool, --cloudflare-account-id and --cloudflare-token-file go together" in err


def test_the_cli_loads_and_plans_without_posix_only_modules():
    """The Windows build imports no pwd, fcntl or termios: the dry-run drill still plans."""
    import subprocess
    import sys

    guarded = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def no_posix(name, *args, **kwargs):\n"
        "    if name.split('.')[0] in {'pwd', 'grp', 'fcntl', 'termios', 'resource'}:\n"
        "        raise ImportError(f'no {name} on Windows')\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = no_posix\n"
        "from ops.cli import main\n"
        "sys.exit(main(['dr', 'drill']))\n"
    )
    planned = subprocess.run([sys.executable, "-c", guarded], capture_output=True, text=True, timeout=60)
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout.splitlines()[-1])["dry_run"] is True


def test_promote_standby_names_a_malformed_job_plainly(capsys):
    code, _, err = run(capsys, "dr", "promote-standby", "--job", "project-ai-prod-gcp")
    assert code == 2
    assert "'project-ai-prod-gcp' is not a migration job name (projects/<project>/" in err


def test_promote_standby_without_google_credentials_says_how_to_get_them(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    code, _, err = run(capsys, "dr", "promote-standby")
    assert code == 1
    assert err.startswith("ops: error: no Google credentials: run `gcloud auth application-default login`")
    assert "Traceback" not in err


def test_an_audit_log_that_cannot_be_written_stops_before_any_step(aws, capsys, tmp_path):  # noqa: F811
    code, _, err = run(
        capsys, "--audit-log", str(tmp_path / "missing" / "audit.jsonl"), "dr", "switchover", "--to", SECONDARY
    )
    assert code == 1 and "cannot write the audit log" in err and "Traceback" not in err


def test_a_failover_asks_the_targets_region_when_no_region_is_given(monkeypatch, capsys):
    from ops.dr import cli

    asked = []

    class Recording:
        def __init__(self, identifier, region, clients):
            asked.append(region)
            raise cli.OpsError("stop here")

    monkeypatch.setattr("ops.dr.aurora.AuroraGlobal", Recording)
    run(capsys, "dr", "failover", "--to", SECONDARY)
    run(capsys, "dr", "switchover", "--to", SECONDARY)
    run(capsys, "dr", "failover", "--to", SECONDARY, "--region", "us-west-2")
    assert asked == [SECONDARY, PRIMARY, "us-west-2"]
