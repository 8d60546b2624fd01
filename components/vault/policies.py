"""Vault ACL policies generated from Python: one per consumer, least privilege.

A policy is a tuple of rules (path, capabilities). `violations()` states the house
rules every policy here must keep, so the same check serves the component, its tests
and the zero-trust policy pack: no `sudo`, nothing under `sys/`, and a glob only at the
end of the consumer's own prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

CAPABILITIES = frozenset({"create", "read", "update", "patch", "delete", "list", "sudo", "deny"})


@dataclass(frozen=True)
class Rule:
    path: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[Rule, ...]
    # Path prefixes the consumer owns; a trailing glob may only widen a rule within them.
    prefixes: tuple[str, ...] = ()

    def hcl(self) -> str:
        """The policy document in Vault's HCL, one `path` block per rule."""
        blocks = []
        for rule in self.rules:
            capabilities = ", ".join(f'"{capability}"' for capability in rule.capabilities)
            blocks.append(f'path "{rule.path}" {{\n  capabilities = [{capabilities}]\n}}\n')
        return "\n".join(blocks)


def violations(policy: Policy) -> list[str]:
    """What breaks the house rules, one line per rule; empty when the policy is fine."""
    problems = []
    for rule in policy.rules:
        unknown = sorted(set(rule.capabilities) - CAPABILITIES)
        if unknown:
            problems.append(f"{policy.name}: {rule.path}: unknown capabilities {unknown}")
        if "sudo" in rule.capabilities:
            problems.append(f"{policy.name}: {rule.path}: grants sudo")
        if rule.path.startswith(("sys/", "+/sys/")) or rule.path in ("*", "+", "sys"):
            problems.append(f"{policy.name}: {rule.path}: reaches into sys/ or the root")
        if ("*" in rule.path or "+" in rule.path) and rule.path[:-1] not in policy.prefixes:
            # The only glob allowed is `<own prefix>*`: one trailing star on a prefix it owns.
            problems.append(f"{policy.name}: {rule.path}: a wildcard outside the consumer's own prefix")
    return problems


@dataclass(frozen=True)
class Layout:
    """Where everything lives in Vault, for one environment and one cluster."""

    kv_mount: str
    # The app's own folder in the KV mount, and the monitoring stack's.
    app: str
    # The stack: policies are Vault-wide, so two stacks on one Vault must not share names.
    scope: str
    monitoring: str = "monitoring"
    database_mount: str | None = None
    database_connection: str = "app"

    def name(self, consumer: str) -> str:
        """The name of a consumer's policy, and of its Kubernetes auth role."""
        return f"{self.app}-{self.scope}-{consumer}"

    @property
    def runtime_role(self) -> str:
        return self.app

    @property
    def migration_role(self) -> str:
        return f"{self.app}-migrate"

    def kv_data(self, path: str) -> str:
        return f"{self.kv_mount}/data/{path}"

    def database_creds(self, role: str) -> str:
        assert self.database_mount, "no database engine in this layout"
        return f"{self.database_mount}/creds/{role}"


def app_policy(layout: Layout) -> Policy:
    """The API reads its own folder and its own database credentials; nothing else."""
    prefix = layout.kv_data(f"{layout.app}/")
    rules = [Rule(f"{prefix}*", ("read",))]
    if layout.database_mount:
        rules.append(Rule(layout.database_creds(layout.runtime_role), ("read",)))
    return Policy(layout.name("app"), tuple(rules), prefixes=(prefix,))


def external_secrets_policy(layout: Layout, kv_paths: tuple[str, ...], database_roles: tuple[str, ...]) -> Policy:
    """External Secrets reads exactly the entries it syncs: no globs at all."""
    rules = [Rule(layout.kv_data(path), ("read",)) for path in sorted(set(kv_paths))]
    rules += [Rule(layout.database_creds(role), ("read",)) for role in sorted(set(database_roles))]
    return Policy(layout.name("external-secrets"), tuple(rules))


def deployer_policy(layout: Layout) -> Policy:
    """CI writes, versions and deletes the secrets of the app and of its monitoring, and
    nothing else: mounts, auth, policies and the database engine stay with the operator."""
    rules: list[Rule] = []
    prefixes: list[str] = []
    for folder in (layout.app, layout.monitoring):
        data = f"{layout.kv_mount}/data/{folder}/"
        metadata = f"{layout.kv_mount}/metadata/{folder}/"
        rules += [
            Rule(f"{data}*", ("create", "read", "update", "patch", "delete")),
            Rule(f"{metadata}*", ("read", "list", "delete")),
        ]
        prefixes += [data, metadata]
        for verb in ("delete", "undelete", "destroy"):
            rules.append(Rule(f"{layout.kv_mount}/{verb}/{folder}/*", ("update",)))
            prefixes.append(f"{layout.kv_mount}/{verb}/{folder}/")
    return Policy(layout.name("deployer"), tuple(rules), prefixes=tuple(prefixes))


def rotator_policy(layout: Layout) -> Policy:
    """The scheduled job may rotate the database root credential, and do nothing else."""
    assert layout.database_mount, "no database engine in this layout"
    rule = Rule(f"{layout.database_mount}/rotate-root/{layout.database_connection}", ("update",))
    return Policy(layout.name("root-rotator"), (rule,))
