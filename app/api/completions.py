"""What both versions do for a completion; each version shapes its own response."""

from __future__ import annotations

from app.api.deps import Services
from app.api.schemas import CompletionRequest
from app.breaker import BreakerOpen
from app.db import usage
from app.metrics import TOKENS
from app.problems import Problem
from app.services import MODELS_KEY
from app.upstream import Completion, UpstreamError, UpstreamRejected, count_tokens


async def available_models(services: Services) -> list[str]:
    cached = await services.cache.get(MODELS_KEY)
    if cached is None:
        cached = services.settings.models
        await services.cache.set(MODELS_KEY, cached, services.settings.cache_ttl_seconds)
    return list(cached)


async def complete(services: Services, key_id: str, request: CompletionRequest) -> Completion:
    """Reserve, call the upstream, settle (app/db/usage.py says why in that order)."""
    models = await available_models(services)
    if request.model not in models:
        raise Problem(400, f"unknown model {request.model!r}; available: {', '.join(models)}")
    try:
        # An open breaker refuses now: no usage row written and deleted for nothing, so an
        # upstream outage adds no load to the database.
        services.upstream.refuse_if_open()
    except BreakerOpen as error:
        raise _unavailable(error) from error
    # The most this can cost; a database that is down fails here, before the upstream is paid.
    record_id = await services.database.run(
        lambda db: usage.reserve(db, key_id, request.model, count_tokens(request.prompt), request.max_tokens),
        "usage reservation",
    )
    try:
        completion = await services.upstream.complete(
            request.model, request.prompt, request.max_tokens, request.temperature
        )
    except Exception as error:
        await services.settlements.release(record_id)  # nothing was served
        problem = _upstream_problem(error)
        if problem is None:
            raise
        raise problem from error
    # Never raises for the database: the answer is given even if settling must wait.
    await services.settlements.settle(record_id, completion.prompt_tokens, completion.completion_tokens)
    TOKENS.labels(request.model, "prompt").inc(completion.prompt_tokens)
    TOKENS.labels(request.model, "completion").inc(completion.completion_tokens)
    return completion


def _upstream_problem(error: Exception) -> Problem | None:
    """What the client is told when the upstream served nothing; None for a bug of ours."""
    if isinstance(error, BreakerOpen):
        return _unavailable(error)
    if isinstance(error, UpstreamRejected):
        return Problem(422, str(error), kind="upstream-rejected", upstream_status=error.status)
    if isinstance(error, UpstreamError):
        return Problem(502, str(error))
    return None


def _unavailable(error: BreakerOpen) -> Problem:
    retry_after = str(max(1, round(error.retry_after)))
    return Problem(503, "the inference upstream is unavailable; retry later", headers={"Retry-After": retry_after})
