#!/usr/bin/env bash
# Builds the ops CLI as one executable: dist/ops (Linux, macOS) under OUT (default build/ops).
# Needs Python 3.11+ with requirements-dev.txt installed (PyInstaller is pinned there), or
# set PYTHON to such an interpreter. PyInstaller does not cross-compile: build on each OS.
# The price table (policies/cost/prices.yaml) rides along as data: `ops rightsize` and
# `ops commitments` read it beside policies/cost/prices.py. ops/standalone/hooks keeps
# the Google API client's data to the one discovery document the janitor reads.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
out="${OUT:-$root/build/ops}"
cd "$root"
"$python" -m PyInstaller --onefile --clean --noconfirm --log-level WARN \
  --name ops \
  --paths "$root" \
  --add-data "$root/policies/cost/prices.yaml:policies/cost" \
  --additional-hooks-dir "$root/ops/standalone/hooks" \
  --distpath "$out/dist" --workpath "$out/work" --specpath "$out" \
  ops/standalone/entry.py
echo "$out/dist/ops"
