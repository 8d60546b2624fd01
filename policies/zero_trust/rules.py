"""The whole zero-trust pack: importing a module registers its rules."""

from policies.core.evaluate import waivers_current_rule

# The order of these modules is the report order.
# isort: off
from policies.zero_trust import (  # noqa: F401
    PACK,
    kubernetes,
    kubernetes_rbac,
    aws,
    aws_public,
    aws_stores,
    aws_apis,
    aws_accounts,
    aws_network,
    aws_databases,
    aws_clusters,
    gcp,
    gcp_gke,
    vault,
    cloudflare,
    istio,
    chaos,
)
# isort: on

waivers_current_rule(PACK)
