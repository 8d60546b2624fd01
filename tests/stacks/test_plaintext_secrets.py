"""The plaintext-secret check of a stack's config: a key that names a secret is no secret;
a credential in plaintext is refused, whatever key holds it."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import ConfigError, parse
from tests.stacks.test_config import prod

SOURCE = "Pulumi.prod.yaml"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
AKIA = "AKIAIOSFODNN7EXAMPLE"


def secret_lines(raw: dict[str, Any]) -> list[str]:
    try:
        parse(raw, SOURCE)
    except ConfigError as error:
        return [line for line in error.problems if "looks like a secret in plaintext" in line]
    return []


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(prod(ingress__tlsSecretName="api-tls"), id="tlsSecretName"),
        # A Secret's name may look like a key's prefix: it is still a name.
        pytest.param(prod(ingress__tlsSecretName="sk-api-project-ai-prod-tls"), id="a-name-like-a-key"),
        pytest.param(prod(delivery__smokeTestSecretName="smoke-test-key"), id="smokeTestSecretName"),
        pytest.param(prod(vault__externalSecretsChartVersion="0.10.4"), id="a-chart-version"),
        pytest.param(prod(vault__tokenTtlSeconds="3600"), id="a-ttl-as-text"),
        pytest.param(
            prod(
                app__settings={
                    "TLS_SECRET_NAME": "api-tls",
                    "DB_PASSWORD_FILE": "/run/secrets/db-password",
                    "VAULT_TOKEN_PATH": "auth/kubernetes/login",
                    "API_TOKEN_TTL": "3600",
                }
            ),
            id="settings-naming-secrets",
        ),
    ],
)
def test_a_key_that_names_a_secret_is_not_one(raw: dict[str, Any]) -> None:
    assert secret_lines(raw) == []


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        pytest.param(
            prod(vault={"address": "https://vault.example.com", "password": "hunter2"}),
            "Pulumi.prod.yaml: projectai:vault.password: looks like a secret in plaintext; expected it in "
            "Vault, or set with `pulumi config set --secret --path 'projectai:vault.password'`",
            id="password",
        ),
        pytest.param(
            prod(app__settings={"DB_PASSWORD": "hunter2"}),
            "Pulumi.prod.yaml: projectai:app.settings.DB_PASSWORD: looks like a secret in plaintext; expected it "
            "in Vault (app settings go into a ConfigMap)",
            id="a-password-setting",
        ),
        pytest.param(
            prod(app__settings={"UPSTREAM_ID": AKIA}),
            "Pulumi.prod.yaml: projectai:app.settings.UPSTREAM_ID: looks like a secret in plaintext; expected it "
            "in Vault (app settings go into a ConfigMap)",
            id="an-access-key",
        ),
        # No Kubernetes name has capitals, spaces or newlines: under a name key it is still a key.
        pytest.param(
            prod(ingress__tlsSecretName=AKIA),
            "Pulumi.prod.yaml: projectai:ingress.tlsSecretName: looks like a secret in plaintext; expected it in "
            "Vault, or set with `pulumi config set --secret --path 'projectai:ingress.tlsSecretName'`",
            id="an-access-key-as-a-name",
        ),
        pytest.param(
            prod(ingress__tlsSecretName=PEM),
            "Pulumi.prod.yaml: projectai:ingress.tlsSecretName: looks like a secret in plaintext; expected it in "
            "Vault, or set with `pulumi config set --secret --path 'projectai:ingress.tlsSecretName'`",
            id="a-pem-key-as-a-name",
        ),
        pytest.param(
            prod(vaultTokenReviewerJwt="eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"),
            "Pulumi.prod.yaml: projectai:vaultTokenReviewerJwt: looks like a secret in plaintext; expected it in "
            "Vault, or set with `pulumi config set --secret --path 'projectai:vaultTokenReviewerJwt'`",
            id="a-token",
        ),
    ],
)
def test_a_credential_in_plaintext_is_refused(raw: dict[str, Any], line: str) -> None:
    assert secret_lines(raw) == [line]
