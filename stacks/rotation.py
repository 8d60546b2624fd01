"""The rotation schedule of the secrets this stack generates, as of today (UTC): the
first `pulumi up` of a new period renews them (components/rotation.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from components.rotation import RotationSchedule


def schedule(period_days: int) -> RotationSchedule:
    return RotationSchedule(period_days=period_days, today=datetime.now(UTC).date())
