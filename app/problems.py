"""RFC 9457 problem details: every error is `application/problem+json`."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import Send

from app.db.database import DatabaseUnavailable

PROBLEM_JSON = "application/problem+json"
MAX_ERRORS = 10
# Problem types a client can branch on (RFC 9457 `type`); the rest are `about:blank`.
PROBLEM_TYPES = "https://api.project-ai.dev/problems/"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class Problem(Exception):
    """An error with a status, a detail for the client, and headers (Retry-After, ...)."""

    def __init__(
        self, status: int, detail: str, headers: dict[str, str] | None = None, kind: str | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = {"type": PROBLEM_TYPES + kind} if kind else {}
        self.extra.update(extra)


def body(status: int, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }


def response(status: int, detail: str, instance: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return JSONResponse(
        body(status, detail, instance, **extra), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


async def send_problem(
    send: Send, status: int, detail: str, instance: str, headers: dict[str, str] | None = None, **extra: Any
) -> None:
    """For pure ASGI middleware, which answers before any route exists."""
    payload = json.dumps(body(status, detail, instance, **extra)).encode()
    raw_headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> Response:
        return response(error.status, error.detail, request.url.path, error.headers, **error.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        return response(error.status_code, str(error.detail), request.url.path, dict(error.headers or {}))

    @app.exception_handler(DatabaseUnavailable)
    async def _database(request: Request, error: DatabaseUnavailable) -> Response:
        retry_after = request.app.state.services.settings.db_retry_after_seconds
        return response(
            503,
            "the database is unavailable; retry later",
            request.url.path,
            {"Retry-After": str(retry_after)},
            type=PROBLEM_TYPES + "database-unavailable",
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        if any(item["type"] == "json_invalid" for item in error.errors()):
            return response(400, "the body is not valid JSON", request.url.path)
        # At most a few: a list as long as the body's mistakes would be an amplifier.
        errors = [
            {"location": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
            for item in error.errors()[:MAX_ERRORS]
        ]
        return response(422, "the request does not match the schema", request.url.path, errors=errors)
