"""`ops smoke`, the blue-green preview's smoke test, against a local preview: ready and
authorized, refused, not ready, redirected, stopped and frozen; and key files a Secret
should never hold."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.conftest import run, serving

KEY = "pai_smoke_0123456789"


class Preview(http.server.BaseHTTPRequestHandler):
    """/readyz answers `ready`; /v1/models 200 for KEY only; /moved redirects."""

    ready = 200
    seen: list[tuple[str, str | None]]
    hang: threading.Event

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        if self.path == "/slow":
            self.hang.wait(10)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/v1/models")
        elif self.path == "/readyz":
            self.send_response(self.ready)
        else:
            self.send_response(200 if self.headers.get("Authorization") == f"Bearer {KEY}" else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def preview() -> Iterator[tuple[str, type[Preview]]]:
    handler = type("Handler", (Preview,), {"seen": [], "hang": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with serving(server, handler.hang):
        yield f"http://127.0.0.1:{server.server_address[1]}", handler


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "api-key"
    path.write_text(KEY + "\n")  # as a Secret's file often ends
    return path


def smoke(capsys: pytest.CaptureFixture[str], url: str, key_file: Path, *extra: str) -> tuple[int, str]:
    code, out, err = run(capsys, "smoke", "--url", url, "--key-file", str(key_file), *extra)
    assert KEY not in out + err
    return code, out + err


def test_a_ready_preview_that_takes_the_key_passes(capsys, preview, key_file) -> None:
    url, handler = preview
    assert smoke(capsys, url, key_file) == (0, f"smoke: {url} is ready and /v1/models answered 200\n")
    # Readiness first, without the key; the key only on the request that needs it.
    assert handler.seen == [("/readyz", None), ("/v1/models", f"Bearer {KEY}")]


def test_a_refused_key_fails_the_job(capsys, preview, tmp_path) -> None:
    (tmp_path / "wrong").write_text("pai_wrong")
    code, output = smoke(capsys, preview[0], tmp_path / "wrong")
    assert code == 1 and f"GET {preview[0]}/v1/models answered 401, expected 200" in output


def test_a_preview_not_ready_is_never_sent_the_key(capsys, preview, key_file) -> None:
    url, handler = preview
    handler.ready = 503
    code, output = smoke(capsys, url, key_file)
    assert code == 1 and f"GET {url}/readyz answered 503, expected 200" in output
    assert handler.seen == [("/readyz", None)]


def test_a_redirect_is_not_followed_with_the_key(capsys, preview, key_file) -> None:
    url, handler = preview
    code, output = smoke(capsys, url, key_file, "--path", "/moved")
    assert code == 1 and "answered 302, expected 200" in output
    assert [path for path, _ in handler.seen] == ["/readyz", "/moved"]


def test_a_stopped_preview_fails_the_job(capsys, key_file) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    code, output = smoke(capsys, f"http://127.0.0.1:{port}", key_file)
    assert code == 1 and f"GET http://127.0.0.1:{port}/readyz: ConnectError" in output


def test_a_frozen_preview_fails_within_the_timeout(capsys, preview, key_file) -> None:
    url, _ = preview
    code, output = smoke(capsys, url, key_file, "--ready-path", "/slow", "--timeout-seconds", "0.3")
    assert code == 1 and f"GET {url}/slow: no answer within the timeout" in output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "expected one API key of printable ASCII on one line"),
        (b"  \n", "expected one API key of printable ASCII on one line"),
        # A second line would become a header of its own.
        (f"{KEY}\r\nX-Injected: 1".encode(), "expected one API key of printable ASCII on one line"),
        (f"{KEY} other".encode(), "expected one API key of printable ASCII on one line"),
        ("pai_clé".encode(), "expected one API key of printable ASCII on one line"),
        (b"k" * 4097, "over 4096 bytes; expected one API key"),
    ],
)
def test_a_key_file_that_is_not_one_key_is_refused(capsys, preview, tmp_path, content, expected) -> None:
    url, handler = preview
    (tmp_path / "api-key").write_bytes(content)
    code, output = smoke(capsys, url, tmp_path / "api-key")
    assert code == 2 and expected in output
    assert handler.seen == []  # nothing was sent


def test_a_missing_key_file_is_refused(capsys, preview, tmp_path) -> None:
    code, output = smoke(capsys, preview[0], tmp_path / "absent")
    assert code == 2 and "No such file or directory; expected the API key the Secret mounts" in output


def test_the_longest_key_is_accepted(capsys, preview, tmp_path) -> None:
    (tmp_path / "api-key").write_text("k" * 4096)
    code, output = smoke(capsys, preview[0], tmp_path / "api-key")
    assert code == 1 and "answered 401" in output  # sent, and refused by the preview


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--url", "ftp://preview", "expected http(s)://host[:port] with no query"),
        ("--url", "http://preview/?next=x", "expected http(s)://host[:port] with no query"),
        ("--url", "http://user:secret@preview", "expected no credentials in the URL"),
        ("--path", "v1/models", "expected a path starting with '/'"),
        ("--path", "/v1/models?x=1", "expected a path starting with '/'"),
        ("--timeout-seconds", "0", "expected seconds in (0, 120]"),
        ("--timeout-seconds", "nan", "expected seconds in (0, 120]"),
    ],
)
def test_bad_options_are_refused_before_any_request(capsys, preview, key_file, option, value, expected) -> None:
    url, handler = preview
    arguments = {"--url": url, "--key-file": str(key_file), option: value}
    code, _, err = run(capsys, "smoke", *[part for pair in arguments.items() for part in pair])
    assert code == 2 and expected in err
    assert handler.seen == []
