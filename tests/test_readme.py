"""The README's commands agree with the repository: the quick start is the two make
targets, the Pulumi CLI and plugin versions are the pinned SDKs', every stack file gets a
`pulumi stack init`, and the design doc is linked from the top."""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

from tests.conftest import PROJECT_STACKS, ROOT

README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def code_lines(text: str) -> list[str]:
    """The commands of the fenced code blocks in text, comments and blank lines left out."""
    blocks = re.findall(r"```(?:sh)?\n(.*?)```", text, re.DOTALL)
    lines = (line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line]


def pins() -> dict[str, str]:
    """The program's pinned Pulumi SDKs (requirements.txt), by distribution name."""
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if match := re.match(r"^(pulumi(?:-[a-z0-9-]+)?)==([\w.]+)", line.strip()):
            found[match.group(1)] = match.group(2)
    return found


def test_the_quick_start_is_the_two_make_targets() -> None:
    assert code_lines(section("Quick start")) == ["make preflight", "make test"]


def test_the_design_doc_is_linked_from_the_top() -> None:
    top = README[: README.index("\n## ")]
    assert "(docs/design.md)" in top and (ROOT / "docs" / "design.md").is_file()


def test_the_cli_is_the_sdk_version() -> None:
    real_path = section("The real Pulumi path")
    assert f"--version {pins()['pulumi']}" in real_path


def test_the_plugins_are_the_pinned_provider_sdks() -> None:
    listed = dict(
        re.findall(r"^pulumi plugin install resource ([a-z0-9-]+) v([\w.]+)", section("The real Pulumi path"), re.M)
    )
    expected = {}
    for distribution, version in pins().items():
        if distribution == "pulumi":
            continue
        # Each provider SDK names its plugin, and the plugin's version, in pulumi-plugin.json.
        files = metadata.files(distribution) or []
        (plugin_file,) = [f for f in files if Path(str(f)).name == "pulumi-plugin.json"]
        plugin = json.loads(plugin_file.read_text())
        assert plugin["version"] == version, distribution
        expected[plugin["name"]] = version
    assert listed == expected


def test_every_stack_file_gets_a_stack_init() -> None:
    initialized = set(re.findall(r"^pulumi stack init ([a-z0-9-]+)", section("The real Pulumi path"), re.M))
    assert initialized == set(PROJECT_STACKS)
