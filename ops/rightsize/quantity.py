"""Kubernetes quantities as the VPA writes them ("25m", "262144k", "1Gi", "1e3") read as
numbers (cores, bytes), and numbers written back the way the stack config takes them
(stacks/model.py ComputeQuantity: "250m" or whole cores, "384Mi" or "2Gi")."""

from __future__ import annotations

import math
import re

_QUANTITY = re.compile(r"^([+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(n|u|m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_FACTORS = {
    None: 1.0,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}
MI = 2.0**20
GI = 2.0**30


def parse(text: object) -> float:
    """A quantity as a plain number (cores for CPU, bytes for memory); ValueError if it is not one."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"{text!r} is not a quantity such as '250m' or '1Gi'")
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a quantity such as '250m' or '1Gi'")
    value = float(match.group(1)) * _FACTORS[match.group(2)]
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite quantity")
    return value


def cpu_text(cores: float) -> str:
    """Cores as the stack config writes them: whole cores bare, the rest in millicores (rounded up)."""
    millis = math.ceil(round(cores * 1000, 6))
    return str(millis // 1000) if millis % 1000 == 0 and millis else f"{millis}m"


def memory_text(size: float) -> str:
    """Bytes in Mi (rounded up), or Gi when whole."""
    mebibytes = math.ceil(round(size / MI, 6))
    return f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 and mebibytes else f"{mebibytes}Mi"


def round_up(value: float, step: float) -> float:
    return math.ceil(round(value / step, 9)) * step
