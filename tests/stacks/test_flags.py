"""Feature flags as code: `projectai:flags` is checked at its limits, rendered into flagd's
flag file, and that file reaches the API's pods read-only, in a ConfigMap of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openfeature.contrib.provider.flagd.resolvers.process.flags import FlagStore

from components.workload.app_service import FLAG_FILE, FLAGS_FILE_SETTING
from components.workload.pod import FLAGS_DIR, FLAGS_VOLUME
from preflight.synth import Synthesizer
from stacks.config import parse
from stacks.model import (
    FLAGD_SCHEMA,
    MAX_FLAGS,
    MAX_TARGETING_DEPTH,
    MAX_VARIANTS,
    WorkloadStack,
    flagd_document,
    flagd_file,
)
from tests.conftest import CRD_SCHEMAS, PROJECT_STACKS, api_settings, objects, stack_config
from tests.stacks.test_config import namespace, problems, prod

WORKLOAD_STACKS = [name for name in PROJECT_STACKS if stack_config(name).get("projectai:role") != "edge"]
FLAG = "flags__v2-beta-routes__"
# The OpenFeature operator's FeatureFlag CRD (vendored): its spec.flagSpec is flagd's
# flag-definition document, as a structural schema. The provider ships no JSON schema.
FLAG_SPEC = json.loads((CRD_SCHEMAS / "core.openfeature.dev" / "featureflag_v1beta1.json").read_text())["properties"][
    "spec"
]["properties"]["flagSpec"]


def flags_of(name: str) -> WorkloadStack:
    config = parse(namespace(name), f"Pulumi.{name}.yaml")
    assert isinstance(config, WorkloadStack)
    return config


def boolean_flag(**extra: Any) -> dict[str, Any]:
    return {"variants": {"on": True, "off": False}, "defaultVariant": "off", **extra}


def nested(depth: int) -> dict[str, Any]:
    """A rule `depth` levels deep: each operation, list and value is a level."""
    rule: Any = {"var": "targetingKey"}  # two levels: the operation and its value
    for _ in range(depth - 4):
        rule = {"!!": rule}
    return {"if": [rule, "on", "off"]}  # two more: the `if` and its list


@pytest.mark.parametrize("name", WORKLOAD_STACKS)
def test_every_stacks_flag_file_is_flagds_format(name: str) -> None:
    document = json.loads(flagd_file(flags_of(name).flags))
    assert document == flagd_document(flags_of(name).flags)
    assert document["$schema"] == FLAGD_SCHEMA
    assert "v2-beta-routes" in document["flags"]
    # The operator's structural schema of the same document, and the provider's own parser.
    jsonschema.validate({key: value for key, value in document.items() if key != "$schema"}, FLAG_SPEC)
    store = FlagStore(lambda details: None)
    store.update(document)
    flag = store.get_flag("v2-beta-routes")
    assert flag is not None and flag.state == "ENABLED" and set(flag.variants) == {"on", "off"}


def test_the_schema_check_sees_a_malformed_document() -> None:
    document = flagd_document(flags_of("prod").flags)
    document["flags"]["v2-beta-routes"]["state"] = "ON"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"flags": document["flags"]}, FLAG_SPEC)


def test_every_prod_region_serves_the_same_flags() -> None:
    # The edge may send a client to any region: a cohort must be the same everywhere.
    prods = [name for name in WORKLOAD_STACKS if stack_config(name)["projectai:environment"] == "prod"]
    assert len(prods) >= 2
    assert len({flagd_file(flags_of(name).flags) for name in prods}) == 1


def test_limits_are_inclusive() -> None:
    flags = {f"flag-{number}": boolean_flag() for number in range(MAX_FLAGS - 1)}
    variants = {"on": 0, "off": 1, **{f"v{number}": number for number in range(MAX_VARIANTS - 2)}}
    flags["a" * 63] = {"variants": variants, "defaultVariant": "v0", "targeting": nested(MAX_TARGETING_DEPTH)}
    config = parse(prod(flags=flags), "Pulumi.prod.yaml")
    assert isinstance(config, WorkloadStack) and len(config.flags) == MAX_FLAGS


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"flags": {"V2_Beta": boolean_flag()}},
            "projectai:flags.V2_Beta: 'V2_Beta' is not a flag name; expected lower-case words and digits joined by '-'",
        ),
        ({"flags": {"a" * 64: boolean_flag()}}, "is not a flag name"),
        ({"flags": {"beta-": boolean_flag()}}, "'beta-' is not a flag name"),
        (
            {FLAG + "defaultVariant": "maybe"},
            "projectai:flags.v2-beta-routes.defaultVariant: 'maybe' is not one of the variants (on, off)",
        ),
        (
            {"flags": {f"flag-{number}": boolean_flag() for number in range(MAX_FLAGS + 1)}},
            f"projectai:flags: {MAX_FLAGS + 1} flags; expected at most {MAX_FLAGS}",
        ),
        (
            {FLAG + "variants": {f"v{n}": n for n in range(MAX_VARIANTS + 1)}, FLAG + "defaultVariant": "v0"},
            f"projectai:flags.v2-beta-routes.variants: {MAX_VARIANTS + 1} variants; expected at most {MAX_VARIANTS}",
        ),
        ({FLAG + "variants": {}}, "projectai:flags.v2-beta-routes.variants: expected at least one variant"),
        ({FLAG + "variants": {"on": True, "off": "no"}}, "variants mix boolean and string values"),
        (
            {FLAG + "variants": {"on": {"nested": True}, "off": False}},
            "variants.on: expected a boolean, a number or a string, got an object",
        ),
        ({FLAG + "variants": {"On": True, "off": False}}, "'On' is not a variant name"),
        ({FLAG + "state": "ON"}, "projectai:flags.v2-beta-routes.state"),
        ({FLAG + "targeting": nested(MAX_TARGETING_DEPTH + 1)}, f"nested deeper than {MAX_TARGETING_DEPTH} levels"),
        ({FLAG + "targeting": {"in": list(range(300))}}, "more than 256 values"),
        ({FLAG + "targeting": {"fractionl": [["on", 10]]}}, "unknown operator 'fractionl'; did you mean 'fractional'?"),
        ({FLAG + "targeting": {"var": "x", "in": []}}, "an operation has exactly one operator, got ['in', 'var']"),
        ({FLAG + "targeting": {}}, "an empty rule; expected a JSON Logic rule, or no targeting key"),
        (
            {FLAG + "targeting": {"fractional": [["on", 10], ["of", 90]]}},
            "projectai:flags.v2-beta-routes.targeting: answers with 'of', not one of the variants (on, off)",
        ),
        ({FLAG + "targeting": {"if": [True, "yes", "off"]}}, "answers with 'yes'"),
        ({FLAG + "sourceUrl": "x"}, "projectai:flags.v2-beta-routes.sourceUrl"),
        ({"app__settings": {FLAGS_FILE_SETTING: "/tmp/x.json"}}, "APP_FLAGS_FILE set by the program from flags"),
    ],
    ids=lambda value: None if isinstance(value, dict) else "",
)
def test_a_wrong_flag_gets_one_clear_line(changes: dict[str, Any], expected: str) -> None:
    (line,) = problems(prod(**changes))
    assert line.startswith("Pulumi.prod.yaml: ") and expected in line, line


@pytest.mark.parametrize("name", ["local", "prod"])
def test_the_flags_configmap_holds_the_rendered_file_mounted_read_only(
    project_synthesizer: Synthesizer, name: str
) -> None:
    graph = project_synthesizer.synthesize(name)
    (flags,) = [c for c in objects(graph, "ConfigMap") if c["metadata"]["name"] == "project-ai-api-flags"]
    assert flags["data"] == {FLAG_FILE: flagd_file(flags_of(name).flags)}
    # Changed in place, so running pods see a new file without a rollout.
    assert not flags.get("immutable")
    assert api_settings(graph)[FLAGS_FILE_SETTING] == str(Path(FLAGS_DIR) / FLAG_FILE)
    (workload,) = objects(graph, "Deployment" if name == "local" else "Rollout")
    spec = workload["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == FLAGS_VOLUME]
    assert volume["configMap"]["name"] == flags["metadata"]["name"]
    assert volume["configMap"]["defaultMode"] & 0o222 == 0
    api = next(c for c in spec["containers"] if c["name"] == "api")
    (mount,) = [m for m in api["volumeMounts"] if m["name"] == FLAGS_VOLUME]
    # A directory, not a subPath: the kubelet updates only whole mounted volumes.
    assert mount == {"name": FLAGS_VOLUME, "mountPath": FLAGS_DIR, "readOnly": True}
    # The migration Job reads no flags.
    for job in objects(graph, "Job"):
        assert all(v["name"] != FLAGS_VOLUME for v in job["spec"]["template"]["spec"].get("volumes", []))
