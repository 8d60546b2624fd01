"""The edge's latency budget, from docs/latency.csv: each Cloudflare geography's round
trip to its nearest production pool against the 100 ms target.

    .venv/bin/python tools/latency_table.py          # print the tables
    .venv/bin/python tools/latency_table.py --write  # rewrite them in docs/latency.md and README.md

The generated parts sit between `<!-- latency:begin -->` and `<!-- latency:end -->`;
tests/test_latency.py fails when they differ from what this script makes of the data.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "docs" / "latency.csv"
DOC = ROOT / "docs" / "latency.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- latency:begin -->", "<!-- latency:end -->"
TARGET_MS = 100
# The pools, in the order the data file lists them: region and stack.
POOLS = {"us-east-1": "prod", "eu-west-1": "prod-eu", "us-central1": "prod-gcp"}


@dataclass(frozen=True)
class Geography:
    code: str
    name: str
    stands_for: str
    basis: str
    rtt: dict[str, int]  # pool region -> round trip in ms

    @property
    def ranked(self) -> list[tuple[str, int]]:
        return sorted(self.rtt.items(), key=lambda item: (item[1], list(POOLS).index(item[0])))

    @property
    def first(self) -> tuple[str, int]:
        return self.ranked[0]

    @property
    def estimate(self) -> bool:
        return self.basis.startswith("estimate")


def load(path: Path = DATA) -> tuple[list[str], list[Geography]]:
    """The data file's comment lines (its source) and its rows."""
    lines = path.read_text(encoding="utf-8").splitlines()
    comments = [line[1:].strip() for line in lines if line.startswith("#")]
    rows = csv.DictReader(line for line in lines if line and not line.startswith("#"))
    found = []
    for row in rows:
        rtt = {pool: int(row[pool]) for pool in POOLS}
        found.append(Geography(row["geography"], row["name"], row["stands_for"], row["basis"], rtt))
    return comments, found


def table(geographies: list[Geography]) -> str:
    head = "| geography | users met at | first pool | RTT (ms) | then | within 100 ms |"
    lines = [head, "|---|---|---|---:|---|---|"]
    for geo in geographies:
        (pool, ms), rest = geo.first, geo.ranked[1:]
        then = ", ".join(f"{region} {rtt}" for region, rtt in rest)
        verdict = "yes" if ms < TARGET_MS else f"**no**, {ms - TARGET_MS} ms over"
        where = geo.stands_for + (" *(estimate)*" if geo.estimate else "")
        lines.append(f"| {geo.code} ({geo.name}) | {where} | {pool} ({POOLS[pool]}) | {ms} | {then} | {verdict} |")
    return "\n".join(lines)


def misses(geographies: list[Geography]) -> list[Geography]:
    return [geo for geo in geographies if geo.first[1] >= TARGET_MS]


def summary(geographies: list[Geography]) -> str:
    missed = misses(geographies)
    met = [geo.code for geo in geographies if geo not in missed]
    return (
        f"Within the 100 ms target: {', '.join(met)}. "
        f"Over it: {', '.join(f'{geo.code} {geo.first[1]} ms' for geo in missed)}."
    )


def doc_block(geographies: list[Geography], comments: list[str]) -> str:
    notes = "\n".join(f"- {line}" for line in comments)
    return f"{table(geographies)}\n\n{summary(geographies)}\n\nFrom `docs/latency.csv`:\n\n{notes}"


def replace_block(text: str, block: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return f"{text[:start]}\n{block}\n{text[end:]}"


def block_of(text: str) -> str:
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip("\n")


def main(argv: list[str]) -> int:
    comments, geographies = load()
    doc, readme = doc_block(geographies, comments), summary(geographies)
    if "--write" not in argv:
        print(doc)
        return 0
    DOC.write_text(replace_block(DOC.read_text(encoding="utf-8"), doc), encoding="utf-8")
    README.write_text(replace_block(README.read_text(encoding="utf-8"), readme), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
