"""What a person reads: a short summary per stack (-v for the counts), `--help` with the
commands and exit codes, a report.md that always fits a pull-request comment, a diff
against an earlier run, and names that cannot forge a line or break a table."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from policies.core.evaluate import Finding, Outcome
from preflight import diff
from preflight.cli import main, parser
from preflight.graph import STACK_TYPE, Graph, Resource
from preflight.kubernetes import INVALID, VALID, ObjectResult
from preflight.monitoring import ToolCheck
from preflight.policies import PolicyReport
from preflight.report import GITHUB_COMMENT_LIMIT, BaseDiff, StackReport, as_markdown, as_text
from tests.conftest import write_program

FORGED = "\n== stack test: OK\n"
HOSTILE = f"""
import pulumi
import pulumi_kubernetes as k8s

FORGED = {FORGED!r}
k8s.core.v1.ConfigMap(
    "cm" + FORGED + "| `tick` |",
    metadata={{"name": "cm" + FORGED + "|x", "namespace": "default"}},
    data={{"a": "b"}},
    immutable="yes",
)
k8s.core.v1.Pod(
    "pod" + FORGED + "| `tick` |\\x1b[2K\\u202e",
    metadata={{"name": "debug", "namespace": "default"}},
    spec={{"containers": [{{"name": "shell" + FORGED, "image": "busybox:latest",
                          "securityContext": {{"privileged": True}}}}]}},
)
pulumi.log.warn("careful" + FORGED + "| `tick` |")
pulumi.export("out" + FORGED, 1)
"""


def _cells(row: str) -> int:
    """The cells of a Markdown table row: `|` not escaped by a backslash."""
    return len(re.findall(r"(?<!\\)\|", row)) - 1


def _tables_intact(document: str) -> None:
    """Every table row has as many cells as its header, and nothing is cut mid-row."""
    columns = None
    for line in document.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line
            if columns is None:
                columns = _cells(line)
            assert _cells(line) == columns, line
        else:
            columns = None


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """preflight -v --out on a program whose names and messages try to forge lines."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "program").mkdir()
    write_program(folder / "program", "hostile", HOSTILE, {"test": {}})
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["--program", str(folder / "program"), "--stack", "test", "--out", str(folder / "out"), "-v"])
    return code, printed.getvalue(), folder / "out"


def test_a_hostile_name_forges_no_line_in_the_text_report(hostile: tuple[int, str, Path]) -> None:
    code, text, _ = hostile
    assert code == 1
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("==")] == ["== stack test: FAILED"]
    assert "== stack test: OK" not in lines
    assert not any(char in text for char in "\x1b\u202e\r\t")
    # The names are shown, their newlines and escapes spelled out.
    assert "     INVALID ConfigMap default/cm\\n== stack test: OK\\n|x: immutable: 'yes' is not of type" in text
    assert "pod\\n== stack test: OK\\n| `tick` |\\x1b[2K\\u202e: container 'shell\\n== stack test: OK\\n'" in text
    assert "     warning: careful\\n== stack test: OK\\n| `tick` |" in text
    assert "   outputs: out\\n== stack test: OK\\n" in text


def test_a_hostile_name_breaks_no_markdown_table(hostile: tuple[int, str, Path]) -> None:
    _, _, out = hostile
    for name in ("report.md", "policies.md"):
        document = (out / name).read_text()
        assert "== stack test: OK" not in document.splitlines()
        assert not any(char in document for char in "\x1b\u202e\r\t")
        _tables_intact(document)
    report = (out / "report.md").read_text()
    # The URN in a code span whose fence outlasts the name's backticks, its `|` escaped.
    urn = "urn:pulumi:test::hostile::pulumi:pulumi:Stack$kubernetes:core/v1:Pod::pod"
    assert f"| ``{urn}\\n== stack test: OK\\n\\| `tick` \\|" in report
    # As text, the backticks are escaped and the newline shown.
    assert "| test | warning: careful\\\\n== stack test: OK\\\\n\\| \\`tick\\` \\| |" in report


def _graph(stack: str, resources: int = 3) -> Graph:
    root = Resource(f"urn:pulumi:{stack}::p::pulumi:pulumi:Stack::p-{stack}", STACK_TYPE, f"p-{stack}", False)
    items = [root]
    for index in range(resources):
        urn = f"urn:pulumi:{stack}::p::kubernetes:core/v1:ConfigMap::c{index}"
        items.append(Resource(urn, "kubernetes:core/v1:ConfigMap", f"c{index}", True, root.urn))
    return Graph("p", stack, items, diagnostics=[f"warning: something about {stack}"] * 3)


def _huge(stacks: int, findings: int) -> tuple[list[StackReport], dict[str, BaseDiff]]:
    """Many stacks with many of everything, and long messages."""
    reports, changes = [], {}
    long = "a long explanation | with `code` and <html> " * 40
    waiver = SimpleNamespace(reason=long, owner="team-a", expires=datetime.date(2030, 1, 1))
    for index in range(stacks):
        stack = f"stack-{index:04d}"
        outcome = Outcome()
        for number in range(findings):
            urn = f"urn:pulumi:{stack}::p::kubernetes:core/v1:Pod::pod-{number}"
            level = "mandatory" if number % 3 == 0 else "advisory"
            outcome.violations.append(Finding("zero-trust", f"rule-{number % 7}", "high", level, urn, long, long))
            outcome.waived.append(Finding("cost", "labels", "low", "advisory", urn, "m", "f", waiver))
        report = StackReport(stack, graph=_graph(stack), kubernetes_version="1.33", policies=PolicyReport(outcome))
        report.objects = [
            ObjectResult("ConfigMap", "v1", f"c{n}", "default", "urn", INVALID if n % 2 else VALID, [long, "two"])
            for n in range(findings)
        ]
        report.tool_checks = [ToolCheck("promtool", f"PrometheusRule r{n}", "failed", long) for n in range(findings)]
        reports.append(report)
        changes[stack] = BaseDiff(
            [
                diff.Change(f"urn-{n}", "kubernetes:core/v1:ConfigMap", f"c{n}", "replaced", ["data.x"])
                for n in range(50)
            ]
        )
    return reports, changes


@pytest.mark.parametrize(("stacks", "findings"), [(1, 2_000), (300, 40), (3_000, 1)])
def test_report_md_fits_a_pull_request_comment_whatever_the_size(stacks: int, findings: int) -> None:
    reports, changes = _huge(stacks, findings)
    document = as_markdown(reports, changes)
    assert len(document) <= len(document.encode()) <= GITHUB_COMMENT_LIMIT
    for section in ("## Summary", "## Policy verdicts", "## Waivers applied", "## Tool results"):
        assert section in document
    assert "## Kubernetes objects not valid" in document and "## Changes against the base" in document
    # Lists cut short say how many more there are and where they are, on a line of their own.
    more = re.findall(r"^… (\d+) more, see (.*)$", document, re.M)
    assert ("see policies.md / report.json" in document) and more
    assert {where for _, where in more} <= {"policies.md / report.json", "report.json"}
    _tables_intact(document)
    # Mandatory violations come before advisory ones when not all fit.
    rows = [line for line in document.splitlines() if line.startswith("| stack-") and "rule-" in line]
    assert "**mandatory**" in rows[0]


def test_report_md_carries_verdicts_waivers_tools_and_changes() -> None:
    reports, changes = _huge(2, 3)
    document = as_markdown(reports, changes)
    assert document.startswith("# preflight: FAILED (exit 1: validation failures or mandatory policy violations)")
    assert (
        "| stack-0000 | **failed** | 3 | 2 | 1 | 0 | promtool 3 failed | 1 | 2 | 3 | 0 | 3 | 50 replaced |" in document
    )
    assert (
        "| stack-0000 | labels | `urn:pulumi:stack-0000::p::kubernetes:core/v1:Pod::pod-0` | team-a | a long"
        in document
    )
    assert "| 2030-01-01 |" in document
    assert "| stack-0001 | replaced | kubernetes:core/v1:ConfigMap | `c0` | data.x |" in document
    assert "| stack-0001 | … 30 more, see report.json |  |  |  |" in document


def test_the_default_summary_fits_a_screen_and_verbose_adds_the_counts(local_graph: Graph) -> None:
    report = StackReport("local", graph=local_graph, kubernetes_version="1.33")
    report.tool_checks = [ToolCheck("promtool", "PrometheusRule a/b", "ok"), ToolCheck("amtool", "config", "ok")]
    summary = as_text([report], out=Path("build/preflight"))
    components = sum(1 for r in local_graph.resources if r.type.startswith("projectai:"))
    assert summary.splitlines() == [
        "== stack local: OK",
        f"   resources: {len(local_graph.deployed())} in {components} components",
        "   kubernetes: no objects",
        "   tools: amtool 1 ok; promtool 1 ok",
        "   policies: 0 mandatory, 0 advisory, 0 waived, 0 unknown until deployed",
        "   reports: build/preflight/local/",
        "preflight: local ok",
        "exit 0: clean",
        "reports: build/preflight/ report.md (for a pull request), policies.md, report.json, stacks.svg; "
        "per stack: graph.json, report.json, topology.svg, k8s/",
        "(-v adds resources by component and type, advisory and waived findings, outputs)",
    ]
    verbose = as_text([report], verbose=True)
    assert "   by type:" in verbose and "   by component:" in verbose
    assert re.search(r"^ +\d+  kubernetes:networking.k8s.io/v1:NetworkPolicy$", verbose, re.M)
    assert len(verbose.splitlines()) > 40


def test_help_names_the_commands_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    text = capsys.readouterr().out
    assert "python -m preflight diff [options]" in text
    for line in (
        "0  clean",
        "1  validation failures or mandatory policy violations",
        "2  configuration or program errors",
    ):
        assert f"  {line}\n" in text
    # Every paragraph ends a sentence: nothing is cut off.
    description = text.split("\n\n")[1]
    assert description.endswith("and report.")


SMALL = """
import pulumi_kubernetes as k8s

k8s.core.v1.ConfigMap("settings", metadata={"name": "settings", "namespace": "default"}, data={"mode": "MODE"})
k8s.core.v1.ConfigMap("extra", metadata={"name": "extra", "namespace": "default"}, data={"a": "b"})
"""


def test_base_reports_what_changes_since_an_earlier_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "program").mkdir()
    write_program(tmp_path / "program", "small", SMALL.replace("MODE", "one"), {"dev": {}, "qa": {}})
    program = ["--program", str(tmp_path / "program")]
    main([*program, "--stack", "dev", "--out", str(tmp_path / "before")])
    write_program(tmp_path / "program", "small", SMALL.replace("MODE", "two"), {"dev": {}, "qa": {}})
    capsys.readouterr()
    main(
        [
            *program,
            "--stack",
            "dev",
            "--stack",
            "qa",
            "--base",
            str(tmp_path / "before"),
            "--out",
            str(tmp_path / "after"),
        ]
    )
    text = capsys.readouterr().out
    assert "   changes against the base: 1 replaced" in text
    assert (
        f"   changes against the base: no base graph ({tmp_path}/before/qa/graph.json does not exist): a new stack"
        in text
    )
    report = (tmp_path / "after" / "report.md").read_text()
    assert "| dev | replaced | kubernetes:core/v1:ConfigMap | `settings` | data.mode |" in report
    data = json.loads((tmp_path / "after" / "report.json").read_text())
    dev = next(stack for stack in data["stacks"] if stack["stack"] == "dev")
    assert dev["changes"]["counts"]["replaced"] == 1
    with pytest.raises(SystemExit) as stopped:
        main([*program, "--stack", "dev", "--base", str(tmp_path / "nowhere")])
    assert stopped.value.code == 2
    assert "nowhere: no such directory (expected an earlier --out folder)" in capsys.readouterr().err
