"""The typed model of the `projectai:` configuration namespace, with per-field checks.

Keys are camelCase in stack files; unknown keys are errors. Checks that span fields
(min ≤ max, a region of the stack's cloud) live on the model that owns the fields.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from app.networks import INTERNAL, internal
from components.chaos import schedule
from components.chaos.plan import EXPERIMENTS
from components.chaos.plan import longest_seconds as longest_experiment_seconds
from components.chaos.workflows import GRACE_SECONDS
from policies.zero_trust.kubernetes import MUTABLE_TAGS
from stacks.quantities import parse_cpu, parse_memory
from stacks.regions import REGIONS

NAMESPACE = "projectai"

Environment = Literal["local", "dev", "staging", "prod"]

CLOUD_NAMES = {"aws": "AWS", "gcp": "GCP"}

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)]
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
# Namespaces the cluster owns: default deny and restricted PSA there would break it.
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def own_namespace(whose: str) -> AfterValidator:
    """A namespace that is not the cluster's own (kube-system and the like)."""

    def check(value: str) -> str:
        if value in SYSTEM_NAMESPACES:
            raise ValueError(f"'{value}' belongs to the cluster; expected a namespace of {whose} own")
        return value

    return AfterValidator(check)


# ConfigMap keys the program sets itself, and from what.
COMPONENT_SETTINGS = {
    "PORT": "port",
    "APP_ENVIRONMENT": "environment",
    "LOG_LEVEL": "logLevel",
    "APP_TRUSTED_PROXIES": "ingress.controllerCidrs",
    "APP_SECRETS_DIR": "the secrets volume",
    "APP_SHUTDOWN_GRACE_SECONDS": "shutdownSeconds",
    "APP_RATE_LIMIT_FALLBACK_REPLICAS": "replicas.min",
    "APP_FLAGS_FILE": "flags (the flags ConfigMap)",
}
# Of a pod's shutdownSeconds, what the app's own close takes after in-flight requests
# drained: deferred usage settlements get one more try (4 s at most), the database pool
# closes (3 s at most). The rest is the app's drain of requests in flight.
APP_CLOSE_SECONDS = 8
# The app's own default (app/settings.py), when the stack sets no upstream timeout.
UPSTREAM_TIMEOUT_SECONDS = 15.0
# The longest a proxy in front of the app keeps an idle connection to it: ingress-nginx's
# upstream keep-alive (60 s by default) and the mesh's idleTimeout (components/mesh/traffic.py).
PROXY_IDLE_SECONDS = 60
# kind's and minikube's default pod range.
CLUSTER_POD_CIDR = "10.244.0.0/16"
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


def _number_as_text(value: object) -> object:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(f"'{value}' is not a CIDR such as 10.0.0.0/16") from None
    return value


# An IPv4 or IPv6 network without host bits, e.g. 10.244.0.0/16 or fd00::/64.
Network = Annotated[str, AfterValidator(_network)]


def _internal_network(value: str) -> str:
    if not internal(ipaddress.ip_network(value)):
        raise ValueError(f"'{value}' is not internal; expected {INTERNAL} (a public range would trust any client)")
    return value


# A network of the cluster's own: the app refuses to trust any other (app/networks.py).
InternalNetwork = Annotated[Network, AfterValidator(_internal_network)]


class Model(BaseModel):
    """Config keys are camelCase in stack files; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class KubernetesConfig(Model):
    # The cluster's minor version: decides which schemas preflight validates against.
    # 1.30 at least: the pods use the preStop sleep action, on by default from 1.30.
    version: Annotated[str, StringConstraints(pattern=r"^1\.3[0-9]$")] = "1.33"
    # kubeconfig context for the `cluster` role; None means the current context.
    context: str | None = None
    # Where the API server's endpoints are: controllers in platform namespaces may
    # reach only these on 443/6443, and only these may call their webhooks. No default:
    # a region derives them from its network, a `cluster` stack must name them.
    api_server_cidrs: Annotated[list[Network], Field(min_length=1)] | None = None


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


def _pinned_by_digest(image: ImageConfig) -> ImageConfig:
    if image.digest is None:
        raise ValueError("expected the ops image pinned by digest (digest: sha256:...)")
    return image


# The ops image (the judge, the guard, the smoke test, insight, self-healing): by digest only.
OpsImage = Annotated[ImageConfig, AfterValidator(_pinned_by_digest)]


class ReplicasConfig(Model):
    min: Annotated[int, Field(ge=1, le=100)]
    max: Annotated[int, Field(ge=1, le=500)]

    @model_validator(mode="after")
    def _ordered(self) -> ReplicasConfig:
        if self.min > self.max:
            raise ValueError(f"expected min ≤ max, got min {self.min} > max {self.max}")
        return self


class ComputeQuantity(Model):
    # Kubernetes takes `cpu: 1` as well as `cpu: "1"`.
    cpu: Annotated[str, BeforeValidator(_number_as_text)]
    memory: Annotated[str, BeforeValidator(_number_as_text)]

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
    # With "-<environment>" appended it is the instance label: 63 characters at most.
    name: Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=40)] = "project-ai-api"
    namespace: Annotated[DnsLabel, own_namespace("the app's")] = "project-ai"
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

    @field_validator("settings")
    @classmethod
    def _settings_not_owned_by_the_component(cls, value: dict[str, str]) -> dict[str, str]:
        taken = sorted(set(COMPONENT_SETTINGS) & set(value))
        if taken:
            sources = ", ".join(COMPONENT_SETTINGS[key] for key in taken)
            raise ValueError(f"{', '.join(taken)} set by the program from {sources}; expected other names")
        return value

    @property
    def drain_seconds(self) -> int:
        """How long the app lets requests in flight finish after SIGTERM."""
        return self.shutdown_seconds - APP_CLOSE_SECONDS

    @field_validator("settings")
    @classmethod
    def _keep_alive_outlives_the_proxies(cls, value: dict[str, str]) -> dict[str, str]:
        # A proxy that reuses a connection the app has just closed loses that request.
        raw = value.get("APP_KEEP_ALIVE_SECONDS")
        if raw is None:
            return value
        if not raw.isdigit():
            raise ValueError(f"settings.APP_KEEP_ALIVE_SECONDS: expected whole seconds, got '{raw}'")
        if int(raw) <= PROXY_IDLE_SECONDS:
            raise ValueError(
                f"settings.APP_KEEP_ALIVE_SECONDS: {raw} s would close idle connections the proxies in front keep "
                f"for {PROXY_IDLE_SECONDS} s; expected more than {PROXY_IDLE_SECONDS}"
            )
        return value

    @model_validator(mode="after")
    def _upstream_call_ends_before_the_drain(self) -> AppConfig:
        # A request in flight at shutdown must end (its upstream call too) before the drain
        # does, or the pod is killed with the answer half sent. The app checks this as well,
        # but only once its pod starts: here it fails before anything is deployed.
        raw = self.settings.get("APP_UPSTREAM_TIMEOUT_SECONDS", str(UPSTREAM_TIMEOUT_SECONDS))
        try:
            timeout = float(raw)
        except ValueError:
            raise ValueError(f"settings.APP_UPSTREAM_TIMEOUT_SECONDS: expected seconds, got '{raw}'") from None
        if timeout >= self.drain_seconds:
            raise ValueError(
                f"shutdownSeconds: {self.shutdown_seconds} leaves {self.drain_seconds} s to drain requests "
                f"({APP_CLOSE_SECONDS} s go to closing the app), not more than the upstream timeout of {timeout:g} s; "
                f"expected shutdownSeconds > {timeout + APP_CLOSE_SECONDS:g}"
            )
        return self


class IngressConfig(Model):
    host: Hostname
    class_name: DnsLabel = "nginx"
    tls_secret_name: DnsLabel
    cluster_issuer: DnsLabel
    # Namespace of the ingress controller, the only source of ingress traffic.
    controller_namespace: DnsLabel = "ingress-nginx"
    # Where the controller's pods get their addresses: the app believes X-Forwarded-For
    # from these only (APP_TRUSTED_PROXIES). Unset: a region's platform range (the VPC
    # on EKS, whose CNI gives pods VPC addresses; the pods' range on GKE), else
    # CLUSTER_POD_CIDR. Set it to the cluster's pod range where that differs.
    controller_cidrs: Annotated[list[InternalNetwork], Field(min_length=1)] | None = None


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

    @field_validator("pod_labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        for key, value in labels.items():
            if not LABEL_KEY.match(key):
                raise ValueError(f"label key {key!r} is not a valid Kubernetes label key")
            if not LABEL_VALUE.match(value):
                raise ValueError(f"label value {value!r} is not a valid Kubernetes label value")
        return labels

    @model_validator(mode="after")
    def _one_destination(self) -> EgressEndpoint:
        if (self.cidr is None) == (self.namespace is None):
            raise ValueError("expected exactly one of 'cidr' or 'namespace'")
        if self.except_cidrs and self.cidr is None:
            raise ValueError("'exceptCidrs' needs 'cidr'")
        if self.cidr is not None:
            outer = ipaddress.ip_network(self.cidr)
            for inner in self.except_cidrs:
                network = ipaddress.ip_network(inner)
                if network.version != outer.version or not network.subnet_of(outer):  # type: ignore[arg-type]
                    raise ValueError(f"exceptCidrs: {inner} is not inside cidr {self.cidr}")
        return self


class NetworkConfig(Model):
    # Destinations the app may reach besides DNS (database, cache, inference, OTLP).
    egress: list[EgressEndpoint] = []
    # The node-local DNS cache's link-local address, where the cluster runs one
    # (NodeLocal DNSCache listens on 169.254.20.10 by default); pods query it, not CoreDNS.
    node_local_dns: ipaddress.IPv4Address | None = None


class AnalysisConfig(Model):
    """What a new version must show, measured from Prometheus, before it gets more traffic."""

    # Share of non-5xx responses of the new version, and its p99 latency.
    min_success_rate: Annotated[float, Field(gt=0, le=1)] = 0.99
    max_p99_latency_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    # Each measurement covers `interval`; `count` of them make one analysis.
    interval_seconds: Annotated[int, Field(ge=10, le=3600)] = 60
    count: Annotated[int, Field(ge=1, le=60)] = 5
    # Failed measurements tolerated before the release is aborted and rolled back.
    failure_limit: Annotated[int, Field(ge=0, le=10)] = 1
    # Measurements with no traffic (inconclusive) tolerated before the rollout pauses for a human.
    inconclusive_limit: Annotated[int, Field(ge=0, le=10)] = 2


# The judge's shortest window (ops/canary/server.py: MIN_WINDOW); its window is the analysis interval.
JUDGE_MIN_WINDOW_SECONDS = 60


class FaultInjectionConfig(Model):
    """Faults the mesh injects on the canary's route (the VirtualService's `primary`), for
    resilience tests: outside production only."""

    # A fixed delay before a share of requests (percent) is forwarded.
    delay_ms: Annotated[int, Field(ge=1, le=60000)] | None = None
    delay_percent: Annotated[float, Field(gt=0, le=100)] | None = None
    # A share of requests (percent) answered at once with this status, never forwarded.
    abort_http_status: Annotated[int, Field(ge=400, le=599)] | None = None
    abort_percent: Annotated[float, Field(gt=0, le=100)] | None = None

    @model_validator(mode="after")
    def _pairs(self) -> FaultInjectionConfig:
        if (self.delay_ms is None) != (self.delay_percent is None):
            raise ValueError("delayMs: delayMs and delayPercent go together")
        if (self.abort_http_status is None) != (self.abort_percent is None):
            raise ValueError("abortHttpStatus: abortHttpStatus and abortPercent go together")
        if self.delay_ms is None and self.abort_http_status is None:
            raise ValueError(
                "expected a delay (delayMs, delayPercent), an abort (abortHttpStatus, abortPercent) or both"
            )
        return self


class CanaryJudgeConfig(Model):
    """The statistical canary judge (`python -m ops canary serve`, the ops image) as one more
    analysis of every canary step: the canary's requests against the stable version's."""

    # The ops image, pinned by digest, from the stack's own registry.
    image: OpsImage


class CanaryConfig(Model):
    # Traffic shares, in percent, each followed by a pause and an analysis; 100 comes last.
    weights: Annotated[list[Annotated[int, Field(ge=1, le=99)]], Field(min_length=1)] = [10, 50]
    pause_seconds: Annotated[int, Field(ge=0, le=86400)] = 60
    # With the mesh: a share (percent) of GET and HEAD requests to the stable version is
    # copied to the canary, whose answers are dropped; unset, no mirroring.
    mirror_percent: Annotated[int, Field(ge=1, le=100)] | None = None
    # The steps (1 for the first weight) that mirror, or `all`.
    mirror_steps: Literal["all"] | Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)] = [1]
    # With the mesh, outside production: delays and aborts on the canary's route.
    fault_injection: FaultInjectionConfig | None = None
    # The statistical judge: unset, the analysis is the Prometheus thresholds alone.
    judge: CanaryJudgeConfig | None = None

    @field_validator("weights")
    @classmethod
    def _rising(cls, weights: list[int]) -> list[int]:
        if weights != sorted(set(weights)):
            raise ValueError(f"expected rising weights, each once, got {weights}")
        return weights

    @model_validator(mode="after")
    def _mirror_steps(self) -> CanaryConfig:
        if self.mirror_steps != "all":
            beyond = [step for step in self.mirror_steps if step > len(self.weights)]
            if beyond:
                raise ValueError(
                    f"mirrorSteps: {beyond} beyond the {len(self.weights)} weight steps; expected steps 1 to "
                    f"{len(self.weights)}, or all"
                )
        return self

    def mirrored_steps(self) -> tuple[int, ...]:
        if self.mirror_percent is None:
            return ()
        if self.mirror_steps == "all":
            return tuple(range(1, len(self.weights) + 1))
        return tuple(sorted(set(self.mirror_steps)))


class BlueGreenConfig(Model):
    # Promote the preview on its own once pre-promotion analysis passes (else a human does).
    auto_promotion: bool = False
    # The old version stays up this long after promotion: going back is a selector switch.
    scale_down_delay_seconds: Annotated[int, Field(ge=30, le=86400)] = 600
    # The ops image the smoke test runs (`ops smoke`), by digest; unset, the stack's ops
    # image for the canary judge (delivery.canary.judge.image).
    smoke_test_image: OpsImage | None = None


class DeliveryConfig(Model):
    strategy: Literal["rolling", "canary", "blueGreen"] = "rolling"
    canary: CanaryConfig = CanaryConfig()
    blue_green: BlueGreenConfig = BlueGreenConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    # Going back to one of the last N revisions skips the steps and analysis.
    rollback_window_revisions: Annotated[int, Field(ge=0, le=10)] = 3
    # The Prometheus the analysis queries; unset, the monitoring stack's own.
    prometheus_address: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None = None
    argo_rollouts_chart_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")] = "2.40.1"
    # A Secret with an API key (key `api-key`) the blue-green smoke test calls with.
    smoke_test_secret_name: DnsLabel = "project-ai-api-smoke-test"
    # Migration Job limits.
    migration_deadline_seconds: Annotated[int, Field(ge=60, le=7200)] = 900


# Bucket bounds of the app's latency histogram: a latency SLO threshold must be one.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
Duration = Annotated[str, StringConstraints(pattern=r"^\d+[smhdw]$")]


class MonitoringConfig(Model):
    enabled: bool = True
    namespace: DnsLabel = "monitoring"
    # Objectives over 30 days: share of requests without a 5xx, and faster than the threshold.
    availability_slo: Annotated[float, Field(gt=90, lt=100)] = 99.9
    latency_slo: Annotated[float, Field(gt=90, lt=100)] = 99.0
    latency_threshold_seconds: float = 0.5
    retention: Duration = "15d"
    storage_size: Annotated[str, StringConstraints(pattern=r"^\d+(Mi|Gi|Ti)$")] = "50Gi"
    prometheus_replicas: Annotated[int, Field(ge=1, le=3)] = 1
    prometheus_resources: ResourcesConfig = ResourcesConfig(
        requests=ComputeQuantity(cpu="500m", memory="2Gi"), limits=ComputeQuantity(cpu="2", memory="4Gi")
    )
    alertmanager_replicas: Annotated[int, Field(ge=1, le=5)] = 1
    kube_prometheus_stack_chart_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")] = "76.5.1"
    otel_collector_chart_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")] = "0.127.2"
    # Where traces go (OTLP/gRPC), e.g. a Tempo or vendor endpoint; unset keeps them local.
    traces_endpoint: str | None = None
    # Warnings go to the owning team's channel (by the `team` label); info to a quiet one.
    team_channels: dict[DnsLabel, Annotated[str, StringConstraints(pattern=r"^#[a-z0-9_-]+$")]] = {}
    low_noise_channel: Annotated[str, StringConstraints(pattern=r"^#[a-z0-9_-]+$")] = "#ai-platform-info"
    escalate_after: Duration = "30m"
    runbook_base: Annotated[str, StringConstraints(pattern=r"^https://\S+$")] = "https://runbooks.project-ai.dev/api"

    @field_validator("latency_threshold_seconds")
    @classmethod
    def _a_bucket_bound(cls, value: float) -> float:
        if value not in LATENCY_BUCKETS:
            raise ValueError(f"expected one of the app's latency buckets {list(LATENCY_BUCKETS)}, got {value}")
        return value


Pem = Annotated[str, StringConstraints(pattern=r"^-----BEGIN CERTIFICATE-----")]
ChartVersion = Annotated[str, StringConstraints(pattern=r"^v?\d+\.\d+\.\d+$")]


class MeshUpstreamConfig(Model):
    """A host outside the mesh the app calls (an inference API): REGISTRY_ONLY refuses any other."""

    host: Hostname
    port: Port = 443
    protocol: Literal["TLS", "TCP", "HTTPS"] = "TLS"


class MeshKialiConfig(Model):
    enabled: bool = True
    # ServiceAccount tokens or an OpenID provider; never anonymous.
    auth_strategy: Literal["token", "openid"] = "token"
    # The OpenID provider's settings (issuer_uri, client_id, ...) for `openid`.
    openid: dict[str, str] = {}

    @model_validator(mode="after")
    def _openid(self) -> MeshKialiConfig:
        if self.auth_strategy == "openid" and not self.openid.get("issuer_uri"):
            raise ValueError("openid.issuer_uri: missing; expected the OpenID provider for authStrategy openid")
        return self


class MeshConfig(Model):
    """Istio (sidecars, STRICT mTLS, REGISTRY_ONLY egress) with workload certificates from
    Vault (istio-csr through cert-manager's Vault Issuer): components/mesh, stacks/mesh.py."""

    enabled: bool = False
    # The SPIFFE trust domain; default `<environment>.mesh.project-ai.dev`.
    trust_domain: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?$")] | None = None
    istio_chart_version: ChartVersion = "1.30.3"
    istio_csr_chart_version: ChartVersion = "v0.17.0"
    kiali_chart_version: ChartVersion = "2.29.0"
    # Share of requests traced (percent).
    tracing_sampling_percent: Annotated[float, Field(ge=0, le=100)] = 1.0
    kiali: MeshKialiConfig = MeshKialiConfig()
    # Hosts outside the mesh besides the database and cache (which the platform gives).
    upstreams: list[MeshUpstreamConfig] = []
    # The mesh intermediate signed by the organisation's root (external Vault): the
    # certificate with its chain up to the root, and the root alone. Unset, the first
    # `pulumi up` creates the intermediate's CSR (output meshIntermediateCsr) and stops there.
    intermediate_certificate: Pem | None = None
    root_certificate: Pem | None = None
    # The intermediate is renewed every this many days (valid for two periods).
    rotation_days: Annotated[int, Field(ge=7, le=365)] = 90
    workload_certificate_hours: Annotated[int, Field(ge=1, le=168)] = 24

    @model_validator(mode="after")
    def _pair(self) -> MeshConfig:
        if (self.intermediate_certificate is None) != (self.root_certificate is None):
            raise ValueError("intermediateCertificate: intermediateCertificate and rootCertificate go together")
        return self


Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+(:\d+)?/?$")]
SqlIdentifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
# Kubernetes CronJob schedule: five fields.
Cron = Annotated[str, StringConstraints(pattern=r"^(\S+\s+){4}\S+$")]
# Go durations as External Secrets reads them.
GoDuration = Annotated[str, StringConstraints(pattern=r"^\d+[smh]$")]
_GO_SECONDS = {"s": 1, "m": 60, "h": 3600}


DatabaseHost = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$", max_length=253)]


class VaultDatabaseConfig(Model):
    """The app's PostgreSQL, as Vault's database engine reaches it."""

    host: DatabaseHost
    # The database's reader endpoint (its replicas), if it has one: the app reads there
    # what tolerates replication lag (APP_DATABASE_READ_URL), as the same user.
    reader_host: DatabaseHost | None = None
    port: Port = 5432
    name: SqlIdentifier = "project_ai"
    ssl_mode: Literal["disable", "require", "verify-ca", "verify-full"] = "require"
    # The PostgreSQL user Vault connects as; its password is `databaseRootPassword`.
    root_username: SqlIdentifier = "vault"
    # Short-lived users: this long by default, never longer than the max.
    credential_ttl_seconds: Annotated[int, Field(ge=2, le=86400)] = 14400
    credential_max_ttl_seconds: Annotated[int, Field(ge=2, le=604800)] = 86400
    root_rotation_schedule: Cron = "17 3 * * 1"

    @model_validator(mode="after")
    def _ttls(self) -> VaultDatabaseConfig:
        if self.credential_ttl_seconds > self.credential_max_ttl_seconds:
            raise ValueError(
                f"credentialTtlSeconds: {self.credential_ttl_seconds} is above credentialMaxTtlSeconds "
                f"({self.credential_max_ttl_seconds})"
            )
        return self


class VaultConfig(Model):
    # `dev`: OpenBao in dev mode inside the cluster (local only); `external`: a Vault
    # the platform team runs, reached at `address` with a token from the environment.
    mode: Literal["dev", "external"] = "external"
    address: Url | None = None
    namespace: str | None = None
    # Where pods reach Vault when it is not `address` (dev mode: the in-cluster Service).
    dev_ingress_host: Hostname | None = None
    # Defaults: project-ai-<environment> and kubernetes-<stack>.
    kv_mount: DnsLabel | None = None
    auth_mount: DnsLabel | None = None
    # The cluster's API server, for a Vault outside the cluster to review tokens.
    kubernetes_host: Url | None = None
    # Its CA certificate (PEM; public), required with kubernetesHost.
    kubernetes_ca_certificate: Annotated[str, StringConstraints(pattern=r"^-----BEGIN CERTIFICATE-----")] | None = None
    audience: DnsLabel = "vault"
    token_ttl_seconds: Annotated[int, Field(ge=60, le=86400)] = 900
    token_max_ttl_seconds: Annotated[int, Field(ge=60, le=86400)] = 3600
    # How often External Secrets re-reads Vault: the longest a rotated value takes to
    # reach the pods.
    refresh_interval: GoDuration = "1h"
    # Default: /vault/audit/<stack>.log.
    audit_file_path: Annotated[str, StringConstraints(pattern=r"^/\S+$")] | None = None
    # False where another stack of the environment (the primary) owns the KV mount.
    owns_kv_mount: bool = True
    database: VaultDatabaseConfig | None = None
    external_secrets_chart_version: str = "2.2.0"
    reloader_chart_version: str = "2.2.9"
    openbao_chart_version: str = "0.19.1"
    # The CLI image the root-rotation job runs (OpenBao's CLI speaks the Vault API).
    cli_image: str = "quay.io/openbao/openbao:2.4.3"

    @model_validator(mode="after")
    def _consistent(self) -> VaultConfig:
        if self.mode == "external" and self.address is None:
            raise ValueError("address: missing required key for an external Vault (mode: external)")
        if self.mode == "dev" and self.dev_ingress_host is None:
            raise ValueError("devIngressHost: missing required key for a dev-mode Vault (mode: dev)")
        if (self.kubernetes_host is None) != (self.kubernetes_ca_certificate is None):
            raise ValueError("kubernetesCaCertificate: kubernetesHost and kubernetesCaCertificate go together")
        if self.token_ttl_seconds > self.token_max_ttl_seconds:
            raise ValueError(
                f"tokenTtlSeconds: {self.token_ttl_seconds} is above tokenMaxTtlSeconds ({self.token_max_ttl_seconds})"
            )
        if self.database is not None:
            refresh = int(self.refresh_interval[:-1]) * _GO_SECONDS[self.refresh_interval[-1]]
            if 2 * refresh > self.database.credential_ttl_seconds:
                raise ValueError(
                    f"refreshInterval: {self.refresh_interval} is more than half of database.credentialTtlSeconds "
                    f"({self.database.credential_ttl_seconds}); pods would hold expired database users"
                )
        return self


# A zone's name as its nodes carry it (us-east-1a, us-central1-a).
Zone = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]


def _game_day(value: str) -> str:
    try:
        schedule.parse(value)
    except schedule.CronError as problem:
        raise ValueError(str(problem)) from None
    return value


def _time_zone(value: str) -> str:
    try:
        schedule.time_zone(value)
    except schedule.CronError as problem:
        raise ValueError(str(problem)) from None
    return value


class ChaosConfig(Model):
    """Chaos Mesh and the experiments as code (components/chaos, stacks/chaos.py), outside
    production only: every experiment a Workflow with a steady-state check, scheduled in
    a weekly game day outside business hours (Mon–Fri 07:00–19:00 in `timeZone`)."""

    enabled: bool = False
    chart_version: ChartVersion = "2.8.3"
    # The ops image the steady-state guard runs (`ops chaos guard`), by digest; unset, the
    # stack's ops image for the canary judge (delivery.canary.judge.image).
    guard_image: OpsImage | None = None
    # The team's time zone (IANA): the game day's cron and the business hours are its.
    time_zone: Annotated[str, AfterValidator(_time_zone)] = "UTC"
    # When the weekly game day starts: one minute and one hour, '*' for day of month and
    # month, and the days of the week (0 or sun is Sunday). The experiments follow one
    # slot after the other; the whole game day must miss business hours.
    game_day: Annotated[str, AfterValidator(_game_day)] = "0 1 * * 2"
    slot_minutes: Annotated[int, Field(ge=5, le=120)] = 15
    # How long each fault lasts, and how long the steady state is watched after it.
    fault_seconds: Annotated[int, Field(ge=30, le=900)] = 180
    recovery_seconds: Annotated[int, Field(ge=0, le=900)] = 120
    # A start missed by more than this (the controller was down) is skipped, not run late.
    starting_deadline_seconds: Annotated[int, Field(ge=30, le=1800)] = 300
    # Finished workflows kept per experiment.
    history_limit: Annotated[int, Field(ge=1, le=20)] = 3
    # The zone api-zone-loss takes down (its nodes' topology.kubernetes.io/zone); unset,
    # an AWS region's first zone. A stack whose zones the program does not declare names it.
    zone: Zone | None = None
    # Where the API reaches its database and cache, when the program cannot know it (a
    # cluster stack's in-cluster Services, such as postgresql.project-ai-data.svc.cluster.local).
    database_host: DatabaseHost | None = None
    cache_host: DatabaseHost | None = None

    @model_validator(mode="after")
    def _game_day_fits(self) -> ChaosConfig:
        longest = longest_experiment_seconds(self.fault_seconds, self.recovery_seconds)
        needed = longest + GRACE_SECONDS + self.starting_deadline_seconds
        if needed > self.slot_minutes * 60:
            raise ValueError(
                f"slotMinutes: {self.slot_minutes} min is shorter than the longest experiment with its grace and "
                f"starting deadline ({needed} s, faultSeconds {self.fault_seconds}, recoverySeconds "
                f"{self.recovery_seconds}, startingDeadlineSeconds {self.starting_deadline_seconds}); expected "
                f"slotMinutes ≥ {-(-needed // 60)}, so experiments never overlap"
            )
        window = len(EXPERIMENTS) * self.slot_minutes
        problem = schedule.business_hours_problem(self.game_day, self.time_zone, window)
        if problem:
            raise ValueError(f"gameDay: {problem}")
        return self


# The signals a round reads, each one query that may take the whole timeout (ops/insight/signals.py).
QUERIES_PER_ROUND = 4


class InsightConfig(Model):
    enabled: bool = False
    # The ops image, pinned by digest; unset, the canary judge's (delivery.canary.judge.image).
    image: OpsImage | None = None
    # How often the API's signals are read and learned: the models' interval.
    interval_seconds: Annotated[int, Field(ge=10, le=3600)] = 60
    # How far ahead `projectai_forecast` is made (the dashboard plots it against the actual value).
    lead_seconds: Annotated[int, Field(ge=60, le=86400)] = 900
    # A Prometheus query slower than this fails (the round goes on with the next signal).
    timeout_seconds: Annotated[float, Field(ge=0.1, le=30)] = 5.0
    # The volume holding the learned state: a few megabytes for weeks of history.
    state_size: Annotated[str, StringConstraints(pattern=r"^\d+(Mi|Gi)$")] = "1Gi"
    # Unset: the cluster's default StorageClass.
    storage_class: DnsLabel | None = None

    @model_validator(mode="after")
    def _rounds_fit(self) -> InsightConfig:
        if self.timeout_seconds * QUERIES_PER_ROUND >= self.interval_seconds:
            raise ValueError(
                f"timeoutSeconds: {self.timeout_seconds:g} s for each of a round's {QUERIES_PER_ROUND} queries "
                f"does not fit in intervalSeconds {self.interval_seconds}; expected timeoutSeconds below "
                f"{self.interval_seconds / QUERIES_PER_ROUND:g}"
            )
        return self


class SelfHealingConfig(Model):
    """The self-healing receiver (`ops heal serve`, components/heal.py): Alertmanager's
    alerts to runbook actions within safety rails. Off by default; a dry run until `apply`."""

    enabled: bool = False
    # Act on alerts; false: a dry run (every decision audited, nothing done).
    apply: bool = False
    # The ops image, pinned by digest; unset, the canary judge's (delivery.canary.judge.image).
    image: OpsImage | None = None
    # The Cloudflare account of the edge's load-balancer pools: set, a failing region's pool
    # can leave the edge (after a human's approval), with the API token Vault holds at
    # `<app>/cloudflare-edge` (Load Balancing: Monitors and Pools Edit).
    edge_account_id: CloudflareId | None = None
    # Open PagerDuty incidents, with the routing key Alertmanager pages with (`monitoring/pagerduty`).
    incidents: bool = True
    # A Kubernetes, Cloudflare or PagerDuty call slower than this fails (the decision is audited as failed).
    timeout_seconds: Annotated[float, Field(ge=0.5, le=60)] = 10.0
    # The volume holding its decisions, approvals, outcomes and audit trail.
    state_size: Annotated[str, StringConstraints(pattern=r"^\d+(Mi|Gi)$")] = "1Gi"
    # Unset: the cluster's default StorageClass.
    storage_class: DnsLabel | None = None


class HeadroomConfig(Model):
    """Placeholder pods sized like an API pod, at the cluster autoscaler's expendable
    cutoff: pending, they add nodes ahead of a forecast peak; any API pod preempts them."""

    # Share of the forecast peak held beyond it, for the forecast's error (0.2: 20 %).
    margin: Annotated[float, Field(ge=0, le=1)] = 0.2
    max_replicas: Annotated[int, Field(ge=1, le=100)] = 4
    # USD per month. The cap counts each placeholder as running all month: a bound the
    # placeholders can never exceed, however often forecasts call for them.
    monthly_cost_cap: Annotated[float, Field(gt=0)]
    # USD per month for one API pod's share of a node (its requests over a node's).
    pod_monthly_price: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _buys_a_placeholder(self) -> HeadroomConfig:
        if Decimal(str(self.monthly_cost_cap)) < Decimal(str(self.pod_monthly_price)):
            raise ValueError(
                f"monthlyCostCap {self.monthly_cost_cap:g} buys no placeholder at podMonthlyPrice "
                f"{self.pod_monthly_price:g}; expected a cap of at least {self.pod_monthly_price:g}, "
                "or no headroom"
            )
        return self


class PredictiveScalingConfig(Model):
    enabled: bool = False
    keda_chart_version: ChartVersion = "2.20.2"
    # Requests/s one API replica serves at its target (from a load test): the divisor of
    # the forecast and of the current load. Required when enabled.
    requests_per_replica: Annotated[float, Field(gt=0, le=100000)] | None = None
    # How far ahead replicas are ready: the window of the forecast peak scaled on
    # (the insight service's `projectai_forecast_peak{window}`).
    lead_time_minutes: Annotated[int, Field(ge=1, le=120)] = 15
    # A forecast counts only if the forecaster succeeded this recently.
    forecast_max_age_seconds: Annotated[int, Field(ge=30, le=7200)] = 300
    polling_seconds: Annotated[int, Field(ge=5, le=300)] = 15
    # Failed Prometheus queries in a row before KEDA's fallback keeps the current replicas.
    fallback_failures: Annotated[int, Field(ge=1, le=20)] = 3
    # None: no placeholders.
    headroom: HeadroomConfig | None = None

    @model_validator(mode="after")
    def _complete(self) -> PredictiveScalingConfig:
        if self.enabled and self.requests_per_replica is None:
            raise ValueError(
                "requestsPerReplica: missing; expected the requests/s one API replica serves at its target "
                "(measured by a load test) when predictive scaling is enabled"
            )
        lead_seconds = self.lead_time_minutes * 60
        if self.forecast_max_age_seconds > lead_seconds:
            raise ValueError(
                f"forecastMaxAgeSeconds: {self.forecast_max_age_seconds} would trust a forecast of the next "
                f"{self.lead_time_minutes} min after that window has passed; expected at most {lead_seconds}"
            )
        if self.polling_seconds * self.fallback_failures >= lead_seconds:
            raise ValueError(
                f"pollingSeconds × fallbackFailures: {self.polling_seconds} × {self.fallback_failures} s of failed "
                f"queries reach the {self.lead_time_minutes} min lead time; expected less"
            )
        return self


class DatabaseConfig(Model):
    engine_version: Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?$")] = "16.4"
    instance_class: str = "db.r6g.large"
    instances: Annotated[int, Field(ge=1, le=15)] = 2
    backup_retention_days: Annotated[int, Field(ge=1, le=35)] = 7
    deletion_protection: bool = True


# The fastest any region here recovers: the edge marks a region down after about a minute
# of failed probes (its monitor's interval × consecutiveDown), and Aurora's managed
# global failover takes about as long; a shorter RTO would be a promise nothing keeps.
MIN_RTO_SECONDS = 60


class DisasterRecoveryConfig(Model):
    """What losing a region may cost, per stack: exported in its contract (`ops dr` reads
    it there) and the threshold of its replication lag alarm (README, Disaster recovery).

    Defaults (prod, stacks/defaults.py) follow Aurora Global Database's figures: a
    secondary region is typically under a second behind (RPO 1 s) and a managed failover
    takes about a minute (RTO 60 s); a cross-cloud replica sets its own in its stack file."""

    # The most writes, in seconds, a failover away from the region may lose: a replica
    # lagging more than this pages.
    rpo_seconds: Annotated[int, Field(ge=1, le=86400)]
    # How long until another region serves the region's users again.
    rto_seconds: Annotated[int, Field(ge=MIN_RTO_SECONDS, le=86400)]
    # A planned switchover waits until the replica is at most this far behind (0: caught
    # up) before it stops the old primary's writes.
    max_switchover_lag_seconds: Annotated[int, Field(ge=0, le=86400)]
    # True once `ops dr promote-standby` has made a GCP region's DMS standby a writer
    # (its migration job is COMPLETED): the region's app and Vault's database engine use
    # the standby from then on, its replication is kept as it is, protected, and its lag
    # alert is off. Only on a region that replicates (platform.replication).
    standby_promoted: bool = False

    def targets(self) -> dict[str, int]:
        """The RPO and RTO targets, as the stack file names them (the contract's)."""
        return self.model_dump(by_alias=True, exclude={"standby_promoted"})

    @model_validator(mode="after")
    def _switchover_within_rpo(self) -> DisasterRecoveryConfig:
        if self.max_switchover_lag_seconds > self.rpo_seconds:
            raise ValueError(
                f"maxSwitchoverLagSeconds: {self.max_switchover_lag_seconds} is above rpoSeconds "
                f"({self.rpo_seconds}); a planned switchover would accept more loss than an unplanned one may"
            )
        return self


def _private_asn(value: int) -> int:
    if not (64512 <= value <= 65534 or 4200000000 <= value <= 4294967294):
        raise ValueError(f"{value} is not a private ASN; expected 64512-65534 or 4200000000-4294967294")
    return value


# A private BGP ASN (RFC 6996), as AWS VPN gateways and Cloud Routers take them.
PrivateAsn = Annotated[int, AfterValidator(_private_asn)]
# Inside ranges AWS keeps for itself: no Site-to-Site VPN tunnel may use them.
AWS_RESERVED_TUNNEL_CIDRS = (
    "169.254.0.0/30",
    "169.254.1.0/30",
    "169.254.2.0/30",
    "169.254.3.0/30",
    "169.254.4.0/30",
    "169.254.5.0/30",
    "169.254.169.252/30",
)
LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")


def _tunnel_inside_cidr(value: str) -> str:
    network = ipaddress.ip_network(value)
    if network.version != 4 or network.prefixlen != 30 or not network.subnet_of(LINK_LOCAL):  # type: ignore[arg-type]
        raise ValueError(f"'{value}' is no /30 of 169.254.0.0/16; a tunnel's BGP addresses are link-local")
    if value in AWS_RESERVED_TUNNEL_CIDRS:
        raise ValueError(f"'{value}' is reserved by AWS; expected another /30 of 169.254.0.0/16")
    return value


# A VPN tunnel's inside range: AWS's end takes its first address, the peer the second.
TunnelInsideCidr = Annotated[Network, AfterValidator(_tunnel_inside_cidr)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")]


class CrossCloudReplicasConfig(Model):
    """An AWS primary that replicas on another cloud copy (prod-gcp's Database Migration
    Service): its VPC takes their Site-to-Site VPN connections on a VPN gateway, and its
    Aurora primary decodes its WAL for them (logical replication with pglogical)."""

    # The VPN gateway's Amazon-side ASN; each replica's router has its own.
    vpn_asn: PrivateAsn = 64512
    # Where the replicas connect from (the ranges their standby databases live in): the
    # database admits them on 5432 and on nothing else.
    cidrs: Annotated[list[InternalNetwork], Field(min_length=1)]


class GcpReplicationConfig(Model):
    """The primary's data, replicated continuously into this project: Database Migration
    Service reads its Aurora through an HA VPN to its VPC into a Cloud SQL standby
    (components/gcp/replication.py, components/gcp/vpn.py)."""

    # This side's Cloud Router ASN; the primary's VPN gateway has its own (vpnGatewayAsn).
    router_asn: PrivateAsn = 65010
    # The four tunnels' inside ranges (two per VPN connection, one connection per HA VPN
    # interface): AWS takes each range's first address, the Cloud Router its second.
    tunnel_inside_cidrs: Annotated[list[TunnelInsideCidr], Field(min_length=4, max_length=4)] = [
        "169.254.21.0/30",
        "169.254.21.4/30",
        "169.254.22.0/30",
        "169.254.22.4/30",
    ]
    # The standby's machine type; unset, the region's own database's (database.instanceClass).
    standby_tier: str | None = None
    # The PostgreSQL user DMS reads the primary as (created there once, README).
    source_username: SqlIdentifier = "project_ai_replication"
    # False creates the migration job without starting it: the first `pulumi up`, before
    # the primary has the replication user (README, Disaster recovery).
    start: bool = True

    @field_validator("tunnel_inside_cidrs")
    @classmethod
    def _distinct(cls, cidrs: list[str]) -> list[str]:
        if len(set(cidrs)) != len(cidrs):
            raise ValueError(f"{cidrs} names a range twice; expected one /30 per tunnel")
        return cidrs


Cidr = Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]


class NodePoolConfig(Model):
    # AWS instance types (the first is the size the estimate uses) or one GCP machine type.
    types: Annotated[list[str], Field(min_length=1)]
    min: Annotated[int, Field(ge=0, le=100)]
    desired: Annotated[int, Field(ge=0, le=100)]
    max: Annotated[int, Field(ge=1, le=100)]
    spot: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> NodePoolConfig:
        if not self.min <= self.desired <= self.max:
            raise ValueError(f"expected min ≤ desired ≤ max, got {self.min}, {self.desired}, {self.max}")
        return self


# Minutes in a week, the unit the off-hours and the game day are compared in.
MINUTES_PER_WEEK = 7 * schedule.MINUTES_PER_DAY


def _weekly_cron(value: str) -> str:
    """A weekly cron (one minute and one hour, '*' for day of month and month), in the
    numeric form EC2 Auto Scaling's Unix cron reads: day names become numbers."""
    fields = value.split()
    if len(fields) == 5 and (not fields[0].isdigit() or not fields[1].isdigit()):
        raise ValueError(
            f"'{value}': expected one minute and one hour, such as '0 20 * * 1-5', got '{fields[0]} {fields[1]}'"
        )
    if len(fields) == 5 and (fields[2] not in ("*", "?") or fields[3] not in ("*", "?")):
        raise ValueError(f"'{value}': expected '*' for day of month and month (the days of the week say when)")
    try:
        start = schedule.parse(value)
    except schedule.CronError as problem:
        raise ValueError(str(problem).replace("the game day starts", "the action runs")) from None
    return f"{start.minute} {start.hour} * * {_day_list(start.days)}"


def _day_list(days: frozenset[int]) -> str:
    """Days of the week as cron numbers: `*` for all, runs of three or more as ranges."""
    if len(days) == 7:
        return "*"
    ordered, parts = sorted(days), []
    while ordered:
        run = [ordered.pop(0)]
        while ordered and ordered[0] == run[-1] + 1:
            run.append(ordered.pop(0))
        parts.append(f"{run[0]}-{run[-1]}" if len(run) >= 3 else ",".join(map(str, run)))
    return ",".join(parts)


WeeklyCron = Annotated[str, AfterValidator(_weekly_cron)]


def _week_minutes(cron: str) -> list[int]:
    """When a weekly cron fires, in minutes after Sunday 00:00 of its own time zone."""
    start = schedule.parse(cron)
    return sorted(day * schedule.MINUTES_PER_DAY + start.start for day in start.days)


def _spans(start: int, length: int) -> list[tuple[int, int]]:
    """[start, start + length) in minutes of the week, split where it passes the week's end."""
    end = start + length
    if end <= MINUTES_PER_WEEK:
        return [(start, end)]
    return [(start, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)]


class OffHoursConfig(Model):
    """The app node group scaled down at night outside production (stacks/platforms.py,
    components/aws/eks.py): EC2 Auto Scaling scheduled actions on the group's Auto Scaling
    group, to `floor` nodes at `scaleDown` and back to the pool's size at `scaleUp`. The
    cluster autoscaler stays within the group's bounds, so it cannot undo the night. AWS
    only: GKE's node pools have no scheduled scaling."""

    # Weekly crons (minute hour * * days-of-week; names such as mon-fri or numbers, 0 is
    # Sunday) in `timeZone`; stored in numeric form.
    scale_down: WeeklyCron = "0 20 * * 1-5"
    scale_up: WeeklyCron = "0 7 * * 1-5"
    # The IANA zone both crons are read in (EC2 Auto Scaling follows its daylight saving).
    time_zone: Annotated[str, AfterValidator(_time_zone)] = "UTC"
    # Nodes the pool keeps at night (min, desired and max alike).
    floor: Annotated[int, Field(ge=0, le=100)] = 0

    @model_validator(mode="after")
    def _scales_up_again(self) -> OffHoursConfig:
        if set(_week_minutes(self.scale_down)) & set(_week_minutes(self.scale_up)):
            raise ValueError(
                f"scaleUp: '{self.scale_up}' fires at the same time as scaleDown '{self.scale_down}'; "
                "expected the morning at another time than the night"
            )
        return self

    def nights(self) -> list[tuple[int, int]]:
        """The spans the pool is scaled down, in minutes of the week in `timeZone`: from
        each scale-down to the next scale-up."""
        ups, spans = _week_minutes(self.scale_up), []
        for down in _week_minutes(self.scale_down):
            up = next((minute for minute in ups if minute > down), ups[0] + MINUTES_PER_WEEK)
            spans += _spans(down, up - down)
        return spans


class CostAllocationConfig(Model):
    """The AWS account's cost-allocation tags (team, cost-center, environment, service):
    Cost Explorer, budgets and anomaly monitors filter on them only once activated.
    Activation is the account's, not a stack's: exactly one stack per account sets
    `activateTags` (dev for 111122223333, prod for 444455556666), or two stacks would
    fight over the same tags. A key can be activated only once it appears in the
    account's billing data (up to a day after the first resource carries it): on a new
    account, turn it on in a later update than the first."""

    activate_tags: bool = False


class CostAnomaliesConfig(Model):
    """AWS Cost Anomaly Detection for the stack's environment (components/aws/cost.py):
    a custom monitor on the `environment` cost-allocation tag, whose anomalies go to the
    stack's alert topic (its `alertEmails`) as soon as they are found. One monitor per
    environment and account: a second region of the same environment (prod-eu) turns it
    off, since prod's monitor sees its costs too."""

    enabled: bool = True
    # An anomaly is sent when its total impact reaches both: in USD, and in percent of
    # the expected spend.
    min_impact_usd: Annotated[int, Field(ge=1, le=1_000_000)] = 100
    min_impact_percent: Annotated[int, Field(ge=1, le=10_000)] = 20


class PlatformConfig(Model):
    """What a region's cloud platform needs on either cloud."""

    # The VPC (AWS) or the nodes' subnet (GCP).
    cidr: Cidr
    # Who may reach the control plane from outside (empty: private only, on AWS).
    public_access_cidrs: list[Cidr] = []
    system_pool: NodePoolConfig
    app_pool: NodePoolConfig
    budget_usd: Annotated[int, Field(ge=1)]
    # A budget per team (USD a month) beside the stack's: the costs carrying the team's
    # `team` tag (label on GCP) in this environment, with the same alerts. Shares of
    # `budgetUsd`: together at most that.
    team_budgets: dict[DnsLabel, Annotated[int, Field(ge=1)]] = {}
    # Where the stack's cloud alerts go: its budgets', cost anomalies' and replication lag alarms'.
    alert_emails: list[Email] = []
    # False for the first `pulumi up` of a region: the platform only, so the image can be
    # pushed and Vault seeded before the workload waits on them (README).
    deploy_workload: bool = True

    @model_validator(mode="after")
    def _team_budgets_within(self) -> PlatformConfig:
        total = sum(self.team_budgets.values())
        if total > self.budget_usd:
            shares = ", ".join(f"{team} {usd}" for team, usd in sorted(self.team_budgets.items()))
            raise ValueError(
                f"teamBudgets: the teams' budgets add up to {total} USD ({shares}), over the stack's budgetUsd of "
                f"{self.budget_usd}; expected shares of it (lower them, or raise budgetUsd)"
            )
        return self


class AwsPlatformConfig(PlatformConfig):
    """EKS, Aurora, ElastiCache and ECR."""

    # The account the stack deploys to; the provider refuses any other.
    account_id: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
    # Where Vault connects to the region's database from (its network, peered or routed).
    vault_cidrs: list[Cidr] = []
    # Roles given cluster-admin through access entries.
    admin_role_arns: list[Annotated[str, StringConstraints(pattern=r"^arn:aws:iam::\d{12}:role/\S+$")]] = []
    # Managed add-ons at pinned versions.
    addons: dict[str, str] = {
        "vpc-cni": "v1.19.5-eksbuild.1",
        "kube-proxy": "v1.33.0-eksbuild.2",
        "coredns": "v1.12.1-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.7-eksbuild.2",
        "aws-ebs-csi-driver": "v1.44.0-eksbuild.1",
    }
    # Regions whose clusters pull the API's images from replicas of this region's
    # registry (the secondaries).
    registry_replicas: list[str] = []
    # False where another stack of the account and region owns the API's repository
    # (staging pulls dev's); the app image's repository is then the registry.
    owns_registry: bool = True
    # GKE scales its node pools itself; EKS needs the cluster-autoscaler chart.
    cluster_autoscaler_chart_version: str = "9.46.6"
    nat_per_zone: bool = False
    log_retention_days: Annotated[int, Field(ge=1, le=3653)] = 30
    # Replicas of this region's database on another cloud; only on a primary.
    cross_cloud_replicas: CrossCloudReplicasConfig | None = None
    # The account's cost-allocation tags (one stack per account activates them).
    cost_allocation: CostAllocationConfig = CostAllocationConfig()
    # Cost Anomaly Detection on the environment's costs, to the alert emails.
    cost_anomalies: CostAnomaliesConfig = CostAnomaliesConfig()
    # The app node group scaled down at night (outside prod only); unset, never.
    off_hours: OffHoursConfig | None = None

    @model_validator(mode="after")
    def _aws_platform_consistent(self) -> AwsPlatformConfig:
        if self.cost_anomalies.enabled and not self.alert_emails:
            raise ValueError(
                "costAnomalies.enabled: anomalies are sent to the stack's alert topic, which mails alertEmails; "
                "expected at least one address in alertEmails (or costAnomalies.enabled: false)"
            )
        if self.off_hours is not None and self.off_hours.floor > self.app_pool.min:
            raise ValueError(
                f"offHours.floor: {self.off_hours.floor} nodes at night is more than appPool.min "
                f"({self.app_pool.min}) by day; expected at most {self.app_pool.min}"
            )
        return self

    def off_hours_problem(self, environment: str, chaos: ChaosConfig) -> str | None:
        """What is wrong with the off-hours for the stack's environment and its chaos game
        day (a stack-level check: the platform does not know either), if anything."""
        off_hours = self.off_hours
        if off_hours is None:
            return None
        if environment == "prod":
            return (
                "platform.offHours: production serves users around the clock; the app nodes are scaled down at night "
                "outside prod only (dev, staging), not in prod"
            )
        if not chaos.enabled:
            return None
        if chaos.time_zone != off_hours.time_zone:
            return (
                f"platform.offHours.timeZone: '{off_hours.time_zone}' differs from chaos.timeZone "
                f"'{chaos.time_zone}'; expected the team's one zone, so the nights can miss the game day"
            )
        game_day = schedule.parse(chaos.game_day)
        length = len(EXPERIMENTS) * chaos.slot_minutes
        days = [game_day.start + day * schedule.MINUTES_PER_DAY for day in sorted(game_day.days)]
        for start in days:
            for first, last in _spans(start, length):
                if any(first < end and begin < last for begin, end in off_hours.nights()):
                    day = schedule.DAY_NAMES[start // schedule.MINUTES_PER_DAY]
                    return (
                        f"platform.offHours.scaleDown: the app nodes are down during chaos's game day ({day} "
                        f"{game_day.hour:02d}:{game_day.minute:02d}, {length} min, in {chaos.time_zone}); expected "
                        f"scaleDown days that leave the night before it up (scaleDown '{off_hours.scale_down}', "
                        f"scaleUp '{off_hours.scale_up}')"
                    )
        return None


# The email notification channels a Cloud Billing budget takes at most.
GCP_BUDGET_CHANNELS = 5


class GcpPlatformConfig(PlatformConfig):
    """GKE, Cloud SQL, Memorystore and Artifact Registry. Budgets notify through Pub/Sub
    and the alert emails' channels; there is no off-hours scale-down (`offHours` is AWS
    only: GKE node pools have no scheduled scaling, and every non-prod stack is on AWS)."""

    # The secondary ranges of pods and services, and the control plane's /28.
    pods_cidr: Cidr
    services_cidr: Cidr
    master_cidr: Cidr = "172.16.0.0/28"
    # The range Cloud SQL and Memorystore get in the VPC (private service access).
    private_services_cidr: Cidr = "10.40.16.0/20"
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    # The project, its number, and the billing account the budget watches.
    project: DnsLabel
    project_number: Annotated[str, StringConstraints(pattern=r"^\d{6,20}$")]
    billing_account: Annotated[str, StringConstraints(pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")]
    # The primary's data replicated into a standby here (the region's `primary` reference).
    replication: GcpReplicationConfig | None = None

    @field_validator("alert_emails")
    @classmethod
    def _budget_channels(cls, emails: list[str]) -> list[str]:
        if len(emails) > GCP_BUDGET_CHANNELS:
            raise ValueError(
                f"{len(emails)} addresses; a GCP budget notifies at most {GCP_BUDGET_CHANNELS} email channels, "
                "expected a shared mailbox or group address instead of many"
            )
        return emails


class CacheConfig(Model):
    node_type: str = "cache.r6g.large"
    replicas: Annotated[int, Field(ge=0, le=5)] = 1
    # GCP Memorystore size.
    memory_gib: Annotated[int, Field(ge=1, le=300)] = 5


# Cloudflare's load-balancing regions: where a client's DNS query is answered decides its region.
CLOUDFLARE_REGIONS = ("WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS")
CloudflareId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# Status codes a health monitor accepts: a code (200) or a class (2xx).
ExpectedCodes = Annotated[str, StringConstraints(pattern=r"^[1-5]([0-9]{2}|xx)$")]


class EdgeMonitorConfig(Model):
    """How each region's readiness path (the contract's healthPath) is probed."""

    expected_codes: ExpectedCodes = "200"
    interval_seconds: Annotated[int, Field(ge=10, le=3600)] = 30
    timeout_seconds: Annotated[int, Field(ge=1, le=10)] = 5
    # Retries of a failed probe before it counts as down, and probes in a row that
    # change a pool's health: a pod restart does not flip a region, a dead one does
    # within about interval × consecutiveDown (60 s).
    retries: Annotated[int, Field(ge=0, le=5)] = 2
    consecutive_down: Annotated[int, Field(ge=1, le=10)] = 2
    consecutive_up: Annotated[int, Field(ge=1, le=10)] = 2
    # Where Cloudflare probes from: one region per continent that has users.
    check_regions: Annotated[list[Literal[CLOUDFLARE_REGIONS]], Field(min_length=1)] = [  # type: ignore[valid-type]
        "ENAM",
        "WNAM",
        "WEU",
        "SEAS",
    ]

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> EdgeMonitorConfig:
        if self.timeout_seconds * (self.retries + 1) >= self.interval_seconds:
            raise ValueError(
                f"timeoutSeconds × (retries + 1) = {self.timeout_seconds * (self.retries + 1)} s; "
                f"expected less than intervalSeconds ({self.interval_seconds} s), so probes do not overlap"
            )
        return self


class EdgeRateLimitConfig(Model):
    """Edge rate limits, derived from the app's own (app/settings.py) with a margin."""

    # Every edge limit is this many times what the app itself admits in one period, so
    # the app stays the authority and the edge stops floods only.
    margin: Annotated[float, Field(ge=1.0, le=10.0)] = 2.0
    period_seconds: Literal[10, 60, 120, 300, 600, 3600] = 60
    mitigation_seconds: Literal[0, 10, 60, 120, 300, 600, 3600, 86400] = 60
    # Counting by the API key header needs Advanced Rate Limiting (Enterprise).
    by_api_key: bool = True


class OriginConfig(Model):
    """A region as an origin of the Cloudflare edge: ingress-nginx admitting Cloudflare
    only, and cert-manager issuing the regional hostname's certificate (ACME DNS-01
    through Cloudflare, with the API token Vault holds at `<app>/cloudflare-dns`)."""

    ingress_nginx_chart_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")] = "4.13.9"
    cert_manager_chart_version: Annotated[str, StringConstraints(pattern=r"^v\d+\.\d+\.\d+$")] = "v1.18.6"
    # The ACME account's contact (expiry notices), and the directory.
    acme_email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")] = "ai-platform-alerts@project-ai.dev"
    acme_server: Annotated[str, StringConstraints(pattern=r"^https://\S+$")] = (
        "https://acme-v02.api.letsencrypt.org/directory"
    )
    # The Cloudflare zone the DNS-01 challenges are answered in: the ingress host's.
    dns_zone: Hostname = "project-ai.dev"


class EdgeConfig(Model):
    zone: Hostname
    hostname: Hostname
    # The Cloudflare account that owns the zone, the pools and the monitors.
    account_id: CloudflareId
    # The zone's plan: what bot protection and rate-limit characteristics it allows.
    plan: Literal["pro", "business", "enterprise"] = "enterprise"
    # Region stacks whose origins the edge balances across, in failover order: the
    # default pool order, for geographies no table names.
    origins: Annotated[list[StackName], Field(min_length=1)]
    steering: Literal["geo", "dynamic_latency", "off"] = "geo"
    # Pool order per Cloudflare region and per country (ISO 3166-1): nearest origin
    # first, then the others. Each order names every origin once.
    region_pools: dict[Literal[CLOUDFLARE_REGIONS], list[StackName]] = {}  # type: ignore[valid-type]
    country_pools: dict[CountryCode, list[StackName]] = {}
    monitor: EdgeMonitorConfig = EdgeMonitorConfig()
    rate_limits: EdgeRateLimitConfig = EdgeRateLimitConfig()
    # GET paths whose responses the edge may cache (per API key), besides docs and assets.
    cacheable_gets: list[Annotated[str, StringConstraints(pattern=r"^/v[0-9]+/[-a-z0-9/]+$")]] = []
    cacheable_seconds: Annotated[int, Field(ge=1, le=3600)] = 30

    @model_validator(mode="after")
    def _edge_consistent(self) -> EdgeConfig:
        if len(set(self.origins)) != len(self.origins):
            raise ValueError(f"origins: {self.origins} names a stack twice")
        if not (self.hostname == self.zone or self.hostname.endswith(f".{self.zone}")):
            raise ValueError(f"hostname: '{self.hostname}' is not in zone '{self.zone}'")
        tables = {
            **{f"regionPools.{key}": order for key, order in self.region_pools.items()},
            **{f"countryPools.{key}": order for key, order in self.country_pools.items()},
        }
        for where, order in tables.items():
            if sorted(order) != sorted(self.origins) or len(set(order)) != len(order):
                raise ValueError(
                    f"{where}: {order} is not an order of every origin once; expected each of "
                    f"{', '.join(self.origins)} exactly once (nearest first), so each geography fails over everywhere"
                )
        if self.steering == "geo" and not self.region_pools:
            raise ValueError("regionPools: missing; geo steering needs each region's pool order (nearest first)")
        if self.rate_limits.by_api_key and self.plan != "enterprise":
            raise ValueError(
                f"rateLimits.byApiKey: counting by the API key header needs Advanced Rate Limiting, an Enterprise "
                f"add-on, not plan {self.plan}; expected plan: enterprise or rateLimits.byApiKey: false"
            )
        return self


# Third-party-issued secrets whose expiry the stack records, as their alerts name them.
ThirdPartySecret = Literal["upstream", "pagerduty", "pagerduty-escalation", "slack"]


# Where an expired third-party secret would be an outage, its expiry must be recorded.
RECORDED_EXPIRY_ENVIRONMENTS = ("staging", "prod")
THIRD_PARTY_ALERTING: tuple[ThirdPartySecret, ...] = ("pagerduty", "pagerduty-escalation", "slack")


class SecretsConfig(Model):
    # Secrets the program generates (API-key pepper, Grafana admin password, the cache's
    # AUTH token) are renewed by the first `pulumi up` of every period this long.
    rotation_days: Annotated[int, Field(ge=7, le=365)] = 90
    # Secrets a third party issues, with their expiry dates: an alert fires ahead of each.
    expiry: dict[ThirdPartySecret, date] = {}
    warning_days: Annotated[int, Field(ge=1, le=180)] = 30


# Feature flags (`projectai:flags`): flagd's flag definitions, which the program renders
# into the file the API's OpenFeature provider reads in process (flagd_file, app/flags.py).
FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json"
MAX_FLAGS = 50
MAX_VARIANTS = 10
# A targeting rule's depth (nested operators and lists) and size (every value in it).
MAX_TARGETING_DEPTH = 8
MAX_TARGETING_NODES = 256
# The JSON Logic operators flagd evaluates: JSON Logic's own and flagd's (fractional,
# starts_with, ends_with, sem_ver).
TARGETING_OPERATORS = frozenset(
    {
        *("var", "missing", "missing_some", "if", "?:", "==", "===", "!=", "!==", "!", "!!", "and", "or"),
        *(">", ">=", "<", "<=", "max", "min", "+", "-", "*", "/", "%", "map", "filter", "reduce"),
        *("all", "none", "some", "merge", "in", "cat", "substr", "log"),
        *("fractional", "starts_with", "ends_with", "sem_ver"),
    }
)
_FLAG_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_VARIANT_NAME = re.compile(r"^[a-z0-9]([-_a-z0-9]{0,61}[a-z0-9])?$")


def _flag_name(value: str) -> str:
    if len(value) > 63 or not _FLAG_NAME.match(value):
        raise ValueError(
            f"'{value}' is not a flag name; expected lower-case words and digits joined by '-', "
            "e.g. v2-beta-routes (at most 63 characters)"
        )
    return value


def _variant_name(value: str) -> str:
    if not _VARIANT_NAME.match(value):
        raise ValueError(
            f"'{value}' is not a variant name; expected lower-case letters, digits, '-' or '_', e.g. on (at most 63)"
        )
    return value


FlagName = Annotated[str, AfterValidator(_flag_name)]
VariantName = Annotated[str, AfterValidator(_variant_name)]


def _scalar(value: object) -> object:
    if not isinstance(value, (bool, int, float, str)):
        kind = "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else "nothing"
        raise ValueError(f"expected a boolean, a number or a string, got {kind}")
    return value


# One flag's variants are all booleans, all strings or all numbers.
VariantValue = Annotated[
    StrictBool | StrictInt | StrictFloat | Annotated[StrictStr, StringConstraints(max_length=256)],
    BeforeValidator(_scalar),
]


def _value_kind(value: object) -> str:
    return "boolean" if isinstance(value, bool) else "string" if isinstance(value, str) else "number"


def _rule_problem(node: Any, depth: int, count: list[int]) -> str | None:
    """What is wrong with a JSON Logic rule, if anything: operators flagd does not know,
    operators not alone in their object, too deep, too big."""
    count[0] += 1
    if count[0] > MAX_TARGETING_NODES:
        return f"more than {MAX_TARGETING_NODES} values; expected a smaller rule"
    if depth > MAX_TARGETING_DEPTH:
        return f"nested deeper than {MAX_TARGETING_DEPTH} levels; expected a flatter rule"
    if isinstance(node, list):
        return next((p for item in node if (p := _rule_problem(item, depth + 1, count))), None)
    if isinstance(node, dict):
        if len(node) != 1:
            return f"an operation has exactly one operator, got {sorted(node) or 'none'}"
        ((operator, arguments),) = node.items()
        if operator not in TARGETING_OPERATORS:
            close = difflib.get_close_matches(operator, TARGETING_OPERATORS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            return f"unknown operator '{operator}'{hint}"
        return _rule_problem(arguments, depth + 1, count)
    if isinstance(node, str) and len(node) > 256:
        return "a string longer than 256 characters"
    return None


def _results(rule: Any) -> list[Any]:
    """The variant names a rule can answer with, where they are literal: the branches of
    `if`, the buckets of `fractional`."""
    if not isinstance(rule, dict) or len(rule) != 1:
        return []
    ((operator, arguments),) = rule.items()
    arguments = arguments if isinstance(arguments, list) else [arguments]
    if operator in ("if", "?:"):
        branches = arguments[1::2] + (arguments[-1:] if len(arguments) % 2 else [])
        return [name for branch in branches for name in (_results(branch) or [branch])]
    if operator == "fractional":
        buckets = arguments[1:] if arguments and not isinstance(arguments[0], list) else arguments
        return [bucket[0] if isinstance(bucket, list) and bucket else bucket for bucket in buckets]
    return []


class FeatureFlag(Model):
    """One flag, as flagd defines it: its variants, the one served by default, and a
    JSON Logic rule that picks another per caller (the targeting key is the API key's id)."""

    state: Literal["ENABLED", "DISABLED"] = "ENABLED"
    variants: dict[VariantName, VariantValue]
    default_variant: VariantName
    targeting: dict[str, Any] | None = None

    @field_validator("variants")
    @classmethod
    def _variants(cls, variants: dict[str, Any]) -> dict[str, Any]:
        if not variants:
            raise ValueError("expected at least one variant, e.g. {on: true, off: false}")
        if len(variants) > MAX_VARIANTS:
            raise ValueError(f"{len(variants)} variants; expected at most {MAX_VARIANTS}")
        kinds = sorted({_value_kind(value) for value in variants.values()})
        if len(kinds) > 1:
            raise ValueError(f"variants mix {' and '.join(kinds)} values; expected one type per flag")
        return variants

    @field_validator("targeting")
    @classmethod
    def _targeting(cls, rule: dict[str, Any] | None) -> dict[str, Any] | None:
        if rule is None:
            return rule
        if not rule:
            raise ValueError("an empty rule; expected a JSON Logic rule, or no targeting key")
        problem = _rule_problem(rule, 1, [0])
        if problem:
            raise ValueError(problem)
        return rule

    @model_validator(mode="after")
    def _variants_known(self) -> FeatureFlag:
        if self.default_variant not in self.variants:
            raise ValueError(
                f"defaultVariant: '{self.default_variant}' is not one of the variants ({', '.join(self.variants)})"
            )
        unknown = [name for name in _results(self.targeting) if isinstance(name, str) and name not in self.variants]
        if unknown:
            raise ValueError(
                f"targeting: answers with '{unknown[0]}', not one of the variants ({', '.join(self.variants)})"
            )
        return self

    def flagd(self) -> dict[str, Any]:
        flag: dict[str, Any] = {
            "state": self.state,
            "defaultVariant": self.default_variant,
            "variants": dict(self.variants),
        }
        if self.targeting is not None:
            flag["targeting"] = self.targeting
        return flag


def _flag_count(flags: dict[str, FeatureFlag]) -> dict[str, FeatureFlag]:
    if len(flags) > MAX_FLAGS:
        raise ValueError(f"{len(flags)} flags; expected at most {MAX_FLAGS} (remove flags that have shipped)")
    return flags


def flagd_document(flags: Mapping[str, FeatureFlag]) -> dict[str, Any]:
    """flagd's flag-definition document for these flags."""
    return {"$schema": FLAGD_SCHEMA, "flags": {name: flags[name].flagd() for name in sorted(flags)}}


def flagd_file(flags: Mapping[str, FeatureFlag]) -> str:
    """The flag file the API reads: the program puts it in the flags ConfigMap, and the
    app's tests read the same text."""
    return json.dumps(flagd_document(flags), indent=2, sort_keys=True) + "\n"


class CustomPricingConfig(Model):
    """The prices OpenCost charges where no cloud prices the nodes (a laptop cluster), in
    USD: per vCPU-hour, per GiB-hour of memory and of storage, per GPU-hour, per GiB of
    egress. Defaults: OpenCost's own (its configs/default.json, GCP us-central1 on demand)."""

    cpu: Annotated[float, Field(ge=0, le=100)] = 0.031611
    spot_cpu: Annotated[float, Field(ge=0, le=100)] = 0.006655
    ram: Annotated[float, Field(ge=0, le=100)] = 0.004237
    spot_ram: Annotated[float, Field(ge=0, le=100)] = 0.000892
    gpu: Annotated[float, Field(ge=0, le=1000)] = 0.95
    storage: Annotated[float, Field(ge=0, le=100)] = 0.00005479452
    zone_network_egress: Annotated[float, Field(ge=0, le=100)] = 0.01
    region_network_egress: Annotated[float, Field(ge=0, le=100)] = 0.01
    internet_network_egress: Annotated[float, Field(ge=0, le=100)] = 0.12


class OpenCostConfig(Model):
    """OpenCost (components/cost/opencost.py): what every pod costs, from the stack's
    Prometheus and its cloud's prices, by the ownership labels. On GCP it reads the Cloud
    Billing Catalog API key Vault holds at `<app>/opencost` (gcp-api-key)."""

    # Unset: on wherever the monitoring stack is (OpenCost reads its Prometheus).
    enabled: bool | None = None
    chart_version: ChartVersion = "2.5.17"
    namespace: Annotated[DnsLabel, own_namespace("OpenCost's")] = "opencost"
    # Prometheus queries at this resolution: finer costs more queries.
    query_resolution_seconds: Annotated[int, Field(ge=60, le=3600)] = 300
    resources: ResourcesConfig = ResourcesConfig(
        requests=ComputeQuantity(cpu="50m", memory="256Mi"), limits=ComputeQuantity(cpu="1", memory="1Gi")
    )
    # Where the stack's cloud has no price list OpenCost reads (a `cluster` stack).
    custom_pricing: CustomPricingConfig = CustomPricingConfig()


class VpaBoundsConfig(Model):
    """What a recommendation may range over, per container: below the minimum a pod would
    not start, above the maximum no node of the stack has room."""

    min_allowed: ComputeQuantity = ComputeQuantity(cpu="10m", memory="32Mi")
    max_allowed: ComputeQuantity = ComputeQuantity(cpu="4", memory="16Gi")

    @model_validator(mode="after")
    def _ordered(self) -> VpaBoundsConfig:
        low, high = self.min_allowed, self.max_allowed
        if parse_cpu(low.cpu) > parse_cpu(high.cpu) or parse_memory(low.memory) > parse_memory(high.memory):
            raise ValueError(
                f"minAllowed ({low.cpu}, {low.memory}) exceeds maxAllowed ({high.cpu}, {high.memory}); "
                "expected minAllowed ≤ maxAllowed for cpu and memory"
            )
        return self


class VpaConfig(Model):
    """The VPA recommender (components/cost/vpa.py) and a VerticalPodAutoscaler in
    recommendation mode (`updateMode: Off`) for the API and each platform workload: it
    recommends requests, it never evicts or resizes a pod."""

    enabled: bool = False
    # FairwindsOps/charts `vpa` (VPA 1.7.1).
    chart_version: ChartVersion = "5.0.0"
    namespace: Annotated[DnsLabel, own_namespace("the recommender's")] = "vpa"
    bounds: VpaBoundsConfig = VpaBoundsConfig()


class CostConfig(Model):
    """Cost allocation and right-sizing inside the cluster (stacks/cost.py)."""

    opencost: OpenCostConfig = OpenCostConfig()
    vpa: VpaConfig = VpaConfig()

    @model_validator(mode="after")
    def _distinct_namespaces(self) -> CostConfig:
        if self.opencost.enabled is not False and self.vpa.enabled and self.opencost.namespace == self.vpa.namespace:
            raise ValueError(
                f"vpa.namespace: '{self.vpa.namespace}' is OpenCost's too; expected a namespace of each one's own "
                "(each namespace admits only its own component's traffic)"
            )
        return self


def _cost_consistent(cost: CostConfig, info: ValidationInfo) -> CostConfig:
    """What `cost` needs of the fields declared before it on WorkloadStack; an unset
    `opencost.enabled` follows `monitoring.enabled`."""
    monitoring = info.data.get("monitoring")
    if cost.opencost.enabled is None and isinstance(monitoring, MonitoringConfig):
        opencost = cost.opencost.model_copy(update={"enabled": monitoring.enabled})
        cost = cost.model_copy(update={"opencost": opencost})
    if cost.opencost.enabled and isinstance(monitoring, MonitoringConfig) and not monitoring.enabled:
        raise ValueError(
            "opencost.enabled: OpenCost reads usage from the stack's Prometheus, which scrapes its metrics; "
            "expected monitoring.enabled: true"
        )
    app = info.data.get("app")
    if isinstance(app, AppConfig) and cost.opencost.enabled and cost.opencost.namespace == app.namespace:
        raise ValueError(f"opencost.namespace: '{app.namespace}' is the API's; expected a namespace of OpenCost's own")
    if isinstance(app, AppConfig) and cost.vpa.enabled and cost.vpa.namespace == app.namespace:
        raise ValueError(
            f"vpa.namespace: '{app.namespace}' is the API's; expected a namespace of the recommender's own"
        )
    if isinstance(monitoring, MonitoringConfig):
        taken = {monitoring.namespace}
        for name, section in (("opencost", cost.opencost), ("vpa", cost.vpa)):
            if section.enabled and section.namespace in taken:
                raise ValueError(
                    f"{name}.namespace: '{section.namespace}' is the monitoring stack's; "
                    "expected a namespace of its own"
                )
    return cost


class StackBase(Model):
    """What every stack has, whatever its role."""

    environment: Environment
    team: DnsLabel
    cost_center: DnsLabel
    # Other stacks this one reads, by role: e.g. {primary: prod}.
    stack_references: dict[DnsLabel, StackName] = {}


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class WorkloadStack(StackBase):
    """A stack that runs the API on a cluster: the `cluster` and `region` roles."""

    kubernetes: KubernetesConfig = KubernetesConfig()
    app: AppConfig
    ingress: IngressConfig
    network: NetworkConfig = NetworkConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    secrets: SecretsConfig = SecretsConfig()
    # Feature flags, by name: rendered into flagd's flag file for the API (flagd_file).
    flags: Annotated[dict[FlagName, FeatureFlag], AfterValidator(_flag_count)] = {}
    vault: VaultConfig
    mesh: MeshConfig = MeshConfig()
    # Chaos Mesh and its experiments (outside prod only).
    chaos: ChaosConfig = ChaosConfig()
    # The anomaly and forecast service (`ops insight serve`), its alerts and dashboard.
    insight: InsightConfig = InsightConfig()
    # KEDA scales the API on the insight service's forecast (replacing the CPU HPA).
    predictive_scaling: PredictiveScalingConfig = PredictiveScalingConfig()
    # The self-healing receiver (`ops heal serve`): Alertmanager's alerts to runbook actions.
    self_healing: SelfHealingConfig = SelfHealingConfig()
    # OpenCost and the VPA recommender (recommendation mode): cost allocation and right-sizing.
    cost: Annotated[CostConfig, AfterValidator(_cost_consistent), Field(validate_default=True)] = CostConfig()
    # Set with `pulumi config set --secret` when Vault runs outside the cluster: the token
    # of the `vault-token-reviewer` ServiceAccount, with which Vault reviews logins.
    vault_token_reviewer_jwt: str | None = None

    @model_validator(mode="after")
    def _workload_consistent(self) -> WorkloadStack:
        if self.vault.mode == "dev" and self.environment != "local":
            raise ValueError(f"vault.mode: dev mode keeps secrets in memory; only for local, not {self.environment}")
        if self.vault.kubernetes_host and self.vault_token_reviewer_jwt is None:
            raise ValueError(
                "vaultTokenReviewerJwt: missing; expected `pulumi config set --secret projectai:vaultTokenReviewerJwt` "
                "with a token of the vault-token-reviewer ServiceAccount (README, Vault)"
            )
        canary = self.delivery.canary
        if canary.fault_injection is not None and self.environment == "prod":
            raise ValueError(
                "delivery.canary.faultInjection: faults are injected outside production only (staging, dev); "
                "not in prod"
            )
        self._chaos_consistent()
        self._insight_consistent()
        self._self_healing_consistent()
        if self.delivery.strategy == "blueGreen" and self.smoke_test_image() is None:
            raise ValueError(
                "delivery.blueGreen.smokeTestImage: missing; expected the ops image by digest for the blue-green "
                "smoke test (or delivery.canary.judge.image, which it then shares)"
            )
        if canary.fault_injection is not None and not self.mesh.enabled:
            raise ValueError("delivery.canary.faultInjection: the mesh injects the faults; expected mesh.enabled: true")
        if canary.judge is not None and self.delivery.analysis.interval_seconds < JUDGE_MIN_WINDOW_SECONDS:
            raise ValueError(
                f"delivery.canary.judge: the judge compares windows of {JUDGE_MIN_WINDOW_SECONDS}s at least; "
                f"expected delivery.analysis.intervalSeconds ≥ {JUDGE_MIN_WINDOW_SECONDS}, "
                f"got {self.delivery.analysis.interval_seconds}"
            )
        upstream = urlparse(self.app.settings.get("APP_UPSTREAM_URL", ""))
        if self.mesh.enabled and upstream.scheme in ("http", "https") and _is_address(upstream.hostname or ""):
            raise ValueError(
                f"app.settings.APP_UPSTREAM_URL: the mesh declares upstreams by host name (REGISTRY_ONLY); "
                f"expected a name, not the address '{upstream.hostname}'"
            )
        if self.vault.mode == "dev" and self.mesh.intermediate_certificate is not None:
            raise ValueError(
                "mesh.intermediateCertificate: the organisation's root signs for an external Vault only; a dev-mode "
                "Vault signs the mesh intermediate with its own local root (expected no certificates)"
            )
        if self.environment in RECORDED_EXPIRY_ENVIRONMENTS:
            issued = ["upstream", *(THIRD_PARTY_ALERTING if self.monitoring.enabled else ())]
            missing = [name for name in issued if name not in self.secrets.expiry]
            if missing:
                raise ValueError(
                    f"secrets.expiry: missing {', '.join(missing)}; expected the date each third-party secret "
                    f"expires (YYYY-MM-DD), so an alert fires {self.secrets.warning_days} days ahead"
                )
        return self

    def _insight_consistent(self) -> None:
        insight = self.insight
        if insight.enabled and not self.monitoring.enabled:
            raise ValueError(
                "insight.enabled: the service reads the stack's Prometheus and its alerts run there; "
                "expected monitoring.enabled: true"
            )
        if insight.enabled and insight.image is None and self.delivery.canary.judge is None:
            raise ValueError(
                "insight.image: missing; expected the ops image by digest (or delivery.canary.judge.image, "
                "which it then shares)"
            )
        if self.predictive_scaling.enabled and not insight.enabled:
            raise ValueError(
                "predictiveScaling.enabled: KEDA scales on the insight service's forecast; "
                "expected insight.enabled: true"
            )

    def _self_healing_consistent(self) -> None:
        healing = self.self_healing
        if healing.enabled and not self.monitoring.enabled:
            raise ValueError(
                "selfHealing.enabled: Alertmanager sends the receiver its alerts; expected monitoring.enabled: true"
            )
        if healing.enabled and healing.image is None and self.delivery.canary.judge is None:
            raise ValueError(
                "selfHealing.image: missing; expected the ops image by digest (or delivery.canary.judge.image, "
                "which it then shares)"
            )

    def smoke_test_image(self) -> ImageConfig | None:
        """The ops image the blue-green smoke test runs: its own, else the canary judge's."""
        judge = self.delivery.canary.judge
        return self.delivery.blue_green.smoke_test_image or (judge.image if judge else None)

    def known_zones(self) -> tuple[str, ...]:
        """The zones the program declares for the stack's nodes (none on a cluster it did not build)."""
        return ()

    def _chaos_consistent(self) -> None:
        chaos = self.chaos
        if not chaos.enabled:
            return
        if self.environment == "prod":
            raise ValueError(
                "chaos.enabled: Chaos Mesh and its experiments run outside production only (dev, staging); not in prod"
            )
        if not self.monitoring.enabled:
            raise ValueError(
                "chaos.enabled: the experiments abort on the API's burn-rate alerts, which the monitoring stack "
                "evaluates; expected monitoring.enabled: true"
            )
        if chaos.guard_image is None and self.delivery.canary.judge is None:
            raise ValueError(
                "chaos.guardImage: missing; expected the ops image by digest for the steady-state guard "
                "(or delivery.canary.judge.image, which it then shares)"
            )
        zones = self.known_zones()
        if chaos.zone is None and not zones:
            raise ValueError(
                "chaos.zone: missing; expected the zone of the cluster's nodes (their topology.kubernetes.io/zone) "
                "that api-zone-loss takes down"
            )
        if chaos.zone is not None and zones and chaos.zone not in zones:
            raise ValueError(f"chaos.zone: '{chaos.zone}' is not one of the stack's zones ({', '.join(zones)})")


class ClusterStack(WorkloadStack):
    """The API on the cluster of the current kube context (a laptop cluster)."""

    role: Literal["cluster"]
    cloud: Literal["kubernetes"]
    # Set with `pulumi config set --secret`: the first password of vault.database's
    # root user. Vault rotates it from then on.
    database_root_password: str | None = None

    @model_validator(mode="after")
    def _cluster_consistent(self) -> ClusterStack:
        if self.kubernetes.api_server_cidrs is None:
            raise ValueError(
                "kubernetes.apiServerCidrs: missing required key for the cluster role; expected the ranges "
                "of the cluster's API server endpoints (no default: 0.0.0.0/0 would have to be a choice)"
            )
        if self.vault.database is not None and self.database_root_password is None:
            raise ValueError(
                "databaseRootPassword: missing; expected `pulumi config set --secret projectai:databaseRootPassword` "
                "with the password of vault.database.rootUsername"
            )
        if self.chaos.enabled and self.vault.database is None and self.chaos.database_host is None:
            raise ValueError(
                "chaos.databaseHost: missing; the experiments need the database's host name as the API reaches it "
                "(vault.database.host, or chaos.databaseHost such as postgresql.project-ai-data.svc.cluster.local)"
            )
        if self.chaos.enabled and self.cache_host is None:
            raise ValueError(
                "chaos.cacheHost: missing; the experiments need the cache's host name as the API reaches it "
                "(app.settings.APP_REDIS_URL, or chaos.cacheHost)"
            )
        return self

    @property
    def cache_host(self) -> str | None:
        """The cache's host: the chaos config's, else the one APP_REDIS_URL names."""
        return self.chaos.cache_host or urlparse(self.app.settings.get("APP_REDIS_URL", "")).hostname

    @property
    def api_server_cidrs(self) -> list[str]:
        return list(self.kubernetes.api_server_cidrs or ())


class JanitorConfig(Model):
    """The scheduled `ops janitor` (components/janitor.py, stacks/janitor.py): the region's
    unused resources found each night; deleted only where `apply` (and then only what is
    the project's own, of this environment, idle past `graceDays`). Off by default."""

    enabled: bool = False
    # Delete; false: a dry run (the report in the job's log, nothing changed).
    apply: bool = False
    # The ops image, pinned by digest; unset, the canary judge's, else the chaos guard's.
    image: OpsImage | None = None
    schedule: Cron = "23 2 * * *"
    time_zone: Annotated[str, AfterValidator(_time_zone)] = "Etc/UTC"
    grace_days: Annotated[int, Field(ge=1, le=365)] = 7
    # An applying run that would delete more than this deletes nothing (a mis-tagged account).
    max_deletions: Annotated[int, Field(ge=1, le=200)] = 10
    snapshot_age_days: Annotated[int, Field(ge=1, le=3650)] = 30
    keep_snapshots: Annotated[int, Field(ge=1, le=100)] = 2
    image_age_days: Annotated[int, Field(ge=1, le=3650)] = 90
    keep_images: Annotated[int, Field(ge=1, le=1000)] = 20
    # The job is stopped past this (a sweep takes minutes; a hung one must not hold the next).
    deadline_seconds: Annotated[int, Field(ge=60, le=21600)] = 1800


class RegionStack(WorkloadStack):
    """A regional cloud platform, and the API on its cluster."""

    role: Literal["region"]
    region: str
    database: DatabaseConfig = DatabaseConfig()
    cache: CacheConfig = CacheConfig()
    origin: OriginConfig = OriginConfig()
    # RPO and RTO targets: every production region has them (defaults); elsewhere optional.
    disaster_recovery: DisasterRecoveryConfig | None = None
    janitor: JanitorConfig = JanitorConfig()
    # Set with `pulumi config set --secret projectai:pagerdutyIntegrationKey`: a PagerDuty
    # integration's key (Amazon CloudWatch on AWS, Events API on GCP). The cloud-side alarms
    # (replication lag) then page on-call as well as mailing `platform.alertEmails`.
    pagerduty_integration_key: str | None = None

    @field_validator("pagerduty_integration_key")
    @classmethod
    def _integration_key(cls, key: str | None) -> str | None:
        # The value is a secret: the error says what was expected, never what was given.
        if key is not None and not re.fullmatch(r"[A-Za-z0-9]{20,64}", key):
            raise ValueError("expected a PagerDuty integration key: 20 to 64 letters and digits (value not shown)")
        return key

    @field_validator("region")
    @classmethod
    def _a_region_of_the_cloud(cls, region: str) -> str:
        # Each cloud's model declares `cloud` as a one-value Literal.
        cloud = cls.model_fields["cloud"].annotation.__args__[0]  # type: ignore[union-attr]
        if region not in REGIONS[cloud]:
            close = difflib.get_close_matches(region, REGIONS[cloud], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"'{region}' is not a region of {CLOUD_NAMES[cloud]}{hint}")
        return region

    @model_validator(mode="after")
    def _region_consistent(self) -> RegionStack:
        if self.vault.database is not None:
            raise ValueError("vault.database: a region's database is its own platform's; expected no vault.database")
        zone = self.origin.dns_zone
        if not self.ingress.host.endswith(f".{zone}"):
            raise ValueError(
                f"origin.dnsZone: '{zone}' is not the zone of ingress.host '{self.ingress.host}'; "
                "cert-manager answers its DNS-01 challenge there"
            )
        return self

    @property
    def standby_promoted(self) -> bool:
        """The region serves from its promoted DMS standby (disasterRecovery.standbyPromoted)."""
        return self.disaster_recovery is not None and self.disaster_recovery.standby_promoted

    def _replica_consistent(self, what: str) -> None:
        """A replica's lag alarm fires above its RPO and notifies the stack's alert emails."""
        if self.disaster_recovery is None:
            raise ValueError(
                f"disasterRecovery: missing; {what}, and its replication lag alarm fires above "
                "disasterRecovery.rpoSeconds (expected rpoSeconds, rtoSeconds, maxSwitchoverLagSeconds)"
            )
        if not self.platform.alert_emails:  # type: ignore[attr-defined]
            raise ValueError(
                f"platform.alertEmails: expected at least one address; {what}, and its lag alarm notifies them"
            )


# The stack reference a secondary region reads its primary through.
PRIMARY = "primary"


class AwsRegionStack(RegionStack):
    cloud: Literal["aws"]
    platform: AwsPlatformConfig

    @property
    def replicates(self) -> bool:
        # A secondary joins its primary's global database.
        return PRIMARY in self.stack_references

    @model_validator(mode="after")
    def _aws_consistent(self) -> AwsRegionStack:
        off_hours = self.platform.off_hours_problem(self.environment, self.chaos)
        if off_hours:
            raise ValueError(off_hours)
        if self.replicates and self.platform.cross_cloud_replicas is not None:
            raise ValueError(
                "platform.crossCloudReplicas: a secondary's database is a read-only member of its primary's global "
                "database; expected the replicas on the primary's stack"
            )
        if self.replicates:
            self._replica_consistent("a secondary replicates its primary's global database")
        if self.standby_promoted:
            raise ValueError(
                "disasterRecovery.standbyPromoted: an AWS region has no DMS standby to serve from (a GCP region with "
                "platform.replication has); expected false, or no key"
            )
        return self

    def known_zones(self) -> tuple[str, ...]:
        """The three zones the network spans (stacks/platforms.py builds over them)."""
        return tuple(f"{self.region}{letter}" for letter in "abc")

    @property
    def api_server_cidrs(self) -> list[str]:
        # The EKS endpoint's private addresses sit in the VPC.
        return list(self.kubernetes.api_server_cidrs or (self.platform.cidr,))


class GcpRegionStack(RegionStack):
    cloud: Literal["gcp"]
    platform: GcpPlatformConfig

    @property
    def replicates(self) -> bool:
        return self.platform.replication is not None

    @model_validator(mode="after")
    def _gcp_consistent(self) -> GcpRegionStack:
        if self.replicates and PRIMARY not in self.stack_references:
            raise ValueError(
                f"platform.replication: the region has no '{PRIMARY}' in stackReferences; expected the stack whose "
                "Aurora primary it replicates, e.g. stackReferences: {primary: prod}"
            )
        if self.replicates:
            self._replica_consistent("the region replicates its primary's database")
        if self.standby_promoted and self.platform.replication is None:
            raise ValueError(
                "disasterRecovery.standbyPromoted: the region has no standby to serve from (no platform.replication); "
                "expected false, or no key"
            )
        if self.standby_promoted and self.platform.replication is not None and not self.platform.replication.start:
            raise ValueError(
                "disasterRecovery.standbyPromoted: the migration job was never started (platform.replication.start: "
                "false), so its standby holds no data; expected start: true and a job promoted by "
                "`ops dr promote-standby`"
            )
        return self

    @property
    def api_server_cidrs(self) -> list[str]:
        # GKE's private endpoint lives in the control plane's /28.
        return list(self.kubernetes.api_server_cidrs or (self.platform.master_cidr,))


class EdgeStack(StackBase):
    """Cloudflare in front of every production region."""

    role: Literal["edge"]
    cloud: Literal["cloudflare"]
    edge: EdgeConfig


Region = Annotated[AwsRegionStack | GcpRegionStack, Field(discriminator="cloud")]
# One model per role, chosen by `role` (and a region's by `cloud`): a section a role
# needs is typed as present.
StackConfig = Annotated[ClusterStack | Region | EdgeStack, Field(discriminator="role")]
ROLES: dict[str, tuple[type[StackBase], ...]] = {
    "cluster": (ClusterStack,),
    "region": (AwsRegionStack, GcpRegionStack),
    "edge": (EdgeStack,),
}


# What every stack of a role has, whatever its cloud.
SHARED: dict[str, type[StackBase]] = {"cluster": WorkloadStack, "region": WorkloadStack, "edge": StackBase}


def role_model(role: object, cloud: object) -> type[StackBase] | None:
    """The model a stack file's role and cloud select, if they name one."""
    for model in ROLES.get(role, ()) if isinstance(role, str) else ():
        if model.model_fields["cloud"].annotation.__args__[0] == cloud:  # type: ignore[union-attr]
            return model
    return None
