"""The typed model of the `projectai:` configuration namespace, read once at start.

This is the only module that reads Pulumi configuration. `load()` gathers the raw
namespace, lays it over the per-environment defaults (`stacks/defaults.py`), validates
it, and either returns a `StackConfig` or raises `ConfigError`, whose message has one
line per problem: the stack file, the key path and what was expected.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from typing import Annotated, Any, Literal

import pulumi
import pulumi.runtime
import pulumi.runtime.config
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from stacks.defaults import ENVIRONMENT_DEFAULTS, deep_merge
from stacks.quantities import parse_cpu, parse_memory
from stacks.regions import REGIONS

NAMESPACE = "projectai"

Environment = Literal["local", "dev", "staging", "prod"]
Role = Literal["cluster", "region", "edge"]
Cloud = Literal["kubernetes", "aws", "gcp", "cloudflare"]

# Sections that only stacks running the API (cluster and region roles) use.
WORKLOAD_KEYS = frozenset({"app", "ingress", "delivery", "database", "cache"})

CLOUD_NAMES = {"aws": "AWS", "gcp": "GCP"}

# Which cloud each stack role runs on: a cluster stack uses whatever cluster the kube
# context names, a region owns a cloud platform, the edge lives on Cloudflare.
ROLE_CLOUDS: dict[str, tuple[str, ...]] = {
    "cluster": ("kubernetes",),
    "region": ("aws", "gcp"),
    "edge": ("cloudflare",),
}

DnsLabel = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
Hostname = Annotated[
    str,
    StringConstraints(pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", max_length=253),
]
StackName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")]
Port = Annotated[int, Field(ge=1, le=65535)]

# A distribution reference (registry/path), without tag or digest.
_REPOSITORY = re.compile(
    r"^(?:(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
# Tags that registries move from build to build; a rollout pinned to one is not pinned.
MUTABLE_TAGS = frozenset({"latest", "stable", "main", "master", "dev", "edge", "nightly"})

# Keys whose value is a credential. Keys ending in Name/Ref/Path name a Secret or a
# Vault path rather than holding one, so they are allowed in plaintext.
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|apikey|api_key|privatekey|credential)", re.I)
_REFERENCE_KEY = re.compile(r"(Name|Ref|Path|Mount|Key[Rr]ef)$")
# Values that are credentials whatever key holds them.
_SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|gh[pousr]_[A-Za-z0-9]{36}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|hvs\.[A-Za-z0-9_-]{20,})"
)


class ConfigError(pulumi.RunError):
    """A stack's configuration is invalid. Pulumi prints a RunError without a traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(problems))


class Model(BaseModel):
    """Config keys are camelCase in stack files; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class KubernetesConfig(Model):
    # The cluster's minor version: decides which schemas preflight validates against.
    version: Annotated[str, StringConstraints(pattern=r"^1\.(2[5-9]|3[0-9])$")] = "1.33"
    # kubeconfig context for the `cluster` role; None means the current context.
    context: str | None = None


class ImageConfig(Model):
    repository: str
    tag: str | None = None
    digest: str | None = None

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _REPOSITORY.match(value):
            raise ValueError(
                "expected an image repository such as 'registry.example.com/team/api', without tag or digest"
            )
        return value

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _TAG.match(value):
            raise ValueError("expected a tag of letters, digits, '_', '.' or '-' (at most 128)")
        if value.lower() in MUTABLE_TAGS:
            raise ValueError(
                f"tag '{value}' moves between builds; expected an immutable tag (a version or commit) or a digest"
            )
        return value

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not _DIGEST.match(value):
            raise ValueError("expected 'sha256:' followed by 64 lower-case hex digits")
        return value

    @model_validator(mode="after")
    def _pinned(self) -> ImageConfig:
        if self.tag is None and self.digest is None:
            raise ValueError("expected a tag or a digest, so the image is pinned")
        return self

    @property
    def reference(self) -> str:
        ref = self.repository
        if self.tag:
            ref += f":{self.tag}"
        if self.digest:
            ref += f"@{self.digest}"
        return ref

    @property
    def version(self) -> str:
        """A label-safe version: the tag, else the digest's first 12 hex digits."""
        if self.tag:
            return self.tag[:63]
        assert self.digest is not None
        return self.digest.removeprefix("sha256:")[:12]


class ReplicasConfig(Model):
    min: Annotated[int, Field(ge=1, le=100)]
    max: Annotated[int, Field(ge=1, le=500)]

    @model_validator(mode="after")
    def _ordered(self) -> ReplicasConfig:
        if self.min > self.max:
            raise ValueError(f"expected min ≤ max, got min {self.min} > max {self.max}")
        return self


class ComputeQuantity(Model):
    cpu: str
    memory: str

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str) -> str:
        parse_cpu(value)
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        parse_memory(value)
        return value


class ResourcesConfig(Model):
    requests: ComputeQuantity
    limits: ComputeQuantity

    @model_validator(mode="after")
    def _requests_within_limits(self) -> ResourcesConfig:
        if parse_cpu(self.requests.cpu) > parse_cpu(self.limits.cpu):
            raise ValueError(f"expected requests.cpu ≤ limits.cpu, got {self.requests.cpu} > {self.limits.cpu}")
        if parse_memory(self.requests.memory) > parse_memory(self.limits.memory):
            raise ValueError(
                f"expected requests.memory ≤ limits.memory, got {self.requests.memory} > {self.limits.memory}"
            )
        return self


class AutoscalingConfig(Model):
    target_cpu_utilization: Annotated[int, Field(ge=10, le=95)] = 70
    scale_down_stabilization_seconds: Annotated[int, Field(ge=0, le=3600)] = 300


class AppConfig(Model):
    name: DnsLabel = "project-ai-api"
    namespace: DnsLabel = "project-ai"
    image: ImageConfig
    replicas: ReplicasConfig
    resources: ResourcesConfig
    autoscaling: AutoscalingConfig = AutoscalingConfig()
    port: Port = 8000
    # The fixed non-root uid the image is built with (app/Dockerfile).
    run_as_user: Annotated[int, Field(ge=1000, le=2147483647)] = 10001
    # Seconds the pod keeps serving after removal from endpoints, then drains.
    pre_stop_seconds: Annotated[int, Field(ge=0, le=60)] = 5
    shutdown_seconds: Annotated[int, Field(ge=1, le=300)] = 25
    max_unavailable: Annotated[int, Field(ge=1)] = 1
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Non-secret settings passed to the app through its ConfigMap.
    settings: dict[Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")], str] = {}


class IngressConfig(Model):
    host: Hostname
    class_name: DnsLabel = "nginx"
    tls_secret_name: DnsLabel
    cluster_issuer: DnsLabel
    # Namespace of the ingress controller, the only source of ingress traffic.
    controller_namespace: DnsLabel = "ingress-nginx"


class EgressEndpoint(Model):
    """A destination the app may reach: a CIDR, or pods in a namespace."""

    name: DnsLabel
    ports: Annotated[list[Port], Field(min_length=1)]
    protocol: Literal["TCP", "UDP"] = "TCP"
    cidr: str | None = None
    # CIDRs cut out of `cidr`, e.g. private ranges when `cidr` is the internet.
    except_cidrs: list[str] = []
    namespace: DnsLabel | None = None
    pod_labels: dict[str, str] = {}

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_network(value, strict=True)
        return value

    @field_validator("except_cidrs")
    @classmethod
    def _except(cls, values: list[str]) -> list[str]:
        for value in values:
            ipaddress.ip_network(value, strict=True)
        return values

    @model_validator(mode="after")
    def _one_destination(self) -> EgressEndpoint:
        if (self.cidr is None) == (self.namespace is None):
            raise ValueError("expected exactly one of 'cidr' or 'namespace'")
        if self.except_cidrs and self.cidr is None:
            raise ValueError("'exceptCidrs' needs 'cidr'")
        return self


class NetworkConfig(Model):
    # Destinations the app may reach besides DNS (database, cache, inference, OTLP).
    egress: list[EgressEndpoint] = []


class DeliveryConfig(Model):
    strategy: Literal["rolling", "canary", "blueGreen"] = "rolling"


class MonitoringConfig(Model):
    enabled: bool = True
    namespace: DnsLabel = "monitoring"
    # Availability objective over 30 days, e.g. 99.9.
    availability_slo: Annotated[float, Field(gt=90, lt=100)] = 99.9


class VaultConfig(Model):
    address: Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+(:\d+)?/?$")] | None = None
    namespace: str | None = None
    kv_mount: DnsLabel = "project-ai"


class DatabaseConfig(Model):
    engine_version: Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?$")] = "16.4"
    instance_class: str = "db.r6g.large"
    instances: Annotated[int, Field(ge=1, le=15)] = 2
    backup_retention_days: Annotated[int, Field(ge=1, le=35)] = 7
    deletion_protection: bool = True


class CacheConfig(Model):
    node_type: str = "cache.r6g.large"
    replicas: Annotated[int, Field(ge=0, le=5)] = 1


class EdgeConfig(Model):
    zone: Hostname
    hostname: Hostname
    # Region stacks whose origins the edge balances across, in failover order.
    origins: Annotated[list[StackName], Field(min_length=1)]
    steering: Literal["geo", "dynamic_latency", "off"] = "geo"


class StackConfig(Model):
    environment: Environment
    role: Role
    cloud: Cloud
    region: str | None = None
    team: DnsLabel
    cost_center: DnsLabel
    tags: dict[str, str] = {}
    kubernetes: KubernetesConfig = KubernetesConfig()
    app: AppConfig | None = None
    ingress: IngressConfig | None = None
    network: NetworkConfig = NetworkConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    vault: VaultConfig = VaultConfig()
    database: DatabaseConfig | None = None
    cache: CacheConfig | None = None
    edge: EdgeConfig | None = None
    # Other stacks this one reads, by role: e.g. {primary: prod}.
    stack_references: dict[DnsLabel, StackName] = {}

    @model_validator(mode="after")
    def _consistent(self) -> StackConfig:
        allowed = ROLE_CLOUDS[self.role]
        if self.cloud not in allowed:
            raise ValueError(f"cloud: the {self.role} role runs on {' or '.join(allowed)}, got '{self.cloud}'")
        if self.cloud in REGIONS:
            if self.region is None:
                raise ValueError(f"region: missing required key for cloud '{self.cloud}'")
            if self.region not in REGIONS[self.cloud]:
                close = difflib.get_close_matches(self.region, REGIONS[self.cloud], n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                name = CLOUD_NAMES[self.cloud]
                raise ValueError(f"region: '{self.region}' is not a region of {name}{hint}")
        if self.role in ("cluster", "region"):
            for key in ("app", "ingress"):
                if getattr(self, key) is None:
                    raise ValueError(f"{key}: missing required key for the {self.role} role")
        if self.role == "edge" and self.edge is None:
            raise ValueError("edge: missing required key for the edge role")
        return self


def load() -> StackConfig:
    """Reads and validates the current stack's `projectai:` namespace."""
    stack = pulumi.get_stack()
    raw = _read_namespace(NAMESPACE)
    secret_keys = {key for key in raw if pulumi.runtime.is_config_secret(f"{NAMESPACE}:{key}")}
    return parse(raw, source=f"Pulumi.{stack}.yaml", secret_keys=secret_keys)


def parse(raw: dict[str, Any], source: str, secret_keys: set[str] | frozenset[str] = frozenset()) -> StackConfig:
    """Validates a raw namespace (top-level key -> value or JSON text)."""
    values = {key: _decode(value) for key, value in raw.items()}
    problems = [f"{source}: {problem}" for problem in _plaintext_secrets(values, secret_keys)]
    environment = values.get("environment")
    defaults = ENVIRONMENT_DEFAULTS.get(environment, {}) if isinstance(environment, str) else {}
    if values.get("role") == "edge":
        # The edge runs no workload: no workload defaults, and no workload keys.
        defaults = {key: value for key, value in defaults.items() if key not in WORKLOAD_KEYS}
        for key in sorted(WORKLOAD_KEYS & set(values)):
            problems.append(f"{source}: {NAMESPACE}:{key}: the edge role runs no workload; expected no '{key}' key")
            del values[key]
    try:
        config = StackConfig.model_validate(deep_merge(defaults, values))
    except ValidationError as error:
        errors = error.errors()
        if not defaults:
            # Without a known environment no defaults apply, so "missing" would be noise.
            errors = [e for e in errors if e["type"] != "missing" or e["loc"] == ("environment",)]
        problems += [f"{source}: {_describe(item)}" for item in errors]
        config = None
    if problems:
        raise ConfigError(problems)
    assert config is not None
    return config


def _read_namespace(namespace: str) -> dict[str, Any]:
    # Pulumi offers no public "list keys" call. A real run passes config in the
    # PULUMI_CONFIG environment variable; mocks and the Automation API set it with
    # set_all_config. Read both so that every key, known or not, is validated.
    merged = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    prefix = f"{namespace}:"
    return {key[len(prefix) :]: value for key, value in merged.items() if key.startswith(prefix)}


def _decode(value: Any) -> Any:
    """Structured config arrives as JSON text; plain strings stay strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _plaintext_secrets(values: dict[str, Any], secret_keys: set[str] | frozenset[str]) -> list[str]:
    problems = []

    def walk(path: str, value: Any, key: str) -> None:
        if isinstance(value, dict):
            for child, child_value in value.items():
                walk(f"{path}.{child}", child_value, str(child))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(f"{path}[{index}]", item, key)
        elif isinstance(value, str) and value:
            named_secret = _SECRET_KEY.search(key) and not _REFERENCE_KEY.search(key)
            if named_secret or _SECRET_VALUE.search(value):
                problems.append(
                    f"{path}: looks like a secret in plaintext; expected it in Vault, or set "
                    f"with `pulumi config set --secret --path '{path}'`"
                )

    for key, value in values.items():
        if key not in secret_keys:
            walk(f"{NAMESPACE}:{key}", value, key)
    return problems


_EXPECTATIONS = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "dict_type": "expected a mapping of keys to values",
    "list_type": "expected a list",
    "model_type": "expected a mapping of keys to values",
    "model_attributes_type": "expected a mapping of keys to values",
}


def _describe(error: Any) -> str:
    """One line for one pydantic error: key path, what was expected, what was given."""
    location = [str(part) for part in error["loc"]]
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        valid = _valid_keys(location[:-1])
        close = difflib.get_close_matches(location[-1], valid, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(valid)}"
        return f"{_path(location)}: unknown key{hint}"
    if kind == "missing":
        return f"{_path(location)}: missing required key"
    if kind == "literal_error":
        expected = error["ctx"]["expected"]
        return f"{_path(location)}: expected one of {expected}, got {given!r}"
    if kind == "string_pattern_mismatch":
        return f"{_path(location)}: got {given!r}, expected {_pattern_hint(location[-1])}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {
            "greater_than_equal": "≥",
            "less_than_equal": "≤",
            "greater_than": ">",
            "less_than": "<",
        }[kind]
        limit = next(iter(error["ctx"].values()))
        return f"{_path(location)}: expected a value {bound} {limit}, got {given!r}"
    if kind == "value_error":
        message = str(error["ctx"]["error"])
        # A model-level check names its own key ("region: ...") relative to the model.
        if ": " in message and message.split(": ", 1)[0].replace(".", "").isalnum():
            key, message = message.split(": ", 1)
            location = [*location, key]
        return f"{_path(location)}: {message}"
    if kind in _EXPECTATIONS:
        return f"{_path(location)}: {_EXPECTATIONS[kind]}, got {given!r}"
    return f"{_path(location)}: {error['msg']}"


def _pattern_hint(key: str) -> str:
    if key in ("host", "hostname", "zone"):
        return "a lower-case DNS name such as 'api.example.com'"
    if key == "version":
        return "a Kubernetes minor version from 1.25 to 1.39, such as '1.33'"
    if key == "address":
        return "a URL such as 'https://vault.example.com:8200'"
    return "a lower-case DNS label: letters, digits and '-', at most 63"


def _path(location: list[str]) -> str:
    text = f"{NAMESPACE}:{location[0]}" if location else NAMESPACE
    for part in location[1:]:
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return text


def _valid_keys(location: list[str]) -> list[str]:
    """The camelCase keys the model accepts at a path, for 'did you mean'."""
    model: Any = StackConfig
    for part in location:
        if part.isdigit() or model is None:
            continue
        field = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        model = _model_of(field.annotation) if field else None
    if model is None:
        return []
    return sorted(field.alias or name for name, field in model.model_fields.items())


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
