"""Response and request models of the API (separate from the internal frames they are built from)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from engine.identifiers import HSA_ID_PATTERN, ORGANISATION_NUMBER_PATTERN
from engine.scores import SCORE_ID_PATTERN

_UNIT_EXAMPLE: dict[str, Any] = {
    "unit_id": "SE2321000016-vc0042",
    "unit_name": "Vårdcentralen Norrmalm",
    "provider_id": "5560000001",
    "provider_name": "Primärvård Norr AB",
    "region_code": "01",
    "region_name": "Stockholm",
    "municipality_code": "0180",
    "unit_type": "vardcentral",
    "ownership": "private",
    "listed_patients": 12400,
}
_EXPLANATION_EXAMPLE: dict[str, Any] = {
    "feature": "complaints_tillganglighet_12m_per_10k",
    "sentence_sv": "Klagomål om tillgänglighet senaste 12 mån: 6,1 per 10 000 listade (regionens median 1,9)",
    "contribution": 0.42,
    "value": 6.1,
}


class Schema(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=(), populate_by_name=True)


class Problem(Schema):
    """An RFC 9457 problem detail (``application/problem+json``)."""

    type: str = Field(description="URI identifying the problem type ('about:blank' for plain HTTP errors).")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The request path the problem occurred on.")
    errors: list[dict[str, str]] | None = Field(
        default=None, description="Validation errors (invalid-query 400 and validation-error 422)."
    )
    allowed_parameters: list[str] | None = Field(
        default=None, description="The query parameters the route accepts (invalid-query only)."
    )
    current_score_id: str | None = Field(
        default=None, description="The scoring served now (score-gone 410 only): start again from it."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:tillsynsrisk:problem:unknown-unit",
                    "title": "Unknown unit",
                    "status": 404,
                    "detail": "no unit 'SE2321000016-x' in scoring snapshot 20250601-3f2a9c1b7d4e",
                    "instance": "/v1/units/SE2321000016-x",
                }
            ]
        }
    )


class Explanation(Schema):
    """One reason behind a score: a feature, its value and its contribution (log-odds)."""

    feature: str
    sentence_sv: str
    contribution: float
    value: float | None


class UnitIdentity(Schema):
    unit_id: str = Field(pattern=HSA_ID_PATTERN)
    unit_name: str
    provider_id: str = Field(pattern=ORGANISATION_NUMBER_PATTERN)
    provider_name: str
    region_code: str
    region_name: str
    municipality_code: str
    unit_type: str
    ownership: Literal["public", "private"]
    listed_patients: int


class Candidate(UnitIdentity):
    """A ranked unit in one risk area."""

    risk_area: str
    rank: int = Field(ge=1, description="1 = highest risk within the risk area.")
    percentile: float = Field(ge=0, le=100, description="100 = highest risk.")
    p_deficiency: float = Field(ge=0, le=1, description="Calibrated probability of a deficiency finding.")
    p_serious: float = Field(ge=0, le=1, description="Probability of a serious finding (föreläggande).")
    explanations: list[Explanation]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _UNIT_EXAMPLE
                | {
                    "risk_area": "tillganglighet",
                    "rank": 1,
                    "percentile": 100.0,
                    "p_deficiency": 0.81,
                    "p_serious": 0.12,
                    "explanations": [_EXPLANATION_EXAMPLE],
                }
            ]
        }
    )


class StrictQuery(Schema):
    """Base of every route's query model: a parameter the route does not define is a 400 problem."""

    model_config = ConfigDict(extra="forbid")


class NoQuery(StrictQuery):
    """The query of a route that takes no query parameters (so ``?anything`` is refused, not ignored)."""


# A list filter takes repeats (``region=01&region=12``) meaning "any of"; bounded so a request cannot
# ask the index for thousands of posting lists.
MAX_FILTER_VALUES = 50
ScoreIdParameter = Annotated[
    str | None,
    Field(
        default=None,
        pattern=SCORE_ID_PATTERN,
        description=(
            "Pin the page to this scoring snapshot (the `score_id` of an earlier page; `links` carry it). "
            "A scoring that is no longer served answers 410 with `current_score_id`."
        ),
        examples=["20250601-3f2a9c1b7d4e"],
    ),
]


class PinnedQuery(StrictQuery):
    """The query of a list derived from the served scoring: ``score_id`` pins it."""

    score_id: ScoreIdParameter = None


class CandidateQuery(PinnedQuery):
    """Query parameters of ``GET /v1/candidates`` (an unknown parameter is a 400 problem)."""

    risk_area: str = Field(
        default="overall",
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="A risk area id (see /v1/risk-areas) or 'overall'.",
        examples=["tillganglighet"],
    )
    limit: int = Field(default=50, ge=1, le=500, description="Page size.")
    offset: int = Field(default=0, ge=0, le=1_000_000, description="Candidates to skip.")
    region: list[Annotated[str, Field(pattern=r"^\d{2}$")]] | None = Field(
        default=None,
        max_length=MAX_FILTER_VALUES,
        description="Region (county) codes; repeat the parameter for any of several.",
        examples=[["01", "12"]],
    )
    ownership: Literal["public", "private"] | None = None
    unit_type: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None,
        max_length=MAX_FILTER_VALUES,
        description="Unit types; repeat the parameter for any of several.",
        examples=[["vardcentral"]],
    )
    provider_id: list[Annotated[str, Field(pattern=ORGANISATION_NUMBER_PATTERN)]] | None = Field(
        default=None,
        max_length=MAX_FILTER_VALUES,
        description="Providers (organisation numbers); repeat the parameter for any of several.",
        examples=[["5560000001"]],
    )


class ProviderQuery(StrictQuery):
    """Query parameters of ``GET /v1/providers/{provider_id}``."""

    high_risk_percentile: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="A unit is high-risk at or above this percentile (default from settings).",
    )


class PageLinks(Schema):
    self_: str = Field(alias="self")
    next: str | None
    prev: str | None = Field(default=None, description="The previous page (None on the first).")


class CandidatePage(Schema):
    """One page of candidates in rank order."""

    score_id: str
    as_of: dt.date
    risk_area: str
    model_version: str
    total: int = Field(description="Candidates matching the filters (all pages).")
    limit: int
    offset: int
    links: PageLinks
    items: list[Candidate]


class RiskAreaInfo(Schema):
    """A risk area and the model and scoring snapshot behind its scores."""

    id: str
    name_sv: str
    name_en: str
    description_sv: str
    model_name: str
    model_version: str
    score_id: str
    as_of: dt.date
    units: int

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "tillganglighet",
                    "name_sv": "Tillgänglighet",
                    "name_en": "Availability",
                    "description_sv": "Tillgänglighetsgarantin och bedömningsgarantin.",
                    "model_name": "tillsynsrisk",
                    "model_version": "3",
                    "score_id": "20250601-3f2a9c1b7d4e",
                    "as_of": "2025-06-01",
                    "units": 1180,
                }
            ]
        }
    )


class RiskAreaList(Schema):
    items: list[RiskAreaInfo]


class UnitArea(Schema):
    risk_area: str
    rank: int
    units_in_area: int
    percentile: float
    p_deficiency: float
    p_serious: float
    explanations: list[Explanation]


class HistoryPoint(Schema):
    score_id: str
    as_of: dt.date
    model_version: str
    risk_area: str
    rank: int
    percentile: float
    p_deficiency: float
    is_current: bool


class UnitProfile(UnitIdentity):
    """A unit across all risk areas, with its score history over the stored scoring snapshots."""

    score_id: str
    as_of: dt.date
    areas: list[UnitArea]
    history: list[HistoryPoint]


class ProviderAreaRollup(Schema):
    risk_area: str
    units: int
    high_risk_units: int = Field(description="Units at or above the high-risk percentile in this area.")
    max_p_deficiency: float
    mean_p_deficiency: float


class ProviderUnit(Schema):
    unit_id: str
    unit_name: str
    region_code: str
    overall_rank: int
    overall_percentile: float
    overall_p_deficiency: float


class ProviderRollup(Schema):
    """A vårdgivare's units summarised per risk area."""

    provider_id: str
    provider_name: str
    score_id: str
    as_of: dt.date
    high_risk_percentile: float
    units: list[ProviderUnit]
    areas: list[ProviderAreaRollup]


def _json_number(value: Any) -> Any:
    """Refuse booleans and strings where a number is expected (pydantic's lax mode takes both)."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a JSON number, not a boolean or a string")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_number)]


class PlanRequest(Schema):
    """Parameters of an inspection plan (stored with the plan, so it can be reproduced)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "capacity": 20,
                    "risk_area": "tillganglighet",
                    "per_region": 3,
                    "max_per_provider": 2,
                    "seed": 42,
                }
            ]
        },
    )

    # Strict: JSON ``true`` is not 1 and ``"20"`` is not 20 (a client bug must not become a plan);
    # ``20.0`` is 20, as JSON Schema's "integer" says.
    capacity: JsonInt = Field(ge=1, le=2000, description="Number of inspections to plan (K).")
    seed: JsonInt = Field(ge=0, le=2**32 - 1, description="Seed of the exploration draw.")
    risk_area: str = Field(
        default="overall",
        strict=True,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="A risk area id, or 'overall'.",
    )
    # The bound sits on the integer before the JSON-number check, so that OpenAPI carries it as ``minimum``
    # (after a BeforeValidator pydantic writes it as an unknown ``ge`` key that clients ignore).
    per_region: Annotated[int, Field(ge=1), BeforeValidator(_json_number)] | None = Field(
        default=None, description="Max risk-ranked units per region."
    )
    max_per_provider: Annotated[int, Field(ge=1), BeforeValidator(_json_number)] | None = Field(
        default=None, description="Max risk-ranked units per provider."
    )
    # Left out (or null): the deployment's default, the configuration's [planning] section.
    exploration: Annotated[float, Field(ge=0, le=1), BeforeValidator(_json_number)] | None = Field(
        default=None, description="Share of K drawn at random (default: the configured one)."
    )
    cooldown_months: Annotated[int, Field(ge=0, le=120), BeforeValidator(_json_number)] | None = Field(
        default=None, description="Skip units inspected this recently (default: the configured one)."
    )
    design: Literal["top", "pps", "stratified"] | None = Field(
        default=None,
        description="top: risk-ranked picks + random share; pps: probability proportional to risk with a "
        "floor; stratified: stratified random sample (docs/planning.md). Default: the configured one.",
    )
    floor: Annotated[float, Field(ge=0, le=1), BeforeValidator(_json_number)] | None = Field(
        default=None, description="π_min of every eligible unit (pps only; default: the configured one)."
    )
    score_id: str | None = Field(
        default=None,
        strict=True,
        max_length=128,
        pattern=SCORE_ID_PATTERN,
        description="Scoring snapshot; default the served one.",
    )


class PlanParametersOut(Schema):
    capacity: int
    seed: int
    risk_area: str
    per_region: int | None
    max_per_provider: int | None
    exploration: float
    cooldown_months: int
    design: str = "top"
    floor: float = 0.0


class PlanUnit(Schema):
    plan_position: int
    unit_id: str
    unit_name: str
    provider_id: str
    provider_name: str
    region_code: str
    municipality_code: str
    unit_type: str
    ownership: str
    risk_area: str
    rank: int
    percentile: float
    p_deficiency: float
    p_serious: float
    reason: Literal["risk_rank", "random", "pps"]
    selection: Literal["risk_based", "random"] = Field(description="The inspections.csv selection value.")
    inclusion_probability: float = Field(gt=0, le=1)
    stratum: str


class PlanSkip(Schema):
    unit_id: str
    unit_name: str
    provider_id: str
    region_code: str
    rank: int
    p_deficiency: float
    reason: Literal["cooldown", "provider_cap", "region_cap"]
    detail: str


class PlanStratum(Schema):
    stratum: str
    eligible: int
    expected: float
    drawn: int
    inclusion_probability: float


class Plan(Schema):
    """A stored inspection plan."""

    plan_id: str
    created_at: dt.datetime
    parameters: PlanParametersOut
    seed: int
    score_id: str
    as_of: dt.date
    reference_date: dt.date
    model_name: str
    model_version: str
    inspections_snapshot_id: str | None
    units_in_cooldown: int
    expected_findings: float
    design: str = "top"
    expected_serious_findings: float | None = None
    expected_standard_errors: dict[str, float | None] = Field(
        default_factory=dict,
        description="Per risk area, the anticipated standard error of the prevalence estimate the plan "
        "supports (null when some eligible unit has inclusion probability 0).",
    )
    eligible_units: int | None = None
    zero_probability_units: int | None = None
    risk_ranked: int
    random: int
    pps: int = 0
    chosen: list[PlanUnit]
    skipped: list[PlanSkip]
    strata: list[PlanStratum]
    warnings: list[str]


class ModelInfo(Schema):
    """The model, feature set and snapshot behind the served scores."""

    score_id: str
    as_of: dt.date
    model_name: str
    model_version: str
    model_versions: dict[str, str]
    run_id: str | None
    feature_set_id: str
    snapshot_id: str
    config_hash: str
    created_at: dt.datetime
    rows: int
    rows_per_area: dict[str, int]


class Health(Schema):
    status: Literal["ok"]


class Readiness(Schema):
    status: Literal["ready"]
    score_id: str
    as_of: dt.date
