"""The image agrees with the workload that runs it (no Docker engine here to build it)."""

from __future__ import annotations

import re
from pathlib import Path

from stacks.model import AppConfig

DOCKERFILE = (Path(__file__).resolve().parents[2] / "app" / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    return re.findall(rf"^{name}\s+(.+)$", DOCKERFILE, flags=re.MULTILINE)


def test_runs_as_the_uid_the_kubernetes_security_context_expects() -> None:
    uid = AppConfig.model_fields["run_as_user"].default
    assert instructions("USER") == [f"{uid}:{uid}"]
    assert f"--uid {uid}" in DOCKERFILE


def test_multi_stage_on_a_pinned_slim_base_with_no_build_tools_in_the_final_stage() -> None:
    bases = instructions("FROM")
    assert len(bases) == 2 and all(re.match(r"python:\d+\.\d+\.\d+-slim-\w+", base) for base in bases)
    final_stage = DOCKERFILE.split("\nFROM ")[-1]
    assert "pip install" not in final_stage and "apt-get" not in final_stage
    assert "COPY --from=build /opt/venv /opt/venv" in final_stage


def test_works_with_a_read_only_root_filesystem() -> None:
    assert "PYTHONDONTWRITEBYTECODE=1" in DOCKERFILE and "compileall" in DOCKERFILE


def test_listens_on_the_port_the_workload_probes() -> None:
    port = AppConfig.model_fields["port"].default
    assert instructions("EXPOSE") == [str(port)] and f"PORT={port}" in DOCKERFILE
