"""The zero-trust policy pack, as `pulumi preview --policy-pack policies/zero_trust` runs it.
Constructing the PolicyPack starts the analyzer; the rules live in importable modules."""

import sys
from pathlib import Path

# The rules import the shared engine as `policies.core`, from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from policies.core.pack import serve
from policies.zero_trust.rules import PACK

serve(PACK, "Zero-trust rules for Kubernetes, AWS, GCP, Vault, Cloudflare and Istio resources.")
