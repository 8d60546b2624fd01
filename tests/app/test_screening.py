"""Screening cannot stall: its cost on adversarial input stays a small constant factor of
a linear scan of the same text, up to the body and query limits; and it cannot be
walked around with other spaces, full-width letters or a long query."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.schemas import MAX_BODY_BYTES
from app.middleware.body_guard import inspect
from app.middleware.client_limits import MAX_QUERY_BYTES
from app.screening import screen
from app.screening_bench import ADVERSARIAL, body_of, cost_ratio, filled
from tests.app.conftest import Api

# Measured here at 2-10 for bodies and up to 29 for a query mixing invalid UTF-8 with
# characters NFKC rewrites (fixed costs dominate small inputs); catastrophic
# backtracking is thousands of times a scan, and grows with the length.
MAX_RATIO = 50

# Pieces that make backtracking engines explode, and mixtures of them.
UNITS = [
    *(unit for _, unit in ADVERSARIAL.values()),
    "&",
    "%27",
    "%ZZ",
    "+",
    "'",
    '"',
    " ",
    "\t",
    "\n",
    "\u3000",
    "<",
    "=",
    "1",
    ";",
    "|",
    "&&",
    "--",
    "/*",
    "`",
    "or ",
    "union ",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.sampled_from(["", "'", '"', "x'", "<", "$("]),
    units=st.lists(st.sampled_from(UNITS), min_size=1, max_size=4),
    fraction=st.floats(min_value=0.02, max_value=1.0),
)
def test_a_body_up_to_the_limit_screens_in_linear_time(start: str, units: list[str], fraction: float) -> None:
    unit = "".join(units)
    widest = max(len(json.dumps(character)) - 2 for character in unit)  # bytes per character in JSON
    text = filled(start, unit, int((MAX_BODY_BYTES - 64) * fraction) // widest)
    body = body_of(text)
    assert len(body) <= MAX_BODY_BYTES
    _, ratio = cost_ratio(b"", body)
    assert ratio < MAX_RATIO, f"{len(body)} bytes of {unit!r}: {ratio:.1f} x a linear scan"


@settings(max_examples=20, deadline=None)
@given(units=st.lists(st.sampled_from(UNITS), min_size=1, max_size=4))
def test_a_query_up_to_the_limit_screens_in_linear_time(units: list[str]) -> None:
    query = ("q=" + filled("'", "".join(units), MAX_QUERY_BYTES)).encode()[:MAX_QUERY_BYTES]
    _, ratio = cost_ratio(query, None)
    assert ratio < MAX_RATIO, f"{ratio:.1f} x a linear scan"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x'\u00a0OR\u00a0'1'='1", "sql_injection"),  # no-break spaces
        ("x'\u2028or\u30001=1", "sql_injection"),  # line separator, ideographic space
        ("ｘ' ＯＲ '1'='1", "sql_injection"),  # full-width letters
        ("＜script＞alert(1)＜/script＞", "xss"),  # full-width brackets fold to < >
        ("<img\u1680src=x\u2003onerror=alert(1)>", "xss"),  # Ogham and em spaces
        ("ok;\u00a0rm -rf /", "command_injection"),
        ("1 UNION\u000bSELECT password", "sql_injection"),  # vertical tab
    ],
)
def test_other_spaces_and_full_width_letters_do_not_walk_around_the_patterns(text: str, reason: str) -> None:
    assert screen([text]) == reason


def test_an_injection_past_a_long_run_of_padding_is_still_found() -> None:
    padded = filled("", " ", MAX_BODY_BYTES // 2) + "x' OR '1'='1"
    refusal = inspect(b"", body_of(padded), None, screening=True)
    assert refusal is not None and refusal.reason == "sql_injection"


@pytest.mark.anyio
async def test_a_query_string_over_the_limit_is_414_before_it_is_read(api: Api) -> None:
    response = await api.client.get("/v1/models", params={"q": "x" * MAX_QUERY_BYTES})
    assert response.status_code == 414 and response.headers["content-type"] == "application/problem+json"
    assert (await api.client.get("/v1/models", params={"q": "x" * (MAX_QUERY_BYTES - 100)})).status_code == 200


@pytest.mark.anyio
async def test_a_large_adversarial_body_is_screened_off_the_event_loop(api: Api) -> None:
    # Over the offload threshold: screened on a worker thread, and still answered.
    response = await api.complete(filled("'", " ", 32_000))
    assert response.status_code == 200
    blocked = await api.complete(filled("", " ", 31_000) + "<script>alert(1)</script>")
    assert blocked.status_code == 400 and blocked.json()["detail"] == "the request looks like xss"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (b"cmd%=rm+-rf+/", "command_injection"),  # a lone % must not join lines as a soft break
        (b"q=%27/**/or/**/1=1", "sql_injection"),  # comments as spaces
        (b"q=1/**/union/**/select/**/password", "sql_injection"),
    ],
)
def test_soft_breaks_and_sql_comments_do_not_walk_around_the_patterns(query: bytes, reason: str) -> None:
    refusal = inspect(query, None, None, screening=True)
    assert refusal is not None and refusal.reason == reason
