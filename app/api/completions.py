"""What both versions do for a completion; each version shapes its own response."""

from __future__ import annotations

from app.api.deps import Services
from app.api.schemas import CompletionRequest
from app.breaker import BreakerOpen
from app.db import usage
from app.metrics import TOKENS
from app.problems import Problem
from app.services import MODELS_KEY
from app.upstream import Completion, UpstreamError


async def available_models(services: Services) -> list[str]:
    cached = await services.cache.get(MODELS_KEY)
    if cached is None:
        cached = services.settings.models
        await services.cache.set(MODELS_KEY, cached, services.settings.cache_ttl_seconds)
    return list(cached)


async def complete(services: Services, db, key_id: str, request: CompletionRequest) -> Completion:
    models = await available_models(services)
    if request.model not in models:
        raise Problem(400, f"unknown model {request.model!r}; available: {', '.join(models)}")
    try:
        completion = await services.upstream.complete(
            request.model, request.prompt, request.max_tokens, request.temperature
        )
    except BreakerOpen as error:
        raise Problem(
            503,
            "the inference upstream is unavailable; retry later",
            headers={"Retry-After": str(max(1, round(error.retry_after)))},
        ) from error
    except UpstreamError as error:
        raise Problem(502, str(error)) from error
    await usage.record(db, key_id, request.model, completion.prompt_tokens, completion.completion_tokens)
    TOKENS.labels(request.model, "prompt").inc(completion.prompt_tokens)
    TOKENS.labels(request.model, "completion").inc(completion.completion_tokens)
    return completion
