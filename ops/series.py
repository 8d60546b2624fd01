"""Time series as the ops commands read and write them: CSV with the header
`timestamp,value`, ISO 8601 timestamps at one regular interval, finite numbers.

`ops anomalies` and `ops forecast` read files through `read_series`; the anomaly service
builds the same `Series` from Prometheus. A file that breaks a rule is refused with its
name, the line and what was expected: never a traceback, never a silently skipped row.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from ops.steps import PreconditionFailed

HEADER = ("timestamp", "value")
# A year of one-minute points, with room: beyond this a file is not a metric's history.
MAX_POINTS = 1_000_000
MAX_LINE_CHARS = 200


class SeriesError(PreconditionFailed):
    """The input is not a series these commands accept (exit 2: nothing was computed)."""


@dataclass(frozen=True)
class Series:
    # The timestamps as written (echoed back unchanged), and parsed.
    labels: tuple[str, ...]
    start: datetime
    interval: timedelta
    values: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.values)

    def time(self, index: int) -> datetime:
        """The timestamp of point `index`; past the end, where the series would continue."""
        return self.start + index * self.interval

    def steps(self, period: timedelta) -> int | None:
        """How many points make `period` (a day, a week), if the interval divides it."""
        if period % self.interval:
            return None
        return period // self.interval


def read_series(path: Path, minimum: int = 2) -> Series:
    """The series in `path` ('-' is stdin), at least `minimum` points long."""
    try:
        if str(path) == "-":
            import sys

            return parse(sys.stdin, "stdin", minimum)
        with path.open(encoding="utf-8-sig", newline="") as stream:
            return parse(stream, str(path), minimum)
    except UnicodeDecodeError as error:
        raise SeriesError(f"{path}: not UTF-8 text (byte {error.start}); expected a CSV file") from None
    except OSError as error:
        raise SeriesError(f"{path}: {error.strerror}") from None


def parse(stream: TextIO, name: str, minimum: int = 2) -> Series:
    rows = csv.reader(_bounded_lines(stream, name))
    header = next(rows, None)
    if header is None:
        raise SeriesError(f"{name}: empty; expected the header 'timestamp,value' and at least {minimum} rows")
    if tuple(cell.strip().lower() for cell in header) != HEADER:
        raise SeriesError(f"{name}:1: header {','.join(header)!r}; expected 'timestamp,value'")
    labels: list[str] = []
    times: list[datetime] = []
    values: list[float] = []
    for row in rows:
        line = rows.line_num
        if not row or row == [""]:
            continue  # a blank line (a trailing newline, a CRLF file's last line)
        if len(row) != 2:
            raise SeriesError(f"{name}:{line}: {len(row)} fields; expected 2 (timestamp,value)")
        if len(values) == MAX_POINTS:
            raise SeriesError(f"{name}:{line}: more than {MAX_POINTS:,} points; expected at most that many")
        label, text = row[0].strip(), row[1].strip()
        moment = _timestamp(name, line, label)
        if times:
            _check_order(name, line, moment, times)
        labels.append(label)
        times.append(moment)
        values.append(_value(name, line, text))
    if len(values) < minimum:
        raise SeriesError(f"{name}: {len(values)} points; expected at least {minimum}")
    interval = times[1] - times[0] if len(times) > 1 else timedelta(0)
    return Series(tuple(labels), times[0], interval, tuple(values))


def _bounded_lines(stream: TextIO, name: str) -> Iterable[str]:
    for number, line in enumerate(stream, start=1):
        if len(line) > MAX_LINE_CHARS:
            raise SeriesError(f"{name}:{number}: a line of {len(line)} characters; expected 'timestamp,value'")
        yield line


def _timestamp(name: str, line: int, label: str) -> datetime:
    try:
        return datetime.fromisoformat(label)
    except ValueError:
        raise SeriesError(
            f"{name}:{line}: timestamp {label!r}; expected ISO 8601 such as 2026-11-30T12:00:00Z"
        ) from None


def _check_order(name: str, line: int, moment: datetime, times: Sequence[datetime]) -> None:
    if (moment.tzinfo is None) != (times[0].tzinfo is None):
        raise SeriesError(f"{name}:{line}: a time zone on some timestamps only; expected all or none")
    step = moment - times[-1]
    if len(times) == 1:
        if step <= timedelta(0):
            raise SeriesError(f"{name}:{line}: timestamp not after the one before; expected rising timestamps")
        return
    interval = times[1] - times[0]
    if step != interval:
        raise SeriesError(
            f"{name}:{line}: {_duration(step)} after the point before; expected the series' interval, "
            f"{_duration(interval)} (a missing or repeated point?)"
        )


def _value(name: str, line: int, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SeriesError(f"{name}:{line}: value {text!r}; expected a number") from None
    if not math.isfinite(value):
        raise SeriesError(f"{name}:{line}: value {text!r}; expected a finite number")
    return value


def _duration(step: timedelta) -> str:
    seconds = step.total_seconds()
    return f"{seconds:g}s" if seconds < 0 or seconds % 60 else f"{seconds / 60:g}min"


def format_time(series: Series, moment: datetime) -> str:
    """A timestamp in ISO 8601, UTC written as Z when the input had a zone."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]], stream: TextIO) -> None:
    """Rows as CSV with `header`; numbers in their shortest exact form."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return repr(round(value, 6)) if math.isfinite(value) else ""
    return str(value)


def to_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    write_csv(header, rows, buffer)
    return buffer.getvalue()
