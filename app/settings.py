"""Every setting of the API, from the environment (prefix `APP_` unless noted), and the
secret ones from files.

The table in app/README.md lists them. In Kubernetes no secret is an environment
variable (those leak into crash dumps and child processes): `APP_SECRETS_DIR` names a
read-only directory with one file per secret setting, named like its variable
(`APP_API_KEY_PEPPER`, ...). `Settings()` refuses placeholder secrets outside
development, so a production pod cannot start with a default pepper.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.networks import INTERNAL, internal

Environment = Literal["local", "dev", "staging", "prod", "test"]
DEVELOPMENT = ("local", "test")
PLACEHOLDER_PEPPER = "development-only-pepper-change-me"
READ_URL_SHAPE = "postgresql+psycopg://user:password@reader-host:5432/database"


class RouteLimit(BaseModel):
    """A token bucket: `burst` tokens, refilled at `per_second`."""

    per_second: float = Field(gt=0)
    burst: int = Field(ge=1)


def _parse_route_limits(value: object) -> object:
    """`POST /v1/completions=5/20;GET /v1/models=50/100` -> {route: RouteLimit}."""
    if not isinstance(value, str):
        return value
    limits: dict[str, dict[str, float]] = {}
    for entry in filter(None, (part.strip() for part in value.split(";"))):
        route, _, rate = entry.rpartition("=")
        per_second, _, burst = rate.partition("/")
        if not route or not per_second or not burst:
            raise ValueError(f"expected 'METHOD /path=per_second/burst', got {entry!r}")
        limits[route.strip()] = {"per_second": float(per_second), "burst": int(burst)}
    return limits


class Settings(BaseSettings):
    # Errors name the setting, never its value: a database URL holds a password.
    model_config = SettingsConfigDict(
        env_prefix="APP_", extra="ignore", frozen=True, populate_by_name=True, hide_input_in_errors=True
    )

    environment: Environment = "local"
    host: str = Field("127.0.0.1", validation_alias=AliasChoices("HOST", "APP_HOST"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=AliasChoices("PORT", "APP_PORT"))
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", validation_alias=AliasChoices("LOG_LEVEL", "APP_LOG_LEVEL")
    )

    # Database: SQLite as the embedded default, PostgreSQL in production.
    database_url: str = "sqlite+aiosqlite:///./project-ai.db"
    # The region's reader endpoint (replicas), a secret file like the writer's URL. Reads
    # that tolerate replication lag go there (app/db/routing.py says which); unset, the
    # writer serves every read.
    database_read_url: str | None = None
    # After the reader fails or misses its deadline, reads go to the writer this long,
    # then one read probes the reader again.
    db_reader_reset_seconds: float = Field(5.0, gt=0)
    db_pool_size: int = Field(10, ge=1)
    db_max_overflow: int = Field(10, ge=0)
    db_pool_recycle_seconds: int = Field(1800, ge=1)
    db_pool_timeout_seconds: float = Field(2.0, gt=0)
    db_connect_timeout_seconds: int = Field(3, ge=1)  # libpq counts whole seconds
    # Bounds every query: the server's statement_timeout, and the same bound (plus a
    # moment for the server's own answer) on the client, for a server that cannot answer.
    db_statement_timeout_seconds: float = Field(3.0, gt=0)
    # What a 503 for an unavailable database tells the client.
    db_retry_after_seconds: int = Field(5, ge=1)
    # Readiness reuses one database check for this long, however often it is probed.
    readiness_cache_seconds: float = Field(1.0, ge=0)
    # Migrations on PostgreSQL: never wait long for a lock or run away.
    migration_lock_timeout: str = "5s"
    migration_statement_timeout: str = "60s"

    # Cache and rate-limit storage: Redis when set, memory otherwise.
    redis_url: str | None = None
    cache_ttl_seconds: int = Field(300, ge=1)
    # A Redis call that takes longer than this fails; after one failure the breaker keeps
    # Redis out of requests for `redis_breaker_reset_seconds`, then lets one call probe.
    redis_timeout_seconds: float = Field(0.25, gt=0)
    redis_breaker_reset_seconds: float = Field(5.0, gt=0)

    # The directory of secret files (see the module's docstring); re-read while running.
    secrets_dir: Path | None = None

    # API keys are stored as HMAC-SHA256(pepper, secret); the pepper comes from Vault.
    # After a rotation the previous pepper is still accepted (and the key re-hashed).
    api_key_pepper: SecretStr = SecretStr(PLACEHOLDER_PEPPER)
    api_key_pepper_previous: SecretStr | None = None
    # A key that matches only the previous pepper is re-hashed under the current one once
    # this process has held it this long: by then every pod has it (External Secrets'
    # refresh, then the kubelet's sync), so no pod still on the old pepper is locked out.
    api_key_rehash_after_seconds: float = Field(7200.0, ge=0)

    # The inference upstream (OpenAI-compatible); `echo` serves answers in-process.
    upstream_url: HttpUrl | Literal["echo"] = "echo"
    upstream_token: SecretStr | None = None
    # The whole upstream call; it must end before the shutdown grace does.
    upstream_timeout_seconds: float = Field(15.0, gt=0)
    upstream_connect_timeout_seconds: float = Field(2.0, gt=0)
    models: Annotated[list[str], NoDecode] = ["echo-1"]

    # Circuit breaker around the upstream.
    breaker_failure_threshold: int = Field(5, ge=1)
    breaker_reset_seconds: float = Field(30.0, gt=0)

    # Rate limits per route template, and the default for routes not listed.
    rate_limit_default: Annotated[RouteLimit, NoDecode] = RouteLimit(per_second=10, burst=20)
    rate_limits: Annotated[dict[str, RouteLimit], NoDecode] = {
        "POST /v1/completions": RouteLimit(per_second=5, burst=10),
        "POST /v2/completions": RouteLimit(per_second=5, burst=10),
    }
    # Per client IP, across routes: stops one address from cycling keys.
    rate_limit_per_ip: Annotated[RouteLimit, NoDecode] = RouteLimit(per_second=50, burst=100)
    # With Redis down, each replica limits on its own with 1/N of every limit: N is the
    # replica count it usually runs with (the workload sets the autoscaler's minimum).
    rate_limit_fallback_replicas: int = Field(1, ge=1)
    # Proxies whose X-Forwarded-For is trusted: the ingress controller's pods, as address
    # ranges (CIDR), since pods come and go; a bare address is a /32 or /128.
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = (IPv4Network("127.0.0.1/32"),)

    # Request validation (the body limit follows from the request schema, not a setting).
    screening_mode: Literal["block", "log", "off"] = "block"

    # API versions: `beta` ones say so in a header; `deprecated` ones carry
    # Deprecation/Sunset headers and a Link to the migration guide.
    beta_versions: Annotated[list[str], NoDecode] = ["v2"]
    deprecated_versions: Annotated[list[str], NoDecode] = []
    deprecation_date: str | None = None  # RFC 9745: @<unix seconds>
    sunset_date: str | None = None  # RFC 8594: an HTTP-date
    deprecation_link: HttpUrl | None = None

    # Feature flags: flagd's flag file (the stack's flags ConfigMap, mounted read-only), read
    # in process by OpenFeature's flagd provider and looked at again every poll (app/flags.py).
    # Unset: no flags, nothing is gated (local runs).
    flags_file: Path | None = None
    flags_poll_seconds: float = Field(1.0, gt=0)

    # Observability.
    otlp_endpoint: str | None = Field(
        None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "APP_OTLP_ENDPOINT")
    )
    service_name: str = Field("project-ai-api", validation_alias=AliasChoices("OTEL_SERVICE_NAME", "APP_SERVICE_NAME"))

    # Shutdown: readiness fails at once, in-flight requests get this long to finish.
    shutdown_grace_seconds: float = Field(20.0, ge=0)
    # How long an idle client connection stays open. Longer than the idle timeout of every
    # proxy in front (ingress-nginx's upstream keep-alive, the mesh's idleTimeout: 60 s),
    # so the app never closes a connection just as a proxy reuses it (the request would
    # be lost, and a POST cannot be retried).
    keep_alive_seconds: int = Field(75, ge=1, le=3600)

    @field_validator("models", "beta_versions", "deprecated_versions", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _route_limits(cls, value: object) -> object:
        return _parse_route_limits(value)

    @field_validator("rate_limit_default", "rate_limit_per_ip", mode="before")
    @classmethod
    def _one_limit(cls, value: object) -> object:
        if isinstance(value, str):
            return _parse_route_limits(f"x={value}")["x"]
        return value

    @field_validator("database_read_url")
    @classmethod
    def _read_url_parses(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # an empty secret file: no reader
        value = value.strip()
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError(f"is not a database URL; expected {READ_URL_SHAPE}") from None
        return value

    @model_validator(mode="after")
    def _reader_matches_the_writer(self) -> Settings:
        if self.database_read_url is None:
            return self
        if self.is_sqlite:
            raise ValueError(
                "APP_DATABASE_READ_URL needs a PostgreSQL APP_DATABASE_URL: SQLite has no replicas to read from"
            )
        reader, writer = make_url(self.database_read_url).drivername, make_url(self.database_url).drivername
        if reader != writer:
            raise ValueError(
                f"APP_DATABASE_READ_URL uses the driver {reader!r} but APP_DATABASE_URL uses {writer!r}; "
                f"use the same (expected {READ_URL_SHAPE})"
            )
        return self

    @model_validator(mode="after")
    def _deprecation_is_dated(self) -> Settings:
        if self.deprecated_versions and not self.deprecation_date:
            raise ValueError(
                "APP_DEPRECATED_VERSIONS needs APP_DEPRECATION_DATE (RFC 9745, e.g. @1798761600), "
                "so clients learn since when"
            )
        return self

    @model_validator(mode="after")
    def _no_placeholder_secrets_outside_development(self) -> Settings:
        if self.environment not in DEVELOPMENT and self.api_key_pepper.get_secret_value() == PLACEHOLDER_PEPPER:
            raise ValueError(
                f"APP_API_KEY_PEPPER is the development placeholder; in {self.environment} it must come from Vault"
            )
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_internal(cls, networks: tuple[IPv4Network | IPv6Network, ...]) -> object:
        # A proxy of ours has an internal address; trusting a public range (0.0.0.0/0, say)
        # would let any client write its own X-Forwarded-For and pick its rate-limit bucket.
        public = [str(network) for network in networks if not internal(network)]
        if public:
            raise ValueError(f"APP_TRUSTED_PROXIES must be internal ranges ({INTERNAL}), got {', '.join(public)}")
        return networks

    @model_validator(mode="after")
    def _upstream_fits_in_the_shutdown_grace(self) -> Settings:
        if self.upstream_timeout_seconds >= self.shutdown_grace_seconds:
            raise ValueError(
                f"APP_UPSTREAM_TIMEOUT_SECONDS ({self.upstream_timeout_seconds:g}) must be below "
                f"APP_SHUTDOWN_GRACE_SECONDS ({self.shutdown_grace_seconds:g}), so a request in flight "
                "at shutdown ends before the pod is killed"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def limit_for(self, route: str) -> RouteLimit:
        return self.rate_limits.get(route, self.rate_limit_default)


SECRETS_DIR = "APP_SECRETS_DIR"


def load_settings() -> Settings:
    """Settings from the environment, and secrets from the files in `APP_SECRETS_DIR`."""
    return Settings(_secrets_dir=os.environ.get(SECRETS_DIR) or None)
