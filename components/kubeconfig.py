"""A kubeconfig for one cluster whose user runs a credential plugin on each use (`aws
eks get-token`, `gke-gcloud-auth-plugin`): short-lived tokens, and no static credential
in Pulumi's state."""

from __future__ import annotations

import json
from typing import Any


def exec_kubeconfig(cluster: str, server: str, certificate: str, plugin: dict[str, Any]) -> str:
    """`plugin`: the exec block's command and its arguments."""
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "interactiveMode": "Never", **plugin}}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": certificate}}],
            "users": [{"name": cluster, "user": user}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
            "current-context": cluster,
        }
    )
