"""`python -m policies.config --stack S --pack P`: the stack's effective settings of the
pack, as JSON for `pulumi preview --policy-pack-config FILE`.

Exit 2 when the stack file or a settings file is wrong, with the file named.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from policies.config import effective
from policies.core.rule import Pack
from policies.core.settings import SettingsError
from policies.cost.rules import PACK as COST
from policies.zero_trust.rules import PACK as ZERO_TRUST

PACKS: dict[str, Pack] = {pack.name: pack for pack in (ZERO_TRUST, COST)}


def stack_config(program: Path, stack: str) -> dict[str, object]:
    """The stack file's `config`, as written: the keys `implied.py` reads are namespaced."""
    path = program / f"Pulumi.{stack}.yaml"
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise SettingsError(f"{path.name}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise SettingsError(f"{path.name}: not valid YAML ({error})") from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise SettingsError(f"{path.name}: expected a mapping with a 'config' key")
    return config


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(
        prog="python -m policies.config", description="a stack's effective settings of a pack, as JSON"
    )
    cli.add_argument("--stack", required=True, metavar="NAME")
    cli.add_argument("--pack", required=True, choices=sorted(PACKS))
    cli.add_argument("--program", default=".", metavar="DIR", help="where Pulumi.<stack>.yaml is (default: .)")
    args = cli.parse_args(argv)
    try:
        config = stack_config(Path(args.program), args.stack)
        document = effective.document(PACKS[args.pack], args.stack, config)
    except SettingsError as error:
        print(f"policies.config: {error}", file=sys.stderr)
        return 2
    print(json.dumps(document, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
