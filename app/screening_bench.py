"""`python -m app.screening_bench`: what screening costs on adversarial input, per KiB and
as a ratio to a linear scan of the same text, measured in this process.

The linear scan is one RE2 search that must read every character (a pattern that never
matches). Screening does more per character (NFKC, three patterns, the JSON parse), so
its ratio is a constant above 1; a pattern that backtracks would grow with the length
instead (Python's `re` took 97 s on 60 KB of a quote and whitespace). Each figure is the
best of several runs, which is the least disturbed by other work on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import re2

from app.api.schemas import MAX_BODY_BYTES
from app.middleware.body_guard import inspect
from app.middleware.client_limits import MAX_QUERY_BYTES

_NEVER_MATCHES = re2.compile(r"(?i)[\s\pZ]zq[\s\pZ]+qz")

# Inputs that made the old patterns backtrack, and their kin: a start, then a unit repeated.
ADVERSARIAL = {
    "quote, then spaces": ("'", " "),
    "dquote, then tabs": ('"', "\t"),
    "tag openers": ("", "<a"),
    "script openers": ("", "<script"),
    "command openers": ("", "$("),
    "quote or": ("", "' or "),
    "no-break spaces": ("'", "\u00a0"),
    "handler attributes": ("", "<img onerror="),
    "non-ASCII": ("", "é"),
}


def best_seconds(run: Callable[[], object], repeats: int = 5, at_least: float = 0.002) -> float:
    """Seconds per run: the best of `repeats` samples, each of enough runs to last
    `at_least`, so a run of microseconds is not lost in the clock's and scheduler's noise."""
    runs = 1
    while True:
        started = time.perf_counter()
        for _ in range(runs):
            run()
        if time.perf_counter() - started >= at_least:
            break
        runs *= 2
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(runs):
            run()
        best = min(best, (time.perf_counter() - started) / runs)
    return best


def body_of(text: str) -> bytes:
    return json.dumps({"model": "echo-1", "prompt": text}).encode()


def cost_ratio(query: bytes, body: bytes | None) -> tuple[float, float]:
    """(screening seconds, screening / linear scan of the same characters)."""
    scanned = (query + (body or b"")).decode("utf-8", "replace")
    screening = best_seconds(lambda: inspect(query, body, None, screening=True))
    scan = best_seconds(lambda: _NEVER_MATCHES.search(scanned))
    return screening, screening / max(scan, 1e-9)


def filled(start: str, unit: str, length: int) -> str:
    """`start`, then `unit` repeated, `length` characters in all."""
    return (start + unit * (length // len(unit) + 1))[:length]


def main() -> None:
    cli = argparse.ArgumentParser(prog="python -m app.screening_bench", description=__doc__.splitlines()[0])
    cli.add_argument("--kib", type=int, nargs="+", default=[1, 16, 64, 256])
    args = cli.parse_args()
    print(f"body limit {MAX_BODY_BYTES} bytes, query limit {MAX_QUERY_BYTES} bytes")
    print(f"{'input':<22}{'KiB':>6}{'µs/KiB':>10}{'× scan':>9}")
    worst = 0.0
    for name, (start, unit) in ADVERSARIAL.items():
        for kib in args.kib:
            # Characters such that the JSON body stays within the limit, as a client's must.
            text = filled(start, unit, kib * 1024 // len(json.dumps(unit)[1:-1].encode()) * len(unit))
            body = body_of(text)[:MAX_BODY_BYTES]
            seconds, ratio = cost_ratio(b"", body)
            worst = max(worst, ratio)
            print(f"{name:<22}{len(body) / 1024:>6.0f}{seconds * 1e6 / (len(body) / 1024):>10.1f}{ratio:>9.1f}")
    query = ("q=" + filled("", "%27 or ", MAX_QUERY_BYTES - 2)).encode()
    seconds, ratio = cost_ratio(query, None)
    print(f"{'query, %27 or':<22}{len(query) / 1024:>6.0f}{seconds * 1e6 / (len(query) / 1024):>10.1f}{ratio:>9.1f}")
    print(f"worst ratio to a linear scan: {max(worst, ratio):.1f}")


if __name__ == "__main__":
    main()
