"""The local stack with Vault's database engine switched on, synthesized under mocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from preflight.graph import Graph
from preflight.synth import Synthesizer
from tests.conftest import copy_project, stack_config

# The Vault settings of a Vault outside the cluster, issuing database users.
EXTERNAL_VAULT = {
    "mode": "external",
    "address": "https://vault.example.com:8200",
    "kubernetesHost": "https://10.0.0.1:6443",
}


def database_stack(folder: Path, vault: dict[str, Any], database: dict[str, Any]) -> Graph:
    """The local stack's config with `vault` laid over it and the database engine on."""
    config = stack_config("local")
    config["projectai:vault"] = {**config["projectai:vault"], **vault, "database": database}
    config["projectai:databaseRootPassword"] = {"secure": "v1:ciphertext"}
    if "kubernetesHost" in vault:
        config["projectai:vaultTokenReviewerJwt"] = {"secure": "v1:ciphertext"}
    (folder / "project").mkdir()
    return Synthesizer(copy_project(folder / "project", "local", config)).synthesize("local")


@pytest.fixture(scope="session")
def ca_certificate() -> str:
    # Shape only: under mocks nothing parses it (the OpenBao tests use a real one).
    return "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="session")
def with_database(tmp_path_factory: pytest.TempPathFactory, ca_certificate: str) -> Graph:
    vault = {**EXTERNAL_VAULT, "kubernetesCaCertificate": ca_certificate}
    return database_stack(tmp_path_factory.mktemp("vault"), vault, {"host": "db.internal.example.com"})
