"""Feature flags on the real app: OpenFeature's flagd provider in process (FILE mode),
reading flag files rendered by the program's own function from the real stack files."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import mmh3
import pytest
from openfeature.hook import Hook, HookContext
from prometheus_client import REGISTRY

from app import keys
from app.__main__ import create_key
from app.flags import V2_BETA_ROUTES
from stacks.config import parse
from stacks.model import FeatureFlag, WorkloadStack, flagd_file
from tests.app.conftest import Api
from tests.stacks.test_config import namespace, stack

pytestmark = pytest.mark.anyio

POLL = 0.05


def stack_flags(name: str, **changes: Any) -> str:
    """The flag file the program puts in the stack's flags ConfigMap."""
    config = parse(stack(name, **changes) if changes else namespace(name), f"Pulumi.{name}.yaml")
    assert isinstance(config, WorkloadStack)
    return flagd_file(config.flags)


def write(path: Path, text: str) -> Path:
    """As the kubelet updates a mounted ConfigMap: a new file swapped in at once."""
    staged = path.with_suffix(".new")
    staged.write_text(text)
    os.replace(staged, path)
    return path


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "the change was not picked up"
        await asyncio.sleep(POLL / 2)


def key_id(key: str) -> str:
    parts = keys.split(key)
    assert parts is not None
    return parts[0]


def in_cohort(flag: str, targeting_key: str, percent: int) -> bool:
    """flagd's `fractional`: murmur3 (32-bit) of flag name and targeting key, as a share of 100."""
    return abs(mmh3.hash(flag + targeting_key)) / (2**31 - 1) * 100 < percent


def evaluations(reason: str, result: str = "off") -> float:
    labels = {"flag": V2_BETA_ROUTES, "result": result, "reason": reason}
    return REGISTRY.get_sample_value("feature_flag_evaluations_total", labels) or 0.0


def source_ready() -> float | None:
    return REGISTRY.get_sample_value("feature_flags_source_ready")


async def v2_status(api: Api, key: str | None = None) -> int:
    return (await api.client.get("/v2/models", headers=api.auth(key))).status_code


@pytest.mark.parametrize("name", ["local", "dev", "staging"])
async def test_a_stack_with_the_beta_on_serves_v2_to_every_key(
    start: Callable[..., Any], tmp_path: Path, name: str
) -> None:
    path = write(tmp_path / "flags.json", stack_flags(name))
    async with start(flags_file=path, flags_poll_seconds=POLL) as api:
        response = await api.complete(version="v2")
        assert response.status_code == 200 and response.headers["api-version-status"] == "beta"
        assert await v2_status(api) == 200
        # Routed by header, the same route and the same answer.
        assert (await api.client.get("/models", headers={"API-Version": "v2"})).status_code == 200


async def test_prods_cohort_is_one_key_in_ten_by_the_hash_of_its_id(start: Callable[..., Any], tmp_path: Path) -> None:
    path = write(tmp_path / "flags.json", stack_flags("prod"))
    async with start(flags_file=path, flags_poll_seconds=POLL) as api:
        seen: dict[bool, str] = {}
        for number in range(200):
            key = await create_key(api.settings, f"cohort-{number}")
            seen.setdefault(in_cohort(V2_BETA_ROUTES, key_id(key), 10), key)
            if len(seen) == 2:
                break
        assert set(seen) == {True, False}
        assert await v2_status(api, seen[True]) == 200
        hidden = await api.client.get("/v2/models", headers=api.auth(seen[False]))
        assert hidden.status_code == 404 and hidden.headers["content-type"] == "application/problem+json"
        assert "not available to this key" in hidden.json()["detail"]
        # A hidden route costs no rate-limit token and says nothing of one.
        assert not any(name.lower().startswith("ratelimit") for name in hidden.headers)
        # v1 is never gated.
        assert (await api.client.get("/v1/models", headers=api.auth(seen[False]))).status_code == 200
        # The same answer on every call: the cohort is stable per key.
        assert {await v2_status(api, seen[True]) for _ in range(3)} == {200}


async def test_a_targeted_key_gets_the_beta_and_others_do_not(start: Callable[..., Any], tmp_path: Path) -> None:
    async with start() as plain:
        other = await create_key(plain.settings, "other")
        targeting = {"if": [{"in": [{"var": "targetingKey"}, [key_id(plain.key)]]}, "on", "off"]}
        text = stack_flags("prod", **{"flags__v2-beta-routes__targeting": targeting})
    path = write(tmp_path / "flags.json", text)
    async with start(flags_file=path, flags_poll_seconds=POLL) as api:
        assert await v2_status(api, plain.key) == 200
        assert await v2_status(api, other) == 404


async def test_the_evaluation_context_carries_the_key_id_never_the_key(
    start: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contexts = []

    class Seen(Hook):
        def before(self, hook_context: HookContext, hints: Any) -> None:
            contexts.append(hook_context.evaluation_context)

    path = write(tmp_path / "flags.json", stack_flags("prod"))
    async with start(flags_file=path, flags_poll_seconds=POLL) as api:
        api.services.flags.client.add_hooks([Seen()])
        await v2_status(api)
        (context,) = contexts
        assert context.targeting_key == key_id(api.key)
        # The secret as the API splits it (it may hold "_" itself: token_urlsafe).
        parts = keys.split(api.key)
        assert parts is not None
        secret = parts[1]
        assert secret not in json.dumps([context.targeting_key, context.attributes], default=str)
        write(path, "{ not json")
        await eventually(lambda: _ready_is(api, False))
        await v2_status(api)
    assert secret not in capsys.readouterr().out


async def _ready_is(api: Api, ready: bool) -> bool:
    return api.services.flags.observe() is ready


async def test_a_missing_file_leaves_the_beta_off_until_it_appears(
    start: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "flags.json"
    async with start(flags_file=path, flags_poll_seconds=POLL) as api:
        before = evaluations("source_unavailable")
        assert await v2_status(api) == 404
        assert (await api.client.get("/v1/models")).status_code == 200
        assert (await api.client.get("/readyz")).status_code == 200
        assert evaluations("source_unavailable") == before + 1
        assert source_ready() == 0
        assert "feature flag file unusable" in capsys.readouterr().out
        write(path, stack_flags("dev"))
        await eventually(lambda: _status_is(api, 200))
        assert source_ready() == 1 or await _ready_is(api, True)


async def _status_is(api: Api, status: int) -> bool:
    return await v2_status(api) == status


@pytest.mark.parametrize(
    "text",
    ["{ not json", "[]", json.dumps({"flags": {"v2-beta-routes": {"state": "ON", "variants": {}}}})],
    ids=["not-json", "not-an-object", "not-flagd"],
)
async def test_a_malformed_file_leaves_the_beta_off_and_the_api_up(
    start: Callable[..., Any], tmp_path: Path, text: str
) -> None:
    path = write(tmp_path / "flags.json", text)
    async with start(flags_file=path, flags_poll_seconds=POLL) as api:
        assert await v2_status(api) == 404
        assert (await api.complete()).status_code == 200
        assert source_ready() == 0
        # Mended, it is read again without a restart.
        write(path, stack_flags("dev"))
        await eventually(lambda: _status_is(api, 200))


async def test_a_flag_of_another_type_takes_its_default(start: Callable[..., Any], tmp_path: Path) -> None:
    strings = FeatureFlag.model_validate({"variants": {"on": "yes", "off": "no"}, "defaultVariant": "on"})
    path = write(tmp_path / "flags.json", flagd_file({V2_BETA_ROUTES: strings}))
    async with start(flags_file=path, flags_poll_seconds=POLL) as api:
        before = evaluations("type_mismatch")
        assert await v2_status(api) == 404
        assert evaluations("type_mismatch") == before + 1


async def test_a_flag_the_file_lacks_takes_its_default(start: Callable[..., Any], tmp_path: Path) -> None:
    path = write(tmp_path / "flags.json", flagd_file({}))
    async with start(flags_file=path, flags_poll_seconds=POLL) as api:
        before = evaluations("flag_not_found")
        assert await v2_status(api) == 404
        assert evaluations("flag_not_found") == before + 1


async def test_a_changed_file_is_picked_up_without_a_restart(start: Callable[..., Any], tmp_path: Path) -> None:
    path = write(tmp_path / "flags.json", stack_flags("dev"))
    async with start(flags_file=path, flags_poll_seconds=POLL) as api:
        assert await v2_status(api) == 200
        # Switched off for everyone (state DISABLED serves the code's default: off).
        write(path, stack_flags("dev", **{"flags__v2-beta-routes__state": "DISABLED"}))
        await eventually(lambda: _status_is(api, 404))
        # A file broken while running: the default applies, not the last flags read.
        write(path, stack_flags("dev"))
        await eventually(lambda: _status_is(api, 200))
        write(path, "{ not json")
        await eventually(lambda: _status_is(api, 404))
        write(path, stack_flags("dev"))
        await eventually(lambda: _status_is(api, 200))


async def test_without_a_flag_file_nothing_is_gated(api: Api) -> None:
    assert api.settings.flags_file is None
    assert await v2_status(api) == 200
