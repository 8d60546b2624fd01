"""The mesh's PKI (components/vault/pki.py) on a real OpenBao server.

A small program composes `MeshPki` as a stack would; its synthesized Vault objects are
applied to a dev-mode OpenBao through the API, as the Vault provider would (the outputs
one object hands the next, which mocks cannot know, are taken from the server's own
answers, through the functions the component uses). Then cert-manager's side is played
for real: a JWT for the Issuer's ServiceAccount logs in with the program's login role,
and CSRs built as Istio's agents, istio-csr and istiod's Certificate build them are sent
as cert-manager's Vault Issuer sends them. Certificates are verified with cryptography's
X.509 path validation, against the root alone.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import ipaddress
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import DNSName, PolicyBuilder, Store, VerificationError

from components.labels import Ownership
from components.mesh import certificates
from components.rotation import RotationSchedule
from components.vault import pki, policies
from components.vault.args import Consumer
from preflight.graph import Graph, Resource
from preflight.synth import Synthesizer
from tests.conftest import ROOT, write_program
from tests.vault.openbao import (
    CSR,
    DEFAULT_ISSUER,
    JWT_ROLE,
    KUBERNETES_ROLE,
    MOUNT_TYPE,
    POLICY,
    ROLE_TYPE,
    ROOT_CERT,
    SET_SIGNED,
    SIGNING,
    Results,
    apply,
    openbao,
)

TRUST_DOMAIN = "cluster.local"
MOUNT = "pki-mesh-test"
ROOT_MOUNT = "pki-mesh-root-test"
ROLE = "mesh-workloads"
AUTH_MOUNT = "kubernetes-test"
LOGIN_ROLE = "project-ai-api-test-mesh-issuer"
ISSUER_SUBJECT = f"system:serviceaccount:{certificates.ISTIO_NAMESPACE}:{certificates.ISSUER_ACCOUNT}"
JWT_ISSUER = "https://kubernetes.default.svc.cluster.local"
WORKLOAD = certificates.spiffe_id(TRUST_DOMAIN, "project-ai", "project-ai-api")
ISTIOD_URI = certificates.spiffe_id(TRUST_DOMAIN, certificates.ISTIO_NAMESPACE, "istiod-service-account")

PROGRAM = """
from datetime import date

import pulumi

from components.labels import Ownership
from components.mesh import certificates
from components.rotation import RotationSchedule
from components.vault import policies
from components.vault.args import Consumer
from components.vault.pki import IssuerLogin, LocalRoot, MeshPki, MeshPkiArgs, OrganisationRoot

config = pulumi.Config("mesh")
if config.get("signer") == "local":
    signer = LocalRoot(mount="pki-mesh-root-test")
else:
    signer = OrganisationRoot(certificate=config.get("certificate"), root_certificate=config.get("root"))
pki = MeshPki(
    "mesh-pki",
    MeshPkiArgs(
        owner=Ownership(team="platform", cost_center="cc-1", environment="test"),
        layout=policies.Layout(kv_mount="project-ai-test", app="project-ai-api", scope="test"),
        mount="pki-mesh-test",
        trust_domain="cluster.local",
        dns_names=certificates.signed_dns_names(),
        signer=signer,
        login=IssuerLogin(
            auth_mount="kubernetes-test",
            method=config.get("method") or "jwt",
            service_account=Consumer(certificates.ISSUER_ACCOUNT, certificates.ISTIO_NAMESPACE),
            audience=certificates.issuer_audience(),
        ),
        rotation=RotationSchedule(period_days=90, today=date.fromisoformat(config.require("today"))),
        workload_ttl_hours=24,
    ),
)
pulumi.export("signPath", pki.sign_path)
pulumi.export("csr", pki.intermediate.csr)
"""
FIRST_PERIOD, NEXT_PERIOD = "2026-03-01", "2026-04-15"


def synthesize(folder: Path, **config: str) -> Graph:
    folder.mkdir(parents=True)
    settings = {f"mesh:{key}": value for key, value in config.items()}
    program = write_program(folder, "mesh-pki", PROGRAM, {"test": {"mesh:today": FIRST_PERIOD, **settings}})
    (folder / "components").symlink_to(ROOT / "components")
    return Synthesizer(program).synthesize("test")


def _of_type(graph: Graph, kind: str) -> list[Resource]:
    return [r for r in graph.resources if r.type == kind]


# ---- cert-manager's and Kubernetes' side --------------------------------------------


def service_account_jwt(key: rsa.RSAPrivateKey, subject: str = ISSUER_SUBJECT, audience: str | None = None) -> str:
    """A projected ServiceAccount token as the API server signs it for cert-manager's
    TokenRequest (RS256; 10 minutes; the Issuer's audience)."""

    def encode(part: dict[str, Any] | bytes) -> str:
        raw = part if isinstance(part, bytes) else json.dumps(part, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "iss": JWT_ISSUER,
        "sub": subject,
        "aud": [audience or certificates.issuer_audience()],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    signing_input = f"{encode({'alg': 'RS256', 'typ': 'JWT'})}.{encode(claims)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{encode(signature)}"


def login(root: hvac.Client, token: str) -> hvac.Client:
    """cert-manager's login: POST <mountPath>/login with the role and the JWT."""
    answer = root.adapter.post(f"/v1/auth/{AUTH_MOUNT}/login", json={"role": LOGIN_ROLE, "jwt": token})
    return hvac.Client(url=root.url, token=answer["auth"]["client_token"])


def csr(
    uris: tuple[str, ...] = (), dns: tuple[str, ...] = (), common_name: str = "", key: Any = None
) -> x509.CertificateSigningRequest:
    """A CSR as Istio builds them: SANs only (istiod's Certificate adds a common name)."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uris]
    names += [x509.DNSName(d) for d in dns]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256())


def cert_manager_sign(client: hvac.Client, request: x509.CertificateSigningRequest, hours: int = 1) -> dict[str, Any]:
    """What cert-manager's Vault Issuer sends (internal/vault/vault.go, Sign, v1.18.6)."""
    sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    common_names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    parameters = {
        "common_name": str(common_names[0].value) if common_names else "",
        "alt_names": ",".join(sans.get_values_for_type(x509.DNSName)),
        "ip_sans": "",
        "uri_sans": ",".join(sans.get_values_for_type(x509.UniformResourceIdentifier)),
        "ttl": f"{hours}h0m0s",
        "csr": request.public_bytes(serialization.Encoding.PEM).decode(),
        "exclude_cn_from_sans": "true",
    }
    return client.write_data(pki.sign_path(MOUNT, ROLE), data=parameters)


def refused(call: Callable[[], Any], match: str) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest, match=match):
        call()


def forbidden(call: Callable[[], Any]) -> None:
    with pytest.raises(hvac.exceptions.Forbidden):
        call()


def pem(text: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(text.encode())


def chain_of(answer: dict[str, Any]) -> tuple[x509.Certificate, list[x509.Certificate]]:
    data = answer["data"]
    return pem(data["certificate"]), [pem(c) for c in data["ca_chain"]]


def verify_client(root: x509.Certificate, leaf: x509.Certificate, intermediates: list[x509.Certificate]) -> Any:
    """X.509 path validation to `root` alone (path length, name constraints, EKU)."""
    store = Store([root])
    return PolicyBuilder().store(store).build_client_verifier().verify(leaf, intermediates)


# ---- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return synthesize(tmp_path_factory.mktemp("pki") / "program", signer="local")


@pytest.fixture(scope="module")
def account_key() -> rsa.RSAPrivateKey:
    """The cluster's ServiceAccount signing key (its OIDC issuer's, to Vault)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwt_auth(client: hvac.Client, key: rsa.RSAPrivateKey) -> None:
    """What VaultConfiguration sets up for a region: JWT auth trusting the cluster's
    issuer (here with its public key instead of OIDC discovery)."""
    client.sys.enable_auth_method("jwt", path=AUTH_MOUNT)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    client.write_data(
        f"auth/{AUTH_MOUNT}/config", data={"jwt_validation_pubkeys": [public.decode()], "bound_issuer": JWT_ISSUER}
    )


@pytest.fixture(scope="module")
def vault(graph: Graph, account_key: rsa.RSAPrivateKey) -> Iterator[tuple[hvac.Client, Results]]:
    with openbao() as client:
        jwt_auth(client, account_key)
        yield client, apply(client, graph)


@pytest.fixture(scope="module")
def issuer(vault: tuple[hvac.Client, Results], account_key: rsa.RSAPrivateKey) -> hvac.Client:
    """cert-manager, logged in as the Issuer's ServiceAccount."""
    return login(vault[0], service_account_jwt(account_key))


@pytest.fixture(scope="module")
def root_certificate(vault: tuple[hvac.Client, Results]) -> x509.Certificate:
    return pem(vault[1][ROOT_CERT]["certificate"])


# ---- the role ----------------------------------------------------------------------


def test_every_vault_object_of_the_component_is_accepted(vault: tuple[hvac.Client, Results], graph: Graph) -> None:
    client, done = vault
    assert set(done) == {MOUNT_TYPE, POLICY, JWT_ROLE, ROOT_CERT, CSR, SIGNING, SET_SIGNED, DEFAULT_ISSUER, ROLE_TYPE}
    mounts = client.sys.list_mounted_secrets_engines()["data"]
    assert mounts[f"{MOUNT}/"]["type"] == "pki"
    assert mounts[f"{MOUNT}/"]["config"]["max_lease_ttl"] == 24 * 3600
    assert client.read(f"{MOUNT}/config/issuers")["data"]["default"] == done[SET_SIGNED]["imported_issuers"][0]
    assert graph.outputs["signPath"] == f"{MOUNT}/sign/{ROLE}"


def test_a_workload_in_the_trust_domain_gets_its_certificate(
    issuer: hvac.Client, root_certificate: x509.Certificate
) -> None:
    answer = cert_manager_sign(issuer, csr(uris=(WORKLOAD,)))
    leaf, chain = chain_of(answer)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [WORKLOAD]
    assert sans.get_values_for_type(x509.DNSName) == [] and sans.get_values_for_type(x509.IPAddress) == []
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    # Chains to the intermediate, and through it to the root: nothing else is trusted.
    intermediate = chain[0]
    assert leaf.issuer == intermediate.subject
    assert intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    constraints = intermediate.extensions.get_extension_for_class(x509.NameConstraints).value
    assert [n.value for n in constraints.permitted_subtrees or []] == list(certificates.signed_dns_names())
    assert chain[-1] == root_certificate
    verified = verify_client(root_certificate, leaf, chain[:-1])
    assert [str(n.value) for n in verified.subjects or []] == [WORKLOAD]


@pytest.mark.parametrize(
    "uri",
    [
        "spiffe://evil.example/ns/x/sa/y",
        "spiffe://cluster.local.evil.example/ns/project-ai/sa/project-ai-api",
        "spiffe://cluster.local/other/project-ai-api",
        "https://cluster.local/ns/project-ai/sa/project-ai-api",
    ],
)
def test_an_identity_outside_the_trust_domain_is_refused(issuer: hvac.Client, uri: str) -> None:
    refused(
        lambda: cert_manager_sign(issuer, csr(uris=(uri,))), "URI Subject Alternative Names .* not valid for this role"
    )


def test_istiod_and_istio_csr_get_their_serving_certificates(
    issuer: hvac.Client, root_certificate: x509.Certificate
) -> None:
    # istiod's Certificate (the chart's certificate.yaml): CN, DNS name and its SPIFFE ID.
    istiod_name = certificates.istiod_dns_name()
    answer = cert_manager_sign(issuer, csr(uris=(ISTIOD_URI,), dns=(istiod_name,), common_name=istiod_name))
    leaf, chain = chain_of(answer)
    store = Store([root_certificate])
    PolicyBuilder().store(store).build_server_verifier(DNSName(istiod_name)).verify(leaf, chain[:-1])
    # istio-csr's own serving certificate: its Service's DNS name only.
    csr_name = certificates.istio_csr_dns_name()
    leaf, chain = chain_of(cert_manager_sign(issuer, csr(dns=(csr_name,))))
    PolicyBuilder().store(store).build_server_verifier(DNSName(csr_name)).verify(leaf, chain[:-1])


@pytest.mark.parametrize(
    ("names", "common_name"),
    [
        (("evil.example.com",), ""),
        (("api.project-ai.svc",), ""),
        (("istiod.istio-system.svc.evil.example",), ""),
        (("sub.istiod.istio-system.svc",), ""),
        (("*.istio-system.svc",), ""),
        (("localhost",), ""),
        ((), "evil.example.com"),
    ],
)
def test_a_dns_name_outside_the_two_serving_names_is_refused(
    issuer: hvac.Client, names: tuple[str, ...], common_name: str
) -> None:
    request = csr(uris=(WORKLOAD,), dns=names, common_name=common_name)
    refused(lambda: cert_manager_sign(issuer, request), "(subject alternate|common) name .* not allowed by this role")


def test_ip_addresses_and_other_key_types_are_refused(issuer: hvac.Client) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(WORKLOAD), x509.IPAddress(ipaddress.ip_address("10.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    parameters = {"csr": request.public_bytes(serialization.Encoding.PEM).decode(), "ip_sans": "10.0.0.1"}
    refused(lambda: issuer.write_data(pki.sign_path(MOUNT, ROLE), data=parameters), "IP Subject Alternative Names")
    # The role takes the configured key type and size only.
    refused(
        lambda: cert_manager_sign(issuer, csr(uris=(WORKLOAD,), key=ec.generate_private_key(ec.SECP256R1()))),
        "role requires keys of type rsa",
    )


def test_a_longer_lifetime_than_the_role_allows_is_cut_to_it(issuer: hvac.Client) -> None:
    answer = cert_manager_sign(issuer, csr(uris=(WORKLOAD,)), hours=24 * 30)
    leaf, _ = chain_of(answer)
    lifetime = leaf.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert lifetime <= datetime.timedelta(hours=24)
    assert lifetime > datetime.timedelta(hours=23)
    assert any("longer than permitted maxTTL" in warning for warning in answer.get("warnings") or [])


# ---- who may ask -------------------------------------------------------------------


def test_the_issuer_may_sign_with_its_role_and_do_nothing_else(issuer: hvac.Client) -> None:
    issue = {"common_name": certificates.istiod_dns_name(), "uri_sans": WORKLOAD}
    # `issue` would have Vault generate (and see) the private key.
    forbidden(lambda: issuer.write_data(f"{MOUNT}/issue/{ROLE}", data=issue))
    forbidden(lambda: issuer.write_data(f"{MOUNT}/sign-verbatim", data={"csr": "x"}))
    forbidden(lambda: issuer.write_data(f"{MOUNT}/sign-verbatim/{ROLE}", data={"csr": "x"}))
    forbidden(lambda: issuer.write_data(f"{MOUNT}/roles/{ROLE}", data={"allow_any_name": True}))
    forbidden(lambda: issuer.read(f"{MOUNT}/roles/{ROLE}"))
    forbidden(lambda: issuer.write_data(f"{MOUNT}/intermediate/generate/internal", data={"common_name": "x"}))
    forbidden(lambda: issuer.write_data(f"{ROOT_MOUNT}/root/sign-intermediate", data={"csr": "x"}))
    forbidden(lambda: issuer.write_data(f"{ROOT_MOUNT}/sign-verbatim", data={"csr": "x"}))
    forbidden(lambda: issuer.sys.list_mounted_secrets_engines())


def test_only_the_issuers_account_and_audience_log_in(
    vault: tuple[hvac.Client, Results], account_key: rsa.RSAPrivateKey
) -> None:
    root = vault[0]
    token = login(root, service_account_jwt(account_key))
    assert token.auth.token.lookup_self()["data"]["type"] == "batch"
    assert token.auth.token.lookup_self()["data"]["ttl"] <= 300
    for subject, audience in (
        # Another account of the Istio namespace, or the same name elsewhere.
        (f"system:serviceaccount:{certificates.ISTIO_NAMESPACE}:istiod", None),
        (f"system:serviceaccount:project-ai:{certificates.ISSUER_ACCOUNT}", None),
        # A token of the right account minted for anything but this Issuer.
        (ISSUER_SUBJECT, "vault"),
        (ISSUER_SUBJECT, f"vault://{certificates.ISTIO_NAMESPACE}/another-issuer"),
    ):
        with pytest.raises(hvac.exceptions.InvalidRequest):
            login(root, service_account_jwt(account_key, subject, audience))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        login(root, service_account_jwt(stranger))


# ---- rotation and the organisation's root ------------------------------------------


def test_the_next_period_rotates_the_intermediate_under_the_same_root(
    vault: tuple[hvac.Client, Results],
    issuer: hvac.Client,
    root_certificate: x509.Certificate,
    tmp_path: Path,
) -> None:
    client, first = vault
    before, _ = chain_of(cert_manager_sign(issuer, csr(uris=(WORKLOAD,))))
    later = synthesize(tmp_path / "program", signer="local", today=NEXT_PERIOD)
    (csr_request,) = _of_type(later, CSR)
    assert csr_request.inputs["keyName"] == "mesh-intermediate-1"
    # What a `pulumi up` in the next period replaces: a new key and CSR, signed, imported
    # and made the default. The role, the policy and the login stay as they are.
    apply(client, later, only=(CSR, SIGNING, SET_SIGNED, DEFAULT_ISSUER))
    after, chain = chain_of(cert_manager_sign(issuer, csr(uris=(WORKLOAD,))))
    assert after.issuer != before.issuer
    assert chain[0].public_key() != pem(first[SIGNING]["certificate"]).public_key()
    # Both generations chain to the one root the mesh trusts, so pods holding a
    # certificate of the previous intermediate keep being trusted until it expires.
    first_chain = [pem(first[SIGNING]["certificate"])]
    verify_client(root_certificate, before, first_chain)
    verify_client(root_certificate, after, chain[:-1])
    lifetime = chain[0].not_valid_after_utc - chain[0].not_valid_before_utc
    assert abs(lifetime - datetime.timedelta(days=180)) < datetime.timedelta(minutes=5)


def organisation_root() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The organisation's root, outside Vault (its operators keep it offline)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Project-AI root CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def sign_as_organisation(csr_pem: str, key: rsa.RSAPrivateKey, root: x509.Certificate) -> x509.Certificate:
    """What the README asks of the root's operators: CA, path length 0, six months, and
    the mesh's DNS names as name constraints."""
    request = x509.load_pem_x509_csr(csr_pem.encode())
    now = datetime.datetime.now(datetime.UTC)
    permitted = [x509.DNSName(name) for name in certificates.signed_dns_names()]
    return (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(root.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=180))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(request.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.public_key()),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )


def test_an_organisation_root_signs_the_csr_between_two_runs(account_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    first = synthesize(tmp_path / "first", signer="organisation")
    assert not _of_type(first, SET_SIGNED) and not _of_type(first, ROOT_CERT) and not _of_type(first, SIGNING)
    with openbao() as client:
        jwt_auth(client, account_key)
        done = apply(client, first)
        issuer = login(client, service_account_jwt(account_key))
        # No signed intermediate yet: the role exists but nothing is signed.
        with pytest.raises(hvac.exceptions.VaultError):
            cert_manager_sign(issuer, csr(uris=(WORKLOAD,)))
        # The CSR (stack output) goes to the root's operators; their answer comes back
        # as stack config, and the next run imports it.
        key, root = organisation_root()
        signed = sign_as_organisation(done[CSR]["csr"], key, root)
        bundle = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in (signed, root))
        root_pem = root.public_bytes(serialization.Encoding.PEM).decode()
        second = synthesize(tmp_path / "second", signer="organisation", certificate=bundle, root=root_pem)
        (imported,) = _of_type(second, SET_SIGNED)
        assert imported.inputs["certificate"] == bundle
        apply(client, second, only=(SET_SIGNED, DEFAULT_ISSUER))
        leaf, chain = chain_of(cert_manager_sign(issuer, csr(uris=(WORKLOAD,))))
        assert chain[-1] == root
        verify_client(root, leaf, chain[:-1])
        # The root's name constraints hold too: a DNS name outside them fails validation
        # even where Vault signs it (the root token, with no role at all).
        outside = {"csr": _pem(csr(dns=("evil.example.com",), common_name="evil.example.com")), "ttl": "1h"}
        rogue, rogue_chain = chain_of(client.write_data(f"{MOUNT}/sign-verbatim", data=outside))
        with pytest.raises(VerificationError, match="name constraint"):
            verify_client(root, rogue, rogue_chain[:-1])


def _pem(request: x509.CertificateSigningRequest) -> str:
    return request.public_bytes(serialization.Encoding.PEM).decode()


# ---- under mocks -------------------------------------------------------------------


def test_a_kubernetes_auth_login_binds_the_same_account_and_audience(tmp_path: Path) -> None:
    graph = synthesize(tmp_path / "program", signer="local", method="kubernetes")
    assert not _of_type(graph, JWT_ROLE)
    (role,) = _of_type(graph, KUBERNETES_ROLE)
    assert role.inputs["boundServiceAccountNames"] == [certificates.ISSUER_ACCOUNT]
    assert role.inputs["boundServiceAccountNamespaces"] == [certificates.ISTIO_NAMESPACE]
    assert role.inputs["audience"] == certificates.issuer_audience()
    assert role.inputs["tokenPolicies"] == [LOGIN_ROLE] and role.inputs["tokenType"] == "batch"


def test_the_policy_grants_sign_on_the_role_and_nothing_else(graph: Graph) -> None:
    (policy,) = _of_type(graph, POLICY)
    assert policy.inputs["name"] == LOGIN_ROLE
    assert policy.inputs["policy"] == f'path "{MOUNT}/sign/{ROLE}" {{\n  capabilities = ["update"]\n}}\n'


def test_within_a_period_nothing_is_renewed(tmp_path: Path) -> None:
    same = synthesize(tmp_path / "program", signer="local", today="2026-03-30")
    (request,) = _of_type(same, CSR)
    assert request.inputs["keyName"] == "mesh-intermediate-0"
    assert request.inputs["commonName"] == "cluster.local mesh intermediate CA 0"
    (signing,) = _of_type(same, SIGNING)
    assert signing.inputs["ttl"] == str(180 * 24 * 3600)


def _args(**changes: Any) -> pki.MeshPkiArgs:
    args = pki.MeshPkiArgs(
        owner=Ownership(team="platform", cost_center="cc-1", environment="test"),
        layout=policies.Layout(kv_mount="kv", app="project-ai-api", scope="test"),
        mount=MOUNT,
        trust_domain=TRUST_DOMAIN,
        dns_names=certificates.signed_dns_names(),
        signer=pki.OrganisationRoot(),
        login=pki.IssuerLogin("kubernetes-test", "jwt", Consumer("a", "b"), "vault://b/c"),
        rotation=RotationSchedule(period_days=90, today=datetime.date(2026, 3, 1)),
    )
    return dataclasses.replace(args, **changes)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"trust_domain": "Cluster Local"}, "is not a SPIFFE trust domain name"),
        ({"dns_names": ("*.istio-system.svc",)}, "is not a host name"),
        ({"dns_names": ()}, "no DNS names"),
        ({"workload_ttl_hours": 0}, "at least 1"),
        ({"workload_ttl_hours": 24 * 90}, "much shorter than a rotation period"),
        ({"key_type": "ec", "key_bits": 2048}, "ec keys of 2048 bits"),
        ({"signer": pki.OrganisationRoot(certificate="PEM")}, "come together"),
    ],
)
def test_the_component_refuses_args_that_would_widen_or_break_the_role(changes: dict[str, Any], problem: str) -> None:
    assert problem in "; ".join(pki.check(_args(**changes)))
    assert pki.check(_args()) == []
