"""What a stack's own configuration implies for the packs, so no settings file repeats it:
its environment, and where a region's images come from.

It reads a few keys of the stack's configuration, as the engine hands it to a program
(`preflight.project.Program.stack_config`: structured values as JSON text) or as the
stack file holds it (structured values as they are).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any

from policies.core.settings import SettingsError

ENVIRONMENTS = ("local", "dev", "staging", "prod")
# The repository prefix the region stacks create their images under (REPOSITORY in
# stacks/platforms.py); a test checks every region stack's image against it.
REPOSITORY = "project-ai"
_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_GCP_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def environment(config: Mapping[str, Any], stack: str) -> str | None:
    """`projectai:environment`. A program that does not set it (another program under
    `preflight --program`) gets the environment its stack is named after, if any."""
    value = config.get("projectai:environment")
    if value is None:
        return stack if stack in ENVIRONMENTS else None
    if value not in ENVIRONMENTS:
        expected = ", ".join(ENVIRONMENTS)
        raise SettingsError(f"{_file(stack)}: projectai:environment: '{value}', expected one of {expected}")
    return str(value)


def registry(config: Mapping[str, Any], stack: str) -> str | None:
    """The image registry of a region stack: its ECR in its account and region, or its
    Artifact Registry repository in its project and region. Other roles have none."""
    if config.get("projectai:role") != "region":
        return None
    cloud, file = config.get("projectai:cloud"), _file(stack)
    if cloud == "aws":
        region = _checked(file, "projectai:region", config.get("projectai:region"), _AWS_REGION, "an AWS region")
        account = _platform(config, file).get("accountId")
        account = _checked(file, "projectai:platform.accountId", account, _ACCOUNT_ID, "a 12-digit AWS account id")
        return f"{account}.dkr.ecr.{region}.amazonaws.com/{REPOSITORY}/"
    if cloud == "gcp":
        region = _checked(file, "projectai:region", config.get("projectai:region"), _GCP_REGION, "a GCP region")
        project = _platform(config, file).get("project")
        project = _checked(file, "projectai:platform.project", project, _PROJECT_ID, "a GCP project id")
        return f"{region}-docker.pkg.dev/{project}/{REPOSITORY}/"
    raise SettingsError(f"{file}: projectai:cloud: '{cloud}', expected aws or gcp for the region role")


def settings(pack: str, config: Mapping[str, Any], stack: str) -> dict[str, Any]:
    """The pack configuration the stack implies."""
    if pack != "zero-trust":
        return {}
    implied: dict[str, Any] = {}
    if (name := environment(config, stack)) is not None:
        implied["aws-rds-deletion-protection"] = {"environment": name}
        implied["aws-rds-multi-az"] = {"environment": name}
        implied["istio-no-fault-injection-in-prod"] = {"environment": name}
        implied["chaos-mesh-not-in-prod"] = {"environment": name}
    if (own := registry(config, stack)) is not None:
        implied["k8s-image-allowed-registry"] = {"allowedRegistries": [own]}
    return implied


def _platform(config: Mapping[str, Any], file: str) -> Mapping[str, Any]:
    value = config.get("projectai:platform")
    if isinstance(value, str):  # the engine's JSON text
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if not isinstance(value, Mapping):
        got = "nothing" if value is None else repr(value)
        raise SettingsError(f"{file}: projectai:platform: expected an object, got {got}")
    return value


def _checked(file: str, key: str, value: Any, pattern: re.Pattern[str], expected: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        got = "nothing" if value is None else repr(value)
        raise SettingsError(f"{file}: {key}: expected {expected}, got {got}")
    return value


def _file(stack: str) -> str:
    return f"Pulumi.{stack}.yaml"
