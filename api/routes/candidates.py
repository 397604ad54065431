"""GET /v1/candidates — ranked units of one risk area, filtered and paginated, with explanations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import ScoresDep, pinned, require_scope
from api.problems import ProblemError
from api.routes.common import SCORE_GONE, SCORED, UNKNOWN_RISK_AREA_QUERY, problem_responses
from api.schemas import CandidatePage, CandidateQuery
from api.serving import candidate_page_json

router = APIRouter(prefix="/v1", tags=["candidates"])


@router.get(
    "/candidates",
    response_model=CandidatePage,
    dependencies=[Depends(require_scope("read:candidates"))],
    responses=problem_responses(*SCORED, UNKNOWN_RISK_AREA_QUERY, SCORE_GONE),
    summary="Ranked inspection candidates for a risk area",
)
async def read_candidates(
    *, request: Request, scores: ScoresDep, query: Annotated[CandidateQuery, Query()]
) -> Response:
    scores = pinned(scores, query.score_id)
    index = scores.areas.get(query.risk_area)
    if index is None:
        raise ProblemError(
            400,
            "unknown-risk-area",
            "Unknown risk area",
            f"unknown risk area {query.risk_area!r}; known: {sorted(scores.areas)}",
        )
    # The page is a CandidatePage assembled from candidates rendered through the model when the
    # snapshot was loaded (api.serving.candidate_page_json); returned as a Response, so FastAPI does
    # not serialise the 50 candidates again. Tests check every page against CandidatePage.
    body = candidate_page_json(index, query, path=request.url.path, score_id=scores.id)
    return Response(content=body, media_type="application/json")
