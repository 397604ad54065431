"""GET /v1/risk-areas — the configured risk areas and the model behind each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import ScoresDep, StateDep, pinned, require_scope
from api.routes.common import SCORE_GONE, SCORED, problem_responses
from api.schemas import PinnedQuery, RiskAreaInfo, RiskAreaList
from engine.scores import OVERALL

router = APIRouter(prefix="/v1", tags=["risk areas"])

OVERALL_NAMES = ("Samlad risk", "Overall", "Sammanvägd risk över alla riskområden.")


@router.get(
    "/risk-areas",
    response_model=RiskAreaList,
    dependencies=[Depends(require_scope("read:candidates"))],
    responses=problem_responses(*SCORED, SCORE_GONE),
    summary="List risk areas (riskområden) with the model version behind each",
)
async def read_risk_areas(
    *, state: StateDep, scores: ScoresDep, query: Annotated[PinnedQuery, Query()]
) -> RiskAreaList:
    scores = pinned(scores, query.score_id)
    meta = scores.metadata
    named = [(area.id, area.name_sv, area.name_en, area.description_sv) for area in state.config.risk_areas]
    items = [
        RiskAreaInfo(
            id=area_id,
            name_sv=name_sv,
            name_en=name_en,
            description_sv=description,
            model_name=meta.model_name,
            model_version=scores.model_version(area_id),
            score_id=scores.id,
            as_of=meta.as_of,
            units=len(scores.areas[area_id].items),
            ranking_target=meta.ranking_target(area_id),
        )
        for area_id, name_sv, name_en, description in [*named, (OVERALL, *OVERALL_NAMES)]
        if area_id in scores.areas
    ]
    return RiskAreaList(items=items)
