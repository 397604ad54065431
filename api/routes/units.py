"""GET /v1/units/{unit_id} — a unit's profile across risk areas and its score history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.deps import NoQueryParameters, ScoresDep, require_scope
from api.problems import ProblemError
from api.routes.common import SCORED, UNKNOWN_UNIT, VALIDATION_ERROR, problem_responses
from api.schemas import HistoryPoint, UnitArea, UnitProfile
from engine.identifiers import HSA_ID_PATTERN

router = APIRouter(prefix="/v1", tags=["units"])

IDENTITY = (
    "unit_id",
    "unit_name",
    "provider_id",
    "provider_name",
    "region_code",
    "region_name",
    "municipality_code",
    "unit_type",
    "ownership",
    "listed_patients",
)


@router.get(
    "/units/{unit_id}",
    response_model=UnitProfile,
    dependencies=[Depends(require_scope("read:units")), NoQueryParameters],
    responses=problem_responses(*SCORED, UNKNOWN_UNIT, VALIDATION_ERROR),
    summary="A unit's risk profile across areas and its score history",
)
async def read_unit(
    *,
    scores: ScoresDep,
    unit_id: Annotated[
        str, Path(pattern=HSA_ID_PATTERN, openapi_examples={"unit": {"value": "SE2321000016-vc0042"}})
    ],
) -> UnitProfile:
    rows = scores.unit_rows.get(unit_id)
    if rows is None:
        raise ProblemError(
            404, "unknown-unit", "Unknown unit", f"no unit {unit_id!r} in scoring snapshot {scores.id}"
        )
    first = rows[0]
    areas = [
        UnitArea(
            risk_area=row["risk_area"],
            rank=row["rank"],
            units_in_area=len(scores.areas[row["risk_area"]].items),
            percentile=row["percentile"],
            p_deficiency=row["p_deficiency"],
            p_serious=row["p_serious"],
            explanations=row["explanations"],
            ranking_target=scores.metadata.ranking_target(row["risk_area"]),
        )
        for row in rows
    ]
    history = [HistoryPoint.model_validate(point) for point in scores.history.get(unit_id, [])]
    return UnitProfile.model_validate(
        {key: first[key] for key in IDENTITY}
        | scores.inspection_status(unit_id)
        | {"score_id": scores.id, "as_of": scores.metadata.as_of, "areas": areas, "history": history}
    )
