"""The repository stands alone: no code, test, Makefile line, workflow or doc depends on a
path outside it, so a clone with nothing beside it runs `make preflight` and `make test`.

Every tracked text file is scanned for references to places outside the clone: the
workspace it was developed in, folders beside the clone (the team's shared folder), the
machine's own caches, and relative paths that climb out of the repository. Relative
Markdown links must also land on a file that exists in the repository. There is no
allow-list: a file that needs such a path is a bug to fix, not an exception to record.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

# Patterns are written so that this file does not match itself.
OUTSIDE = {
    "the development workspace": re.compile(r"(?<![\w.-])/work[/]"),
    "the team's shared folder beside the clone": re.compile(
        r"\bshared[/](crd-schemas|DESIGN\.md|STYLE\.md|hooks)\b|\.\.[/]shared\b"
    ),
    "a machine-local library or mirror": re.compile(r"\.(library|mirror)[/]|bash_jobs[.]"),
    "a home directory": re.compile(r"(?<![\w.-])/(home|Users)[/][\w.-]+"),
}
# A path that starts with one or more `..` segments, as a word of its own (not one inside
# a URL path, which a server resolves).
CLIMBING = re.compile(r"(?<![\w/.~-])((?:\.\.[/])+[\w.@+-][\w./@+-]*)")
# A relative Markdown link or image target: [text](target) without a scheme.
MARKDOWN_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# Folders that are never tracked (.gitignore), for a copy that is not a git checkout.
UNTRACKED = {".git", ".venv", ".venv-checkov", "build", "__pycache__", ".pytest_cache", ".ruff_cache", "venv"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}: {self.text}"


def tracked_files(root: Path) -> list[Path]:
    """The files git tracks in root; when root is not a git checkout of its own (an
    exported copy), every file outside the folders git never tracks."""
    if _git(root, "rev-parse", "--show-toplevel").strip() != str(root.resolve()):
        return sorted(
            path
            for path in root.rglob("*")
            if path.is_file() and not UNTRACKED & set(path.relative_to(root).parts[:-1])
        )
    listed = _git(root, "ls-files", "-z").split("\0")
    return [root / name for name in listed if name and (root / name).is_file()]


def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _inside(root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def outside_references(root: Path, files: list[Path]) -> list[Finding]:
    findings = []
    for path in files:
        text = text_of(path)
        if text is None:
            continue
        name = path.relative_to(root).as_posix()
        for number, line in enumerate(text.splitlines(), start=1):
            for what, pattern in OUTSIDE.items():
                if match := pattern.search(line):
                    findings.append(Finding(name, number, what, match.group(0)))
            for match in CLIMBING.finditer(line):
                # Relative to the file (a link, a path in code) or to the repository root
                # (a command run from it): outside the clone either way is a finding.
                target = match.group(1)
                if not (_inside(root, path.parent / target) or _inside(root, root / target)):
                    findings.append(Finding(name, number, "a path that climbs out of the repository", target))
            if path.suffix == ".md":
                findings.extend(_broken_links(root, path, name, number, line))
    return findings


def _broken_links(root: Path, path: Path, name: str, number: int, line: str) -> list[Finding]:
    findings = []
    for match in MARKDOWN_LINK.finditer(line):
        target = match.group(1).split("#", 1)[0]
        if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
            continue  # an anchor in the page, a URL (https:, mailto:) or a site path
        resolved = path.parent / target
        if not _inside(root, resolved):
            findings.append(Finding(name, number, "a link out of the repository", target))
        elif not resolved.exists():
            findings.append(Finding(name, number, "a link to a file the repository does not have", target))
    return findings


def test_nothing_tracked_depends_on_a_path_outside_the_repository() -> None:
    files = tracked_files(ROOT)
    # The scan reads the whole repository (code, tests, Makefile, CI, docs, schemas).
    names = {path.relative_to(ROOT).as_posix() for path in files}
    assert {"Makefile", "README.md", ".ci/run", "docs/design.md", "tests/conftest.py"} <= names
    assert [str(finding) for finding in outside_references(ROOT, files)] == []


def planted(text: str) -> str:
    """Text for a planted file, written so that this file's own source does not match the
    scan: `^` stands for a climbing `../`, and upper-case words for the names they spell."""
    for word in ("SHARED", "WORK", "LIBRARY", "HOME"):
        text = text.replace(word, word.lower())
    return text.replace("^", "../")


def test_the_scan_catches_each_kind_of_outside_reference(tmp_path: Path) -> None:
    root = tmp_path / "clone"
    (root / "docs").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "README.md").write_text(
        planted(
            "# Project\n"
            "See [the design](^SHARED/DESIGN.md) and [the guide](docs/guide.md).\n"
            "[ours](docs/design.md#layout), [upstream](https://example.com/x), [top](#project)\n"
        )
    )
    (root / "docs" / "design.md").write_text(planted("[back](^README.md) and [gone](^app/nothing.md)\n"))
    (root / "Makefile").write_text(planted("CRD_SCHEMAS ?= ^sibling/crd-schemas\nSTAYS := app/^docs\n"))
    (root / "app" / "paths.py").write_text(
        planted(
            'SCHEMAS = "/WORK/SHARED/crd-schemas"\n'
            'CACHE = "/tmp/x/.LIBRARY/env"\n'
            'USER_FILES = "/HOME/someone/project"\n'
            'URL = "/v1/models/^models"\n'
            'UP = "^docs/design.md"\n'
        )
    )
    (root / "app" / "image.png").write_bytes(planted("\x89PNG\0/WORK/x").encode("latin-1"))

    found = {(f.path, f.line, f.what, f.text) for f in outside_references(root, tracked_files(root))}
    assert found == {
        ("README.md", 2, "the team's shared folder beside the clone", planted("^SHARED")),
        ("README.md", 2, "a path that climbs out of the repository", planted("^SHARED/DESIGN.md")),
        ("README.md", 2, "a link out of the repository", planted("^SHARED/DESIGN.md")),
        ("README.md", 2, "a link to a file the repository does not have", "docs/guide.md"),
        ("docs/design.md", 1, "a link to a file the repository does not have", planted("^app/nothing.md")),
        ("Makefile", 1, "a path that climbs out of the repository", planted("^sibling/crd-schemas")),
        ("app/paths.py", 1, "the development workspace", planted("/WORK/")),
        ("app/paths.py", 1, "the team's shared folder beside the clone", planted("SHARED/crd-schemas")),
        ("app/paths.py", 2, "a machine-local library or mirror", planted(".LIBRARY/")),
        ("app/paths.py", 3, "a home directory", planted("/HOME/someone")),
    }
