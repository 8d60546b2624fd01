"""API versions from the URL prefix, the `API-Version` header or `api-version` query.

The URL wins; a header or query that names another version is a conflict (400). A
request without a prefix is routed to the version its header or query names. Beta and
deprecated versions say so in response headers (Deprecation per RFC 9745, Sunset per
RFC 8594, and a Link with rel="deprecation").
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import problems
from app.settings import Settings

PREFIX = re.compile(r"^/(v\d+)(?=/|$)")


class Versioning:
    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        versions: frozenset[str],
        unversioned: frozenset[str],
        versioned_paths: frozenset[str],
    ) -> None:
        self.app = app
        self.versions = versions
        self.unversioned = unversioned
        # Paths some version serves, without the prefix: any other path is a 404.
        self.versioned_paths = versioned_paths
        self.beta = frozenset(settings.beta_versions)
        self.deprecated = frozenset(settings.deprecated_versions)
        self.deprecation_headers: list[tuple[bytes, bytes]] = []
        if settings.deprecation_date:
            self.deprecation_headers.append((b"deprecation", settings.deprecation_date.encode()))
        if settings.sunset_date:
            self.deprecation_headers.append((b"sunset", settings.sunset_date.encode()))
        if settings.deprecation_link:
            link = f'<{settings.deprecation_link}>; rel="deprecation"; type="text/html"'
            self.deprecation_headers.append((b"link", link.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.unversioned:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        in_url = PREFIX.match(path)
        url_version = in_url.group(1) if in_url else None
        headers = [value.decode("latin-1").strip() for name, value in scope["headers"] if name == b"api-version"]
        queries = [
            value
            for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
            if name == "api-version"
        ]
        asked = {version for version in (url_version, *headers, *queries) if version}
        if len(asked) > 1:
            detail = f"conflicting API versions: {', '.join(sorted(asked))}; name one (the URL prefix wins only alone)"
            await problems.send_problem(send, 400, detail, path)
            return
        version = next(iter(asked), None)
        if url_version is None and path not in self.versioned_paths:
            await problems.send_problem(send, 404, "no such resource", path)
            return
        if version is None:
            await problems.send_problem(
                send, 400, "no API version: use a /v1/ prefix, an API-Version header or ?api-version=v1", path
            )
            return
        if version not in self.versions:
            known = ", ".join(sorted(self.versions))
            await problems.send_problem(send, 400, f"unknown API version {version!r}; known versions: {known}", path)
            return
        if url_version is None:
            # In place, so the outer middleware sees the route that serves the request.
            scope["path"] = f"/{version}{path}"
            scope["raw_path"] = scope["path"].encode()
        extra = [(b"api-version", version.encode())]
        if version in self.beta:
            extra.append((b"api-version-status", b"beta"))
        if version in self.deprecated:
            extra.append((b"api-version-status", b"deprecated"))
            extra.extend(self.deprecation_headers)

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_version)
