"""API keys: hashed at rest, required on every versioned route, failures counted."""

from __future__ import annotations

import sqlite3

import pytest

from app import keys
from app.__main__ import main
from app.metrics import AUTH_FAILURES
from tests.app.conftest import Api

pytestmark = pytest.mark.anyio


def failures(reason: str) -> float:
    return AUTH_FAILURES.labels(reason)._value.get()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Authorization": ""}, "missing"),
        ({"Authorization": "Bearer not-a-key"}, "malformed"),
        ({"Authorization": "Bearer pai_0123456789abcdef_wrong-secret"}, "invalid"),
    ],
)
async def test_missing_or_wrong_keys_are_401_and_counted(api: Api, headers: dict, reason: str) -> None:
    before = failures(reason)
    response = await api.client.get("/v1/models", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="project-ai"'
    assert response.headers["content-type"] == "application/problem+json"
    assert failures(reason) == before + 1


async def test_a_right_id_with_a_wrong_secret_is_refused(api: Api) -> None:
    key_id, _ = keys.split(api.key)
    response = await api.client.get("/v1/models", headers=api.auth(f"pai_{key_id}_guessed"))
    assert response.status_code == 401


async def test_the_x_api_key_header_works_too(api: Api) -> None:
    response = await api.client.get("/v1/models", headers={"Authorization": "", "X-API-Key": api.key})
    assert response.status_code == 200


async def test_a_revoked_key_is_refused_once_the_cache_expires(start) -> None:
    async with start(cache_ttl_seconds=1) as api:
        key_id, _ = keys.split(api.key)
        path = api.settings.database_url.split("///", 1)[1]
        with sqlite3.connect(path) as db:
            db.execute("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE id = ?", (key_id,))
        await api.services.cache.close()  # as if the TTL had passed
        assert (await api.client.get("/v1/models")).status_code == 401


async def test_keys_are_stored_hashed_never_in_plaintext(api: Api) -> None:
    key_id, secret = keys.split(api.key)
    path = api.settings.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, secret_hash FROM api_keys").fetchall()
    dump = repr(rows)
    assert secret not in dump and api.key not in dump
    assert (key_id, keys.hash_secret(secret, api.settings.api_key_pepper.get_secret_value())) in rows


def test_keys_create_prints_a_working_key_once(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("APP_ENVIRONMENT", "test")
    monkeypatch.setenv("APP_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    assert main(["migrate"]) == 0
    assert main(["keys", "create", "--name", "billing-service"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert keys.split(printed) is not None
    with sqlite3.connect(tmp_path / "cli.db") as db:
        assert db.execute("SELECT name FROM api_keys").fetchall() == [("billing-service",)]


def test_a_placeholder_pepper_outside_development_is_refused(monkeypatch, capsys) -> None:
    monkeypatch.setenv("APP_ENVIRONMENT", "prod")
    assert main(["migrate"]) == 2
    assert (
        "APP_API_KEY_PEPPER is the development placeholder; in prod it must come from Vault" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "eighty", "invalid setting PORT: Input should be a valid integer"),
        ("APP_RATE_LIMITS", "POST /v1/completions", "expected 'METHOD /path=per_second/burst'"),
        ("APP_SCREENING_MODE", "maybe", "invalid setting APP_SCREENING_MODE: Input should be 'block', 'log' or 'off'"),
    ],
)
def test_bad_settings_are_one_clear_line_not_a_traceback(monkeypatch, capsys, variable, value, message) -> None:
    monkeypatch.setenv("APP_ENVIRONMENT", "test")
    monkeypatch.setenv(variable, value)
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
