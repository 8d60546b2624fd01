"""The whole zero-trust pack: importing a module registers its rules."""

from policies.core.evaluate import waivers_current_rule

# The order of these modules is the report order.
# isort: off
from policies.zero_trust import PACK, kubernetes, aws, gcp, vault, cloudflare, istio, chaos  # noqa: F401
# isort: on

waivers_current_rule(PACK)
