"""The ops image holds what `python -m ops` imports, and nothing it would have to write
(no Docker engine here to build it: the Dockerfile and .dockerignore are read)."""

from __future__ import annotations

import ast
import fnmatch
import re

from tests.conftest import ROOT

DOCKERFILE = (ROOT / "ops" / "Dockerfile").read_text()
IGNORE = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]


def sent_to_the_build(path: str) -> bool:
    """Whether .dockerignore lets `path` into the build context (last matching rule wins)."""
    included = True
    for rule in IGNORE:
        negated = rule.startswith("!")
        pattern = rule.lstrip("!")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern.rstrip("*") + "/") or path == pattern:
            included = negated
    return included


def imported_from_the_program() -> set[str]:
    """The modules of the Pulumi program's packages that ops imports (at any depth)."""
    found = set()
    for source in (ROOT / "ops").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.split(".")[0] in {"components", "stacks"}
            ):
                found.add(node.module)
    return found


def test_every_program_module_ops_imports_is_copied_and_sent():
    modules = imported_from_the_program()
    assert modules == {"components.api_metrics"}, "ops may read constants of the program, nothing that imports Pulumi"
    for module in modules:
        path = module.replace(".", "/") + ".py"
        assert path in DOCKERFILE and sent_to_the_build(path)
    assert "components/__init__.py" in DOCKERFILE and sent_to_the_build("components/__init__.py")


def test_the_context_holds_ops_and_app_but_not_the_program_or_build_scripts():
    assert sent_to_the_build("ops/cli.py") and sent_to_the_build("app/db/engine.py")
    assert not sent_to_the_build("components/charts.py") and not sent_to_the_build("stacks/model.py")
    assert not sent_to_the_build("ops/standalone/build.sh") and not sent_to_the_build("Pulumi.prod.yaml")


def test_multi_stage_pinned_non_root_and_compiled_for_a_read_only_root():
    bases = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, flags=re.MULTILINE)
    assert len(bases) == 2 and all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base) for base in bases)
    final_stage = DOCKERFILE.split("\nFROM ")[-1]
    assert "pip install" not in final_stage and "USER 10001:10001" in final_stage
    assert "PYTHONDONTWRITEBYTECODE=1" in DOCKERFILE and "compileall" in DOCKERFILE
    assert re.search(r'^ENTRYPOINT \["python", "-m", "ops"\]$', DOCKERFILE, flags=re.MULTILINE)


def test_the_images_workflow_builds_and_publishes_it():
    workflow = (ROOT / ".github" / "workflows" / "images.yml").read_text()
    assert "{ name: ops, context: ., dockerfile: ops/Dockerfile }" in workflow
    assert "image: [api, ops]" in workflow


# The price table `ops rightsize` and `ops commitments` read: policies/cost/prices.py, its
# YAML, and the package files its import runs (policies/cost/__init__.py imports the rule
# model, which needs pydantic only).
PRICE_TABLE = (
    "policies/__init__.py",
    "policies/core/__init__.py",
    "policies/core/rule.py",
    "policies/cost/__init__.py",
    "policies/cost/prices.py",
    "policies/cost/prices.yaml",
)


def imported_policies() -> set[str]:
    found = set()
    for source in (ROOT / "ops").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "policies":
                found.add(node.module)
    return found


def test_the_price_table_and_what_its_import_runs_are_copied_and_sent():
    imported = imported_policies()
    assert imported and imported <= {"policies.cost", "policies.cost.prices"}, "ops reads the price table only"
    for path in PRICE_TABLE:
        assert path in DOCKERFILE and sent_to_the_build(path), path
    assert not sent_to_the_build("policies/cost/rules.py") and not sent_to_the_build("policies/zero_trust/__init__.py")
    copied = {path.removesuffix(".py").replace("/", ".").removesuffix(".__init__") for path in PRICE_TABLE}
    for path in PRICE_TABLE:
        if not path.endswith(".py"):
            continue
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "policies":
                assert node.module in copied, f"{path} imports {node.module}, which the image lacks"
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(name.startswith("pulumi") for name in names), path
