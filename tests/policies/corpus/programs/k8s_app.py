"""A Kubernetes application: a namespace under Pod Security `restricted`, default-deny
NetworkPolicies with the flows it needs (HTTPS out to the internet on 443 only), an API
Deployment, a Redis StatefulSet with its claim template, a nightly CronJob, a Service
and a TLS Ingress, a ServiceAccount bound to a Role that names what it reads, an
autoscaler, and Secret and ConfigMap volumes mounted read-only with tight modes."""

import pulumi_kubernetes as k8s

NS = "shop"
LABELS = {"team": "shop", "cost-center": "cc-5120", "environment": "dev"}
IMAGE = "ghcr.io/project-ai/shop-api:1.14.2"
REDIS = "ghcr.io/project-ai/redis:7.2.5"


def security() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "capabilities": {"drop": ["ALL"]},
    }


def pod(app: str, containers: list, volumes: list | None = None, **extra) -> dict:
    return {
        "metadata": {"labels": {**LABELS, "app": app}},
        "spec": {
            "serviceAccountName": app,
            "automountServiceAccountToken": False,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": 10001},
            "containers": containers,
            "volumes": volumes or [],
            **extra,
        },
    }


def resources(cpu: str, memory: str) -> dict:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}


def probe(port: int, path: str | None = None) -> dict:
    return {"httpGet": {"path": path, "port": port}} if path else {"tcpSocket": {"port": port}}


namespace = k8s.core.v1.Namespace(
    NS,
    metadata={
        "name": NS,
        "labels": {
            **LABELS,
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        },
    },
)
k8s.networking.v1.NetworkPolicy(
    "default-deny",
    metadata={"name": "default-deny", "namespace": NS},
    spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
)
k8s.networking.v1.NetworkPolicy(
    "api",
    metadata={"name": "api", "namespace": NS},
    spec={
        "podSelector": {"matchLabels": {"app": "api"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
                "ports": [{"protocol": "TCP", "port": 8080}],
            }
        ],
        "egress": [
            {"to": [{"podSelector": {"matchLabels": {"app": "redis"}}}], "ports": [{"protocol": "TCP", "port": 6379}]},
            {
                "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            },
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.169.254/32"]}}],
                "ports": [{"protocol": "TCP", "port": 443}],
            },
            {"to": [{"ipBlock": {"cidr": "::/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
        ],
    },
)
k8s.networking.v1.NetworkPolicy(
    "redis",
    metadata={"name": "redis", "namespace": NS},
    spec={
        "podSelector": {"matchLabels": {"app": "redis"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"protocol": "TCP", "port": 6379}]}
        ],
    },
)
k8s.networking.v1.NetworkPolicy(
    "cleanup",
    metadata={"name": "cleanup", "namespace": NS},
    spec={
        "podSelector": {"matchLabels": {"app": "cleanup"}},
        "policyTypes": ["Ingress", "Egress"],
        "egress": [
            {"to": [{"podSelector": {"matchLabels": {"app": "redis"}}}], "ports": [{"protocol": "TCP", "port": 6379}]}
        ],
    },
)

for app in ("api", "redis", "cleanup"):
    k8s.core.v1.ServiceAccount(
        app, metadata={"name": app, "namespace": NS, "labels": LABELS}, automount_service_account_token=False
    )
reader = k8s.rbac.v1.Role(
    "api-config-reader",
    metadata={"name": "api-config-reader", "namespace": NS},
    rules=[{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["api-flags"], "verbs": ["get", "watch"]}],
)
k8s.rbac.v1.RoleBinding(
    "api-config-reader",
    metadata={"name": "api-config-reader", "namespace": NS},
    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "api-config-reader"},
    subjects=[{"kind": "ServiceAccount", "name": "api", "namespace": NS}],
)

k8s.core.v1.ConfigMap("api-flags", metadata={"name": "api-flags", "namespace": NS}, data={"flags.yaml": "cart: on\n"})
k8s.core.v1.Secret(
    "api-payment",
    metadata={"name": "api-payment", "namespace": NS},
    string_data={"key": "synced-by-external-secrets"},
)

k8s.apps.v1.Deployment(
    "api",
    metadata={"name": "api", "namespace": NS, "labels": LABELS},
    spec={
        "replicas": 2,
        "selector": {"matchLabels": {"app": "api"}},
        "template": pod(
            "api",
            [
                {
                    "name": "api",
                    "image": IMAGE,
                    "ports": [{"containerPort": 8080, "name": "http"}],
                    "env": [{"name": "PAYMENT_KEY_FILE", "value": "/run/secrets/payment/key"}],
                    "securityContext": security(),
                    "resources": resources("250m", "256Mi"),
                    "readinessProbe": probe(8080, "/ready"),
                    "livenessProbe": probe(8080, "/healthz"),
                    "volumeMounts": [
                        {"name": "payment", "mountPath": "/run/secrets/payment", "readOnly": True},
                        {"name": "flags", "mountPath": "/etc/api", "readOnly": True},
                        {"name": "token", "mountPath": "/var/run/secrets/tokens", "readOnly": True},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                }
            ],
            [
                {"name": "payment", "secret": {"secretName": "api-payment", "defaultMode": 0o400}},
                {"name": "flags", "configMap": {"name": "api-flags", "defaultMode": 0o444}},
                {
                    "name": "token",
                    "projected": {
                        "defaultMode": 0o440,
                        "sources": [
                            {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 3600, "path": "vault"}}
                        ],
                    },
                },
                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            ],
        ),
    },
)
k8s.autoscaling.v2.HorizontalPodAutoscaler(
    "api",
    metadata={"name": "api", "namespace": NS},
    spec={
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
        "minReplicas": 2,
        "maxReplicas": 5,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
            }
        ],
    },
)
k8s.policy.v1.PodDisruptionBudget(
    "api",
    metadata={"name": "api", "namespace": NS},
    spec={"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}},
)
k8s.core.v1.Service(
    "api",
    metadata={"name": "api", "namespace": NS},
    spec={"selector": {"app": "api"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
)
k8s.networking.v1.Ingress(
    "api",
    metadata={"name": "api", "namespace": NS, "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}},
    spec={
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
        "rules": [
            {
                "host": "shop.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "api", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
    },
)

k8s.apps.v1.StatefulSet(
    "redis",
    metadata={"name": "redis", "namespace": NS, "labels": LABELS},
    spec={
        "serviceName": "redis",
        "replicas": 1,
        "selector": {"matchLabels": {"app": "redis"}},
        "template": pod(
            "redis",
            [
                {
                    "name": "redis",
                    "image": REDIS,
                    "args": ["--appendonly", "yes", "--dir", "/data"],
                    "ports": [{"containerPort": 6379, "name": "redis"}],
                    "securityContext": security(),
                    "resources": resources("100m", "512Mi"),
                    "readinessProbe": probe(6379),
                    "livenessProbe": probe(6379),
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
        ),
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "standard-rwo",
                    "resources": {"requests": {"storage": "10Gi"}},
                },
            }
        ],
    },
)
k8s.core.v1.Service(
    "redis",
    metadata={"name": "redis", "namespace": NS},
    spec={"clusterIP": "None", "selector": {"app": "redis"}, "ports": [{"name": "redis", "port": 6379}]},
)

k8s.batch.v1.CronJob(
    "cleanup",
    metadata={"name": "cleanup", "namespace": NS, "labels": LABELS},
    spec={
        "schedule": "15 3 * * *",
        "concurrencyPolicy": "Forbid",
        "jobTemplate": {
            "spec": {
                "backoffLimit": 2,
                "template": pod(
                    "cleanup",
                    [
                        {
                            "name": "cleanup",
                            "image": IMAGE,
                            "command": ["shop-api", "cleanup-carts"],
                            "securityContext": security(),
                            "resources": resources("100m", "128Mi"),
                        }
                    ],
                    restartPolicy="OnFailure",
                ),
            }
        },
    },
)
