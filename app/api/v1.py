"""API v1 (stable)."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.completions import available_models, complete
from app.api.deps import RATE_LIMITS, ApiKeyDep, ServicesDep
from app.api.schemas import (
    BODY_PROBLEMS,
    COMMON_PROBLEMS,
    UPSTREAM_PROBLEMS,
    Choice,
    CompletionRequest,
    CompletionV1,
    MetricsSummary,
    Model,
    ModelListV1,
    ModelUsage,
    Usage,
    UsageReport,
    UsageWindow,
    problem_responses,
)
from app.db import usage

router = APIRouter(prefix="/v1", dependencies=RATE_LIMITS, responses=problem_responses(*COMMON_PROBLEMS))

SUMMARY_WINDOWS = (300, 3600, 86400)


@router.post(
    "/completions",
    response_model=CompletionV1,
    responses=problem_responses(*BODY_PROBLEMS, *UPSTREAM_PROBLEMS),
)
async def create_completion(body: CompletionRequest, services: ServicesDep, key_id: ApiKeyDep) -> CompletionV1:
    completion = await complete(services, key_id, body)
    return CompletionV1(
        id=f"cmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=body.model,
        choices=[Choice(index=0, text=completion.text, finish_reason=completion.finish_reason)],
        usage=Usage(
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            total_tokens=completion.prompt_tokens + completion.completion_tokens,
        ),
    )


@router.get("/models", response_model=ModelListV1)
async def list_models(services: ServicesDep) -> ModelListV1:
    return ModelListV1(data=[Model(id=name) for name in await available_models(services)])


@router.get("/usage", response_model=UsageReport)
async def get_usage(services: ServicesDep, key_id: ApiKeyDep) -> UsageReport:
    rows = [
        ModelUsage(model=m, requests=r, prompt_tokens=p, completion_tokens=c)
        for m, r, p, c in await services.database.read(lambda db: usage.by_model(db, key_id), "usage report")
    ]
    return UsageReport(
        key_id=key_id,
        requests=sum(row.requests for row in rows),
        prompt_tokens=sum(row.prompt_tokens for row in rows),
        completion_tokens=sum(row.completion_tokens for row in rows),
        by_model=rows,
    )


async def _summary(db: AsyncSession, key_id: str) -> MetricsSummary:
    windows = []
    for seconds in SUMMARY_WINDOWS:
        requests, tokens = await usage.window(db, key_id, seconds)
        windows.append(
            UsageWindow(
                window_seconds=seconds,
                requests=requests,
                tokens=tokens,
                requests_per_minute=round(requests / (seconds / 60), 3),
            )
        )
    first, last = await usage.first_and_last(db, key_id)
    return MetricsSummary(key_id=key_id, windows=windows, first_request_at=first, last_request_at=last)


@router.get("/metrics/summary", response_model=MetricsSummary)
async def metrics_summary(services: ServicesDep, key_id: ApiKeyDep) -> MetricsSummary:
    return await services.database.read(lambda db: _summary(db, key_id), "usage summary")
