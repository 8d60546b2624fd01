"""The price table (prices.yaml beside this file): list prices per cloud and region, the
spot and commitment discounts, and the usage assumptions the estimate needs, with the
source and the date they were recorded.

The cost pack's estimate, `ops rightsize` and `ops commitments` all price through one
`PriceTable`, so a figure means the same thing everywhere. Unknown names raise
`UnknownPrice`, which says what was asked and what the table has: a price silently
taken as zero (or as some fallback) would make an estimate look cheaper than it is.
"""

from __future__ import annotations

import datetime
import fnmatch
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

DATA = Path(__file__).with_name("prices.yaml")
Cloud = Literal["aws", "gcp"]
Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]


class PriceError(ValueError):
    """The price file cannot be used (names the file and what is wrong)."""


class UnknownPrice(KeyError):
    """A name the table does not price; the message lists what it has."""

    def __str__(self) -> str:
        return str(self.args[0])


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Instance(_Model):
    vcpu: Positive
    memory_gib: Positive
    hourly: Positive


class InstanceType(_Model):
    """One instance type in one region, with its name and cloud."""

    cloud: Cloud
    region: str
    name: str
    vcpu: float
    memory_gib: float
    hourly: float


class Assumptions(_Model):
    """Monthly usage the declared resources do not state (GB moved or kept)."""

    nat_gb_per_month: Annotated[float, Field(ge=0)]
    internet_egress_gb_per_month: Annotated[float, Field(ge=0)]
    inter_zone_gb_per_month: Annotated[float, Field(ge=0)]
    log_ingest_gb_per_month: Annotated[float, Field(ge=0)]
    bucket_gb_per_month: Annotated[float, Field(ge=0)]
    database_storage_gb: Annotated[float, Field(ge=0)]
    registry_gb: Annotated[float, Field(ge=0)]
    # Data nothing expires (a bucket without expiration, a log group kept forever) is
    # priced at this many months of it.
    retention_horizon_months: Annotated[float, Field(gt=0)] = 12


class PriceTable(_Model):
    source: Annotated[str, Field(min_length=1)]
    recorded: datetime.date
    currency: Literal["USD"]
    hours_per_month: Positive
    instances: dict[Cloud, dict[str, dict[str, Instance]]]
    databases: dict[Cloud, dict[str, dict[str, Positive]]]
    caches: dict[Cloud, dict[str, dict[str, Positive]]]
    units: dict[Cloud, dict[str, Annotated[float, Field(ge=0)]]]
    spot_discount: dict[Cloud, Fraction]
    commitments: dict[Cloud, dict[str, dict[str, Fraction]]]
    assumptions: Assumptions
    # Type patterns (shell globs) with no charge of their own -> why; the estimate lists
    # any other type it cannot price.
    free: dict[str, Annotated[str, Field(min_length=1)]] = {}
    # Type patterns billed by use alone (requests, GB served) -> how; the estimate notes them.
    usage_billed: dict[str, Annotated[str, Field(min_length=1)]] = {}

    def usage_reason(self, resource_type: str) -> str | None:
        """How a type billed by use alone is billed, or None."""
        for pattern, reason in self.usage_billed.items():
            if fnmatch.fnmatchcase(resource_type, pattern):
                return reason
        return None

    def free_reason(self, resource_type: str) -> str | None:
        """Why a resource type costs nothing of its own, or None if the table does not say."""
        for pattern, reason in self.free.items():
            if fnmatch.fnmatchcase(resource_type, pattern):
                return reason
        return None

    @property
    def note(self) -> str:
        """Where the figures come from, for every report that prints one."""
        return f"{self.currency} list prices recorded {self.recorded.isoformat()} ({self.source})"

    def monthly(self, hourly: float) -> float:
        return hourly * self.hours_per_month

    def instance(self, cloud: Cloud, region: str, name: str) -> InstanceType:
        found = _lookup(self.instances, cloud, region, name, "instance type")
        return InstanceType(cloud=cloud, region=region, name=name, **found.model_dump())

    def instance_types(self, cloud: Cloud, region: str) -> list[InstanceType]:
        """Every type the table prices in the region, cheapest first."""
        names = _region(self.instances, cloud, region, "instance types")
        return sorted((self.instance(cloud, region, name) for name in names), key=lambda t: (t.hourly, t.name))

    def database(self, cloud: Cloud, region: str, name: str) -> float:
        """USD per node-hour of a database instance class."""
        return _lookup(self.databases, cloud, region, name, "database class")

    def cache(self, cloud: Cloud, region: str, name: str) -> float:
        """USD per node-hour of a cache node type."""
        return _lookup(self.caches, cloud, region, name, "cache node type")

    def unit(self, cloud: Cloud, name: str) -> float:
        units = self.units.get(cloud, {})
        if name not in units:
            raise UnknownPrice(f"no {cloud} unit price '{name}' in {DATA.name} (it has: {', '.join(sorted(units))})")
        return units[name]

    def spot(self, cloud: Cloud) -> float:
        """The fraction spot capacity saves off on-demand."""
        return self.spot_discount[cloud]

    def commitment(self, cloud: Cloud, product: str, term: str) -> float:
        """The fraction a commitment saves off on-demand for steady usage."""
        products = self.commitments.get(cloud, {})
        if product not in products:
            raise UnknownPrice(f"no {cloud} commitment '{product}' (it has: {', '.join(sorted(products))})")
        terms = products[product]
        if term not in terms:
            raise UnknownPrice(f"no {cloud} {product} term '{term}' (it has: {', '.join(sorted(terms))})")
        return terms[term]


def _region(table: Mapping[str, Mapping[str, Mapping]], cloud: str, region: str, what: str) -> Mapping:
    regions = table.get(cloud, {})
    if region not in regions:
        raise UnknownPrice(
            f"no {cloud} {what} priced in region '{region}' in {DATA.name} (regions: {', '.join(sorted(regions))})"
        )
    return regions[region]


def _lookup(table: Mapping, cloud: str, region: str, name: str, what: str) -> Any:
    entries = _region(table, cloud, region, f"{what}s")
    if name not in entries:
        raise UnknownPrice(
            f"no price for {cloud} {what} '{name}' in {region} in {DATA.name} "
            f"(it prices: {', '.join(sorted(entries))}); add it with its source"
        )
    return entries[name]


def parse(text: str, origin: str = DATA.name) -> PriceTable:
    """A price table from YAML text; PriceError names what is wrong and where."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PriceError(f"{origin}: not YAML: {error}") from None
    if not isinstance(data, dict):
        raise PriceError(f"{origin}: expected a mapping at the top, got {type(data).__name__}")
    try:
        return PriceTable.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'top'}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        raise PriceError(f"{origin}: {problems}") from None


@cache
def load(path: Path = DATA) -> PriceTable:
    """The repository's price table (read once per process)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PriceError(f"{path}: cannot read the price table: {error}") from None
    return parse(text, str(path))
