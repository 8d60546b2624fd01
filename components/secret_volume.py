"""How every pod of this project reads secrets: as read-only files, never as environment
variables (an environment leaks into crash dumps, child processes and `kubectl describe`).

One projected volume per pod combines the Secrets it needs; each key of each Secret
becomes a file of that name in SECRETS_DIR, updated in place when the Secret changes.
No two Secrets of one pod may hold the same key: they would write the same file.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

core = k8s.core.v1

SECRETS_DIR = "/var/run/secrets/project-ai"
VOLUME = "secrets"
# Readable by the owner and the pod's fsGroup, writable by nobody.
FILE_MODE = 0o440


def volume(secrets: Sequence[pulumi.Input[str]]) -> core.VolumeArgs:
    """The pod's one volume of secret files, from these Secrets."""
    return core.VolumeArgs(
        name=VOLUME,
        projected=core.ProjectedVolumeSourceArgs(
            default_mode=FILE_MODE,
            sources=[core.VolumeProjectionArgs(secret=core.SecretProjectionArgs(name=name)) for name in secrets],
        ),
    )


def mount() -> core.VolumeMountArgs:
    return core.VolumeMountArgs(name=VOLUME, mount_path=SECRETS_DIR, read_only=True)
