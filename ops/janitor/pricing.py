"""Monthly cost of what the janitor finds, from the repository's price table
(policies/cost/prices.yaml, through its `PriceTable`), so a figure here means what the
preflight estimate means.

A build without the table (an ops image that does not ship it) prices nothing: the
findings stand, their estimate is left out and the report says so, never a zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 1024**3


@dataclass(frozen=True)
class Prices:
    table: Any | None
    # Why there is no table, where there is none.
    missing: str | None = None

    @property
    def note(self) -> str:
        return self.table.note if self.table is not None else f"no estimate: {self.missing}"

    def unit(self, cloud: str, name: str) -> float | None:
        if self.table is None:
            return None
        from policies.cost.prices import UnknownPrice

        try:
            return float(self.table.unit(cloud, name))
        except UnknownPrice:
            return None

    def hourly(self, cloud: str, name: str) -> float | None:
        price = self.unit(cloud, name)
        return None if price is None else price * float(self.table.hours_per_month)

    def per_gib(self, cloud: str, name: str, gib: float) -> float | None:
        price = self.unit(cloud, name)
        return None if price is None else price * gib


def load() -> Prices:
    try:
        from policies.cost.prices import PriceError
        from policies.cost.prices import load as load_table
    except ImportError:
        return Prices(None, "the price table (policies/cost/prices.py) is not part of this build")
    try:
        return Prices(load_table())
    except PriceError as error:
        return Prices(None, str(error))


NONE = Prices(None, "pricing off")

# EBS volume types the table prices (gp3 and gp2); others are left unpriced.
EBS_UNITS = {"gp3": "ebsGp3GbMonth", "gp2": "ebsGp2GbMonth"}
# Persistent disk types the table prices.
PD_UNITS = {"pd-balanced": "pdBalancedGbMonth", "pd-ssd": "pdSsdGbMonth"}
