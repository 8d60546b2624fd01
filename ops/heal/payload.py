"""Alertmanager's webhook payload (version "4"), parsed strictly: the receiver acts on
what it reads, so anything that is not exactly the documented shape is refused with a
message that says what was expected.

Limits bound the work one request can cause: its size and nesting, the number of alerts
and of labels, and the length of every string. Fields Alertmanager may add later are
ignored; the ones the receiver reads are all required and typed.
"""

from __future__ import annotations

import datetime
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

VERSION = "4"
MAX_BYTES = 1 << 20
# The payload's own depth is 4 (body, alerts, alert, labels); more is not Alertmanager.
MAX_DEPTH = 6
MAX_ALERTS = 1000
MAX_LABELS = 64
MAX_TEXT = 4096
# While an alert fires, Alertmanager writes its zero time as endsAt.
ZERO_TIME = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)

LabelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Labels = Annotated[dict[LabelName, Text], Field(max_length=MAX_LABELS)]


class PayloadError(ValueError):
    """The request body is not an Alertmanager version 4 webhook payload."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class Alert(_Strict):
    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels
    starts_at: datetime.datetime = Field(alias="startsAt")
    ends_at: datetime.datetime = Field(alias="endsAt")
    generator_url: Text = Field(alias="generatorURL")
    fingerprint: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{1,32}$")]

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any) -> datetime.datetime:
        if not isinstance(value, str) or len(value) > 64:
            raise ValueError("expected an RFC 3339 time such as 2025-01-02T03:04:05Z")
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an RFC 3339 time such as 2025-01-02T03:04:05Z") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; expected one such as Z")
        return parsed

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def key(self) -> tuple[str, str]:
        """What identifies one firing of one alert: Alertmanager re-sends it unchanged."""
        return self.fingerprint, self.starts_at.isoformat()

    @property
    def resolved_at(self) -> datetime.datetime | None:
        return None if self.status == "firing" or self.ends_at <= ZERO_TIME else self.ends_at


class Notification(_Strict):
    version: Literal["4"]
    group_key: Text = Field(alias="groupKey")
    truncated_alerts: Annotated[int, Field(ge=0)] = Field(alias="truncatedAlerts")
    status: Literal["firing", "resolved"]
    receiver: Text
    group_labels: Labels = Field(alias="groupLabels")
    common_labels: Labels = Field(alias="commonLabels")
    common_annotations: Labels = Field(alias="commonAnnotations")
    external_url: Text = Field(alias="externalURL")
    alerts: Annotated[list[Alert], Field(min_length=1, max_length=MAX_ALERTS)]


def _depth(value: Any) -> int:
    """Nesting depth without recursion (a hostile body must not exhaust the stack)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PayloadError(f"the key {key[:64]!r} appears twice in one object; expected each key once")
        result[key] = value
    return result


def _constant(name: str) -> float:
    raise PayloadError(f"{name} is not JSON; expected finite numbers only")


def _where(error: ValidationError) -> str:
    first = error.errors()[0]
    place = ".".join(str(part) for part in first["loc"]) or "the body"
    return f"{place}: {first['msg']}"


def parse(body: bytes) -> Notification:
    if len(body) > MAX_BYTES:
        raise PayloadError(f"the body is {len(body)} bytes; expected at most {MAX_BYTES}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(f"the body is not UTF-8 (byte {error.start}); expected UTF-8 JSON") from None
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_constant)
    except RecursionError:
        raise PayloadError(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise PayloadError(f"the body is not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    if _depth(document) > MAX_DEPTH:
        raise PayloadError(f"the body nests deeper than {MAX_DEPTH} levels")
    if not isinstance(document, dict):
        raise PayloadError("the body is not a JSON object; expected Alertmanager's webhook payload")
    if document.get("version") != VERSION:
        version = str(document.get("version"))[:20]
        raise PayloadError(f"payload version {version!r} is not supported; expected Alertmanager's version {VERSION!r}")
    try:
        return Notification.model_validate(document)
    except ValidationError as error:
        raise PayloadError(_where(error)) from None
