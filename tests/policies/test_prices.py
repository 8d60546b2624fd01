"""The price table's loader (policies/cost/prices.py): the repository's table reads, and a
table that is malformed, incomplete, negative or with an impossible discount is refused
with what is wrong and where; unknown names say what the table has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from policies.cost import prices
from policies.cost.prices import DATA, PriceError, UnknownPrice, load, parse

GOOD = DATA.read_text(encoding="utf-8")


def edited(change) -> str:  # type: ignore[no-untyped-def]
    document = yaml.safe_load(GOOD)
    change(document)
    return yaml.safe_dump(document)


def test_the_repository_table_reads_with_its_source_and_date() -> None:
    table = load()
    assert table.note.startswith(f"USD list prices recorded {table.recorded.isoformat()} (")
    assert table.monthly(1.0) == table.hours_per_month == 730
    assert table.instance("aws", "us-east-1", "m6i.large").vcpu == 2
    assert 0 < table.spot("aws") < 1 and 0 < table.spot("gcp") < 1
    assert table.free_reason("aws:iam/role:Role") and table.free_reason("aws:eks/nodeGroup:NodeGroup") is None


@pytest.mark.parametrize("text", ["instances: [", "{a: 1", "\t- x"])
def test_malformed_yaml_names_the_file(text: str) -> None:
    with pytest.raises(PriceError, match=r"^prices\.yaml: not YAML"):
        parse(text)


@pytest.mark.parametrize("text", ["", "- a\n- b", "42"])
def test_a_document_that_is_not_a_mapping(text: str) -> None:
    with pytest.raises(PriceError, match="expected a mapping at the top"):
        parse(text)


@pytest.mark.parametrize("key", ["source", "recorded", "instances", "units", "spotDiscount", "assumptions"])
def test_a_missing_key_is_named(key: str) -> None:
    with pytest.raises(PriceError, match=rf"{key}: Field required"):
        parse(edited(lambda d: d.pop(key)))


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(PriceError, match="extra: Extra inputs are not permitted"):
        parse(edited(lambda d: d.update(extra=1)))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["instances"]["aws"]["us-east-1"]["t3.medium"].update(hourly=-0.01), "t3.medium.hourly"),
        (lambda d: d["instances"]["aws"]["us-east-1"]["t3.medium"].update(hourly=0), "t3.medium.hourly"),
        (lambda d: d["units"]["aws"].update(natGatewayHour=-1), "units.aws.natGatewayHour"),
        (lambda d: d["databases"]["aws"]["us-east-1"].update({"db.t4g.medium": -2}), "db.t4g.medium"),
        (lambda d: d["assumptions"].update(natGbPerMonth=-5), "assumptions.natGbPerMonth"),
        (lambda d: d.update(hoursPerMonth=0), "hoursPerMonth"),
    ],
)
def test_negative_or_zero_prices_are_refused(change, where: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PriceError, match=re.escape(where)):
        parse(edited(change))


@pytest.mark.parametrize("discount", [1, 1.5, -0.1])
def test_a_discount_of_one_or_more_or_negative_is_refused(discount: float) -> None:
    with pytest.raises(PriceError, match=r"spotDiscount\.aws"):
        parse(edited(lambda d: d["spotDiscount"].update(aws=discount)))
    with pytest.raises(PriceError, match=r"commitments\.aws\.computeSavingsPlan\.1y-no-upfront"):
        parse(edited(lambda d: d["commitments"]["aws"]["computeSavingsPlan"].update({"1y-no-upfront": discount})))


def test_an_unknown_cloud_or_currency_is_refused() -> None:
    with pytest.raises(PriceError, match=r"units\.azure"):
        parse(edited(lambda d: d["units"].update(azure={})))
    with pytest.raises(PriceError, match="currency"):
        parse(edited(lambda d: d.update(currency="EUR")))


def test_unknown_names_say_what_the_table_has() -> None:
    table = load()
    with pytest.raises(
        UnknownPrice, match=r"no aws instance types priced in region 'mars-1'.*regions: eu-west-1, us-east-1"
    ):
        table.instance("aws", "mars-1", "t3.medium")
    with pytest.raises(
        UnknownPrice, match=r"no price for aws instance type 'x9.huge' in us-east-1.*it prices: .*m6i\.large"
    ):
        table.instance("aws", "us-east-1", "x9.huge")
    with pytest.raises(UnknownPrice, match=r"no price for aws database class 'db.x1'"):
        table.database("aws", "us-east-1", "db.x1")
    with pytest.raises(UnknownPrice, match=r"no gcp unit price 'nope'.*it has: .*gkeClusterHour"):
        table.unit("gcp", "nope")
    with pytest.raises(UnknownPrice, match="no aws commitment 'x'"):
        table.commitment("aws", "x", "1y")
    assert str(UnknownPrice("plain message")) == "plain message"


def test_an_unreadable_file_is_a_price_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    with pytest.raises(PriceError, match="cannot read the price table"):
        prices.load.__wrapped__(missing)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PriceError, match="cannot read the price table"):
        prices.load.__wrapped__(binary)


def test_free_patterns_need_a_reason() -> None:
    with pytest.raises(PriceError, match="free"):
        parse(edited(lambda d: d["free"].update({"aws:x/*": ""})))
