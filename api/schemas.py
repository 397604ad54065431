"""Response and request models of the API (separate from the internal frames they are built from)."""

from __future__ import annotations

import datetime as dt
import re
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from engine.config import RankingTarget
from engine.contract import REGIONS
from engine.identifiers import HSA_ID_PATTERN, ORGANISATION_NUMBER_PATTERN
from engine.places import municipality_names
from engine.scores import SCORE_ID_PATTERN
from serving.plans import MAX_NAME_CHARS, MAX_PURPOSE_CHARS, PLAN_ID_PATTERN, plan_label

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


class LastInspection(Schema):
    """A unit's latest decided inspection in one risk area."""

    risk_area: str
    decision_date: dt.date
    finding: Literal["none", "deficiency", "serious"]


class InspectionStatus(Schema):
    """What the ingest snapshot says about a unit's inspections, as the planners' pages show it."""

    last_inspections: list[LastInspection] = Field(
        default_factory=list, description="Per risk area the unit was inspected in, its latest inspection."
    )
    last_inspected: dt.date | None = Field(default=None, description="The latest date of any inspection.")
    in_cooldown: bool = Field(
        default=False,
        description="In karenstid: a plan made now with the configured cooldown_months would skip the unit.",
    )
    cooldown_ends: dt.date | None = Field(
        default=None, description="The day the karenstid ends (last inspected + cooldown_months)."
    )


class RankedUnit(UnitIdentity):
    """A ranked unit in one risk area: a :class:`Candidate` without its inspection status."""

    risk_area: str
    rank: int = Field(ge=1, description="1 = highest risk within the risk area.")
    percentile: float = Field(ge=0, le=100, description="100 = highest risk.")
    p_deficiency: float = Field(ge=0, le=1, description="Calibrated probability of a deficiency finding.")
    p_serious: float = Field(ge=0, le=1, description="Probability of a serious finding (föreläggande).")
    explanations: list[Explanation]


class Candidate(InspectionStatus, RankedUnit):
    """A ranked unit in one risk area, with its last inspections and karenstid (those fields last)."""

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
                    "last_inspections": [
                        {
                            "risk_area": "tillganglighet",
                            "decision_date": "2025-02-14",
                            "finding": "deficiency",
                        }
                    ],
                    "last_inspected": "2025-02-14",
                    "in_cooldown": True,
                    "cooldown_ends": "2026-02-14",
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


RANKING_TARGET_DESCRIPTION = (
    "What ranks the area: 'deficiency' (p_deficiency), 'serious' (p_serious) or 'ordinal' "
    "(p_deficiency + p_serious, the expected level of the finding); docs/api.md."
)


class CandidatePage(Schema):
    """One page of candidates in rank order."""

    score_id: str
    as_of: dt.date
    risk_area: str
    model_version: str
    ranking_target: RankingTarget = Field(default="deficiency", description=RANKING_TARGET_DESCRIPTION)
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
    ranking_target: RankingTarget = Field(default="deficiency", description=RANKING_TARGET_DESCRIPTION)

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
                    "ranking_target": "deficiency",
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
    ranking_target: RankingTarget = Field(default="deficiency", description=RANKING_TARGET_DESCRIPTION)


class HistoryPoint(Schema):
    score_id: str
    as_of: dt.date
    model_version: str
    risk_area: str
    rank: int
    percentile: float
    p_deficiency: float
    is_current: bool


class UnitProfile(InspectionStatus, UnitIdentity):
    """A unit across all risk areas, its inspections and karenstid, and its score history."""

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
# The planner's labels, checked by the same function as the command line's (serving.plans.plan_label).
PlanName = Annotated[
    str,
    # One line without control characters (in the schema too, so a client knows before it sends).
    Field(max_length=MAX_NAME_CHARS, strict=True, pattern=r"^[^\x00-\x1f\x7f]*$"),
    AfterValidator(partial(plan_label, field="name", max_chars=MAX_NAME_CHARS, multiline=False)),
]
PlanPurpose = Annotated[
    str,
    # Line breaks and tabs allowed, other control characters not.
    Field(max_length=MAX_PURPOSE_CHARS, strict=True, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"),
    AfterValidator(partial(plan_label, field="purpose", max_chars=MAX_PURPOSE_CHARS, multiline=True)),
]


def _known_region(code: str) -> str:
    if code not in REGIONS:
        raise ValueError("unknown region code; use one of SCB's 21 two-digit region codes")
    return code


def _known_municipality(code: str) -> str:
    if code not in municipality_names():
        raise ValueError("unknown kommun code; use SCB's four-digit kommun codes")
    return code


# The allowed codes are in the schema too (an enum), so a client knows them before it sends.
RegionCode = Annotated[
    str,
    Field(strict=True, pattern=r"^\d{2}$", json_schema_extra={"enum": sorted(REGIONS)}),
    AfterValidator(_known_region),
]
MunicipalityCode = Annotated[
    str,
    Field(strict=True, pattern=r"^\d{4}$", json_schema_extra={"enum": sorted(municipality_names())}),
    AfterValidator(_known_municipality),
]
MAX_MUNICIPALITIES = 290  # SCB's kommuner (2024)


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
                    "name": "Tillgänglighet hösten 2025",
                    "purpose": "Uppföljning av tillgänglighetsgarantin i Stockholm och Uppsala.",
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
    # An area a regional department plans for: SCB codes, bounded by the number of regions and kommuner.
    regions: list[RegionCode] | None = Field(
        default=None,
        max_length=len(REGIONS),
        description="Limit the plan to units in these regions (two-digit SCB codes); with municipalities, "
        "a unit in any of the listed places is eligible. Left out: the whole country.",
    )
    municipalities: list[MunicipalityCode] | None = Field(
        default=None,
        max_length=MAX_MUNICIPALITIES,
        description="Limit the plan to units in these kommuner (four-digit SCB codes).",
    )
    score_id: str | None = Field(
        default=None,
        strict=True,
        max_length=128,
        pattern=SCORE_ID_PATTERN,
        description="Scoring snapshot; default the served one.",
    )
    # Not a plan parameter (excluded from model_dump): it chooses the scoring the plan is drawn from.
    team: str | None = Field(
        default=None,
        strict=True,
        min_length=1,
        max_length=64,
        pattern=r"^[\w][\w .-]*$",
        exclude=True,
        description="The team that will inspect: the plan is drawn from the newest scoring made for that "
        "team (`tillsynsrisk score --team`) on the served scoring's snapshot and model, or from `score_id`, "
        "which must be one. Default: the team-neutral scores.",
    )
    name: PlanName | None = Field(
        default=None,
        description="A short name for the plan (one line; no personal identity numbers). Part of the "
        "plan's identity: the same request with another name is another plan.",
    )
    purpose: PlanPurpose | None = Field(
        default=None,
        description="Why the plan was made (free text; no personal identity numbers). Part of the plan's "
        "identity, like the name.",
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
    regions: list[str] = Field(default_factory=list, description="The plan's regions (empty: no limit).")
    municipalities: list[str] = Field(default_factory=list, description="The plan's kommuner.")


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
    reasons_sv: list[str] = Field(
        default_factory=list, description="The unit's top reasons in Swedish (empty: nothing stands out)."
    )


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
    name: str | None = Field(default=None, description="The planner's name for the plan.")
    purpose: str | None = Field(default=None, description="Why the plan was made.")
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
    largest_useful_floor: float | None = Field(
        default=None,
        description="pps only: set when the floor was at or above capacity / eligible units, which makes "
        "every inclusion probability equal (a random plan); the largest floor that still follows risk.",
    )


def _iso_day_text(value: Any) -> Any:
    """A query's day must be written ``YYYY-MM-DD``: pydantic would also read a number as a timestamp."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day must be written YYYY-MM-DD")
    return value


IsoDay = Annotated[dt.date, BeforeValidator(_iso_day_text)]


class PlanListQuery(StrictQuery):
    """Query parameters of ``GET /v1/plans`` (filters combine: a plan must pass all)."""

    limit: int = Field(default=50, ge=1, le=500, description="Page size.")
    offset: int = Field(default=0, ge=0, le=1_000_000, description="Plans to skip.")
    created_from: IsoDay | None = Field(default=None, description="Created on or after this UTC day.")
    created_to: IsoDay | None = Field(default=None, description="Created on or before this UTC day.")
    design: Literal["top", "pps", "stratified"] | None = None
    risk_area: str | None = Field(default=None, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    name: str | None = Field(
        default=None, min_length=1, max_length=MAX_NAME_CHARS, description="Part of the name, any case."
    )


class ListLinks(Schema):
    self_: str = Field(alias="self")
    next: str | None
    prev: str | None


class PlanSummary(Schema):
    """A stored plan as listed: no units (``GET /v1/plans/{plan_id}`` has them)."""

    plan_id: str = Field(pattern=PLAN_ID_PATTERN)
    name: str | None
    purpose: str | None
    created_at: dt.datetime
    score_id: str
    as_of: dt.date
    risk_area: str
    design: str
    capacity: int
    seed: int
    chosen_units: int
    expected_findings: float


class PlanList(Schema):
    """One page of stored plans, newest first."""

    total: int = Field(description="Plans matching the filters (all pages).")
    limit: int
    offset: int
    links: ListLinks
    items: list[PlanSummary]


class EventQuery(StrictQuery):
    """Query parameters of ``GET /v1/events``."""

    after: int = Field(
        default=0, ge=0, le=2**63 - 1, description="Return events with a greater id (0: from the start)."
    )
    limit: int = Field(default=100, ge=1, le=1000, description="Most events to return.")


class FeedEvent(Schema):
    """One event of the change feed; ``id`` is stable and increases in the order events happened."""

    id: int = Field(ge=1)
    type: Literal["scoring.published", "model.promoted", "plan.saved"]
    occurred_at: dt.datetime
    subject: dict[str, Any] = Field(
        description="What the event is about: scoring.published {score_id, previous_score_id, as_of, "
        "model_name, model_version}; model.promoted {model_name, version, previous_version, run_id, "
        "forced}; plan.saved {plan_id, name, score_id, risk_area, design}."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "type": "scoring.published",
                    "occurred_at": "2025-06-01T05:12:09.123456+00:00",
                    "subject": {
                        "score_id": "20250601-3f2a9c1b7d4e",
                        "previous_score_id": "20250501-0b1c2d3e4f5a",
                        "as_of": "2025-06-01",
                        "model_name": "tillsynsrisk",
                        "model_version": "3",
                    },
                }
            ]
        }
    )


class FeedLinks(Schema):
    self_: str = Field(alias="self")
    next: str = Field(description="Where to ask next: the events after the last one on this page.")


class EventPage(Schema):
    """Events after a cursor, oldest first."""

    after: int
    limit: int
    last_id: int = Field(
        description="The cursor to send as ``after`` next (the last id here, else ``after``)."
    )
    newest_id: int = Field(
        description="The newest id in the log (0 if empty); below ``after``, the log was replaced."
    )
    has_more: bool = Field(description="More events follow: ask ``links.next`` at once rather than waiting.")
    links: FeedLinks
    items: list[FeedEvent]


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
