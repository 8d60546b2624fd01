"""`python -m policies.coverage`: the coverage matrix's figures per benchmark, rules per
pack and in-scope types with a rule; `--markdown` prints the generated doc
(docs/policy-coverage.md). Exit 2 when the matrix's data is wrong, with each problem named."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from policies.coverage import DIRECTORY, CoverageError, load, markdown, report


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m policies.coverage", description="the policy coverage matrix")
    cli.add_argument("--markdown", action="store_true", help="print the generated doc (docs/policy-coverage.md)")
    cli.add_argument("--dir", type=Path, default=DIRECTORY, help="where types.yaml and the benchmark files are")
    args = cli.parse_args(argv)
    try:
        matrix = load(args.dir)
    except CoverageError as error:
        print(f"policies.coverage: {error}", file=sys.stderr)
        return 2
    print(markdown(matrix) if args.markdown else report(matrix), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
