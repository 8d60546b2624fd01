"""ops/series.py at its limits: what a `timestamp,value` file may look like, and a clear
refusal (file, line, what was expected) for everything else."""

from __future__ import annotations

import io
import math
from datetime import timedelta

import pytest

from ops import series as series_module
from ops.series import SeriesError, parse, read_series

ROWS = "2026-01-01T00:00:00Z,1\n2026-01-01T00:05:00Z,2.5\n2026-01-01T00:10:00Z,-3e2\n"


def read(tmp_path, content, minimum=2):
    path = tmp_path / "s.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return read_series(path, minimum)


def refused(tmp_path, content, message, minimum=2):
    with pytest.raises(SeriesError, match=message):
        read(tmp_path, content, minimum)


@pytest.mark.parametrize("header", ["timestamp,value", "Timestamp,Value", " timestamp , VALUE "])
def test_the_header_may_vary_in_case_and_spaces(tmp_path, header):
    loaded = read(tmp_path, f"{header}\n{ROWS}")
    assert loaded.values == (1.0, 2.5, -300.0) and loaded.interval == timedelta(minutes=5)
    assert loaded.labels == ("2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z")


@pytest.mark.parametrize("header", ["time,value", "value,timestamp", "timestamp,value,extra", "timestamp"])
def test_any_other_header_is_refused(tmp_path, header):
    refused(tmp_path, f"{header}\n{ROWS}", "s.csv:1: header .*; expected 'timestamp,value'")


def test_a_bom_crlf_line_ends_and_blank_lines_are_accepted(tmp_path):
    content = "\ufefftimestamp,value\r\n" + ROWS.replace("\n", "\r\n").replace("2.5\r\n", "2.5\r\n\r\n") + "\r\n\r\n"
    assert read(tmp_path, content).values == (1.0, 2.5, -300.0)


def test_an_empty_file_or_too_few_points_is_refused(tmp_path):
    refused(tmp_path, "", "s.csv: empty; expected the header")
    refused(tmp_path, "timestamp,value\n", "s.csv: 0 points; expected at least 2")
    refused(tmp_path, f"timestamp,value\n{ROWS}", "3 points; expected at least 4", minimum=4)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("2026-01-01T00:00:00Z,1\n2026-01-01T00:05:00,2\n", "s.csv:3: a time zone on some timestamps only"),
        ("2026-01-01T00:00:00,1\n2026-01-01T00:05:00+00:00,2\n", "s.csv:3: a time zone on some timestamps only"),
        ("2026-01-01T00:00:00Z,1\n2026-01-01T00:00:00Z,2\n", "s.csv:3: timestamp not after the one before"),
        ("2026-01-01T00:05:00Z,1\n2026-01-01T00:00:00Z,2\n", "s.csv:3: timestamp not after the one before"),
        (
            ROWS + "2026-01-01T00:20:00Z,4\n",
            r"s.csv:5: 10min after the point before; expected the series' interval, 5min",
        ),
        (ROWS + "2026-01-01T00:10:00Z,4\n", "s.csv:5: 0min after the point before"),
        (ROWS + "2026-01-01T00:05:00Z,4\n", "s.csv:5: -300s after the point before"),
        ("yesterday,1\n2026-01-01T00:05:00Z,2\n", "s.csv:2: timestamp 'yesterday'; expected ISO 8601"),
        ("2026-01-01T00:00:00Z,1,2\n", "s.csv:2: 3 fields; expected 2"),
        ("2026-01-01T00:00:00Z\n", "s.csv:2: 1 fields; expected 2"),
        ("2026-01-01T00:00:00Z,one\n", "s.csv:2: value 'one'; expected a number"),
        ("2026-01-01T00:00:00Z,\n", "s.csv:2: value ''; expected a number"),
    ],
)
def test_timestamps_and_values_out_of_line_are_refused_at_their_line(tmp_path, rows, message):
    refused(tmp_path, "timestamp,value\n" + rows, message)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
def test_non_finite_values_are_refused(tmp_path, value):
    refused(
        tmp_path,
        f"timestamp,value\n{ROWS}2026-01-01T00:15:00Z,{value}\n",
        f"s.csv:5: value '{value}'; expected a finite",
    )


def test_equal_interval_across_a_time_zone_offset_is_one_series(tmp_path):
    loaded = read(tmp_path, "timestamp,value\n2026-01-01T00:00:00+00:00,1\n2026-01-01T01:05:00+01:00,2\n")
    assert loaded.interval == timedelta(minutes=5)


def test_more_points_than_the_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(series_module, "MAX_POINTS", 3)
    assert len(read(tmp_path, f"timestamp,value\n{ROWS}")) == 3
    refused(tmp_path, f"timestamp,value\n{ROWS}2026-01-01T00:15:00Z,4\n", "s.csv:5: more than 3 points")


def test_the_real_point_limit_holds_a_year_of_minutes():
    assert series_module.MAX_POINTS >= 366 * 24 * 60


def test_a_long_line_is_refused_before_it_is_parsed(tmp_path):
    refused(tmp_path, f"timestamp,value\n2026-01-01T00:00:00Z,{'1' * 500}\n", "s.csv:2: a line of 522 characters")
    # One long line with no newline at all (a binary blob) is refused too.
    refused(tmp_path, "x" * 100_000, "s.csv:1: a line of 100000 characters")


def test_non_utf8_and_a_missing_file_are_refused(tmp_path):
    refused(
        tmp_path, "timestamp,value\n2026-01-01T00:00:00Z,1\xe9\n".encode("latin-1"), "not UTF-8 text .*expected a CSV"
    )
    refused(tmp_path, b"\xff\xfe" + "timestamp,value\n".encode("utf-16-le"), "not UTF-8 text")
    with pytest.raises(SeriesError, match=r"nothing\.csv: No such file"):
        read_series(tmp_path / "nothing.csv")
    with pytest.raises(SeriesError, match="Is a directory"):
        read_series(tmp_path)


def test_stdin_is_read_for_a_dash(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(f"timestamp,value\n{ROWS}"))
    assert read_series("-").values == (1.0, 2.5, -300.0)
    monkeypatch.setattr("sys.stdin", io.StringIO("timestamp,value\n2026-01-01T00:00:00Z,x\n"))
    with pytest.raises(SeriesError, match="stdin:2: value 'x'"):
        read_series("-")


def test_the_series_knows_its_times_and_seasons():
    loaded = parse(io.StringIO(f"timestamp,value\n{ROWS}"), "s")
    assert loaded.time(3).isoformat() == "2026-01-01T00:15:00+00:00"
    assert loaded.steps(timedelta(days=1)) == 288 and loaded.steps(timedelta(minutes=7)) is None


def test_written_numbers_are_short_and_non_finite_ones_are_empty():
    text = series_module.to_text(("a", "b"), [(0.1 + 0.2, 3), (math.nan, "x")])
    assert text == "a,b\n0.3,3\n,x\n"
