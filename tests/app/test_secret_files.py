"""Secrets as files: read at start from APP_SECRETS_DIR, re-read when Kubernetes swaps
them, a rotated pepper still accepting (and moving) keys made under the previous one."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from app.metrics import API_KEYS_REHASHED
from app.secret_files import Credentials, SecretFiles
from app.settings import load_settings
from tests.app.conftest import running, settings_for

pytestmark = pytest.mark.anyio

PEPPER_A = "pepper-a-" + "x" * 32
PEPPER_B = "pepper-b-" + "y" * 32


def mounted(folder: Path, version: str, files: dict[str, str]) -> None:
    """A Secret as the kubelet mounts it: files are links through `..data`, which is
    swapped atomically to a new timestamped folder on every update."""
    folder.mkdir(exist_ok=True)
    (folder / version).mkdir()
    for name, value in files.items():
        (folder / version / name).write_text(value)
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(Path("..data") / name)
    staging = folder / "..data_tmp"
    staging.symlink_to(version)
    os.replace(staging, folder / "..data")


def test_settings_read_secrets_from_the_files_in_app_secrets_dir(tmp_path: Path, monkeypatch) -> None:
    mounted(tmp_path / "secrets", "v1", {"APP_API_KEY_PEPPER": PEPPER_A, "APP_DATABASE_URL": "sqlite+aiosqlite:///x"})
    monkeypatch.setenv("APP_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("APP_ENVIRONMENT", "prod")
    monkeypatch.delenv("APP_API_KEY_PEPPER", raising=False)
    settings = load_settings()
    assert settings.api_key_pepper.get_secret_value() == PEPPER_A
    assert settings.database_url == "sqlite+aiosqlite:///x"
    assert settings.secrets_dir == tmp_path / "secrets"


def test_without_the_pepper_file_production_refuses_to_start(tmp_path: Path, monkeypatch) -> None:
    from pydantic import ValidationError

    (tmp_path / "secrets").mkdir()
    monkeypatch.setenv("APP_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("APP_ENVIRONMENT", "prod")
    monkeypatch.delenv("APP_API_KEY_PEPPER", raising=False)
    with pytest.raises(ValidationError, match="APP_API_KEY_PEPPER is the development placeholder"):
        load_settings()


def test_a_swapped_secret_is_taken_without_a_restart_and_its_value_never_logged(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    mounted(folder, "v1", {"APP_API_KEY_PEPPER": PEPPER_A, "APP_UPSTREAM_TOKEN": "token-1"})
    credentials = Credentials(pepper=PEPPER_A, previous_pepper=None, upstream_token="token-1")
    watcher = SecretFiles(folder, credentials)
    assert watcher.reload() == []
    mounted(folder, "v2", {"APP_API_KEY_PEPPER": PEPPER_B, "APP_API_KEY_PEPPER_PREVIOUS": PEPPER_A})
    with capture_logs() as logs:
        changed = watcher.reload()
    assert sorted(changed) == ["APP_API_KEY_PEPPER", "APP_API_KEY_PEPPER_PREVIOUS", "APP_UPSTREAM_TOKEN"]
    assert (credentials.pepper, credentials.previous_pepper, credentials.upstream_token) == (PEPPER_B, PEPPER_A, None)
    assert PEPPER_B not in repr(logs) and PEPPER_A not in repr(logs)


def test_a_pepper_file_that_vanishes_keeps_the_pepper_in_use(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    mounted(folder, "v1", {"APP_UPSTREAM_TOKEN": "t"})
    credentials = Credentials(pepper=PEPPER_A, previous_pepper=None, upstream_token="t")
    assert SecretFiles(folder, credentials).reload() == []
    assert credentials.pepper == PEPPER_A


async def test_after_a_pepper_rotation_a_key_still_works_and_moves_to_the_new_pepper(tmp_path: Path) -> None:
    from sqlalchemy import select

    from app import keys
    from app.db.models import ApiKey

    before = running(settings_for(tmp_path, api_key_pepper=PEPPER_A))
    async with before as api:
        key = api.key
    key_id, secret = keys.split(key)
    rotated = settings_for(
        tmp_path, api_key_pepper=PEPPER_B, api_key_pepper_previous=PEPPER_A, api_key_rehash_after_seconds=0
    )
    rehashed = API_KEYS_REHASHED._value.get()
    async with running(rotated, migrate=False) as api:
        response = await api.client.get("/v1/models", headers=api.auth(key))
        assert response.status_code == 200
        assert API_KEYS_REHASHED._value.get() == rehashed + 1
        stored = await api.services.database.run(
            lambda db: db.scalar(select(ApiKey.secret_hash).where(ApiKey.id == key_id))
        )
        assert stored == keys.hash_secret(secret, PEPPER_B)
    # The grace period over, the previous pepper goes: the moved key still works.
    async with running(settings_for(tmp_path, api_key_pepper=PEPPER_B), migrate=False) as api:
        api.services.cache = type(api.services.cache)()  # no cached hash helps it
        assert (await api.client.get("/v1/models", headers=api.auth(key))).status_code == 200
    # A key never used in the grace period is refused once the previous pepper is gone.
    async with running(settings_for(tmp_path, api_key_pepper=PEPPER_A), migrate=False) as api:
        stale = api.key
    async with running(settings_for(tmp_path, api_key_pepper=PEPPER_B), migrate=False) as api:
        assert (await api.client.get("/v1/models", headers=api.auth(stale))).status_code == 401


async def test_the_upstream_gets_the_token_read_from_the_file_after_a_rotation(start, tmp_path: Path) -> None:
    seen: list[str] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"choices": [{"text": "ok"}]})

    folder = tmp_path / "secrets"
    mounted(folder, "v1", {"APP_UPSTREAM_TOKEN": "token-1"})
    async with start(upstream_url="http://upstream.test", upstream_token="token-1", secrets_dir=folder) as api:
        api.services.upstream.client = httpx.AsyncClient(transport=httpx.MockTransport(upstream))
        assert (await api.complete()).status_code == 200
        mounted(
            folder,
            "v2",
            {"APP_UPSTREAM_TOKEN": "token-2", "APP_API_KEY_PEPPER": api.settings.api_key_pepper.get_secret_value()},
        )
        SecretFiles(folder, api.services.credentials).reload()
        assert (await api.complete()).status_code == 200
    assert seen == ["Bearer token-1", "Bearer token-2"]


async def test_a_key_is_not_moved_while_pods_may_still_hold_the_previous_pepper(tmp_path: Path) -> None:
    """Two pods on one database during a rotation: the one with the new pepper must not
    re-hash a key the one still on the old pepper has to verify."""
    async with running(settings_for(tmp_path, api_key_pepper=PEPPER_A)) as old_pod:
        key = old_pod.key
        rotated = settings_for(tmp_path, api_key_pepper=PEPPER_B, api_key_pepper_previous=PEPPER_A)
        rehashed = API_KEYS_REHASHED._value.get()
        async with running(rotated, migrate=False) as new_pod:
            assert (await new_pod.client.get("/v1/models", headers=new_pod.auth(key))).status_code == 200
        assert API_KEYS_REHASHED._value.get() == rehashed  # within the propagation window
        old_pod.services.cache = type(old_pod.services.cache)()  # read the stored hash afresh
        assert (await old_pod.client.get("/v1/models", headers=old_pod.auth(key))).status_code == 200


def test_an_undecodable_secret_file_keeps_the_value_in_use_and_the_watcher_alive(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    mounted(folder, "v1", {"APP_UPSTREAM_TOKEN": "token-1"})
    (folder / "v1" / "APP_UPSTREAM_TOKEN").write_bytes(b"\xff\xfe not utf-8")
    credentials = Credentials(pepper=PEPPER_A, previous_pepper=None, upstream_token="token-1")
    watcher = SecretFiles(folder, credentials)
    assert watcher.reload() == [] and credentials.upstream_token == "token-1"
    mounted(folder, "v2", {"APP_UPSTREAM_TOKEN": "token-2"})
    assert watcher.reload() == ["APP_UPSTREAM_TOKEN"] and credentials.upstream_token == "token-2"
