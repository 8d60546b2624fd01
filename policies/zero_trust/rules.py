"""The whole zero-trust pack: importing a module registers its rules."""

from policies.core.evaluate import waivers_current_rule

# The order of these modules is the report order.
# isort: off
from policies.zero_trust import (  # noqa: F401
    PACK,
    kubernetes,
    aws,
    aws_public,
    aws_stores,
    aws_apis,
    gcp,
    vault,
    cloudflare,
    istio,
    chaos,
)
# isort: on

waivers_current_rule(PACK)
