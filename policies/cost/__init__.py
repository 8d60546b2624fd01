"""The cost pack. Its rules register into PACK as `policies.cost.rules` is imported."""

from policies.core.rule import Pack

PACK = Pack("cost")
