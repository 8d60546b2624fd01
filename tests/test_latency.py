"""The edge's latency budget: docs/latency.md's table and the README's summary are what
tools/latency_table.py makes of docs/latency.csv, the data covers every Cloudflare
load-balancer geography and exactly the production regions the edge fronts, and it names
its source and date."""

from __future__ import annotations

import importlib.util
import re
import sys

import yaml

from tests.conftest import ROOT

# Cloudflare load-balancer regions (geo steering's region_pools keys).
GEOGRAPHIES = ["WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS"]


def _tool():
    spec = importlib.util.spec_from_file_location("latency_table", ROOT / "tools" / "latency_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["latency_table"] = module
    spec.loader.exec_module(module)
    return module


TOOL = _tool()
COMMENTS, ROWS = TOOL.load()


def test_the_doc_table_is_generated_from_the_data() -> None:
    doc = (ROOT / "docs" / "latency.md").read_text(encoding="utf-8")
    assert TOOL.block_of(doc) == TOOL.doc_block(ROWS, COMMENTS), "run tools/latency_table.py --write"


def test_the_readme_summary_is_generated_from_the_data() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert TOOL.block_of(readme) == TOOL.summary(ROWS), "run tools/latency_table.py --write"
    assert "(docs/latency.md)" in readme


def test_every_geography_once() -> None:
    assert [row.code for row in ROWS] == GEOGRAPHIES


def test_the_pools_are_the_regions_the_edge_fronts() -> None:
    edge = yaml.safe_load((ROOT / "Pulumi.prod-global.yaml").read_text())["config"]["projectai:edge"]
    regions = {}
    for stack in edge["origins"]:
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        regions[config["projectai:region"]] = stack
    assert regions == TOOL.POOLS


def test_the_data_names_its_source_and_date_and_marks_estimates() -> None:
    source = next(line for line in COMMENTS if line.startswith("source:"))
    assert "https://" in source and re.search(r"\b20\d\d-\d\d-\d\d\b", source)
    for row in ROWS:
        assert row.basis == "measured" or row.basis.startswith("estimate: "), row.code
        assert all(0 < ms < 400 for ms in row.rtt.values()), row.code
    assert {row.code for row in ROWS if row.estimate} == {"NSAM", "NAF"}


def test_the_verdicts_follow_the_target() -> None:
    missed = {row.code for row in TOOL.misses(ROWS)}
    assert missed == {"SSAM", "OC", "ME", "SAF", "SAS", "SEAS", "NEAS"}
    assert all(row.first[1] == min(row.rtt.values()) for row in ROWS)


def test_the_declared_steering_keeps_the_target_where_the_data_allows() -> None:
    """A geography whose nearest pool is within the target keeps it under the edge's
    declared pool order (`regionPools`), when the edge declares one."""
    edge = yaml.safe_load((ROOT / "Pulumi.prod-global.yaml").read_text())["config"]["projectai:edge"]
    declared = edge.get("regionPools") or {}
    regions = {stack: region for region, stack in TOOL.POOLS.items()}
    for row in ROWS:
        if row.code not in declared or row.first[1] >= TOOL.TARGET_MS:
            continue
        first = regions[declared[row.code][0]]
        assert row.rtt[first] < TOOL.TARGET_MS, f"{row.code} first goes to {first}: {row.rtt[first]} ms"
