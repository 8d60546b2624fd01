"""Argument types shared by every ops command: each refuses what is out of range, saying
what was expected, before anything runs."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def count(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is outside {low} to {high}")
        return number

    return parse


def seconds(low: float, high: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
        # NaN compares false with everything: refuse it by name.
        if math.isnan(number) or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value} s is outside {low:g} to {high:g} s")
        return number

    return parse


def fraction(value: str) -> float:
    """A number strictly between 0 and 1 (a significance level, an effect size)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if math.isnan(number) or not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not strictly between 0 and 1")
    return number


def number(low: float, high: float = math.inf, *, above: bool = False) -> Callable[[str], float]:
    """A finite number from `low` to `high`; with `above`, strictly greater than `low`."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        low_ok = number > low if above else number >= low
        if not math.isfinite(number) or not low_ok or number > high:
            if above and low == 0 and high == math.inf:
                raise argparse.ArgumentTypeError(f"{value} is not a positive number")
            raise argparse.ArgumentTypeError(f"{value} is outside {low:g} to {high:g}")
        return number

    return parse
