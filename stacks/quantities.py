"""Kubernetes resource quantities, parsed so requests can be compared with limits."""

import re
from decimal import Decimal

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_FACTORS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def parse_cpu(value: str) -> Decimal:
    """CPU in cores: '500m' -> 0.5, '2' -> 2."""
    match = _CPU.match(value)
    if not match:
        raise ValueError(f"expected a CPU quantity such as '250m' or '1', got {value!r}")
    amount = Decimal(match.group(1))
    return amount / 1000 if match.group(2) else amount


def parse_memory(value: str) -> Decimal:
    """Memory in bytes: '256Mi' -> 268435456."""
    match = _MEMORY.match(value)
    if not match:
        raise ValueError(f"expected a memory quantity such as '256Mi' or '1Gi', got {value!r}")
    return Decimal(match.group(1)) * _MEMORY_FACTORS[match.group(2)]
