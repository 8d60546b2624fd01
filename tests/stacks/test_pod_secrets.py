"""Every pod of every stack reads its secrets as read-only files, never from its
environment: the API and its migration Job through one projected volume, and the
database bootstrap, the blue-green smoke test and the root rotation likewise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.secret_volume import SECRETS_DIR
from policies.core.pods import containers
from preflight.graph import Graph
from preflight.kubernetes import kubernetes_resources, manifest
from preflight.synth import Synthesizer
from tests.conftest import api_settings, synced_keys

APP = "project-ai-api"
# The kinds that carry pods in each stack: the API (Deployment or Rollout) and its
# migration Job; with Vault's database engine the bootstrap Job and the rotation
# CronJob; with blue-green, the smoke test's Job inside an AnalysisTemplate; with the
# canary's statistical judge, its Deployment; with chaos (dev, staging), the steady-state
# guard's Deployment; with the janitor (every cloud region), its CronJob.
POD_KINDS = {
    "local": {"Deployment", "Job"},
    "dev": {"Deployment", "Job", "CronJob"},
    "staging": {"Rollout", "Job", "CronJob", "AnalysisTemplate", "Deployment"},
    "prod": {"Rollout", "Job", "CronJob", "Deployment"},
    "prod-eu": {"Rollout", "Job", "CronJob", "Deployment"},
    "prod-gcp": {"Rollout", "Job", "CronJob", "Deployment"},
}


def pod_specs(graph: Graph) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, name, pod spec) for every pod template of every object, wherever its kind
    keeps it: a mapping with containers."""

    def walk(value: Any) -> Iterator[dict[str, Any]]:
        if isinstance(value, dict):
            if isinstance(value.get("containers"), list):
                yield value
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    for resource in kubernetes_resources(graph):
        body = manifest(resource)
        for spec in walk(body):
            yield body["kind"], body["metadata"]["name"], spec


def secret_volumes(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pod's volumes that hold Secrets, by name: Secret volumes and projected ones."""
    return {
        volume["name"]: volume.get("secret") or volume["projected"]
        for volume in spec.get("volumes", [])
        if "secret" in volume or any("secret" in source for source in volume.get("projected", {}).get("sources", []))
    }


@pytest.mark.parametrize("stack", POD_KINDS)
def test_no_container_reads_a_secret_from_its_environment(project_synthesizer: Synthesizer, stack: str) -> None:
    pods = list(pod_specs(project_synthesizer.synthesize(stack)))
    assert {kind for kind, _, _ in pods} == POD_KINDS[stack]
    for kind, name, spec in pods:
        for where, container in containers(spec):
            from_secrets = [source for source in container.get("envFrom", []) if "secretRef" in source]
            assert from_secrets == [], f"{kind} {name}: {where}"
            variables = [v["name"] for v in container.get("env", []) if "secretKeyRef" in v.get("valueFrom", {})]
            assert variables == [], f"{kind} {name}: {where}"


@pytest.mark.parametrize("stack", POD_KINDS)
def test_secret_files_are_read_only(project_synthesizer: Synthesizer, stack: str) -> None:
    for kind, name, spec in pod_specs(project_synthesizer.synthesize(stack)):
        volumes = secret_volumes(spec)
        for volume in volumes.values():
            # 0440 or stricter: nobody writes, others do not read.
            assert volume["defaultMode"] & ~0o440 == 0, f"{kind} {name}"
        for _, container in containers(spec):
            mounts = [m for m in container.get("volumeMounts", []) if m["name"] in volumes]
            assert all(mount.get("readOnly") for mount in mounts), f"{kind} {name}: {mounts}"


def _sources(database: str, cache: bool) -> list[str]:
    return [f"{APP}-secrets", f"{APP}-{database}", *([f"{APP}-cache"] if cache else [])]


# The Secrets of the API's pods and of its migration Job. With Vault's database engine
# the migration logs in as its own user, whose Secret takes the runtime one's place;
# `local` and the secondary (prod-eu) read one database URL from the KV mount.
PROJECTED = {
    "local": (_sources("database", cache=False), _sources("database", cache=False)),
    "dev": (_sources("database", cache=True), _sources("migration-database", cache=True)),
    "staging": (_sources("database", cache=True), _sources("migration-database", cache=True)),
    "prod": (_sources("database", cache=True), _sources("migration-database", cache=True)),
    "prod-eu": (_sources("database", cache=True), _sources("database", cache=True)),
    "prod-gcp": (_sources("database", cache=True), _sources("migration-database", cache=True)),
}


# Where the database engine issues users on an Aurora cluster: its reader endpoint is a
# second file of the same user's. A secondary reads one URL from the KV mount, and Cloud
# SQL has no replicas of its own to read from.
REGIONAL_READER = ("dev", "staging", "prod")


@pytest.mark.parametrize("stack", PROJECTED)
def test_the_api_and_its_migration_read_their_secrets_from_one_projected_volume(
    project_synthesizer: Synthesizer, stack: str
) -> None:
    graph = project_synthesizer.synthesize(stack)
    pods = {
        "api" if kind in ("Deployment", "Rollout") else "migration": spec
        for kind, name, spec in pod_specs(graph)
        if name == APP or name.startswith(f"{APP}-migrate-")
    }
    keys = synced_keys(graph)
    for pod, expected in zip(("api", "migration"), PROJECTED[stack], strict=True):
        spec = pods[pod]
        (container,) = spec["containers"]
        assert {"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True} in container["volumeMounts"]
        (volume,) = [v["projected"] for v in spec["volumes"] if v["name"] == "secrets"]
        assert volume["sources"] == [{"secret": {"name": secret}} for secret in expected], pod
        # Each key a file named like the setting it holds; no two Secrets write the same one.
        files = [key for secret in expected for key in keys[secret]]
        cache = ["APP_REDIS_URL"] if stack != "local" else []
        secrets = ["APP_API_KEY_PEPPER", "APP_API_KEY_PEPPER_PREVIOUS", "APP_UPSTREAM_TOKEN", "APP_DATABASE_URL"]
        reader = ["APP_DATABASE_READ_URL"] if stack in REGIONAL_READER else []
        assert sorted(files) == sorted([*secrets, *cache, *reader]), pod
    # The app learns where the files are from its settings.
    assert api_settings(graph)["APP_SECRETS_DIR"] == SECRETS_DIR
