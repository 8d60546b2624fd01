"""A content-addressed cache of preflight's results, under the program's build/ folder.

The key covers what a result depends on: every file of the program (its code, every
stack file, the pack settings and waivers when they live in it), preflight's and the
packs' own code, the installed distributions and their versions, the Python version,
the CRD schemas, the options that change a verdict, and the date. Any change to any of
them is another key. Not in it: environment variables a program reads (run such a
program with --no-cache).

Entries are pickles of the reports: as trusted as the working tree they sit in (a
build/ folder is the program's own; CI starts without one).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import pickle
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from preflight import ROOT

# Folders that are no input of a result: outputs, environments, VCS and tool caches.
SKIPPED_FOLDERS = frozenset({"build", "venv", "node_modules", "__pycache__"})
# Keys kept on disk; older ones are removed when a new one is written.
KEPT_KEYS = 4


def _files(root: Path) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(root):
        # Virtual environments (.venv, .venv-checkov) and other hidden folders are tools, not inputs.
        subfolders[:] = sorted(s for s in subfolders if s not in SKIPPED_FOLDERS and not s.startswith("."))
        for name in sorted(files):
            yield Path(folder) / name


def _digest_tree(digest: Any, root: Path, label: str) -> None:
    for path in _files(root):
        digest.update(f"{label}/{path.relative_to(root)}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")


def key(program: Path, crd_schemas: Path | None, options: tuple[str, ...], today: date | None = None) -> str:
    digest = hashlib.sha256()
    # Programs may read the clock (this one renews generated secrets by the date): a
    # result is good for the day it was made.
    digest.update(f"{today or datetime.now(UTC).date()}\0python {sys.version}\0".encode())
    for distribution in sorted(
        f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions() if d.metadata["Name"]
    ):
        digest.update(f"{distribution}\0".encode())
    digest.update(("\0".join(options) + "\0").encode())
    _digest_tree(digest, program, "program")
    for package in ("preflight", "policies"):
        _digest_tree(digest, ROOT / package, package)
    if crd_schemas is not None:
        _digest_tree(digest, crd_schemas, "crd-schemas")
    return digest.hexdigest()


class ResultCache:
    def __init__(self, folder: Path, entry_key: str) -> None:
        self.folder = folder
        self.entry = folder / entry_key

    def load(self, stacks: list[str]) -> dict[str, Any] | None:
        """Every stack's cached result, or None if any one is missing."""
        paths = [self.entry / f"{stack}.pickle" for stack in stacks]
        if not all(path.is_file() for path in paths):
            return None
        try:
            return {stack: pickle.loads(path.read_bytes()) for stack, path in zip(stacks, paths, strict=True)}
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None

    def store(self, results: dict[str, Any]) -> None:
        self.entry.mkdir(parents=True, exist_ok=True)
        for stack, result in results.items():
            partial = self.entry / f"{stack}.partial"
            partial.write_bytes(pickle.dumps(result))
            partial.replace(self.entry / f"{stack}.pickle")
        older = sorted(
            (entry for entry in self.folder.iterdir() if entry.is_dir() and entry != self.entry),
            key=lambda entry: entry.stat().st_mtime,
        )
        for stale in older[: max(0, len(older) - (KEPT_KEYS - 1))]:
            shutil.rmtree(stale, ignore_errors=True)
