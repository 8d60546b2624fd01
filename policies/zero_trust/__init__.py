"""The zero-trust pack. Its rules register into PACK as their modules are imported;
`policies.zero_trust.rules` imports them all."""

from policies.core.rule import Pack

PACK = Pack("zero-trust")
