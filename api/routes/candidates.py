"""GET /v1/candidates — ranked units of one risk area, filtered and paginated, with explanations."""

from __future__ import annotations

import json
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import ScoresDep, require_scope
from api.problems import ProblemError
from api.routes.common import AUTHENTICATED, problem_responses
from api.schemas import CandidatePage
from engine.identifiers import ORGANISATION_NUMBER_PATTERN
from engine.scores import OVERALL

router = APIRouter(prefix="/v1", tags=["candidates"])


@router.get(
    "/candidates",
    response_model=CandidatePage,
    dependencies=[Depends(require_scope("read:candidates"))],
    responses=problem_responses(*AUTHENTICATED),
    summary="Ranked inspection candidates for a risk area",
)
async def read_candidates(
    *,
    request: Request,
    scores: ScoresDep,
    risk_area: Annotated[
        str,
        Query(
            description="A risk area id (see /v1/risk-areas) or 'overall'.",
            openapi_examples={"tillganglighet": {"value": "tillganglighet"}, "overall": {"value": OVERALL}},
        ),
    ] = OVERALL,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Candidates to skip.")] = 0,
    region: Annotated[str | None, Query(pattern=r"^\d{2}$", description="Region (county) code.")] = None,
    ownership: Annotated[Literal["public", "private"] | None, Query()] = None,
    unit_type: Annotated[str | None, Query(max_length=64)] = None,
    provider_id: Annotated[str | None, Query(pattern=ORGANISATION_NUMBER_PATTERN)] = None,
) -> Response:
    index = scores.areas.get(risk_area)
    if index is None:
        raise ProblemError(
            422,
            "unknown-risk-area",
            "Unknown risk area",
            f"unknown risk area {risk_area!r}; known: {sorted(scores.areas)}",
        )
    wanted = (region, ownership, unit_type, provider_id)
    if any(value is not None for value in wanted):
        positions = [
            i
            for i, key in enumerate(index.keys)
            if all(value is None or value == field for value, field in zip(wanted, key, strict=True))
        ]
    else:
        positions = list(range(len(index.items)))
    page = positions[offset : offset + limit]
    filters = {"region": region, "ownership": ownership, "unit_type": unit_type, "provider_id": provider_id}
    query = {"risk_area": risk_area, "limit": limit} | {k: v for k, v in filters.items() if v is not None}
    more = offset + limit < len(positions)
    head = {
        "score_id": scores.id,
        "as_of": scores.metadata.as_of.isoformat(),
        "risk_area": risk_area,
        "model_version": scores.model_version(risk_area),
        "total": len(positions),
        "limit": limit,
        "offset": offset,
        "links": {
            "self": f"{request.url.path}?{urlencode(query | {'offset': offset})}",
            "next": f"{request.url.path}?{urlencode(query | {'offset': offset + limit})}" if more else None,
        },
    }
    # Candidates were validated and rendered once when the snapshot was loaded (api.serving).
    body = (
        json.dumps(head, ensure_ascii=False, separators=(",", ":")).encode()[:-1]
        + b',"items":['
        + b",".join(index.items[i] for i in page)
        + b"]}"
    )
    return Response(content=body, media_type="application/json")
