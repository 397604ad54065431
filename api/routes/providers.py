"""GET /v1/providers/{provider_id} — a vårdgivare's units rolled up per risk area."""

from __future__ import annotations

from typing import Annotated

import polars as pl
from fastapi import APIRouter, Depends, Path, Query

from api.deps import ScoresDep, SettingsDep, require_scope
from api.problems import ProblemError
from api.routes.common import SCORED, UNKNOWN_PROVIDER, VALIDATION_ERROR, problem_responses
from api.schemas import ProviderAreaRollup, ProviderQuery, ProviderRollup, ProviderUnit
from engine.identifiers import ORGANISATION_NUMBER_PATTERN
from engine.scores import OVERALL
from serving.scoring import provider_rollup

ROLLUP_INPUT_COLUMNS = ("provider_id", "provider_name", "risk_area", "percentile", "p_deficiency")

router = APIRouter(prefix="/v1", tags=["providers"])


@router.get(
    "/providers/{provider_id}",
    response_model=ProviderRollup,
    dependencies=[Depends(require_scope("read:providers"))],
    responses=problem_responses(*SCORED, UNKNOWN_PROVIDER, VALIDATION_ERROR),
    summary="A provider's high-risk units, max and mean probability per risk area",
)
async def read_provider(
    *,
    scores: ScoresDep,
    settings: SettingsDep,
    provider_id: Annotated[
        str, Path(pattern=ORGANISATION_NUMBER_PATTERN, openapi_examples={"provider": {"value": "5560000001"}})
    ],
    query: Annotated[ProviderQuery, Query()],
) -> ProviderRollup:
    unit_ids = scores.provider_units.get(provider_id)
    if unit_ids is None:
        raise ProblemError(
            404,
            "unknown-provider",
            "Unknown provider",
            f"no provider {provider_id!r} in scoring snapshot {scores.id}",
        )
    requested = query.high_risk_percentile
    threshold = settings.high_risk_percentile if requested is None else requested
    rows = [row for unit in unit_ids for row in scores.unit_rows[unit]]
    rollup = provider_rollup(
        pl.LazyFrame({column: [row[column] for row in rows] for column in ROLLUP_INPUT_COLUMNS}), threshold
    ).collect()
    areas = [
        ProviderAreaRollup(**{field: row[field] for field in ProviderAreaRollup.model_fields})
        for row in rollup.sort("risk_area").iter_rows(named=True)
    ]
    units = sorted(
        (
            ProviderUnit(
                unit_id=row["unit_id"],
                unit_name=row["unit_name"],
                region_code=row["region_code"],
                overall_rank=row["rank"],
                overall_percentile=row["percentile"],
                overall_p_deficiency=row["p_deficiency"],
            )
            for row in rows
            if row["risk_area"] == OVERALL
        ),
        key=lambda unit: unit.overall_rank,
    )
    return ProviderRollup(
        provider_id=provider_id,
        provider_name=rows[0]["provider_name"],
        score_id=scores.id,
        as_of=scores.metadata.as_of,
        high_risk_percentile=threshold,
        units=units,
        areas=areas,
    )
