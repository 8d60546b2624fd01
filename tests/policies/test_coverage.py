"""The coverage matrix (policies/coverage/): its data is valid and complete, its generated
doc (docs/policy-coverage.md) is in sync, every rule is mapped, and every type token it
names exists in the installed SDKs."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pulumi
import pytest
import yaml

from policies.core.rule import Pack, Rule
from policies.coverage import BENCHMARKS, CoverageError, load, markdown, report
from policies.coverage.__main__ import main
from tests.conftest import ROOT

SITE_PACKAGES = Path(pulumi.__file__).resolve().parent.parent
# Controls per benchmark version, as kube-bench's cfg lists them: none may go missing.
KUBE_BENCH_CONTROLS = {"cis-kubernetes": 130, "cis-eks": 46, "cis-gke": 68}


@functools.cache
def matrix():  # type: ignore[no-untyped-def]
    return load()


def test_every_benchmark_file_loads() -> None:
    assert {benchmark.benchmark for benchmark in matrix().benchmarks} == set(BENCHMARKS)


@pytest.mark.parametrize(("key", "count"), KUBE_BENCH_CONTROLS.items())
def test_every_control_of_the_kube_bench_lists_is_there(key: str, count: int) -> None:
    (benchmark,) = [b for b in matrix().benchmarks if b.benchmark == key]
    assert len(benchmark.controls) == count


def test_the_doc_is_generated_from_the_data() -> None:
    doc = (ROOT / "docs" / "policy-coverage.md").read_text(encoding="utf-8")
    assert doc == markdown(matrix()), "regenerate: python -m policies.coverage --markdown > docs/policy-coverage.md"


def test_the_cli_prints_the_figures_and_the_doc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out == report(matrix())
    assert re.search(r"^cis-kubernetes +1\.10\.0 +130 ", out, re.M)
    assert re.search(r"^rules per pack: zero-trust \d+, cost \d+$", out, re.M)
    assert main(["--markdown"]) == 0
    assert capsys.readouterr().out == markdown(matrix())


def test_every_rule_is_mapped_by_a_control_or_listed_as_project_specific() -> None:
    assert matrix().unmapped_rules() == []


def test_a_project_specific_rule_is_mapped_by_no_control() -> None:
    listed = {entry.rule for entry in matrix().types.project_specific_rules}
    assert sorted(listed & matrix().mapped_rules()) == []


def test_a_control_names_only_types_its_rules_check() -> None:
    """A resource rule implements a control only for the types it checks; a stack rule
    reads the whole stack."""
    rules = matrix().rules
    wrong = []
    for benchmark in matrix().benchmarks:
        for control in benchmark.controls:
            chosen = [rules[name] for name in control.rules or ()]
            if not chosen or any(rule.is_stack_rule for rule in chosen):
                continue
            checked = set().union(*(rule.type_set for rule in chosen))
            wrong += [f"{benchmark.benchmark} {control.id}: {t}" for t in control.types if t not in checked]
    assert wrong == []


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


@functools.cache
def _registry(provider: str) -> dict[str, tuple[str, str, str]]:
    """token -> (package, module, class): the resource modules the SDK registers with the
    Pulumi runtime, read from its __init__.py without importing it."""
    text = (SITE_PACKAGES / f"pulumi_{provider}" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'resource_modules="""(.*?)"""', text, re.S)
    assert found, f"pulumi_{provider} registers no resource modules"
    return {
        token: (module["fqn"], module["mod"], name)
        for module in json.loads(found.group(1))
        for token, name in module["classes"].items()
    }


def _defining_file(token: str) -> Path | None:
    """The SDK file whose class passes `token` to the resource constructor."""
    registered = _registry(token.split(":", 1)[0]).get(token)
    if registered is None:
        return None
    package, module, name = registered
    directory = SITE_PACKAGES.joinpath(*package.split("."))
    for candidate in (name, _snake(name), _snake(module.rsplit("/", 1)[-1])):
        path = directory / f"{candidate}.py"
        if path.exists() and f"'{token}'" in path.read_text(encoding="utf-8"):
            return path
    return None


def test_every_type_token_exists_in_its_sdk() -> None:
    missing = [t for t, entry in matrix().types.tokens.items() if entry.crd is None and _defining_file(t) is None]
    assert missing == []


def test_a_custom_resource_type_is_in_no_sdk() -> None:
    crds = [token for token, entry in matrix().types.tokens.items() if entry.crd is not None]
    assert crds
    assert [token for token in crds if token in _registry("kubernetes")] == []


def test_the_sdk_check_refuses_a_made_up_token() -> None:
    assert _defining_file("aws:rds/instance:Instance") is not None
    assert _defining_file("aws:rds/instance:Instanse") is None
    assert _defining_file("kubernetes:apps/v1:Deploymant") is None


# A small matrix in a folder of its own, for the figures and the error messages.
TYPES = {
    "providers": {"aws": [{"token": "aws:rds/instance:Instance", "title": "RDS instance"}]},
    "project_specific_rules": [],
}
GOOD = {"id": "1", "title": "Backups", "types": ["aws:rds/instance:Instance"], "rules": ["r"]}
BENCHMARK = {"benchmark": "cis-aws", "title": "T", "version": "1", "source": "s", "licence": "l"}


def _pack() -> Pack:
    pack = Pack("test")
    pack.register(Rule(name="r", description="d", severity="low", remediation="x", stack_check=lambda s, p: ()))
    return pack


def _write(tmp_path: Path, controls: object, types: object = TYPES, **fields: object) -> Path:
    (tmp_path / "types.yaml").write_text(types if isinstance(types, str) else yaml.safe_dump(types))
    document = {**BENCHMARK, **fields, "controls": controls}
    (tmp_path / "cis_aws.yaml").write_text(controls if isinstance(controls, str) else yaml.safe_dump(document))
    return tmp_path


def test_the_figures_count_gaps_but_not_what_is_not_applicable(tmp_path: Path) -> None:
    controls = [
        GOOD,
        {"id": "2", "title": "t", "gap": "why"},
        {"id": "3", "title": "t", "not_applicable": "why"},
        {"id": "4", "title": "t", "not_applicable": "why"},
    ]
    found = load(_write(tmp_path, controls), packs=[_pack()])
    (benchmark,) = found.benchmarks
    assert (benchmark.count("implemented"), benchmark.count("not_applicable"), benchmark.count("gap")) == (1, 2, 1)
    assert benchmark.coverage == 0.5
    assert found.types_with_rules() == ["aws:rds/instance:Instance"]
    assert "cis-aws          1                 4           1     2     1      50%" in report(found)


@pytest.mark.parametrize(
    ("controls", "message"),
    [
        ("controls: [", r"cis_aws.yaml: not YAML"),
        ([], r"cis_aws.yaml: controls: Tuple should have at least 1 item"),
        (
            [{**GOOD, "gap": "why"}],
            r"controls\[0\] \(1\): exactly one of rules, not_applicable or gap .*, got rules, gap",
        ),
        ([{"id": "1", "title": "t"}], r"controls\[0\] \(1\): exactly one of .* got none"),
        ([{**GOOD, "rules": []}], r"controls\[0\] \(1\): rules is empty"),
        ([{**GOOD, "gap": None, "rules": None, "not_applicable": "  "}], r"controls\[0\] \(1\)\.not_applicable: .*"),
        ([GOOD, GOOD], r"cis_aws.yaml: control id '1' appears twice"),
        ([{**GOOD, "rules": ["no-such-rule"]}], r"controls\[0\] \(1\): rule 'no-such-rule' is in no pack \(test\)"),
        ([{**GOOD, "types": ["aws:rds/cluster:Cluster"]}], r"type aws:rds/cluster:Cluster is not in types.yaml"),
        ([{**GOOD, "types": ["rds instance"]}], r"controls\[0\] \(1\)\.types\[0\]: String should match pattern"),
        ([{**GOOD, "owner": "me"}], r"controls\[0\] \(1\)\.owner: unknown field"),
    ],
)
def test_a_broken_benchmark_file_is_refused_with_what_was_expected(
    tmp_path: Path, controls: object, message: str
) -> None:
    with pytest.raises(CoverageError, match=message):
        load(_write(tmp_path, controls), packs=[_pack()])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"benchmark": "cis-eks"}, r"cis_aws.yaml: benchmark is 'cis-eks'; expected 'cis-aws' in cis_aws.yaml"),
        ({"benchmark": "cis-azure"}, r"cis_aws.yaml: benchmark: Input should be 'cis-aws'"),
        ({"version": 1.5}, r"cis_aws.yaml: version: Input should be a valid string"),
        ({"licence": None}, r"cis_aws.yaml: licence: Input should be a valid string"),
    ],
)
def test_a_broken_header_is_refused(tmp_path: Path, fields: dict[str, object], message: str) -> None:
    with pytest.raises(CoverageError, match=message):
        load(_write(tmp_path, [GOOD], **fields), packs=[_pack()])


@pytest.mark.parametrize(
    ("types", "message"),
    [
        ({"providers": {"aws": [{"token": "gcp:sql/user:User", "title": "t"}]}}, r"listed under aws"),
        ({"providers": {"azure": []}}, r"types.yaml: providers.azure.\[key\]: Input should be"),
        ({"providers": {"aws": [TYPES["providers"]["aws"][0]] * 2}}, r"appears twice"),  # type: ignore[index]
        ({**TYPES, "project_specific_rules": [{"rule": "gone", "reason": "r"}]}, r"rule 'gone' is in no pack"),
        ({**TYPES, "project_specific_rules": [{"rule": "r"}]}, r"project_specific_rules\[0\]\.reason: missing"),
    ],
)
def test_a_broken_types_file_is_refused(tmp_path: Path, types: object, message: str) -> None:
    with pytest.raises(CoverageError, match=message):
        load(_write(tmp_path, [GOOD], types=types), packs=[_pack()])


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    controls = [{**GOOD, "rules": ["a"]}, {**GOOD, "id": "2", "rules": ["b"]}]
    with pytest.raises(CoverageError) as raised:
        load(_write(tmp_path, controls), packs=[_pack()])
    assert len(str(raised.value).splitlines()) == 2


def test_the_cli_names_the_problem_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, [{**GOOD, "rules": ["no-such-rule"]}])
    assert main(["--dir", str(tmp_path)]) == 2
    assert "rule 'no-such-rule' is in no pack (zero-trust, cost)" in capsys.readouterr().err
