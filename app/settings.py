"""Every setting of the API, from the environment (prefix `APP_` unless noted).

The table in app/README.md lists them; `Settings()` refuses placeholder secrets outside
development, so a production pod cannot start with a default pepper.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["local", "dev", "staging", "prod", "test"]
DEVELOPMENT = ("local", "test")
PLACEHOLDER_PEPPER = "development-only-pepper-change-me"


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
    model_config = SettingsConfigDict(env_prefix="APP_", extra="ignore", frozen=True, populate_by_name=True)

    environment: Environment = "local"
    host: str = Field("127.0.0.1", validation_alias=AliasChoices("HOST", "APP_HOST"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=AliasChoices("PORT", "APP_PORT"))
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", validation_alias=AliasChoices("LOG_LEVEL", "APP_LOG_LEVEL")
    )

    # Database: SQLite as the embedded default, PostgreSQL in production.
    database_url: str = "sqlite+aiosqlite:///./project-ai.db"
    db_pool_size: int = Field(10, ge=1)
    db_max_overflow: int = Field(10, ge=0)
    db_pool_recycle_seconds: int = Field(1800, ge=1)
    db_pool_timeout_seconds: float = Field(5.0, gt=0)
    # Migrations on PostgreSQL: never wait long for a lock or run away.
    migration_lock_timeout: str = "5s"
    migration_statement_timeout: str = "60s"

    # Cache and rate-limit storage: Redis when set, memory otherwise.
    redis_url: str | None = None
    cache_ttl_seconds: int = Field(300, ge=1)

    # API keys are stored as HMAC-SHA256(pepper, secret); the pepper comes from Vault.
    api_key_pepper: SecretStr = SecretStr(PLACEHOLDER_PEPPER)

    # The inference upstream (OpenAI-compatible); `echo` serves answers in-process.
    upstream_url: HttpUrl | Literal["echo"] = "echo"
    upstream_token: SecretStr | None = None
    upstream_timeout_seconds: float = Field(30.0, gt=0)
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
    # Proxies whose X-Forwarded-For is trusted (the ingress controller's pods).
    trusted_proxies: Annotated[list[str], NoDecode] = ["127.0.0.1"]

    # Request validation.
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    screening_mode: Literal["block", "log", "off"] = "block"

    # API versions: `beta` ones say so in a header; `deprecated` ones carry
    # Deprecation/Sunset headers and a Link to the migration guide.
    beta_versions: Annotated[list[str], NoDecode] = ["v2"]
    deprecated_versions: Annotated[list[str], NoDecode] = []
    deprecation_date: str | None = None  # RFC 9745: @<unix seconds>
    sunset_date: str | None = None  # RFC 8594: an HTTP-date
    deprecation_link: HttpUrl | None = None

    # Observability.
    otlp_endpoint: str | None = Field(
        None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "APP_OTLP_ENDPOINT")
    )
    service_name: str = Field("project-ai-api", validation_alias=AliasChoices("OTEL_SERVICE_NAME", "APP_SERVICE_NAME"))

    # Shutdown: readiness fails at once, in-flight requests get this long to finish.
    shutdown_grace_seconds: float = Field(20.0, ge=0)

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

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def limit_for(self, route: str) -> RouteLimit:
        return self.rate_limits.get(route, self.rate_limit_default)
