"""Cases for issue #19's Kubernetes rules: pods wherever an object holds them (every
workload kind, Argo analysis jobs, custom resources, several per object), volume file
modes, NetworkPolicies open to every address, and claim templates' sizes. test_rules.py
adds them to its table."""

from __future__ import annotations

from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from tests.policies.cases import CONTAINER, DELETE, LABELS, changed, container, pod, resource, workload
from tests.policies.relational_cases import RelationalCase

RC = "kubernetes:core/v1:ReplicationController"
POD_TEMPLATE = "kubernetes:core/v1:PodTemplate"
ANALYSIS = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
CLUSTER_ANALYSIS = "kubernetes:argoproj.io/v1alpha1:ClusterAnalysisTemplate"
RAY = "kubernetes:ray.io/v1:RayCluster"
SCALED_JOB = "kubernetes:keda.sh/v1alpha1:ScaledJob"
RELEASE = "kubernetes:helm.sh/v3:Release"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
PROMETHEUS = "kubernetes:monitoring.coreos.com/v1:Prometheus"
PRIVILEGED = container("securityContext.privileged", True)
JOB_PATH = "spec.metrics[1].provider.job.spec.template.spec"


def _template(spec: dict[str, Any], labels: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"labels": LABELS if labels is None else labels}, "spec": spec}


def analysis(spec: dict[str, Any], kind: str = ANALYSIS, name: str = "analysis") -> Any:
    """An analysis template: a Prometheus metric, then a job metric running `spec`."""
    prometheus = {"name": "rate", "provider": {"prometheus": {"address": "http://p:9090", "query": "up"}}}
    job = {"name": "smoke", "provider": {"job": {"spec": {"backoffLimit": 0, "template": _template(spec)}}}}
    metadata = {"name": name} if kind == CLUSTER_ANALYSIS else {"name": name, "namespace": "app"}
    return resource(kind, {"metadata": metadata, "spec": {"metrics": [prometheus, job]}}, name)


def ray(head: dict[str, Any], worker: dict[str, Any], worker_labels: dict[str, Any] | None = None) -> Any:
    """A custom resource holding two pod templates: a head and a worker group."""
    spec = {
        "headGroupSpec": {"rayStartParams": {}, "template": _template(head)},
        "workerGroupSpecs": [{"groupName": "cpu", "replicas": 2, "template": _template(worker, worker_labels)}],
    }
    return resource(RAY, {"metadata": {"namespace": "app"}, "spec": spec}, "ray")


def scaled_job(spec: dict[str, Any], **extra: Any) -> Any:
    """KEDA's ScaledJob: a Job template under a key no kind table names."""
    job = {"jobTargetRef": {"template": _template({**spec, "restartPolicy": "Never"})}, **extra}
    return resource(SCALED_JOB, {"metadata": {"namespace": "app"}, "spec": job}, "scaled")


def with_volumes(*volumes: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    return changed(base or pod(), "volumes", list(volumes))


def netpol(**spec: Any) -> Any:
    return resource(NETPOL, {"metadata": {"namespace": "app"}, "spec": {"podSelector": {}, **spec}}, "policy")


def peer(cidr: str, *excepted: str) -> dict[str, Any]:
    return {"ipBlock": {"cidr": cidr, **({"except": list(excepted)} if excepted else {})}}


HTTPS = [{"protocol": "TCP", "port": 443}]
ANYWHERE_443 = {"to": [peer("0.0.0.0/0"), peer("::/0")], "ports": HTTPS}
SECOND_USER = {**CONTAINER, "name": "sidecar", "securityContext": {**CONTAINER["securityContext"], "runAsUser": 2000}}
TOKEN = {"serviceAccountToken": {"path": "token", "audience": "vault", "expirationSeconds": 600}}


def claim(size: str, name: str = "data") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


def stateful_set(*claims: dict[str, Any]) -> Any:
    spec = {"serviceName": "db", "template": _template(pod()), "volumeClaimTemplates": list(claims)}
    return resource(STATEFUL_SET, {"metadata": {"namespace": "app"}, "spec": spec}, "db")


K8S_TEMPLATE_CASES: list[RelationalCase] = [
    # Every workload kind: a ReplicationController and a bare PodTemplate too.
    RelationalCase(
        "k8s-no-privileged-containers",
        [
            resource(RC, {"metadata": {"namespace": "app"}, "spec": {"template": _template(pod())}}, "rc"),
            resource(POD_TEMPLATE, {"metadata": {"namespace": "app"}, "template": _template(pod())}, "pt"),
            # A Helm release's values are the chart's to render, not a pod.
            resource(RELEASE, {"chart": "x", "values": {"spec": PRIVILEGED}}, "release"),
        ],
        [
            resource(RC, {"metadata": {"namespace": "app"}, "spec": {"template": _template(PRIVILEGED)}}, "rc"),
            resource(POD_TEMPLATE, {"metadata": {"namespace": "app"}, "template": _template(PRIVILEGED)}, "pt"),
        ],
        ["container 'api' is privileged", "container 'api' is privileged"],
    ),
    # Argo Rollouts' analysis jobs, namespaced and cluster-wide: only job metrics hold a pod.
    RelationalCase(
        "k8s-run-as-non-root",
        [analysis(pod()), analysis(pod(), kind=CLUSTER_ANALYSIS)],
        [
            analysis(changed(container("securityContext.runAsUser", 0), "securityContext", {})),
            analysis(
                changed(container("securityContext.runAsNonRoot", False), "securityContext", {}), CLUSTER_ANALYSIS
            ),
        ],
        ["container 'api' runs as uid 0", "container 'api' does not set runAsNonRoot: true"],
    ),
    # A custom resource with two templates: each message names the template at fault; an
    # unknown value elsewhere in the object does not stop its pods being judged.
    RelationalCase(
        "k8s-drop-all-capabilities",
        [ray(pod(), pod())],
        [
            ray(
                pod(),
                container("securityContext.capabilities", {"add": ["SYS_ADMIN"], "drop": ["ALL"]}),
            ),
            resource(
                RAY,
                {
                    "metadata": {"namespace": "app"},
                    "spec": {
                        "enableInTreeAutoscaling": UNKNOWN_STRING_VALUE,
                        "headGroupSpec": {"template": _template(container("securityContext.capabilities", {}))},
                    },
                },
                "ray-preview",
            ),
        ],
        [
            "spec.workerGroupSpecs[0].template.spec: container 'api' adds capabilities ['SYS_ADMIN']",
            "container 'api' does not drop ALL capabilities",
        ],
    ),
    RelationalCase(
        "k8s-image-allowed-registry",
        [analysis(pod()), scaled_job(pod())],
        [
            analysis(container("image", "curlimages/curl:8.11.1")),
            scaled_job(container("image", "docker.io/library/busybox:1.36")),
        ],
        [
            "container 'api' pulls 'curlimages/curl:8.11.1', outside ghcr.io/project-ai/, quay.io/openbao/",
            "container 'api' pulls 'docker.io/library/busybox:1.36', outside ghcr.io/project-ai/, quay.io/openbao/",
        ],
    ),
    # Jobs, wherever they sit, run to completion: no probes expected; a long-running
    # custom resource's pods need them.
    RelationalCase(
        "k8s-probes",
        [analysis(container("readinessProbe", DELETE)), scaled_job(container("livenessProbe", DELETE))],
        [ray(pod(), container("livenessProbe", DELETE))],
        ["spec.workerGroupSpecs[0].template.spec: container 'api' has no livenessProbe"],
    ),
    RelationalCase(
        "cost-workload-labels",
        [ray(pod(), pod())],
        [ray(pod(), pod(), worker_labels={"app.kubernetes.io/name": "ray"})],
        ["spec.workerGroupSpecs[0].template.spec: pods lack labels: team, cost-center, environment"],
    ),
    # Analysis job pods need a NetworkPolicy too; a cluster-wide template's namespace is
    # chosen when it runs.
    RelationalCase(
        "k8s-workload-selected-by-network-policy",
        [
            analysis(pod()),
            analysis(pod(), kind=CLUSTER_ANALYSIS, name="cluster"),
            netpol(podSelector={"matchLabels": {"team": "ai"}}, policyTypes=["Ingress"]),
        ],
        [analysis(pod()), netpol(podSelector={"matchLabels": {"team": "other"}}, policyTypes=["Ingress"])],
        ["no NetworkPolicy in 'app' selects the pods of analysis"],
    ),
    # --- Volume file modes (the engine's modes are decimal: 0440 is 288, 0644 is 420) ---
    RelationalCase(
        "k8s-volume-file-modes",
        [
            workload(
                with_volumes(
                    {"name": "keys", "secret": {"secretName": "k", "defaultMode": 0o440}},
                    {"name": "flags", "configMap": {"name": "f"}},  # unset: 0644, fine for configuration
                    {"name": "info", "downwardAPI": {"items": [{"path": "labels", "mode": 0o444}]}},
                    {"name": "ro", "configMap": {"name": "f", "defaultMode": "0444"}},
                    # One user runs every container: the kubelet writes the token 0600.
                    {"name": "token", "projected": {"sources": [TOKEN]}},
                    {
                        "name": "mixed",
                        "projected": {"defaultMode": 0o440, "sources": [TOKEN, {"secret": {"name": "s"}}]},
                    },
                )
            ),
            # Or the pod has an fsGroup.
            workload(
                with_volumes(
                    {"name": "token", "projected": {"sources": [TOKEN]}},
                    base=changed(changed(pod(), "containers", [CONTAINER, SECOND_USER]), "securityContext.fsGroup", 1),
                )
            ),
        ],
        [
            workload(
                with_volumes(
                    {"name": "keys", "secret": {"secretName": "k"}},
                    {"name": "flags", "configMap": {"name": "f", "defaultMode": 0o666}},
                    {
                        "name": "pem",
                        "secret": {
                            "secretName": "p",
                            "defaultMode": 0o400,
                            "items": [{"key": "k", "path": "k", "mode": 0o604}],
                        },
                    },
                    {"name": "decimal", "secret": {"secretName": "d", "defaultMode": 644}},
                    {"name": "text", "configMap": {"name": "t", "defaultMode": "0777"}},
                    {
                        "name": "all",
                        "projected": {
                            "defaultMode": 0o644,
                            "sources": [{"configMap": {"name": "c"}}, {"secret": {"name": "s"}}],
                        },
                    },
                    {"name": "down", "downwardAPI": {"defaultMode": 0o420, "items": []}},
                )
            ),
            # Two users: the token keeps the default 0644.
            workload(
                with_volumes(
                    {"name": "token", "projected": {"sources": [TOKEN]}},
                    base=changed(pod(), "containers", [CONTAINER, SECOND_USER]),
                ),
                kind="kubernetes:batch/v1:Job",
            ),
        ],
        [
            "volume 'keys' (secret) defaultMode unset (0644) lets others read credentials; expected 0440 or stricter",
            "volume 'flags' (configMap) defaultMode 0666 lets group or others write; expected no write bits beyond "
            "the owner",
            "volume 'pem' (secret) items[0].mode 0604 lets others read credentials; expected 0440 or stricter",
            "volume 'decimal' (secret) defaultMode 644 is not a file mode; expected octal 0000-0777 (0440 is "
            "decimal 288)",
            "volume 'text' (configMap) defaultMode 0777 lets group or others write; expected no write bits beyond "
            "the owner",
            "volume 'all' (projected) defaultMode 0644 lets others read credentials; expected 0440 or stricter",
            "volume 'down' (downwardAPI) defaultMode 0420 lets group or others write; expected no write bits beyond "
            "the owner",
            "volume 'token' (projected) defaultMode unset (0644) lets others read credentials; expected 0440 or "
            "stricter",
        ],
    ),
    # --- NetworkPolicies: every address on every port, in either direction ---
    RelationalCase(
        "k8s-network-policy-no-open-cidr",
        [
            # The project's own: the internet on 443 only.
            netpol(policyTypes=["Egress"], egress=[ANYWHERE_443]),
            # A private range, or in-cluster peers, on every port.
            netpol(egress=[{"to": [peer("10.0.0.0/8")]}], ingress=[{"from": [{"namespaceSelector": {}}]}]),
            # A few ports, by number, range or name.
            netpol(
                ingress=[
                    {
                        "from": [peer("::/0")],
                        "ports": [{"port": 8000, "endPort": 8010}, {"port": "http"}, {"port": 53, "protocol": "UDP"}],
                    }
                ]
            ),
            # Half the internet is not all of it.
            netpol(egress=[{"to": [peer("0.0.0.0/1")]}]),
        ],
        [
            netpol(egress=[ANYWHERE_443, {"to": [peer("0.0.0.0/0")]}]),
            # An except carves out ranges; every other address stays open.
            netpol(ingress=[{"from": [peer("::/0", "fd00::/8")]}]),
            # The same, spelled otherwise: two halves, a host address with /0, a range of every port, a protocol alone.
            netpol(egress=[{"to": [peer("0.0.0.0/1"), peer("128.0.0.0/1")], "ports": [{"protocol": "TCP"}]}]),
            netpol(ingress=[{"from": [peer(" 1.2.3.4/0")], "ports": [{"port": 1, "endPort": 65535}]}]),
            netpol(egress=[{"to": [peer("0::0/0")], "ports": [{"port": 1, "endPort": 1000}]}]),
            # No peers at all: every address.
            netpol(egress=[{}]),
        ],
        [
            "egress[1] allows 0.0.0.0/0 on every port; expected specific ports (at most 100) or a narrower ipBlock",
            "ingress[0] allows ::/0 on every port; expected specific ports (at most 100) or a narrower ipBlock",
            "egress[0] allows 0.0.0.0/0 (as 2 ranges) on every port; expected specific ports (at most 100) or a "
            "narrower ipBlock",
            "ingress[0] allows 0.0.0.0/0 on every port; expected specific ports (at most 100) or a narrower ipBlock",
            "egress[0] allows ::/0 on 1000 ports; expected specific ports (at most 100) or a narrower ipBlock",
            "egress[0] allows every peer (none listed) on every port; expected specific ports (at most 100) or a "
            "narrower ipBlock",
        ],
    ),
    # --- Claim templates: a StatefulSet's, an ephemeral volume's, an operator's ---
    RelationalCase(
        "cost-pvc-size",
        [
            stateful_set(claim("50Gi")),
            workload(with_volumes({"name": "scratch", "ephemeral": {"volumeClaimTemplate": claim("10Gi")}})),
            resource(
                PROMETHEUS,
                {"metadata": {"namespace": "m"}, "spec": {"storage": {"volumeClaimTemplate": claim("80Gi")}}},
            ),
        ],
        [
            stateful_set(claim("50Gi"), claim("500Gi", "wal")),
            workload(
                with_volumes({"name": "scratch", "ephemeral": {"volumeClaimTemplate": claim("2Ti")}}),
                kind="kubernetes:batch/v1:CronJob",
            ),
            resource(
                PROMETHEUS, {"metadata": {"namespace": "m"}, "spec": {"storage": {"volumeClaimTemplate": claim("1Ti")}}}
            ),
            scaled_job(pod(), volumeClaimTemplates=[{"spec": {"resources": {}}}]),
        ],
        [
            "spec.volumeClaimTemplates[1]: requests 500Gi, cap 100Gi",
            "spec.jobTemplate.spec.template.spec.volumes[0] ('scratch').ephemeral: requests 2Ti, cap 100Gi",
            "spec.storage.volumeClaimTemplate: requests 1Ti, cap 100Gi",
            "spec.volumeClaimTemplates[0]: requests no size, cap 100Gi",
        ],
    ),
]
