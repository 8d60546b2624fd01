"""The Vault integration is one component that owns what it creates: its provider, the
KV entries it writes, the reviewer identity, the ExternalSecrets and the bootstrap Job.
No other component holds children it did not create itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.graph import Graph
from preflight.synth import ProgramError, Synthesizer
from tests.conftest import PROJECT_STACKS, stack_config, stacks_of_role, write_program

INTEGRATION = "projectai:vault:VaultIntegration"
OWNED = {
    "pulumi:providers:vault": "the Vault provider",
    "vault:kv/secretV2:SecretV2": "KV entries",
    "kubernetes:external-secrets.io/v1:ExternalSecret": "synced Secrets",
    "kubernetes:batch/v1:Job": "the database bootstrap",
}
# What each Vault component creates itself, and nothing else.
CHILD_TYPES = {
    "projectai:vault:ExternalSecretsOperator": "kubernetes:external-secrets.io/v1:ExternalSecret",
    "projectai:vault:VaultConfiguration": "vault:kv/secretV2:SecretV2",
}
WORKLOAD_STACKS = tuple(s for s in PROJECT_STACKS if s not in stacks_of_role("edge"))


@pytest.mark.parametrize("stack", WORKLOAD_STACKS)
def test_the_integration_owns_what_it_creates(project_synthesizer: Synthesizer, stack: str) -> None:
    graph: Graph = project_synthesizer.synthesize(stack)
    by_urn = graph.by_urn()
    (integration,) = [r for r in graph.resources if r.type == INTEGRATION]
    for resource in graph.resources:
        parent = by_urn.get(resource.parent or "")
        if resource.type in OWNED and resource.type != "kubernetes:batch/v1:Job":
            assert parent is not None and parent.urn == integration.urn, (OWNED[resource.type], resource.urn)
        if parent is not None and parent.type in CHILD_TYPES:
            assert resource.type != CHILD_TYPES[parent.type], resource.urn
    assert integration.outputs["secrets"] and integration.outputs["kvMount"]


def test_an_external_vault_gets_its_reviewer_inside_the_integration(project_synthesizer: Synthesizer) -> None:
    graph = project_synthesizer.synthesize("local")
    (integration,) = [r for r in graph.resources if r.type == INTEGRATION]
    bootstrap = [r for r in graph.resources if r.name == "database-bootstrap-job"]
    assert all(r.parent == integration.urn for r in bootstrap)


INCONSISTENT_SERVER = """
import dataclasses

import pulumi

from components.vault.integration import VaultIntegration
from stacks.config import load
from stacks.vault import vault_integration_args

args = vault_integration_args(load(), None)
VaultIntegration("vault", dataclasses.replace(args, server=dataclasses.replace(args.server, {change})))
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('mode="dev", dev_ingress_host=None', "a dev-mode Vault needs dev_ingress_host"),
        ('mode="external", address=None', "an external Vault needs its address"),
    ],
)
def test_the_component_refuses_a_vault_it_cannot_reach(tmp_path: Path, change: str, message: str) -> None:
    # The stack config cannot say this; a program composing the component itself can.
    program = write_program(
        tmp_path, "project-ai", INCONSISTENT_SERVER.format(change=change), {"local": stack_config("local")}
    )
    with pytest.raises(ProgramError, match=message):
        Synthesizer(program).synthesize("local")
