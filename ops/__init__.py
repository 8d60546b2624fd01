"""Operational automation that runs beside the platform or on an on-call laptop, behind
one CLI: `python -m ops` (or the standalone `ops` executable built by `ops/standalone`).

Every command that changes something is a runbook of typed, idempotent steps
(`ops.steps`): dry-run unless `--apply`, each step's outcome written as one JSON audit
line (`ops.audit`).
"""
