"""The cost policy pack, as `pulumi preview --policy-pack policies/cost` runs it.
Constructing the PolicyPack starts the analyzer; the rules live in importable modules."""

import sys
from pathlib import Path

# The rules import the shared engine as `policies.core`, from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from policies.core.pack import serve
from policies.cost.rules import PACK

serve(PACK, "Cost rules: sizes per environment, cost allocation, storage, retention, budgets and an estimate.")
