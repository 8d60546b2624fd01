"""Every rule of the zero-trust pack, in report order."""

from policies.core.evaluate import waivers_current_rule
from policies.zero_trust import aws, cloudflare, gcp, istio, kubernetes, vault

PACK = "zero-trust"
_RULES = [*kubernetes.RULES, *aws.RULES, *gcp.RULES, *vault.RULES, *cloudflare.RULES, *istio.RULES]
RULES = [*_RULES, waivers_current_rule(PACK, (rule.name for rule in _RULES))]
