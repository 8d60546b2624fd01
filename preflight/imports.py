"""The program's own modules: on sys.path while it runs, fresh for every stack.

Pulumi runs each stack in a new interpreter, so a module that reads config or the stack
name at import time sees its own stack. preflight runs stacks in one process; to match,
the modules a program imported from its own directory are forgotten before the next
top-level run, and so is a module of the same name that another program loaded.

A referenced stack runs while the referencing one is still running, so the two share
the modules imported so far: a module that reads config at import time would see the
referencing stack's. Programs that read config when called, as this project does, are
unaffected.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_lock = threading.Lock()
_active_runs = 0
_imported_by_programs: set[str] = set()


@contextmanager
def program_on_path(directory: Path) -> Iterator[None]:
    """cwd and sys.path[0] set to the program's directory, as the Pulumi language host does."""
    global _active_runs
    with _lock:
        outermost = _active_runs == 0
        if outermost:
            _forget_program_modules(directory)
            before = set(sys.modules)
            previous_cwd = os.getcwd()
            sys.path.insert(0, str(directory))
            os.chdir(directory)
        _active_runs += 1
    try:
        yield
    finally:
        with _lock:
            _active_runs -= 1
            if outermost:
                os.chdir(previous_cwd)
                sys.path.remove(str(directory))
                own = _own_top_level_names(directory)
                _imported_by_programs.update(
                    name
                    for name in set(sys.modules) - before
                    if name.split(".", 1)[0] in own and _is_under(sys.modules.get(name), directory)
                )


def _own_top_level_names(directory: Path) -> set[str]:
    """Modules and packages directly in the program's folder (not its virtualenv's)."""
    own = {path.stem for path in directory.iterdir() if path.suffix == ".py" or (path / "__init__.py").is_file()}
    own.discard("__main__")  # runpy runs the entry point; the interpreter's __main__ stays
    return own


def _forget_program_modules(directory: Path) -> None:
    own = _own_top_level_names(directory)
    stale = {
        name.split(".", 1)[0]
        for name, module in list(sys.modules.items())
        if name in _imported_by_programs
        or (name.split(".", 1)[0] in own and not _same_code(module, directory / name.split(".", 1)[0]))
    }
    # Whole packages go, never a submodule alone: a package left behind would hand out
    # classes of a submodule that is gone from sys.modules (and the SDK looks their
    # annotations up there).
    for name in list(sys.modules):
        if name.split(".", 1)[0] in stale:
            del sys.modules[name]
    _imported_by_programs.clear()


def _same_code(module: object, top_level: Path) -> bool:
    """The loaded module comes from the program's own top-level module or package, found
    through links (a program copy that links a package shares its code, not a rival's)."""
    origin = getattr(module, "__file__", None)
    if not origin:
        return False
    real = os.path.realpath(origin)
    package = os.path.realpath(top_level)
    return real == os.path.realpath(f"{top_level}.py") or real.startswith(package + os.sep)


def _is_under(module: object, directory: Path) -> bool:
    origin = getattr(module, "__file__", None) or ""
    return origin.startswith(str(directory) + os.sep)
