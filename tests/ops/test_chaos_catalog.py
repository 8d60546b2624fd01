"""The failure-mode catalog (ops/chaos/failure_modes.yaml) and its generated doc."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ops.chaos import catalog
from ops.chaos.catalog import CatalogError, load, markdown
from ops.cli import main
from tests.conftest import ROOT

# The modes issue #18 names: the platform must survive each one.
REQUIRED = {
    "pod-loss",
    "node-loss",
    "zone-loss",
    "redis-loss",
    "redis-freeze",
    "database-failover",
    "database-freeze",
    "slow-upstream",
    "failing-upstream",
    "dns-failure",
    "clock-skew",
    "cpu-pressure",
    "memory-pressure",
    "network-partition",
    "bad-release",
}


def test_the_catalog_holds_every_required_mode_with_its_expected_behaviour() -> None:
    found = load()
    assert {mode.id for mode in found.modes} == REQUIRED
    assert all(len(mode.expected) > 80 for mode in found.modes)


def test_coverage_meets_the_roadmap_goal_on_both_sides() -> None:
    found = load()
    assert found.coverage() == 1.0
    assert found.coverage("local") >= catalog.COVERAGE_GOAL
    assert found.coverage("cluster") >= catalog.COVERAGE_GOAL


def test_coverage_counts_only_the_experiments_exercised() -> None:
    found = load()
    assert found.coverage("local", exercised=set()) == 0.0
    one = found.modes[0].local[0]
    assert found.coverage("local", exercised={one}) == pytest.approx(len(found.modes_of(one)) / len(found.modes))
    # An experiment of the other side exercises nothing here.
    assert found.coverage("local", exercised=found.experiments("cluster")) == 0.0


def test_the_doc_is_generated_from_the_catalog() -> None:
    doc = (ROOT / "docs" / "failure-modes.md").read_text(encoding="utf-8")
    assert doc == markdown(load()), "regenerate: python -m ops chaos catalog --markdown > docs/failure-modes.md"


def test_the_cli_prints_coverage_and_the_doc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "catalog"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("coverage: 100% of 15 modes (local ")
    assert main(["chaos", "catalog", "--markdown"]) == 0
    assert capsys.readouterr().out == markdown(load())


def write(tmp_path: Path, modes: object) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"modes": modes}) if not isinstance(modes, str) else modes)
    return path


GOOD = {"id": "a", "title": "A", "expected": "e", "local": ["x"], "cluster": ["y"]}


@pytest.mark.parametrize(
    ("modes", "message"),
    [
        ("modes: [", "not YAML"),
        ([], "non-empty list `modes`"),
        ("just text", "non-empty list `modes`"),
        (["a"], r"modes\[0\]: expected a mapping, got str"),
        ([GOOD, GOOD], "mode 'a' appears twice"),
        ([{**GOOD, "owner": "me"}], "unknown field.s. owner"),
        ([{**GOOD, "expected": "  "}], "`expected` missing or empty"),
        ([{**GOOD, "id": "Pod Loss"}], "is not a lower-case name"),
        ([{**GOOD, "id": "x" * 64}], "is not a lower-case name"),
        ([{**GOOD, "local": "worker-kill"}], "`local` must be a list"),
        ([{**GOOD, "cluster": ["../etc"]}], "`cluster` must be a list"),
        ([{**GOOD, "cluster": []}], "needs `elsewhere`"),
        ([{**GOOD, "cluster": [], "elsewhere": ["x"]}], "`elsewhere` must be text"),
    ],
)
def test_a_broken_catalog_is_refused_with_what_was_expected(tmp_path: Path, modes: object, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        load(write(tmp_path, modes))


def test_a_missing_catalog_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "catalog", "--file", str(tmp_path / "none.yaml")]) == 1
    missing = tmp_path / "none.yaml"
    assert capsys.readouterr().err.strip() == f"ops: error: {missing}: cannot read it (No such file or directory)"


def test_a_name_at_its_limit_is_accepted(tmp_path: Path) -> None:
    name = "a" + "b" * 61 + "c"
    found = load(write(tmp_path, [{**GOOD, "id": name, "local": [name]}]))
    assert found.modes_of(name) == [name]
