"""The security contexts every pod of this project runs with: Pod Security `restricted`,
non-root, no privilege escalation, no capabilities, read-only root, RuntimeDefault seccomp."""

from __future__ import annotations

import pulumi_kubernetes as k8s

core = k8s.core.v1


def container_security(run_as_user: int) -> core.SecurityContextArgs:
    return core.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=run_as_user,
        run_as_group=run_as_user,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=core.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def pod_security(run_as_user: int) -> core.PodSecurityContextArgs:
    return core.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=run_as_user,
        run_as_group=run_as_user,
        fs_group=run_as_user,
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
    )
