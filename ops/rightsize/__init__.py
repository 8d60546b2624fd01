"""`ops rightsize`: new requests and limits per container from what Prometheus saw them
use and what the VPA recommender says, and the node pools that would hold them, priced
from the repository's price table (policies/cost/prices.yaml)."""
