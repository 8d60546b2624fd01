"""Zero-trust rules for Kubernetes objects: pods wherever they sit, namespaces, network
policies, Services, Ingresses and RBAC bindings (what Roles grant: kubernetes_rbac.py)."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from policies.core.pods import (
    POD_HOLDERS,
    WORKLOAD_TYPES,
    PodTemplate,
    containers,
    kubernetes_rule,
    namespace_of,
    pod_rule,
    pod_templates,
)
from policies.core.props import get, items
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
ROLES = ("kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
_DIGEST = re.compile(r"@sha256:[a-f0-9]{64}$")
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|PEPPER)", re.I)


def _containers(template: PodTemplate, include_init: bool = True) -> Iterator[tuple[str, Mapping[str, Any]]]:
    return containers(template.spec, include_init)


def _security(container: Mapping[str, Any], spec: Mapping[str, Any], key: str) -> Any:
    """A container's security setting, falling back to the pod's where Kubernetes does."""
    value = get(container, f"securityContext.{key}")
    return get(spec, f"securityContext.{key}") if value is None else value


@pod_rule(
    PACK,
    name="k8s-no-privileged-containers",
    description="No container runs privileged.",
    severity="critical",
    remediation="Remove securityContext.privileged (or set it to false); grant specific capabilities instead.",
)
def no_privileged(template: PodTemplate, params: Params) -> Iterable[str]:
    for where, container in _containers(template):
        if get(container, "securityContext.privileged") is True:
            yield f"{where} is privileged"


@pod_rule(
    PACK,
    name="k8s-no-privilege-escalation",
    description="Every container sets allowPrivilegeEscalation: false.",
    severity="high",
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
)
def no_privilege_escalation(template: PodTemplate, params: Params) -> Iterable[str]:
    for where, container in _containers(template):
        if get(container, "securityContext.allowPrivilegeEscalation") is not False:
            yield f"{where} does not set allowPrivilegeEscalation: false"


@pod_rule(
    PACK,
    name="k8s-run-as-non-root",
    description="Containers run as a non-root user.",
    severity="high",
    remediation="Set runAsNonRoot: true and a non-zero runAsUser on the pod or every container.",
)
def run_as_non_root(template: PodTemplate, params: Params) -> Iterable[str]:
    spec = template.spec
    for where, container in _containers(template):
        if _security(container, spec, "runAsNonRoot") is not True:
            yield f"{where} does not set runAsNonRoot: true"
        elif _security(container, spec, "runAsUser") == 0:
            yield f"{where} runs as uid 0"


@pod_rule(
    PACK,
    name="k8s-no-host-namespaces",
    description="Pods do not share the node's network, PID or IPC namespace.",
    severity="critical",
    remediation="Remove hostNetwork, hostPID and hostIPC from the pod spec.",
)
def no_host_namespaces(template: PodTemplate, params: Params) -> Iterable[str]:
    for key in HOST_NAMESPACES:
        if get(template.spec, key) is True:
            yield f"the pod sets {key}: true"


@pod_rule(
    PACK,
    name="k8s-no-host-ports",
    description="No container binds a port on the node.",
    severity="high",
    remediation="Remove hostPort; expose the pod through a Service.",
)
def no_host_ports(template: PodTemplate, params: Params) -> Iterable[str]:
    for where, container in _containers(template):
        for port in items(container, "ports"):
            if get(port, "hostPort"):
                yield f"{where} binds host port {get(port, 'hostPort')}"


@pod_rule(
    PACK,
    name="k8s-no-host-path-volumes",
    description="No volume mounts a path of the node.",
    severity="critical",
    remediation="Replace hostPath volumes with emptyDir, a ConfigMap, a Secret or a PersistentVolumeClaim.",
)
def no_host_path(template: PodTemplate, params: Params) -> Iterable[str]:
    for volume in items(template.spec, "volumes"):
        if get(volume, "hostPath") is not None:
            yield f"volume '{get(volume, 'name', '?')}' mounts host path {get(volume, 'hostPath.path', '?')}"


@pod_rule(
    PACK,
    name="k8s-drop-all-capabilities",
    description="Containers drop ALL capabilities and add none.",
    severity="high",
    remediation="Set securityContext.capabilities.drop: [ALL] and remove capabilities.add.",
)
def drop_all_capabilities(template: PodTemplate, params: Params) -> Iterable[str]:
    for where, container in _containers(template):
        added = list(get(container, "securityContext.capabilities.add", []))
        dropped = list(get(container, "securityContext.capabilities.drop", []))
        if added:
            yield f"{where} adds capabilities {added}"
        if "ALL" not in dropped:
            yield f"{where} does not drop ALL capabilities"


@pod_rule(
    PACK,
    name="k8s-read-only-root-filesystem",
    description="Containers run with a read-only root filesystem.",
    severity="medium",
    remediation="Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the app writes.",
)
def read_only_root(template: PodTemplate, params: Params) -> Iterable[str]:
    for where, container in _containers(template):
        if get(container, "securityContext.readOnlyRootFilesystem") is not True:
            yield f"{where} has a writable root filesystem"


@pod_rule(
    PACK,
    name="k8s-seccomp-profile",
    description="Pods run under the RuntimeDefault (or a Localhost) seccomp profile.",
    severity="medium",
    remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
)
def seccomp_profile(template: PodTemplate, params: Params) -> Iterable[str]:
    spec = template.spec
    for where, container in _containers(template):
        profile = _security(container, spec, "seccompProfile.type")
        if profile not in ("RuntimeDefault", "Localhost"):
            yield f"{where} runs with seccomp profile {profile or 'unset (Unconfined)'}"


@pod_rule(
    PACK,
    name="k8s-resource-requests-and-limits",
    description="Every container requests CPU and memory and limits memory.",
    severity="medium",
    remediation="Set resources.requests.cpu, resources.requests.memory and resources.limits.memory.",
)
def requests_and_limits(template: PodTemplate, params: Params) -> Iterable[str]:
    for where, container in _containers(template):
        missing = [
            path
            for path in ("requests.cpu", "requests.memory", "limits.memory")
            if get(container, f"resources.{path}") is None
        ]
        if missing:
            yield f"{where} has no resources.{', resources.'.join(missing)}"


# Tags registries move from build to build: an image pinned to one is not pinned. The
# stack config refuses them too (stacks/model.py).
MUTABLE_TAGS = ("latest", "stable", "main", "master", "dev", "edge", "nightly")


class ImageParams(Params):
    # Registries images may come from (prefix match on the image reference).
    allowed_registries: tuple[str, ...] = ("ghcr.io/project-ai/", "quay.io/openbao/")
    # Tags that move from build to build, and so pin nothing.
    mutable_tags: tuple[str, ...] = MUTABLE_TAGS


def _tag(image: str) -> str | None:
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


@pod_rule(
    PACK,
    name="k8s-image-pinned",
    description="Images are pinned by digest or by an immutable version tag.",
    severity="high",
    remediation="Reference the image by digest (name@sha256:...) or a version tag, never latest or a branch.",
    params=ImageParams,
)
def image_pinned(template: PodTemplate, params: ImageParams) -> Iterable[str]:
    for where, container in _containers(template):
        image = str(get(container, "image", ""))
        if _DIGEST.search(image):
            continue
        tag = _tag(image)
        if tag is None or tag in params.mutable_tags:
            yield f"{where} uses {image!r}, which is not pinned"


@pod_rule(
    PACK,
    name="k8s-image-allowed-registry",
    description="Images come from the allowed registries only.",
    severity="high",
    remediation="Mirror the image into an allowed registry, or add the registry to allowedRegistries after review.",
    params=ImageParams,
)
def image_registry(template: PodTemplate, params: ImageParams) -> Iterable[str]:
    for where, container in _containers(template):
        image = str(get(container, "image", ""))
        if not image.startswith(tuple(params.allowed_registries)):
            yield f"{where} pulls {image!r}, outside {', '.join(params.allowed_registries)}"


@pod_rule(
    PACK,
    name="k8s-probes",
    description="Long-running containers have readiness and liveness probes.",
    severity="medium",
    remediation="Add readinessProbe and livenessProbe (and a startupProbe for slow starts) to every container.",
)
def probes(template: PodTemplate, params: Params) -> Iterable[str]:
    if template.runs_to_completion:
        return
    for where, container in _containers(template, include_init=False):
        missing = [probe for probe in ("readinessProbe", "livenessProbe") if get(container, probe) is None]
        if missing:
            yield f"{where} has no {' or '.join(missing)}"


@pod_rule(
    PACK,
    name="k8s-no-service-account-token-automount",
    description="Pods do not mount a ServiceAccount token unless they declare a projected one.",
    severity="medium",
    remediation="Set automountServiceAccountToken: false on the pod; project a token with an audience where needed.",
)
def no_token_automount(template: PodTemplate, params: Params) -> Iterable[str]:
    if get(template.spec, "automountServiceAccountToken") is not False:
        yield "the pod mounts its ServiceAccount token (automountServiceAccountToken is not false)"


@pod_rule(
    PACK,
    name="k8s-no-secret-env-literals",
    description="No secret value is written into a container's environment.",
    severity="critical",
    remediation="Move the value to Vault and mount its synced Secret as a read-only file (a projected volume).",
)
def no_secret_env(template: PodTemplate, params: Params) -> Iterable[str]:
    for where, container in _containers(template):
        for variable in items(container, "env"):
            name = str(get(variable, "name", ""))
            if get(variable, "value") and _SECRET_NAME.search(name):
                yield f"{where} sets {name} to a literal value"


class PodSecurityParams(Params):
    level: str = "restricted"


@rule(
    PACK,
    name="k8s-namespace-pod-security-restricted",
    description="Every namespace enforces Pod Security `restricted`.",
    severity="high",
    remediation="Label the namespace pod-security.kubernetes.io/enforce: restricted (and audit, warn).",
    types=(NAMESPACE,),
    params=PodSecurityParams,
)
def namespace_psa(resource: Resource, params: PodSecurityParams) -> Iterable[str]:
    labels = get(resource.props, "metadata.labels", {})
    # Label keys hold dots: read them whole, not as a dotted path.
    found = {
        mode: labels.get(f"pod-security.kubernetes.io/{mode}") if isinstance(labels, Mapping) else None
        for mode in ("enforce", "audit", "warn")
    }
    wrong = [f"{mode}={value or 'unset'}" for mode, value in found.items() if value != params.level]
    if wrong:
        yield f"pod security {', '.join(wrong)}; expected {params.level}"


def _namespace_names(stack: Stack) -> dict[str, str]:
    return {get(r.props, "metadata.name") or r.name: r.urn for r in stack.of_type(NAMESPACE)}


def _policies(stack: Stack) -> list[tuple[str, Mapping[str, Any]]]:
    return [(namespace_of(r.props), get(r.props, "spec", {})) for r in stack.of_type(NETWORK_POLICY)]


def _is_default_deny(spec: Mapping[str, Any]) -> bool:
    selects_all = not get(spec, "podSelector.matchLabels") and not get(spec, "podSelector.matchExpressions")
    types = set(get(spec, "policyTypes", []))
    return selects_all and {"Ingress", "Egress"} <= types and not get(spec, "ingress") and not get(spec, "egress")


@rule(
    PACK,
    name="k8s-namespace-default-deny",
    description="Every namespace the stack creates has a default-deny NetworkPolicy (ingress and egress).",
    severity="high",
    remediation="Add a NetworkPolicy with an empty podSelector, policyTypes [Ingress, Egress] and no rules.",
)
def namespace_default_deny(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    denied = {namespace for namespace, spec in _policies(stack) if _is_default_deny(spec)}
    for namespace, urn in sorted(_namespace_names(stack).items()):
        if namespace not in denied:
            yield urn, f"namespace '{namespace}' has no default-deny NetworkPolicy"


def _selects(spec: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    wanted = get(spec, "podSelector.matchLabels", {}) or {}
    if get(spec, "podSelector.matchExpressions"):
        return False  # not evaluated: do not claim a selection
    return all(labels.get(key) == value for key, value in wanted.items())


@rule(
    PACK,
    name="k8s-workload-selected-by-network-policy",
    description="Every workload's pods are selected by a NetworkPolicy in their namespace.",
    severity="high",
    remediation="Add a NetworkPolicy in the workload's namespace whose podSelector matches its pod labels.",
)
def workload_selected(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    policies = _policies(stack)
    for workload in stack.resources:
        # A cluster-scoped template's pods run in a namespace chosen when it is used.
        if workload.type not in POD_HOLDERS or workload.type.rsplit(":", 1)[-1].startswith("Cluster"):
            continue
        namespace = namespace_of(workload.props)
        templates = pod_templates(workload)
        for template in templates:
            labels = dict(template.labels)
            if not any(ns == namespace and _selects(spec, labels) for ns, spec in policies):
                which = f" ({template.path})" if len(templates) > 1 else ""
                yield workload.urn, f"no NetworkPolicy in '{namespace}' selects the pods of {workload.name}{which}"


class ServiceTypeParams(Params):
    # The only namespaces where LoadBalancer and NodePort Services may live.
    ingress_namespaces: tuple[str, ...] = ("ingress-nginx",)


@rule(
    PACK,
    name="k8s-no-external-services-outside-ingress",
    description="LoadBalancer and NodePort Services live only in the ingress controller's namespace.",
    severity="high",
    remediation="Use a ClusterIP Service behind the Ingress, or move the Service to the ingress namespace.",
    types=(SERVICE,),
    params=ServiceTypeParams,
)
def no_external_services(resource: Resource, params: ServiceTypeParams) -> Iterable[str]:
    kind = get(resource.props, "spec.type", "ClusterIP")
    namespace = namespace_of(resource.props)
    if kind in ("LoadBalancer", "NodePort") and namespace not in params.ingress_namespaces:
        yield f"a {kind} Service in '{namespace}'"


@rule(
    PACK,
    name="k8s-ingress-tls",
    description="Every Ingress terminates TLS for every host it serves.",
    severity="high",
    remediation="Add spec.tls with a Secret covering each rule's host (cert-manager can issue it).",
    types=(INGRESS,),
)
def ingress_tls(resource: Resource, params: Params) -> Iterable[str]:
    covered = {host for entry in items(resource.props, "spec.tls") for host in get(entry, "hosts", [])}
    hosts = [get(entry, "host") for entry in items(resource.props, "spec.rules")]
    if not covered:
        yield "the Ingress has no TLS"
    for host in hosts:
        if host and host not in covered:
            yield f"host {host} is served without TLS"


@rule(
    PACK,
    name="k8s-no-wildcard-rbac",
    description="Roles name their API groups, resources and verbs: no '*'.",
    severity="high",
    remediation="List the exact apiGroups, resources and verbs the subject needs.",
    types=ROLES,
)
def no_wildcard_rbac(resource: Resource, params: Params) -> Iterable[str]:
    for index, entry in enumerate(items(resource.props, "rules")):
        for key in ("apiGroups", "resources", "verbs", "nonResourceURLs"):
            if "*" in list(get(entry, key, [])):
                yield f"rules[{index}].{key} contains '*'"


BINDINGS = (
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
)
# Groups and users that stand for everyone (or every signed-in caller).
EVERYONE = ("system:authenticated", "system:unauthenticated", "system:anonymous")


@rule(
    PACK,
    name="k8s-no-broad-rbac-bindings",
    description=(
        "RoleBindings and ClusterRoleBindings grant no cluster-admin, and bind no namespace's default "
        "ServiceAccount, wildcard, or everyone (system:authenticated, system:unauthenticated, system:anonymous)."
    ),
    severity="critical",
    remediation=(
        "Bind a Role listing exactly what is needed to a dedicated ServiceAccount, user or group by its exact name."
    ),
    types=BINDINGS,
)
def no_broad_rbac_bindings(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "roleRef.name") == "cluster-admin":
        yield f"grants cluster-admin ({get(resource.props, 'roleRef.kind', 'ClusterRole')})"
    namespace = get(resource.props, "metadata.namespace")
    for index, subject in enumerate(items(resource.props, "subjects")):
        kind, name = get(subject, "kind"), str(get(subject, "name", ""))
        if "*" in name:
            yield f"subjects[{index}] is a wildcard {kind} '{name}'"
        elif name in EVERYONE or name.startswith("system:serviceaccounts"):
            yield f"subjects[{index}] is {kind} '{name}': every caller of that kind"
        elif kind == "ServiceAccount" and name == "default":
            where = get(subject, "namespace", namespace)
            yield f"subjects[{index}] is the default ServiceAccount of namespace {where}: every pod that names none"


# Kubernetes writes volume files 0644 unless a mode says otherwise.
DEFAULT_FILE_MODE = 0o644


def _mode(value: Any) -> int | None:
    """A file mode: the engine's decimal integer (0644 arrives as 420), or text (octal when
    it starts with 0, as in YAML)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        return int(text, 8) if text.startswith("0") else int(text)
    except ValueError:
        return None


def _token_owner_only(template: PodTemplate) -> bool:
    """Whether the kubelet writes projected ServiceAccount tokens 0600 whatever the
    defaultMode: it does when the pod has an fsGroup, or when every container (init
    included) runs as one and the same user (its FsUserFrom)."""
    if get(template.spec, "securityContext.fsGroup") is not None:
        return True
    spec = template.spec
    users = {_security(c, spec, "runAsUser") for kind in ("initContainers", "containers") for c in items(spec, kind)}
    return len(users) == 1 and None not in users


def _volume_modes(volume: Mapping[str, Any], token_owner_only: bool) -> Iterator[tuple[str, Any, bool]]:
    """(where, mode as given or None when unset, holds credentials) for each mode of a
    volume's files: its defaultMode (what files without a mode get), and items' modes."""
    name = f"volume '{get(volume, 'name', '?')}'"
    for kind in ("secret", "configMap", "downwardAPI"):
        source = get(volume, kind)
        if source is not None:
            yield f"{name} ({kind}) defaultMode", get(source, "defaultMode"), kind == "secret"
            for index, item in enumerate(items(source, "items")):
                if get(item, "mode") is not None:
                    yield f"{name} ({kind}) items[{index}].mode", get(item, "mode"), kind == "secret"
    projected = get(volume, "projected")
    if projected is None:
        return
    sources = items(projected, "sources")
    kinds = ("secret",) if token_owner_only else ("secret", "serviceAccountToken")
    credentials = any(get(source, kind) is not None for source in sources for kind in kinds)
    yield f"{name} (projected) defaultMode", get(projected, "defaultMode"), credentials
    for index, source in enumerate(sources):
        for kind in ("secret", "configMap", "downwardAPI"):
            for number, item in enumerate(items(source, f"{kind}.items")):
                if get(item, "mode") is not None:
                    where = f"{name} (projected) sources[{index}].{kind}.items[{number}].mode"
                    yield where, get(item, "mode"), kind == "secret"


@pod_rule(
    PACK,
    name="k8s-volume-file-modes",
    description=(
        "Secret, ConfigMap, projected and downwardAPI volume files are not writable by group or others, "
        "and credentials (Secrets, ServiceAccount tokens) are not readable by others."
    ),
    severity="medium",
    remediation=(
        "Set defaultMode (and items[].mode) to 0440 (decimal 288) for Secrets and tokens, 0444 (292) or 0644 "
        "(420) for ConfigMaps; never 0666/0777."
    ),
)
def volume_file_modes(template: PodTemplate, params: Params) -> Iterable[str]:
    token_owner_only = _token_owner_only(template)
    for volume in items(template.spec, "volumes"):
        for where, given, credentials in _volume_modes(volume, token_owner_only):
            mode = DEFAULT_FILE_MODE if given is None else _mode(given)
            if mode is None or not 0 <= mode <= 0o777:
                yield f"{where} {given!r} is not a file mode; expected octal 0000-0777 (0440 is decimal 288)"
                continue
            shown = f"{where} {'unset (0644)' if given is None else f'{mode:04o}'}"
            if mode & 0o022:
                yield f"{shown} lets group or others write; expected no write bits beyond the owner"
            elif credentials and mode & 0o004:
                yield f"{shown} lets others read credentials; expected 0440 or stricter"


class OpenCidrParams(Params):
    # More ports than this, open to every address, count as unrestricted.
    max_open_ports: int = 100


_WHOLE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
_PORTS = 65535


def _port_count(rule: Mapping[str, Any]) -> int:
    """How many ports a rule opens (every port when it lists none, or one without a port)."""
    listed = items(rule, "ports")
    if not listed:
        return _PORTS
    total = 0
    for entry in listed:
        port, end = get(entry, "port"), get(entry, "endPort")
        if port is None:
            return _PORTS
        if isinstance(port, int) and not isinstance(port, bool) and isinstance(end, int):
            total += max(1, end - port + 1)
        else:
            total += 1  # one port, by number or by name
    return total


@functools.lru_cache(maxsize=1024)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None  # not an address: the API server refuses it


def _open_to(peers: list[Any]) -> str | None:
    """The whole address space (of either family) the peers' ipBlocks add up to, whatever
    they except, or all peers when the rule lists none; None when narrower."""
    if not peers:
        return "every peer (none listed)"
    networks = []
    for peer in peers:
        cidr = get(peer, "ipBlock.cidr")
        network = None if cidr is None else _network(str(cidr))  # None: a selector, in the cluster
        if network is not None:
            networks.append(network)
    for whole in _WHOLE:
        family = [n for n in networks if n.version == whole.version]
        if family and list(ipaddress.collapse_addresses(family)) == [whole]:
            return f"{whole}" if whole in family else f"{whole} (as {len(family)} ranges)"
    return None


@rule(
    PACK,
    name="k8s-network-policy-no-open-cidr",
    description=(
        "No NetworkPolicy rule admits every address (ipBlock 0.0.0.0/0 or ::/0, or no peers) on every port, "
        "in either direction."
    ),
    severity="high",
    remediation=(
        "Name the ports (e.g. 443) a rule open to 0.0.0.0/0 or ::/0 allows, or narrow the ipBlock to the "
        "addresses that need it; select in-cluster peers by podSelector/namespaceSelector."
    ),
    types=(NETWORK_POLICY,),
    params=OpenCidrParams,
)
def network_policy_no_open_cidr(resource: Resource, params: OpenCidrParams) -> Iterable[str]:
    spec = get(resource.props, "spec", {})
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for index, entry in enumerate(items(spec, direction)):
            whom = _open_to(items(entry, peers_key))
            ports = _port_count(entry) if whom else 0
            if ports > params.max_open_ports:
                span = "every port" if ports >= _PORTS else f"{ports} ports"
                yield (
                    f"{direction}[{index}] allows {whom} on {span}; expected specific ports "
                    f"(at most {params.max_open_ports}) or a narrower ipBlock"
                )


@pod_rule(
    PACK,
    name="k8s-no-secret-env-refs",
    description="Containers take no Secret into their environment (env valueFrom.secretKeyRef, envFrom.secretRef).",
    severity="medium",
    remediation=(
        "Mount the Secret as a read-only volume (defaultMode 0440) and give the app the file's path "
        "(e.g. PAYMENT_KEY_FILE=/run/secrets/payment/key): environments leak into logs, crash dumps and children."
    ),
)
def no_secret_env_refs(template: PodTemplate, params: Params) -> Iterable[str]:
    for where, container in _containers(template):
        for variable in items(container, "env"):
            secret = get(variable, "valueFrom.secretKeyRef")
            if secret is not None:
                yield (
                    f"{where} takes {get(variable, 'name', '?')} from Secret '{get(secret, 'name', '?')}' "
                    "(env valueFrom.secretKeyRef); expected the Secret mounted as a file"
                )
        for source in items(container, "envFrom"):
            secret = get(source, "secretRef")
            if secret is not None:
                yield (
                    f"{where} takes its environment from Secret '{get(secret, 'name', '?')}' (envFrom.secretRef); "
                    "expected the Secret mounted as a file"
                )


HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
# Namespaced kinds a program declares (cluster-scoped templates run pods in a namespace
# chosen when they are used). Custom resources count when they hold a pod.
NAMESPACED_TYPES = (
    *(t for t in WORKLOAD_TYPES if not t.rsplit(":", 1)[-1].startswith("Cluster")),
    *(
        f"kubernetes:core/v1:{kind}"
        for kind in (
            "Service",
            "ServiceAccount",
            "ConfigMap",
            "Secret",
            "PersistentVolumeClaim",
            "Endpoints",
            "LimitRange",
            "ResourceQuota",
        )
    ),
    INGRESS,
    "kubernetes:extensions/v1beta1:Ingress",
    NETWORK_POLICY,
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:policy/v1:PodDisruptionBudget",
    HELM_RELEASE,
)
_NAMESPACED = frozenset(NAMESPACED_TYPES)


@kubernetes_rule(
    PACK,
    name="k8s-no-default-namespace",
    description=(
        "Namespaced objects (workloads, Services, Roles and bindings, ConfigMaps, Secrets, ServiceAccounts, "
        "NetworkPolicies, claims, Helm releases) are not in the default namespace, nor left without one."
    ),
    severity="medium",
    remediation=(
        "Set metadata.namespace (a Helm release's namespace) to the application's own namespace, "
        "one with Pod Security, NetworkPolicies and RBAC of its own."
    ),
    types=NAMESPACED_TYPES,
)
def no_default_namespace(resource: Resource, params: Params) -> Iterable[str]:
    if not resource.props:
        return  # read with .get(): the program declares nothing about the object
    kind = resource.type.rsplit(":", 1)[-1]
    if resource.type not in _NAMESPACED and (kind.startswith("Cluster") or not pod_templates(resource)):
        return  # a custom resource that runs no pod (or a cluster-scoped one)
    path = "namespace" if resource.type == HELM_RELEASE else "metadata.namespace"
    name = get(resource.props, "name" if resource.type == HELM_RELEASE else "metadata.name") or resource.name
    namespace = get(resource.props, path)
    if namespace == "default":
        yield f"{kind} '{name}' is in the default namespace; expected a namespace of its own"
    elif not namespace:
        # The provider's namespace applies next, then its kubeconfig context's, which
        # preflight cannot see: an object should say where it goes.
        fallback = get(resource.provider_props, "namespace")
        if not fallback or fallback == "default":
            yield (
                f"{kind} '{name}' sets no {path}, so it lands in the default namespace; "
                "expected its own namespace named explicitly"
            )


SERVICE_ACCOUNTS = ("kubernetes:core/v1:ServiceAccount", "kubernetes:core/v1:ServiceAccountPatch")


@rule(
    PACK,
    name="k8s-default-service-account-no-automount",
    description="A namespace's default ServiceAccount, when the program declares or patches it, mounts no token.",
    severity="medium",
    remediation="Set automountServiceAccountToken: false on the default ServiceAccount; give pods their own.",
    types=SERVICE_ACCOUNTS,
)
def default_service_account(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "metadata.name") != "default":
        return
    if get(resource.props, "automountServiceAccountToken") is not False:
        yield (
            f"the default ServiceAccount of namespace {namespace_of(resource.props)} mounts its token into every pod "
            "that names no ServiceAccount; expected automountServiceAccountToken: false"
        )


INGRESSES = tuple(
    f"kubernetes:{version}:Ingress{suffix}"
    for version in ("networking.k8s.io/v1", "extensions/v1beta1")
    for suffix in ("", "Patch")
)


@rule(
    PACK,
    name="k8s-ingress-no-snippet-annotations",
    description="No Ingress injects raw controller configuration through a *-snippet annotation.",
    severity="high",
    remediation=(
        "Remove configuration-snippet, server-snippet and other *-snippet annotations; use the controller's "
        "named annotations or its global configuration (CVE-2021-25742: a snippet reads the controller's secrets)."
    ),
    types=INGRESSES,
)
def ingress_no_snippets(resource: Resource, params: Params) -> Iterable[str]:
    annotations = get(resource.props, "metadata.annotations", {})
    if not isinstance(annotations, Mapping):
        return
    for key in annotations:
        if str(key).rsplit("/", 1)[-1].endswith("-snippet"):
            yield f"annotation {key} injects raw controller configuration; expected none (CVE-2021-25742)"
