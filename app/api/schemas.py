"""Request and response models. Requests are strict: unknown fields are refused."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

import annotated_types
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.fields import FieldInfo


class Strict(BaseModel):
    # Strict: "10" is no max_tokens and true no temperature.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, strict=True)


def _whole_number(value: object) -> object:
    """JSON Schema's `integer` includes 10.0; a strict int alone would refuse it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer as JSON Schema means it: 10 and 10.0, never "10", 10.5 or true.
JsonInt = Annotated[int, BeforeValidator(_whole_number)]


class CompletionRequest(Strict):
    model: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")
    prompt: str = Field(min_length=1, max_length=32_000)
    max_tokens: JsonInt = Field(256, ge=1, le=4096)
    temperature: float = Field(1.0, ge=0, le=2)


# JSON escapes a character outside the Basic Multilingual Plane as a surrogate pair,
# `\ud83d\ude00`: 12 bytes for what the schema counts as one character.
WORST_BYTES_PER_CHARACTER = 12
# The longest repr of a float (`-2.2250738585072014e-308`), and room for a client that
# pretty-prints its JSON.
LONGEST_NUMBER = 24
FORMATTING_ALLOWANCE = 1024


def _max_length(field: FieldInfo) -> int | None:
    return next((rule.max_length for rule in field.metadata if isinstance(rule, annotated_types.MaxLen)), None)


def max_json_bytes(model: type[BaseModel]) -> int:
    """The most bytes a valid instance can take as JSON: every string at its longest and
    escaped at its widest, every number at its longest. The body limit is derived from
    this, so a request the schema accepts is never refused as too large."""
    total = 2 + FORMATTING_ALLOWANCE  # the braces
    for name, field in model.model_fields.items():
        total += len(json.dumps(name)) + len(": ") + len(", ")
        if field.annotation is str:
            longest = _max_length(field)
            if longest is None:
                raise TypeError(f"{model.__name__}.{name} has no max_length, so no body limit can hold it")
            total += 2 + WORST_BYTES_PER_CHARACTER * longest
        elif field.annotation in (int, float):
            total += LONGEST_NUMBER
        else:
            raise TypeError(f"{model.__name__}.{name}: no JSON size known for {field.annotation}")
    return total


# The request body limit, by construction from the largest request schema.
MAX_BODY_BYTES = max_json_bytes(CompletionRequest)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Choice(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length"] | str


class CompletionV1(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"


class ModelListV1(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ModelUsage(BaseModel):
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int


class UsageReport(BaseModel):
    key_id: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    by_model: list[ModelUsage]


class UsageWindow(BaseModel):
    window_seconds: int
    requests: int
    tokens: int
    requests_per_minute: float


class MetricsSummary(BaseModel):
    key_id: str
    windows: list[UsageWindow]
    first_request_at: datetime | None
    last_request_at: datetime | None


# v2 (beta): one output instead of a list of choices, and input/output token names.
class Output(BaseModel):
    text: str
    finish_reason: str


class CompletionV2(BaseModel):
    id: str
    model: str
    created_at: datetime
    output: Output
    usage: dict[Literal["input_tokens", "output_tokens"], int]


class ModelListV2(BaseModel):
    models: list[str]


class HealthStatus(BaseModel):
    status: Literal["ok"]


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, the body of every error."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, str]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI entries for error statuses, served as application/problem+json."""
    schema = {"$ref": "#/components/schemas/ProblemDetails"}
    return {
        status: {"model": ProblemDetails, "content": {"application/problem+json": {"schema": schema}}}
        for status in statuses
    }


# Every versioned route can refuse a request in these ways.
COMMON_PROBLEMS = (400, 401, 429)
BODY_PROBLEMS = (413, 415, 422)
UPSTREAM_PROBLEMS = (502, 503)
