"""API v2 (beta): one output per completion, input/output token names, a flat model list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter

from app.api.completions import available_models, complete
from app.api.deps import V2_BETA, ApiKeyDep, ServicesDep
from app.api.schemas import (
    BODY_PROBLEMS,
    COMMON_PROBLEMS,
    UPSTREAM_PROBLEMS,
    CompletionRequest,
    CompletionV2,
    ModelListV2,
    Output,
    problem_responses,
)

# 404: the beta is not available to this key (the `v2-beta-routes` flag is off for it).
router = APIRouter(prefix="/v2", dependencies=V2_BETA, responses=problem_responses(*COMMON_PROBLEMS, 404))


@router.post(
    "/completions",
    response_model=CompletionV2,
    responses=problem_responses(*BODY_PROBLEMS, *UPSTREAM_PROBLEMS),
)
async def create_completion(body: CompletionRequest, services: ServicesDep, key_id: ApiKeyDep) -> CompletionV2:
    completion = await complete(services, key_id, body)
    return CompletionV2(
        id=f"cmpl-{uuid.uuid4().hex}",
        model=body.model,
        created_at=datetime.now(UTC),
        output=Output(text=completion.text, finish_reason=completion.finish_reason),
        usage={"input_tokens": completion.prompt_tokens, "output_tokens": completion.completion_tokens},
    )


@router.get("/models", response_model=ModelListV2)
async def list_models(services: ServicesDep) -> ModelListV2:
    return ModelListV2(models=await available_models(services))
