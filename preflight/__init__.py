"""preflight: proves a Pulumi Python program offline, with no CLI and no cloud."""

from pathlib import Path

# The repository preflight ships in: its packs, its vendored schemas, its benches.
ROOT = Path(__file__).resolve().parent.parent
