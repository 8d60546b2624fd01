"""The pods of the ingress-nginx and cert-manager releases pass Pod Security `restricted`
(their namespaces' level) on the charts' own defaults: that was verified by reading the
pinned charts (components/ingress/data/README.md, "Pod Security of the charts"). We set
none of those values, so the verification holds only while the values we pass leave
them alone and the versions stay the ones read. These tests fail when either changes."""

from __future__ import annotations

from typing import Any

import pytest

from preflight.synth import Synthesizer
from tests.conftest import ROOT, stacks_of_role

REGION_STACKS = stacks_of_role("region")
VERIFICATION = ROOT / "components" / "ingress" / "data" / "README.md"

# The chart versions whose templates and values.yaml were read.
VERIFIED_VERSIONS = {"ingress-nginx": "4.13.9", "cert-manager": "v1.18.6"}
# A key each release does set: the check below reads the values the release really gets.
ONE_WE_SET = {"ingress-nginx": ("controller", "replicaCount"), "cert-manager": ("replicaCount",)}

# The values.yaml keys that make (or would unmake) each pod restricted, per chart. A
# value at any of them changes what was verified: it replaces a security context whose
# default is compliant (ingress-nginx renders a non-empty `containerSecurityContext`
# instead of the one it derives from `image.*`), grants host access or privilege
# escalation (`hostNetwork`, `hostPort`, `image.chroot`), or adds containers, volumes
# or a pod (`extra*`, `volumes`, `defaultBackend`) nobody checked.
CHART_OWNED: dict[str, tuple[tuple[str, ...], ...]] = {
    "ingress-nginx": (
        ("controller", "image", "chroot"),
        ("controller", "image", "runAsNonRoot"),
        ("controller", "image", "runAsUser"),
        ("controller", "image", "allowPrivilegeEscalation"),
        ("controller", "image", "seccompProfile"),
        ("controller", "podSecurityContext"),
        ("controller", "containerSecurityContext"),
        ("controller", "hostNetwork"),
        ("controller", "hostPort"),
        ("controller", "extraContainers"),
        ("controller", "extraInitContainers"),
        ("controller", "extraModules"),
        ("controller", "extraVolumes"),
        ("controller", "admissionWebhooks", "createSecretJob", "securityContext"),
        ("controller", "admissionWebhooks", "patchWebhookJob", "securityContext"),
        ("controller", "admissionWebhooks", "patch", "securityContext"),
        ("defaultBackend",),
    ),
    "cert-manager": (
        *(
            (*component, key)
            for component in ((), ("webhook",), ("cainjector",), ("startupapicheck",))
            for key in ("securityContext", "containerSecurityContext", "volumes")
        ),
        ("webhook", "hostNetwork"),
    ),
}


def release_values(synthesizer: Synthesizer, stack: str) -> dict[str, dict[str, Any]]:
    graph = synthesizer.synthesize(stack)
    return {
        r.inputs["name"]: r.inputs
        for r in graph.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] in VERIFIED_VERSIONS
    }


def set_paths(values: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> list[str]:
    found = []
    for path in paths:
        node: Any = values
        for key in path:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            found.append(".".join(path))
    return found


def test_the_guard_would_catch_an_override() -> None:
    values = {"controller": {"replicaCount": 2, "containerSecurityContext": {"readOnlyRootFilesystem": True}}}
    assert set_paths(values, CHART_OWNED["ingress-nginx"]) == ["controller.containerSecurityContext"]
    assert set_paths({"webhook": {"hostNetwork": False}}, CHART_OWNED["cert-manager"]) == ["webhook.hostNetwork"]


def test_the_verification_names_the_versions_it_read() -> None:
    text = VERIFICATION.read_text()
    assert "ingress-nginx `helm-chart-4.13.9`" in text
    assert "cert-manager `v1.18.6`" in text


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_the_releases_leave_the_charts_pod_security_defaults_alone(
    project_synthesizer: Synthesizer, stack: str
) -> None:
    releases = release_values(project_synthesizer, stack)
    assert set(releases) == set(VERIFIED_VERSIONS)
    for name, release in releases.items():
        assert release["version"] == VERIFIED_VERSIONS[name], (
            f"{name} {release['version']}: re-read the chart for Pod Security restricted and "
            f"update {VERIFICATION.relative_to(ROOT)} before changing the version"
        )
        assert set_paths(release["values"], (ONE_WE_SET[name],)) == [".".join(ONE_WE_SET[name])]
        assert set_paths(release["values"], CHART_OWNED[name]) == [], (
            f"{name}: these values replace chart defaults that Pod Security restricted relies on; "
            f"check the rendered pods and record it in {VERIFICATION.relative_to(ROOT)}"
        )
