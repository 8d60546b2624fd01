"""Mock outputs that look like what each provider really returns.

Deterministic: every id, name suffix and ARN is derived from the stack and the URN, so
the same program gives the same graph and reports diff cleanly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import rpc

STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"

# Kinds with no namespace; everything else defaults to `default`, as the API server does.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "RuntimeClass",
        "CSIDriver",
        "VolumeSnapshotClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ClusterIssuer",
        "ClusterSecretStore",
        "ClusterExternalSecret",
        "ClusterAnalysisTemplate",
        "NodePool",
        "EC2NodeClass",
        "GatewayClass",
        "ClusterPolicy",
    }
)
# Types whose type token is not `kubernetes:<group>/<version>:<Kind>` of one object.
NON_OBJECT_KUBERNETES_MODULES = ("helm.sh/", "yaml", "kustomize", "index")

# Services that have no region or account in their ARNs.
_GLOBAL_AWS_SERVICES = {"iam": "arn:aws:iam::{account}:{kind}/{name}", "s3": "arn:aws:s3:::{name}"}
# Public addresses the clouds assign, from the documentation ranges (RFC 5737), so no
# report ever names a real host: AWS's VPN tunnel endpoints, Google's HA VPN interfaces.
AWS_PUBLIC_ADDRESSES = "192.0.2"
GCP_PUBLIC_ADDRESSES = "203.0.113"
HA_VPN = "gcp:compute/haVpnGateway:HaVpnGateway"
EXTERNAL_VPN = "gcp:compute/externalVpnGateway:ExternalVpnGateway"
VPN_TUNNEL = "gcp:compute/vPNTunnel:VPNTunnel"
VPN_CONNECTION = "aws:ec2/vpnConnection:VpnConnection"
DMS_PROFILE = "gcp:databasemigrationservice/connectionProfile:ConnectionProfile"


@dataclass(frozen=True)
class ResolvedReference:
    """A referenced stack's outputs, as the engine hands them to a StackReference."""

    outputs: dict[str, Any]
    secret_output_names: list[str]


ReferenceResolver = Callable[[str], ResolvedReference]


def digest(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def kubernetes_object(type_token: str) -> tuple[str, str] | None:
    """(apiVersion, kind) of a Kubernetes object type token, or None for other types."""
    if not type_token.startswith("kubernetes:"):
        return None
    _, module, kind = type_token.split(":", 2)
    if module.startswith(NON_OBJECT_KUBERNETES_MODULES) or kind.endswith(("Patch", "List")):
        return None
    return (module.removeprefix("core/"), kind)


class RealisticMocks(pulumi.runtime.Mocks):
    def __init__(self, project: str, stack: str, config: dict[str, str], resolve_reference: ReferenceResolver) -> None:
        self.project = project
        self.stack = stack
        self.resolve_reference = resolve_reference
        self.aws_region = config.get("aws:region", "us-east-1")
        self.aws_account = _aws_account(config, project, stack)
        self.gcp_project = config.get("gcp:project", f"{project}-{stack}")
        self.gcp_region = config.get("gcp:region", "us-central1")
        # Explicit providers per region: provider id -> its region/project inputs.
        self._provider_inputs: dict[str, dict[str, Any]] = {}
        # Public addresses handed out so far (two resources never get the same), and the
        # external VPN gateways' interfaces by id, which a tunnel's peer address comes from.
        self._public_addresses: set[str] = set()
        self._external_gateways: dict[str, list[dict[str, Any]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        seed = digest(self.stack, args.typ, args.name, length=16)
        if args.typ == STACK_REFERENCE_TYPE:
            name = str(args.inputs.get("name", args.name))
            resolved = self.resolve_reference(name)
            state = {"name": name, "outputs": resolved.outputs, "secretOutputNames": resolved.secret_output_names}
            return name, state
        if args.typ.startswith("pulumi:providers:"):
            provider_id = f"{args.name}-{seed[:8]}"
            self._provider_inputs[provider_id] = dict(args.inputs)
            return provider_id, dict(args.inputs)
        if not args.custom:
            return None, {}
        if kubernetes_object(args.typ):
            return self._kubernetes(args, seed)
        package = args.typ.split(":", 1)[0]
        if package == "aws":
            return self._aws(args, seed)
        if package == "gcp":
            return self._gcp(args, seed)
        if package == "cloudflare":
            return self._cloudflare(args, seed)
        if args.typ in ("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString"):
            # A stand-in of the asked length, stable per stack and name: never a real secret.
            length = int(args.inputs.get("length", 16))
            result = (digest(self.stack, args.name, length=64) * (length // 64 + 1))[:length]
            return f"{args.name}-{seed[:8]}", {**args.inputs, "result": result}
        return f"{args.name}-{seed[:8]}", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        region = self._provider(args.provider).get("region", self.aws_region)
        results: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": self.aws_account,
                "arn": f"arn:aws:iam::{self.aws_account}:role/preflight",
                "userId": f"AROA{digest(self.stack, length=16).upper()}",
                "id": self.aws_account,
            },
            "aws:index/getRegion:getRegion": {"name": region, "region": region, "id": region},
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
            },
            "aws:index/getAvailabilityZones:getAvailabilityZones": {
                "names": [f"{region}{zone}" for zone in "abc"],
                "zoneIds": [f"use1-az{index}" for index in (1, 2, 4)],
                "id": region,
            },
            "gcp:organizations/getProject:getProject": {
                "projectId": self.gcp_project,
                "number": str(int(digest(self.gcp_project, length=10), 16))[:12],
                "name": self.gcp_project,
            },
            "gcp:organizations/getClientConfig:getClientConfig": {
                "project": self.gcp_project,
                "region": self.gcp_region,
                "accessToken": "mock",
                "id": "mock",
            },
            "gcp:compute/getZones:getZones": {
                "names": [f"{self.gcp_region}-{zone}" for zone in "abc"],
                "region": self.gcp_region,
            },
        }
        return results.get(args.token, dict(args.args)), []

    def _provider(self, reference: str | None) -> dict[str, Any]:
        provider_id = (reference or "").rsplit("::", 1)[-1]
        return self._provider_inputs.get(provider_id, {})

    def _cloudflare(self, args: pulumi.runtime.MockResourceArgs, seed: str) -> tuple[str, dict[str, Any]]:
        # Cloudflare names zones, pools, monitors, rulesets and records by 32 hex digits.
        resource_id = args.resource_id or digest(seed, "cloudflare", length=32)
        state = {**args.inputs, "id": resource_id}
        if args.typ == "cloudflare:index/zone:Zone":
            # A new zone waits for its delegation; Cloudflare assigns two name servers.
            state.update(status="pending", nameServers=[f"{n}.ns.cloudflare.com" for n in ("ada", "bob")])
        if args.typ == "cloudflare:index/zoneDnssec:ZoneDnssec":
            # The DS record the registrar needs: algorithm 13, digest type 2 (SHA-256).
            state.update(ds=f"3600 IN DS 2371 13 2 {digest(seed, 'ds', length=64).upper()}")
        return resource_id, state

    def _kubernetes(self, args: pulumi.runtime.MockResourceArgs, seed: str) -> tuple[str, dict[str, Any]]:
        api_version, kind = kubernetes_object(args.typ) or ("", "")
        state = dict(args.inputs)
        metadata = dict(state.get("metadata") or {})
        # Pulumi auto-names objects without a name: the logical name plus a suffix.
        metadata.setdefault("name", f"{args.name}-{seed[:8]}")
        if kind not in CLUSTER_SCOPED_KINDS:
            metadata.setdefault("namespace", "default")
        uid = digest(seed, "uid", length=32)
        metadata["uid"] = f"{uid[:8]}-{uid[8:12]}-4{uid[13:16]}-8{uid[17:20]}-{uid[20:]}"
        state["metadata"] = metadata
        state.setdefault("apiVersion", api_version)
        state.setdefault("kind", kind)
        if kind == "Service" and isinstance(state.get("spec"), dict):
            spec = dict(state["spec"])
            if spec.get("type", "ClusterIP") != "ExternalName" and "clusterIP" not in spec:
                spec["clusterIP"] = f"10.96.{int(seed[:2], 16)}.{int(seed[2:4], 16) or 1}"
            state["spec"] = spec
        namespace = metadata.get("namespace")
        object_id = f"{namespace}/{metadata['name']}" if namespace else metadata["name"]
        return object_id, state

    def _aws(self, args: pulumi.runtime.MockResourceArgs, seed: str) -> tuple[str, dict[str, Any]]:
        region = self._provider(args.provider).get("region", self.aws_region)
        service, kind = _module_and_kind(args.typ)
        # The identifier AWS names the resource by: its name, or its own identifier key.
        identifier = next((args.inputs.get(key) for key in _AWS_IDENTIFIERS if args.inputs.get(key)), None)
        name = str(identifier or f"{args.name}-{seed[:7]}")
        resource_id = args.resource_id or name
        template = _GLOBAL_AWS_SERVICES.get(service, "arn:aws:{service}:{region}:{account}:{kind}/{name}")
        arn = template.format(service=service, region=region, account=self.aws_account, kind=kind, name=name)
        state = {**args.inputs, "arn": arn, "id": resource_id}
        # An auto-named resource's name is an output others pass on (a parameter group's,
        # a subnet group's), as the provider reports it after naming.
        state.setdefault("name", name)
        state.setdefault("region", region)
        state.setdefault("tagsAll", args.inputs.get("tags", {}))
        state.update(_aws_outputs(args.typ, name, region, self.aws_account, seed))
        if args.typ == VPN_CONNECTION:
            # AWS gives each of the connection's two tunnels a public endpoint, and takes the
            # first address of each tunnel's inside range (the customer gateway the second).
            outside = self._public_pair(AWS_PUBLIC_ADDRESSES, seed)
            for number, address in enumerate(outside, start=1):
                state[f"tunnel{number}Address"] = address
                inside = args.inputs.get(f"tunnel{number}InsideCidr")
                if inside:
                    network, last = str(inside).split("/")[0].rsplit(".", 1)
                    state[f"tunnel{number}VgwInsideAddress"] = f"{network}.{int(last) + 1}"
                    state[f"tunnel{number}CgwInsideAddress"] = f"{network}.{int(last) + 2}"
        return resource_id, state

    def _public_pair(self, prefix: str, seed: str) -> tuple[str, str]:
        """Two consecutive public addresses of a documentation /24, chosen by the seed and
        never handed out twice in one program (a pair taken already moves to the next free
        one, as the clouds never assign one address twice)."""
        start = int(seed[:4], 16) % 126
        for step in range(126):
            host = 2 + 2 * ((start + step) % 126)
            pair = (f"{prefix}.{host}", f"{prefix}.{host + 1}")
            if not self._public_addresses & set(pair):
                self._public_addresses.update(pair)
                return pair
        raise RuntimeError(f"the mocks ran out of addresses in {prefix}.0/24")

    def _gcp(self, args: pulumi.runtime.MockResourceArgs, seed: str) -> tuple[str, dict[str, Any]]:
        service, kind = _module_and_kind(args.typ)
        project = str(args.inputs.get("project") or self._provider(args.provider).get("project") or self.gcp_project)
        name = str(args.inputs.get("name") or f"{args.name}-{seed[:7]}")
        location = args.inputs.get("region") or args.inputs.get("location")
        scope = f"regions/{location}" if location else "global"
        path = f"projects/{project}/{scope}/{kind}s/{name}"
        state = {
            **args.inputs,
            "name": name,
            "project": project,
            "selfLink": f"https://www.googleapis.com/{service}/v1/{path}",
            **_gcp_outputs(args.typ, args.inputs, project, seed),
        }
        if args.typ == HA_VPN:
            # Google assigns each of the gateway's two interfaces a public address.
            first, second = self._public_pair(GCP_PUBLIC_ADDRESSES, seed)
            state["vpnInterfaces"] = [{"id": 0, "ipAddress": first}, {"id": 1, "ipAddress": second}]
        if args.typ == EXTERNAL_VPN:
            self._external_gateways[path] = list(args.inputs.get("interfaces") or [])
        if args.typ == VPN_TUNNEL:
            # A tunnel to an external gateway's interface has that interface's address as its peer.
            interfaces = self._external_gateways.get(str(args.inputs.get("peerExternalGateway")), [])
            wanted = args.inputs.get("peerExternalGatewayInterface")
            found = [i.get("ipAddress") for i in interfaces if i.get("id") == wanted and i.get("ipAddress")]
            if found:
                state["peerIp"] = found[0]
        return path, state


def _gcp_outputs(type_token: str, inputs: dict[str, Any], project: str, seed: str) -> dict[str, Any]:
    """Outputs GCP computes that other resources read, in GCP's shapes."""
    octet = int(seed[:2], 16)
    if type_token == "gcp:container/cluster:Cluster":
        return {
            "endpoint": f"34.{octet}.{int(seed[2:4], 16)}.{int(seed[4:6], 16) or 1}",
            "masterAuth": {
                **inputs.get("masterAuth", {}),
                "clusterCaCertificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
            },
        }
    if type_token == "gcp:serviceaccount/account:Account":
        return {"email": f"{inputs.get('accountId')}@{project}.iam.gserviceaccount.com"}
    if type_token == "gcp:sql/databaseInstance:DatabaseInstance":
        return {
            "privateIpAddress": f"10.100.{octet}.{int(seed[2:4], 16) or 2}",
            "connectionName": f"{project}:{inputs.get('region')}:{inputs.get('name')}",
        }
    if type_token == "gcp:redis/instance:Instance":
        return {
            "host": f"10.101.{octet}.{int(seed[2:4], 16) or 3}",
            "port": 6378,
            "authString": f"{seed}{seed}",
            "serverCaCerts": [{"cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}],
        }
    if type_token == DMS_PROFILE and isinstance(inputs.get("cloudsql"), dict):
        # A destination profile with settings: DMS creates the Cloud SQL instance, named
        # after the profile, and reports its address (private only, as the settings ask).
        # The settings hold the root password, so the whole block arrives (and stays) secret.
        secret = _is_secret(inputs["cloudsql"])
        cloudsql = {**(inputs["cloudsql"]["value"] if secret else inputs["cloudsql"])}
        cloudsql["cloudSqlId"] = inputs.get("connectionProfileId")
        if ((cloudsql.get("settings") or {}).get("ipConfig") or {}).get("privateNetwork"):
            cloudsql["privateIp"] = f"10.100.{octet}.{int(seed[2:4], 16) or 4}"
        return {"cloudsql": _secret(cloudsql) if secret else cloudsql}
    if type_token == "gcp:artifactregistry/repository:Repository":
        location, repository = inputs.get("location"), inputs.get("repositoryId")
        return {"registryUri": f"{location}-docker.pkg.dev/{project}/{repository}"}
    return {}


_AWS_IDENTIFIERS = ("name", "clusterIdentifier", "identifier", "replicationGroupId", "globalClusterIdentifier")


def _aws_outputs(type_token: str, name: str, region: str, account: str, seed: str) -> dict[str, Any]:
    """Outputs the provider computes that other resources read: endpoints, key ids,
    versions, in the shapes AWS returns them."""
    if type_token == "aws:eks/cluster:Cluster":
        return {
            "endpoint": f"https://{seed.upper()}{seed.upper()}.gr7.{region}.eks.amazonaws.com",
            # Base64 of a PEM header: the shape a kubeconfig carries.
            "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
            "status": "ACTIVE",
            "vpcConfig": {"clusterSecurityGroupId": f"sg-{seed}{seed[:9]}"},
            "identities": [
                {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{seed.upper()}{seed.upper()}"}]}
            ],
        }
    if type_token == "aws:kms/key:Key":
        key_id = f"{seed}-{seed[:4]}-{seed[4:8]}-{seed[:4]}-{seed}{seed[:4]}"
        return {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{account}:key/{key_id}"}
    if type_token == "aws:ec2/launchTemplate:LaunchTemplate":
        return {"latestVersion": 1, "defaultVersion": 1}
    if type_token == "aws:eks/nodeGroup:NodeGroup":
        # EKS creates one Auto Scaling group per managed node group (its scheduled actions' target).
        uuid = digest(seed, "asg", length=32)
        group = f"eks-{name}-{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
        return {"resources": [{"autoscalingGroups": [{"name": group}], "remoteAccessSecurityGroupId": ""}]}
    if type_token == "aws:rds/cluster:Cluster":
        host = f"{name}.cluster-{seed}{seed[:4]}.{region}.rds.amazonaws.com"
        return {"endpoint": host, "readerEndpoint": host.replace(".cluster-", ".cluster-ro-"), "port": 5432}
    if type_token == "aws:elasticache/replicationGroup:ReplicationGroup":
        return {"primaryEndpointAddress": f"master.{name}.{seed[:6]}.{region[:3]}{region[-1]}.cache.amazonaws.com"}
    if type_token == "aws:ecr/repository:Repository":
        return {"repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{name}", "registryId": account}
    return {}


def _is_secret(value: Any) -> bool:
    """A secret as the mock monitor hands inputs over: wrapped with the engine's signature."""
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def _secret(value: Any) -> dict[str, Any]:
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def _module_and_kind(type_token: str) -> tuple[str, str]:
    """`aws:ec2/securityGroup:SecurityGroup` -> ('ec2', 'security-group')."""
    module = type_token.split(":")[1].split("/")[0]
    kind = type_token.rsplit(":", 1)[-1]
    kebab = "".join(f"-{c.lower()}" if c.isupper() else c for c in kind).lstrip("-")
    return module, kebab


def _aws_account(config: dict[str, str], project: str, stack: str) -> str:
    """The stack's pinned account (aws:allowedAccountIds) or a stable made-up one."""
    allowed = config.get("aws:allowedAccountIds", "")
    digits = "".join(c for c in allowed.split(",")[0] if c.isdigit())
    if len(digits) == 12:
        return digits
    return str(int(digest(project, stack, length=12), 16))[-12:].zfill(12)
