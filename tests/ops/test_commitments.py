"""`ops commitments`: the commitment that maximizes the net saving, checked against a
brute-force search; its figures; the history's limits (too short, gaps, negative, huge);
and Prometheus as the source (answering, stopped, frozen, answering garbage)."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ops.commitments import plan
from ops.commitments.history import MIN_HOURS
from policies.cost.prices import load
from tests.ops.conftest import run, serving

START = datetime(2026, 9, 1, tzinfo=UTC)


def brute_force(usage: list[float], discount: float) -> float:
    """The best saving over every candidate commitment: each usage level, and a fine grid."""
    top = max(usage)
    candidates = {0.0, *usage, *(top * i / 2000 for i in range(2001))}
    return max(plan.saving(usage, c, discount) for c in candidates)


@pytest.mark.parametrize("seed", range(40))
def test_the_optimum_saves_as_much_as_a_brute_force_search(seed: int) -> None:
    rng = random.Random(seed)
    hours = rng.choice([1, 2, 3, 7, 24, 50, 336])
    shape = rng.choice(["uniform", "integers", "steady", "spiky"])
    if shape == "integers":
        usage = [float(rng.randint(0, 6)) for _ in range(hours)]
    elif shape == "steady":
        usage = [5.0] * hours
    elif shape == "spiky":
        usage = [rng.choice([0.0, 1.0, 1.0, 40.0]) for _ in range(hours)]
    else:
        usage = [rng.uniform(0, 10) for _ in range(hours)]
    discount = rng.choice([0.01, 0.27, 0.37, 0.5, 0.62, 0.99])
    chosen = plan.optimum(usage, discount)
    assert plan.saving(usage, chosen, discount) == pytest.approx(brute_force(usage, discount), abs=1e-9)
    # The classic result: at least (1 - d) of the hours use the whole commitment.
    assert sum(u >= chosen for u in usage) >= (1 - discount) * len(usage) - 1e-9


def test_the_optimum_is_the_lower_end_when_a_segment_is_flat() -> None:
    # T d = 2: any c between the 2nd and 3rd smallest saves the same; the lower risks less.
    usage = [1.0, 2.0, 3.0, 4.0]
    assert plan.optimum(usage, 0.5) == 2.0
    assert plan.saving(usage, 2.0, 0.5) == pytest.approx(plan.saving(usage, 3.0, 0.5))
    assert plan.optimum(usage, 0.0) == 0.0 and plan.optimum([], 0.5) == 0.0


def test_a_steady_load_is_covered_whole_and_a_drop_shows_the_risk() -> None:
    result = plan.plan([10.0] * 720, "computeSavingsPlan", "1y", 0.3, 730, 0.2)
    assert result.covered_hourly == 10.0 and result.committed_hourly == pytest.approx(7.0)
    assert result.utilization == 1.0 and result.coverage == 1.0
    assert result.saving_monthly == pytest.approx(0.3 * 10 * 730) and result.saving_share == pytest.approx(0.3)
    assert result.break_even_utilization == pytest.approx(0.7)
    # 20% less usage: 80% used, saves 10% of the old bill (8 - 7 per hour).
    assert result.drop_utilization == pytest.approx(0.8)
    assert result.drop_saving_monthly == pytest.approx(1.0 * 730)


def test_usage_that_drops_below_break_even_loses_money() -> None:
    result = plan.plan([10.0] * 100, "x", "3y", 0.2, 730, 0.5)
    assert result.drop_utilization == pytest.approx(0.5) and result.drop_saving_monthly < 0


# --- the command, from a CSV ---


def write(path: Path, values: list[float | str], step: timedelta = timedelta(hours=1)) -> Path:
    rows = [f"{(START + i * step).isoformat().replace('+00:00', 'Z')},{v}" for i, v in enumerate(values)]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    return path


def daily(days: int, base: float = 3.0, peak: float = 2.0) -> list[float]:
    return [base + (peak if 8 <= h % 24 < 20 else 0.0) for h in range(days * 24)]


def test_node_counts_are_priced_and_planned_per_product_and_term(tmp_path, capsys) -> None:
    counts = daily(30)
    code, out, err = run(
        capsys,
        "commitments",
        str(write(tmp_path / "nodes.csv", counts)),
        "--region",
        "us-east-1",
        "--instance-type",
        "m6i.xlarge",
        "--format",
        "json",
    )
    assert code == 0, err
    report = json.loads(out)
    table = load()
    hourly = table.instance("aws", "us-east-1", "m6i.xlarge").hourly
    usage = [n * hourly for n in counts]
    expected = {
        (product, term)
        for product in ("computeSavingsPlan", "ec2InstanceSavingsPlan")
        for term in table.commitments["aws"][product]
    }
    assert {(p["product"], p["term"]) for p in report["plans"]} == expected
    for entry in report["plans"]:
        discount = table.commitment("aws", entry["product"], entry["term"])
        best = brute_force(usage, discount)
        assert entry["savingMonthlyUsd"] == pytest.approx(best / len(usage) * 730, abs=0.01)
        assert entry["breakEvenUtilization"] == pytest.approx(1 - discount)
        assert entry["onDemandMonthlyUsd"] == pytest.approx(sum(usage) / len(usage) * 730, abs=0.01)
        # Whole nodes: the half-day peak is worth covering only at a deep discount.
        assert entry["coveredNodes"] == (5.0 if discount >= 0.5 else 3.0)
    assert report["hours"] == 720 and "2026-11-30" in report["prices"]


def test_the_table_names_the_figures(tmp_path, capsys) -> None:
    code, out, err = run(capsys, "commitments", str(write(tmp_path / "usd.csv", daily(14))), "--region", "eu-west-1")
    assert code == 0, err
    assert "computeSavingsPlan" in out and "BREAK-EVEN" in out and "-20%" in out
    assert "binds one instance family" in out  # a USD series cannot be split by family


def test_five_minute_points_are_averaged_into_hours(tmp_path, capsys) -> None:
    values = [v for v in daily(15) for _ in range(12)]
    code, out, _ = run(
        capsys,
        "commitments",
        str(write(tmp_path / "fine.csv", values, timedelta(minutes=5))),
        "--region",
        "us-east-1",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["hours"] == 15 * 24


def test_gcp_and_databases_use_their_products(tmp_path, capsys) -> None:
    path = str(write(tmp_path / "u.csv", daily(20)))
    code, out, _ = run(capsys, "commitments", path, "--region", "us-central1", "--format", "json")
    assert code == 0 and {p["product"] for p in json.loads(out)["plans"]} == {"computeCommittedUse"}
    code, out, err = run(
        capsys,
        "commitments",
        path,
        "--region",
        "us-east-1",
        "--usage",
        "database",
        "--instance-type",
        "db.r6g.large",
        "--format",
        "json",
    )
    assert code == 0, err
    plans = json.loads(out)["plans"]
    assert {p["product"] for p in plans} == {"rdsReserved"}
    assert plans[0]["coveredOnDemandHourlyUsd"] == pytest.approx(
        3 * load().database("aws", "us-east-1", "db.r6g.large")
    )


@pytest.mark.parametrize(
    ("values", "step", "extra", "expected"),
    [
        ([1.0] * (MIN_HOURS - 1), timedelta(hours=1), [], "335 hours (14.0 days) of usage; expected at least 14 days"),
        ([1.0] * 400, timedelta(hours=2), [], "expected an interval that divides an hour"),
        ([1.0] * 399 + [-1.0], timedelta(hours=1), [], "a negative value"),
        ([1.0] * 399 + ["nan"], timedelta(hours=1), [], "expected a finite number"),
        ([1.0] * 400, timedelta(hours=1), ["--instance-type", "m5.large"], "no price for aws instance type 'm5.large'"),
        ([1.0] * 400, timedelta(hours=1), ["--product", "rdsReserved"], "--product 'rdsReserved'; expected one of"),
        ([1.0] * 400, timedelta(hours=1), ["--usage", "cache", "--region", "us-central1"], "no gcp commitment for"),
    ],
)
def test_a_history_it_cannot_plan_from_is_refused(tmp_path, capsys, values, step, extra, expected) -> None:
    path = write(tmp_path / "bad.csv", values, step)
    code, _, err = run(capsys, "commitments", str(path), "--region", "us-east-1", *extra)
    assert code == 2 and expected in err and "Traceback" not in err, err


def test_a_gap_in_the_csv_is_refused(tmp_path, capsys) -> None:
    path = write(tmp_path / "gap.csv", daily(20))
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:100] + lines[101:]) + "\n")
    code, _, err = run(capsys, "commitments", str(path), "--region", "us-east-1")
    assert code == 2 and "a missing or repeated point?" in err


def test_huge_values_stay_finite(tmp_path, capsys) -> None:
    code, out, _ = run(
        capsys,
        "commitments",
        str(write(tmp_path / "big.csv", [1e12] * 400)),
        "--region",
        "us-east-1",
        "--format",
        "json",
    )
    assert code == 0
    assert all(p["utilization"] == 1.0 and p["savingShare"] > 0 for p in json.loads(out)["plans"])


def test_the_source_is_one_of_a_file_or_prometheus(tmp_path, capsys) -> None:
    code, _, err = run(capsys, "commitments", "--region", "us-east-1")
    assert code == 2 and "expected FILE.csv or --prometheus URL" in err
    code, _, err = run(capsys, "commitments", "--region", "mars-1", str(write(tmp_path / "u.csv", daily(15))))
    assert code == 2 and "--region 'mars-1' is not in the price table" in err


# --- from Prometheus ---


class StandIn(ThreadingHTTPServer):
    """query_range answered with node counts by instance type per hour (`counts`), or
    `raw` bytes, or nothing until released (frozen)."""

    daemon_threads = True

    def __init__(self, hang: threading.Event | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hang = hang
        self.counts: dict[str, list[float | None]] = {}
        self.raw = b""
        self.asked: list[dict[str, list[str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        asked = parse_qs(urlsplit(self.path).query)
        self.server.asked.append(asked)
        if self.server.hang is not None:
            self.server.hang.wait(10)
            return
        start, end, step = (float(asked[k][0]) for k in ("start", "end", "step"))
        stamps = [start + i * step for i in range(int((end - start) / step) + 1)]
        result = [
            {
                "metric": {"instance_type": kind},
                "values": [[t, str(n)] for t, n in zip(stamps, counts, strict=False) if n is not None],
            }
            for kind, counts in self.server.counts.items()
        ]
        body = (
            self.server.raw
            or json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def prometheus(hang: threading.Event | None = None) -> Iterator[StandIn]:
    with serving(StandIn(hang), hang) as server:
        yield server  # type: ignore[misc]


def test_node_counts_by_type_from_prometheus_are_planned_per_family(capsys) -> None:
    with prometheus() as fake:
        fake.counts = {"m6i.large": [2.0] * (30 * 24), "m6i.xlarge": daily(30, 1.0, 1.0), "c6i.large": [1.0] * 720}
        code, out, err = run(
            capsys,
            "commitments",
            "--prometheus",
            fake.url,
            "--region",
            "us-east-1",
            "--days",
            "30",
            "--format",
            "json",
        )
    assert code == 0, err
    asked = fake.asked[0]
    assert asked["query"] == ["count by (instance_type) (node_total_hourly_cost)"] and asked["step"] == ["3600"]
    report = json.loads(out)
    table = load()
    large = table.instance("aws", "us-east-1", "m6i.large").hourly
    xlarge = table.instance("aws", "us-east-1", "m6i.xlarge").hourly
    compute = next(p for p in report["plans"] if p["product"] == "computeSavingsPlan" and p["term"] == "1y-no-upfront")
    # Everything that runs every hour: two m6i.large, one m6i.xlarge, one c6i.large.
    steady = 2 * large + xlarge + table.instance("aws", "us-east-1", "c6i.large").hourly
    assert compute["coveredOnDemandHourlyUsd"] == pytest.approx(steady, abs=1e-4)
    families = {p["product"] for p in report["plans"] if p["product"].startswith("ec2InstanceSavingsPlan")}
    assert families == {"ec2InstanceSavingsPlan:c6i", "ec2InstanceSavingsPlan:m6i"}
    assert report["notes"] == []


def test_an_hour_without_any_node_is_a_gap(capsys) -> None:
    with prometheus() as fake:
        counts: list[float | None] = [1.0] * 720
        counts[300:303] = [None, None, None]
        fake.counts = {"m6i.large": counts}
        code, _, err = run(capsys, "commitments", "--prometheus", fake.url, "--region", "us-east-1")
    assert code == 2 and "no nodes at 3 of the 720 hours" in err and "without gaps" in err


@pytest.mark.parametrize(
    ("counts", "raw", "expected"),
    [
        ({}, b"", "Prometheus returned nothing for count by (instance_type)"),
        ({"m5.large": [1.0] * 720}, b"", "no price for aws instance type 'm5.large'"),
        ({}, b"<html>", "Prometheus refused the query (200): no JSON"),
        ({}, b'{"status": "success", "data": {"resultType": "vector", "result": []}}', "not a matrix"),
        ({}, b'{"status": "success", "data": {"resultType": "matrix", "result": [1]}}', "not a list of series"),
        (
            {},
            b'{"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}}]}}',
            "no 'instance_type'",
        ),
    ],
)
def test_prometheus_answers_it_cannot_use_are_clear_errors(capsys, counts, raw, expected) -> None:
    with prometheus() as fake:
        fake.counts, fake.raw = counts, raw
        code, _, err = run(capsys, "commitments", "--prometheus", fake.url, "--region", "us-east-1")
    assert code in (1, 2) and expected in err and "Traceback" not in err, err


def test_prometheus_stopped_is_a_clear_error(capsys) -> None:
    with prometheus() as stopped:
        url = stopped.url
    code, _, err = run(capsys, "commitments", "--prometheus", url, "--region", "us-east-1")
    assert code == 1 and f"Prometheus at {url} did not answer: ConnectError" in err


def test_prometheus_frozen_is_bounded_by_the_timeout(capsys) -> None:
    with prometheus(hang=threading.Event()) as frozen:
        started = time.monotonic()
        code, _, err = run(
            capsys, "commitments", "--prometheus", frozen.url, "--region", "us-east-1", "--timeout-seconds", "1"
        )
        waited = time.monotonic() - started
    assert code == 1 and "did not answer: ReadTimeout" in err
    assert waited < 8  # one query, cut off at the timeout
