"""Monitoring artefacts of a graph checked with the real tools: every PrometheusRule with
`promtool check rules`, every Alertmanager configuration (in kube-prometheus-stack
values) with `amtool check-config`. A tool that is not installed is reported, never
counted as a pass."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from preflight.graph import Graph
from preflight.kubernetes import manifest
from preflight.mocks import kubernetes_object

OK, FAILED, UNCHECKED = "ok", "failed", "unchecked"


@dataclass
class ToolCheck:
    tool: str
    subject: str
    status: str
    detail: str = ""


def _run(tool: str, arguments: list[str], subject: str) -> ToolCheck:
    if shutil.which(tool) is None:
        return ToolCheck(tool, subject, UNCHECKED, f"{tool} is not installed")
    result = subprocess.run([tool, *arguments], capture_output=True, text=True, timeout=60)
    detail = (result.stdout + result.stderr).strip()
    return ToolCheck(tool, subject, OK if result.returncode == 0 else FAILED, detail if result.returncode else "")


def artefacts(graph: Graph) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind of file, subject, document) for every rule set and Alertmanager configuration."""
    found = []
    for resource in graph.resources:
        if (kubernetes_object(resource.type) or ("", ""))[1] == "PrometheusRule":
            body = manifest(resource)
            subject = f"PrometheusRule {body['metadata'].get('namespace')}/{body['metadata'].get('name')}"
            found.append(("rules", subject, {"groups": body.get("spec", {}).get("groups", [])}))
        elif resource.type == "kubernetes:helm.sh/v3:Release":
            config = ((resource.revealed_inputs.get("values") or {}).get("alertmanager") or {}).get("config")
            if isinstance(config, dict):
                found.append(("alertmanager", f"Alertmanager config of Release {resource.name}", config))
    return found


def check(graph: Graph, folder: Path | None = None) -> list[ToolCheck]:
    """Writes each artefact under `folder` (or a temporary one) and runs its tool."""
    checks = []
    with tempfile.TemporaryDirectory() as scratch:
        target = folder or Path(scratch)
        target.mkdir(parents=True, exist_ok=True)
        for index, (kind, subject, document) in enumerate(artefacts(graph)):
            path = target / f"{index:02d}-{kind}.yaml"
            path.write_text(yaml.safe_dump(document, sort_keys=False))
            if kind == "rules":
                checks.append(_run("promtool", ["check", "rules", str(path)], subject))
            else:
                checks.append(_run("amtool", ["check-config", str(path)], subject))
    return checks
