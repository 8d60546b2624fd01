"""Cases for issue #19's rules (filled in by the helper that writes them). test_rules.py
adds them to its table."""

from __future__ import annotations

from tests.policies.relational_cases import RelationalCase

GCP_GKE_CASES: list[RelationalCase] = []
