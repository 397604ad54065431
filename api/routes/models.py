"""GET /v1/models/current — the model, feature set and snapshot behind the served scores."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import NoQueryParameters, ScoresDep, require_scope
from api.routes.common import SCORED, problem_responses
from api.schemas import ModelInfo

router = APIRouter(prefix="/v1", tags=["models"])


@router.get(
    "/models/current",
    response_model=ModelInfo,
    dependencies=[Depends(require_scope("read:models")), NoQueryParameters],
    responses=problem_responses(*SCORED),
    summary="Model version, feature set and snapshot lineage of the served scores",
)
async def read_current_model(*, scores: ScoresDep) -> ModelInfo:
    meta = scores.metadata
    return ModelInfo(
        score_id=meta.score_id,
        as_of=meta.as_of,
        model_name=meta.model_name,
        model_version=meta.model_version,
        model_versions=meta.model_versions,
        run_id=meta.run_id,
        feature_set_id=meta.feature_set_id,
        snapshot_id=meta.snapshot_id,
        config_hash=meta.config_hash,
        created_at=meta.created_at,
        rows=meta.rows,
        rows_per_area=meta.rows_per_area,
    )
