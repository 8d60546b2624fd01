"""The AWS and GCP resource types that take cost-allocation tags or labels, and under
which property, read from the provider SDKs this project pins:
`python -m policies.cost.taggable` rewrites `taggable.json` after a provider upgrade.

The packs read the JSON, so they need no cloud SDK installed to run.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

DATA = Path(__file__).with_name("taggable.json")
# The property each cloud takes its labels in, in order of preference.
PROPERTIES = {"pulumi_aws": ("tags",), "pulumi_gcp": ("labels", "resource_labels", "user_labels")}
_TYPE = re.compile(r"super\(\w+, __self__\)\.__init__\(\s*'([^']+)'")
_TEXT_MAP = re.compile(r"Mapping\[str, pulumi\.Input\[(_builtins\.)?str\]\]")
_INIT = re.compile(r"def _internal_init\(__self__,(.*?)\):", re.S)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def generate() -> dict[str, str]:
    found: dict[str, str] = {}
    for package, properties in PROPERTIES.items():
        spec = importlib.util.find_spec(package)
        assert spec and spec.submodule_search_locations, f"{package} is not installed"
        for source in Path(next(iter(spec.submodule_search_locations))).rglob("*.py"):
            text = source.read_text()
            kind, init = _TYPE.search(text), _INIT.search(text)
            if not kind or not init:
                continue
            # Only maps of text: list-shaped tags and label *descriptors* are not cost labels.
            maps = {
                name
                for name, annotation in re.findall(r"(\w+): (pulumi\.Input\[.*?\]) = None", init.group(1))
                if _TEXT_MAP.search(annotation)
            }
            chosen = next((p for p in properties if p in maps), None)
            if chosen:
                found[kind.group(1)] = _camel(chosen)
    return dict(sorted(found.items()))


def load() -> dict[str, str]:
    return json.loads(DATA.read_text())


if __name__ == "__main__":
    DATA.write_text(json.dumps(generate(), indent=0) + "\n")
    print(f"{DATA}: {len(load())} taggable types")
