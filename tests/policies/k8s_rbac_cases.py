"""Cases for issue #19's Kubernetes gap rules: what Roles grant (every escalating
permission, however spelled: wildcards, `*/sub`, lists, patches), aggregated ClusterRoles,
the default namespace, Secrets in the environment, the default ServiceAccount and
ingress-nginx snippets. test_rules.py adds them to its table."""

from __future__ import annotations

from typing import Any

from policies.core.props import analyzer_view
from policies.core.rule import Resource
from tests.policies.cases import CONTAINER, changed, pod, resource, urn, workload
from tests.policies.relational_cases import RelationalCase

RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
ROLE = f"{RBAC}:Role"
CLUSTER_ROLE = f"{RBAC}:ClusterRole"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
RELEASE = "kubernetes:helm.sh/v3:Release"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
RAY = "kubernetes:ray.io/v1:RayCluster"


def grant(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> dict:
    entry: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    return {**entry, "resourceNames": names} if names else entry


def role(*rules: dict[str, Any], kind: str = ROLE, name: str = "role") -> Resource:
    metadata = {"name": name} if "Cluster" in kind else {"name": name, "namespace": "app"}
    return resource(kind, {"metadata": metadata, "rules": list(rules)}, name)


def aggregate(*selectors: dict[str, Any], name: str = "aggregate") -> Resource:
    props = {"metadata": {"name": name}, "aggregationRule": {"clusterRoleSelectors": list(selectors)}}
    return resource(CLUSTER_ROLE, props, name)


def namespaced(kind: str, metadata: dict[str, Any], name: str, provider: dict[str, Any] | None = None) -> Resource:
    props = {"metadata": metadata, "data": {"a": "b"}}
    return Resource(kind, name, urn(kind, name), analyzer_view(props), analyzer_view(provider or {}))


def env(*entries: dict[str, Any], env_from: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec = changed(CONTAINER, "env", list(entries))
    return changed(spec, "envFrom", env_from) if env_from else spec


def ingress(annotations: dict[str, str], kind: str = INGRESS) -> Resource:
    return resource(kind, {"metadata": {"name": "api", "namespace": "app", "annotations": annotations}}, "api")


def _expected(where: str, what: str, grants: str, control: str, expected: str) -> str:
    return f"{where} {what} ({grants}; {control}); expected: {expected}"


SECRETS = "reads Secrets"
SECRETS_FIX = "name the Secrets it needs in resourceNames, or mount them into the pod"
PODS = "runs pods (any image, any ServiceAccount of the namespace)"
PODS_FIX = "let a deployment tool, not a workload, create pods and pod-creating workloads"
EXEC = "runs commands in existing pods"
EXEC_FIX = "drop exec, attach and ephemeral containers; debug through a break-glass role"
BIND = "grants or widens roles beyond its own permissions (bind, escalate)"
BIND_FIX = "bind only roles the subject could grant anyway; leave bind and escalate to cluster administrators"
IMPERSONATE = "impersonates other users, groups or ServiceAccounts"
IMPERSONATE_FIX = "remove impersonate; give the subject the permissions it needs itself"
NODE_PROXY = "reaches the kubelet API through nodes/proxy (exec in any pod on the node, unaudited)"
NODE_PROXY_FIX = "remove nodes/proxy; read metrics through the metrics API"

K8S_RBAC_CASES: list[RelationalCase] = [
    # Legitimate designs pass: a named Secret and a named ServiceAccount's tokens (as the
    # project's istio-csr issuer role), reads of pods, scaling, a harmless wildcard verb.
    RelationalCase(
        "k8s-rbac-no-dangerous-permissions",
        [
            role(
                grant([""], ["secrets"], ["get", "watch"], ["api-payment"]),
                grant([""], ["serviceaccounts/token"], ["create"], ["mesh-vault-issuer"]),
                grant([""], ["pods", "events", "configmaps"], ["get", "list", "watch"]),
                grant(["apps"], ["deployments/scale"], ["get", "update", "patch"]),
                grant([""], ["configmaps"], ["*"]),
                # Case differs: the authorizer grants nothing for these.
                grant([""], ["Secrets"], ["get"]),
                grant(["v1"], ["secrets"], ["get"]),
            ),
            role(grant(["chaos-mesh.org"], ["podchaos", "schedules"], ["get", "list", "watch"]), kind=CLUSTER_ROLE),
        ],
        [
            role(
                grant([""], ["secrets"], ["get", "list"]),
                grant(["*"], ["*"], ["watch"]),
                name="readers",
            ),
            role(
                grant([""], ["pods"], ["create"]),
                grant(["apps"], ["deployments", "daemonsets"], ["patch"]),
                grant(["batch"], ["cronjobs"], ["*"]),
                grant(["argoproj.io"], ["rollouts"], ["update"]),
                name="runners",
            ),
            role(
                grant([""], ["*/exec"], ["get"]),
                grant([""], ["pods/ephemeralcontainers"], ["patch"], ["api-0"]),
                name="debuggers",
            ),
            role(
                grant(["rbac.authorization.k8s.io"], ["clusterroles"], ["bind", "escalate"], ["view"]),
                grant(["", "authentication.k8s.io"], ["serviceaccounts", "userextras/scopes"], ["impersonate"]),
                kind=CLUSTER_ROLE,
                name="delegators",
            ),
            role(
                grant([""], ["persistentvolumes"], ["create"]),
                grant([""], ["nodes/proxy"], ["get"]),
                grant(["certificates.k8s.io"], ["*/approval"], ["update"]),
                grant(["admissionregistration.k8s.io"], ["mutatingwebhookconfigurations"], ["patch"], ["istio"]),
                grant([""], ["serviceaccounts/token"], ["create"]),
                grant([""], ["services/status"], ["patch"]),
                kind=CLUSTER_ROLE,
                name="node-admins",
            ),
            # A list of roles, and a patch adding a rule to the built-in `view`.
            resource(
                f"{RBAC}:ClusterRoleList",
                {"items": [{"metadata": {"name": "a"}, "rules": [grant([""], ["secrets"], ["list"])]}]},
                "listed",
            ),
            resource(
                f"{RBAC}:ClusterRolePatch",
                {"metadata": {"name": "view"}, "rules": [grant([""], ["pods"], ["create"])]},
                "patched",
            ),
        ],
        [
            _expected("rules[0]", SECRETS, "get, list on secrets without resourceNames", "CIS 5.1.2", SECRETS_FIX),
            _expected("rules[1]", SECRETS, "watch on * without resourceNames", "CIS 5.1.2", SECRETS_FIX),
            _expected("rules[1]", NODE_PROXY, "watch on *", "CIS 5.1.10", NODE_PROXY_FIX),
            _expected("rules[0]", PODS, "create on pods", "CIS 5.1.4", PODS_FIX),
            _expected("rules[1]", PODS, "patch on deployments, daemonsets", "CIS 5.1.4", PODS_FIX),
            _expected("rules[2]", PODS, "* on cronjobs", "CIS 5.1.4", PODS_FIX),
            _expected("rules[3]", PODS, "update on rollouts", "CIS 5.1.4", PODS_FIX),
            _expected("rules[0]", EXEC, "get on */exec", "CIS 5.1.4", EXEC_FIX),
            _expected("rules[1]", EXEC, "patch on pods/ephemeralcontainers", "CIS 5.1.4", EXEC_FIX),
            _expected("rules[0]", BIND, "bind, escalate on clusterroles", "CIS 5.1.8", BIND_FIX),
            _expected(
                "rules[1]",
                IMPERSONATE,
                "impersonate on serviceaccounts, userextras/scopes",
                "CIS 5.1.8",
                IMPERSONATE_FIX,
            ),
            _expected(
                "rules[0]",
                "creates PersistentVolumes (a hostPath volume mounts any node path)",
                "create on persistentvolumes",
                "CIS 5.1.9",
                "let workloads ask for storage with PersistentVolumeClaims",
            ),
            _expected("rules[1]", NODE_PROXY, "get on nodes/proxy", "CIS 5.1.10", NODE_PROXY_FIX),
            _expected(
                "rules[2]",
                "approves certificate signing requests (issues client certificates, system:masters included)",
                "update on */approval",
                "CIS 5.1.11",
                "leave CSR approval to the control plane's approvers",
            ),
            _expected(
                "rules[3]",
                "controls admission webhooks (sees or rewrites every object admitted, or switches admission off)",
                "patch on mutatingwebhookconfigurations",
                "CIS 5.1.12",
                "leave webhook configurations to the charts that own them, deployed by an administrator",
            ),
            _expected(
                "rules[4]",
                "creates ServiceAccount tokens",
                "create on serviceaccounts/token without resourceNames",
                "CIS 5.1.13",
                "name the ServiceAccounts whose tokens it needs in resourceNames",
            ),
            _expected(
                "rules[5]",
                "sets Services' load-balancer status (intercepts traffic to any address)",
                "patch on services/status",
                "CVE-2020-8554",
                "leave services/status to the cloud controller",
            ),
            _expected("items[0].rules[0]", SECRETS, "list on secrets without resourceNames", "CIS 5.1.2", SECRETS_FIX),
            _expected("rules[0]", PODS, "create on pods", "CIS 5.1.4", PODS_FIX),
        ],
    ),
    RelationalCase(
        "k8s-rbac-no-broad-aggregation",
        [
            aggregate({"matchLabels": {"project-ai.io/aggregate-to-reader": "true"}}),
            aggregate({"matchExpressions": [{"key": "project-ai.io/tier", "operator": "In", "values": ["read"]}]}),
            role(grant([""], ["pods"], ["get"]), kind=CLUSTER_ROLE),
        ],
        [
            aggregate({}, name="everything"),
            aggregate(
                {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
                {"matchExpressions": [{"key": "project-ai.io/tier", "operator": "DoesNotExist"}]},
                name="sneaky",
            ),
            aggregate({"matchExpressions": [{"key": "kubernetes.io/bootstrapping", "operator": "Exists"}]}),
        ],
        [
            "aggregationRule.clusterRoleSelectors[0] selects every ClusterRole, cluster-admin included",
            "aggregationRule.clusterRoleSelectors[0] takes in built-in roles through "
            "rbac.authorization.k8s.io/aggregate-to-edit, with their Secrets, pods and impersonation",
            "aggregationRule.clusterRoleSelectors[1] selects by a label's absence (DoesNotExist), which the "
            "built-in roles, cluster-admin included, match",
            "aggregationRule.clusterRoleSelectors[0] takes in built-in roles through kubernetes.io/bootstrapping, "
            "with their Secrets, pods and impersonation",
        ],
    ),
    RelationalCase(
        "k8s-no-default-namespace",
        [
            namespaced(CONFIG_MAP, {"name": "flags", "namespace": "app"}, "flags"),
            # The provider places objects without a namespace in its own.
            namespaced(SERVICE, {"name": "api"}, "api", {"namespace": "app"}),
            # Read with .get(): nothing declared.
            resource(SERVICE, {}, "controller"),
            resource(RELEASE, {"name": "nginx", "namespace": "ingress-nginx", "chart": "ingress-nginx"}, "nginx"),
            # Cluster-scoped objects have no namespace.
            role(grant([""], ["pods"], ["get"]), kind=CLUSTER_ROLE),
            resource("kubernetes:external-secrets.io/v1:ClusterSecretStore", {"metadata": {"name": "vault"}}),
            workload(pod(), kind="kubernetes:batch/v1:Job"),
        ],
        [
            namespaced(CONFIG_MAP, {"name": "flags", "namespace": "default"}, "flags"),
            namespaced(SERVICE, {"name": "api"}, "api"),
            namespaced(SERVICE, {"name": "admin"}, "admin", {"namespace": "default"}),
            resource(RELEASE, {"name": "nginx", "chart": "ingress-nginx"}, "nginx"),
            resource(f"{RBAC}:RoleBinding", {"metadata": {"name": "b", "namespace": "default"}}, "b"),
            resource("kubernetes:core/v1:Pod", {"metadata": {"name": "debug"}, "spec": pod()}, "debug"),
            # A custom resource that runs pods counts; its generated name is the resource's.
            resource(RAY, {"spec": {"headGroupSpec": {"template": {"spec": pod()}}}}, "ray"),
        ],
        [
            "ConfigMap 'flags' is in the default namespace; expected a namespace of its own",
            "Service 'api' sets no metadata.namespace, so it lands in the default namespace; "
            "expected its own namespace named explicitly",
            "Service 'admin' sets no metadata.namespace, so it lands in the default namespace; "
            "expected its own namespace named explicitly",
            "Release 'nginx' sets no namespace, so it lands in the default namespace; "
            "expected its own namespace named explicitly",
            "RoleBinding 'b' is in the default namespace; expected a namespace of its own",
            "Pod 'debug' sets no metadata.namespace, so it lands in the default namespace; "
            "expected its own namespace named explicitly",
            "RayCluster 'ray' sets no metadata.namespace, so it lands in the default namespace; "
            "expected its own namespace named explicitly",
        ],
    ),
    RelationalCase(
        "k8s-no-secret-env-refs",
        [
            workload(
                changed(
                    pod(),
                    "containers",
                    [
                        env(
                            {"name": "PAYMENT_KEY_FILE", "value": "/run/secrets/payment/key"},
                            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "mode"}}},
                            env_from=[{"configMapRef": {"name": "flags"}}],
                        )
                    ],
                )
            )
        ],
        [
            workload(
                changed(
                    pod(),
                    "containers",
                    [env({"name": "DB_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}})],
                ),
                kind="kubernetes:batch/v1:CronJob",
            ),
            workload(
                changed(pod(), "initContainers", [env(env_from=[{"prefix": "X_", "secretRef": {"name": "api-keys"}}])])
            ),
        ],
        [
            "container 'api' takes DB_URL from Secret 'db' (env valueFrom.secretKeyRef); "
            "expected the Secret mounted as a file",
            "initContainer 'api' takes its environment from Secret 'api-keys' (envFrom.secretRef); "
            "expected the Secret mounted as a file",
        ],
    ),
    RelationalCase(
        "k8s-default-service-account-no-automount",
        [
            resource(
                SERVICE_ACCOUNT,
                {"metadata": {"name": "default", "namespace": "app"}, "automountServiceAccountToken": False},
            ),
            resource(SERVICE_ACCOUNT, {"metadata": {"name": "api", "namespace": "app"}}, "api"),
        ],
        [
            resource(SERVICE_ACCOUNT, {"metadata": {"name": "default", "namespace": "app"}}),
            resource(
                "kubernetes:core/v1:ServiceAccountPatch",
                {"metadata": {"name": "default", "namespace": "jobs"}, "automountServiceAccountToken": True},
                "patch",
            ),
        ],
        [
            "the default ServiceAccount of namespace app mounts its token into every pod that names no "
            "ServiceAccount; expected automountServiceAccountToken: false",
            "the default ServiceAccount of namespace jobs mounts its token into every pod that names no "
            "ServiceAccount; expected automountServiceAccountToken: false",
        ],
    ),
    RelationalCase(
        "k8s-ingress-no-snippet-annotations",
        [
            ingress(
                {
                    "nginx.ingress.kubernetes.io/ssl-redirect": "true",
                    "nginx.ingress.kubernetes.io/auth-tls-verify-client": "on",
                }
            )
        ],
        [
            ingress({"nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers 'X: y';"}),
            ingress(
                {"nginx.ingress.kubernetes.io/server-snippet": "location /x { alias /; }"},
                kind="kubernetes:networking.k8s.io/v1:IngressPatch",
            ),
        ],
        [
            "annotation nginx.ingress.kubernetes.io/configuration-snippet injects raw controller configuration; "
            "expected none (CVE-2021-25742)",
            "annotation nginx.ingress.kubernetes.io/server-snippet injects raw controller configuration; "
            "expected none (CVE-2021-25742)",
        ],
    ),
]
