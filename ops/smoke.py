"""`ops smoke`: the blue-green preview's smoke test, as Argo Rollouts' Job runs it before
promotion (components/delivery/analysis.py). The preview must answer readiness, then one
real request authenticated with the API key its Secret mounts as a file.

The key is read from the file and sent in a header only: never an argument, an
environment variable or a line of output. Exit 0: both answered 200; 1: the preview failed
(the Job fails, and so the analysis); 2: the key file is missing or not a key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ops.steps import OpsError, PreconditionFailed

# An API key is one line of printable ASCII: anything else could smuggle a header.
_KEY_CHARACTERS = frozenset(chr(code) for code in range(0x21, 0x7F))
_MAX_KEY_BYTES = 4096


def register(groups: argparse._SubParsersAction) -> None:
    smoke = groups.add_parser(
        "smoke",
        help="the blue-green preview's smoke test: readiness, then one authenticated request",
        description="GET <url><ready-path>, then GET <url><path> with 'Authorization: Bearer <key>' "
        "(the key read from --key-file). Exit 0 when both answer 200, 1 when the preview fails, "
        "2 when the key file is unusable.",
    )
    smoke.add_argument(
        "--url", required=True, type=_base_url, help="the preview Service, e.g. http://api-preview.ns.svc"
    )
    smoke.add_argument("--key-file", required=True, type=Path, metavar="FILE", help="the API key, alone in the file")
    smoke.add_argument("--ready-path", default="/readyz", type=_path, help="readiness (default: /readyz)")
    smoke.add_argument(
        "--path", default="/v1/models", type=_path, help="the request with the key (default: /v1/models)"
    )
    smoke.add_argument("--timeout-seconds", default=10.0, type=_timeout, help="per request (default: 10)")
    smoke.set_defaults(run=run)


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"'{value}': expected http(s)://host[:port] with no query")
    if parts.username or parts.password:
        raise argparse.ArgumentTypeError("expected no credentials in the URL: the key comes from --key-file")
    return value.rstrip("/")


def _path(value: str) -> str:
    if not value.startswith("/") or any(c.isspace() or c in "?#" for c in value):
        raise argparse.ArgumentTypeError(f"'{value}': expected a path starting with '/', without spaces or query")
    return value


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 120:
        raise argparse.ArgumentTypeError(f"'{value}': expected seconds in (0, 120]")
    return seconds


def read_key(path: Path) -> str:
    try:
        raw = path.read_bytes()[: _MAX_KEY_BYTES + 1]
    except OSError as error:
        raise PreconditionFailed(f"key file {path}: {error.strerror}; expected the API key the Secret mounts") from None
    if len(raw) > _MAX_KEY_BYTES:
        raise PreconditionFailed(f"key file {path}: over {_MAX_KEY_BYTES} bytes; expected one API key")
    key = raw.decode("ascii", errors="replace").strip()
    if not key or not set(key) <= _KEY_CHARACTERS:
        raise PreconditionFailed(f"key file {path}: expected one API key of printable ASCII on one line")
    return key


def _get(client: Any, url: str, headers: dict[str, str] | None = None) -> None:
    import httpx

    try:
        status = client.get(url, headers=headers).status_code
    except httpx.TimeoutException:
        raise OpsError(f"GET {url}: no answer within the timeout") from None
    except httpx.HTTPError as error:
        raise OpsError(f"GET {url}: {type(error).__name__}") from None
    if status != 200:
        raise OpsError(f"GET {url} answered {status}, expected 200")


def run(arguments: argparse.Namespace) -> int:
    import httpx

    key = read_key(arguments.key_file)
    with httpx.Client(timeout=arguments.timeout_seconds, follow_redirects=False) as client:
        _get(client, arguments.url + arguments.ready_path)
        _get(client, arguments.url + arguments.path, {"Authorization": f"Bearer {key}"})
    print(f"smoke: {arguments.url} is ready and {arguments.path} answered 200", file=sys.stdout)
    return 0
