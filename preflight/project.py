"""A Pulumi Python program on disk: its Pulumi.yaml, its stacks and their configuration."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "preflight-secret-placeholder"


class PreflightError(Exception):
    """A problem with the program or its inputs, reported as one clear line (exit 2)."""


@dataclass(frozen=True)
class StackConfig:
    """Configuration as the engine hands it to a program: every value a string."""

    values: dict[str, str]
    secret_keys: tuple[str, ...]


@dataclass(frozen=True)
class Program:
    directory: Path
    name: str
    main: Path
    project_config: dict[str, Any]

    @classmethod
    def load(cls, directory: str | Path) -> Program:
        directory = Path(directory).resolve()
        project_file = directory / "Pulumi.yaml"
        if not project_file.is_file():
            raise PreflightError(f"{directory}: no Pulumi.yaml; expected a Pulumi program directory")
        project = _read_yaml(project_file)
        if not isinstance(project, dict) or "name" not in project:
            raise PreflightError(f"{project_file}: expected a mapping with a 'name'")
        runtime = project.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
        if runtime_name != "python":
            raise PreflightError(f"{project_file}: runtime is {runtime_name!r}; preflight runs Python programs")
        main = directory / str(project.get("main", "."))
        if main.is_dir():
            main = main / "__main__.py"
        if not main.is_file():
            raise PreflightError(f"{project_file}: program entry point {main} does not exist")
        return cls(directory, str(project["name"]), main, project.get("config") or {})

    def stack_file(self, stack: str) -> Path:
        return self.directory / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        """Every stack with a stack file, in name order."""
        prefix, suffix = "Pulumi.", ".yaml"
        return sorted(
            path.name[len(prefix) : -len(suffix)]
            for path in self.directory.glob("Pulumi.*.yaml")
            if path.name != "Pulumi.yaml"
        )

    def require_stacks(self, stacks: Iterable[str]) -> None:
        """Stops at the first stack without a stack file, naming the closest one there is."""
        for stack in stacks:
            path = self.stack_file(stack)
            if not path.is_file():
                known = self.stacks()
                close = difflib.get_close_matches(stack, known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f" (stacks: {', '.join(known) or 'none'})"
                raise PreflightError(f"stack '{stack}' has no stack file {path.name}{hint}")

    def stack_config(self, stack: str) -> StackConfig:
        """Project defaults from Pulumi.yaml overlaid by the stack file."""
        self.require_stacks([stack])
        path = self.stack_file(stack)
        document = _read_yaml(path) or {}
        if not isinstance(document, dict):
            raise PreflightError(f"{path.name}: expected a mapping with a 'config' key")
        stack_values = document.get("config") or {}
        if not isinstance(stack_values, dict):
            raise PreflightError(f"{path.name}: 'config' must be a mapping of keys to values")

        values: dict[str, str] = {}
        secret_keys: list[str] = []
        for key, declared in self.project_config.items():
            default = declared.get("default", declared.get("value")) if isinstance(declared, dict) else declared
            if default is not None:
                values[self._qualify(key)] = _engine_string(default)
        for key, value in stack_values.items():
            full_key = self._qualify(str(key))
            # Encrypted values need the stack's secrets provider, which preflight cannot
            # reach; the program sees a placeholder, and the key is flagged secret.
            value, encrypted = _without_ciphertext(value)
            if encrypted:
                secret_keys.append(full_key)
            values[full_key] = _engine_string(value)
        return StackConfig(values, tuple(secret_keys))

    def _qualify(self, key: str) -> str:
        return key if ":" in key else f"{self.name}:{key}"


def _without_ciphertext(value: Any) -> tuple[Any, bool]:
    """Replaces every `{secure: ...}` (also nested, from `--path`) with a placeholder."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return SECRET_PLACEHOLDER, True
    if isinstance(value, dict):
        pairs = {key: _without_ciphertext(item) for key, item in value.items()}
        return {key: item for key, (item, _) in pairs.items()}, any(flag for _, flag in pairs.values())
    if isinstance(value, list):
        items = [_without_ciphertext(item) for item in value]
        return [item for item, _ in items], any(flag for _, flag in items)
    return value, False


def _engine_string(value: Any) -> str:
    """The engine passes strings as they are and everything else as JSON text."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PreflightError(f"{path.name}:{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
