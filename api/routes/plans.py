"""POST /v1/plans, GET /v1/plans (list), GET /v1/plans/{plan_id} and its CSV files — reproducible plans."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.deps import InspectionsDep, NoQueryParameters, ScoresDep, StateDep, require_scope
from api.problems import ProblemError
from api.routes.common import (
    AUTHENTICATED,
    COOLDOWN_UNAVAILABLE,
    IMMUTABLE,
    INVALID_DESIGN,
    MALFORMED_BODY,
    NO_TEAM_SCORING,
    SCORED,
    UNKNOWN_PLAN,
    UNKNOWN_RISK_AREA_BODY,
    UNKNOWN_SCORE,
    VALIDATION_ERROR,
    problem_responses,
)
from api.schemas import ListLinks, Plan, PlanList, PlanListQuery, PlanRequest, PlanSummary
from engine.scores import (
    NoTeamScoringError,
    ScoreNotFoundError,
    ScoreSnapshot,
    ScoreValidationError,
    scoring_for_team,
)
from serving.plan_export import BOM, inspections_csv_text, plan_csv_text
from serving.planning import plan_parameters
from serving.plans import (
    PLAN_ID_PATTERN,
    CooldownUnavailableError,
    PlanNotFoundError,
    make_plan,
    plan_matches,
)

router = APIRouter(prefix="/v1", tags=["plans"])


@router.post(
    "/plans",
    response_model=Plan,
    status_code=201,
    dependencies=[Depends(require_scope("write:plans")), NoQueryParameters],
    responses=problem_responses(
        *SCORED,
        MALFORMED_BODY,
        VALIDATION_ERROR,
        UNKNOWN_RISK_AREA_BODY,
        INVALID_DESIGN,
        UNKNOWN_SCORE,
        NO_TEAM_SCORING,
        COOLDOWN_UNAVAILABLE,
    ),
    summary="Create an inspection plan (same parameters and seed → same plan id and units)",
)
def create_plan(
    *,
    request: Request,
    response: Response,
    state: StateDep,
    scores: ScoresDep,
    inspections: InspectionsDep,
    body: PlanRequest,
) -> Plan:
    snapshot = _scores_for(body.score_id, scores.snapshot, state)
    if body.team is not None:
        snapshot = _team_scores(body.team, body.score_id, state)
    areas = sorted(set(snapshot.frame["risk_area"].unique().to_list()))
    if body.risk_area not in areas:
        raise ProblemError(
            422,
            "unknown-risk-area",
            "Unknown risk area",
            f"the risk area is not scored in this snapshot; known: {areas}",
        )
    try:
        parameters = plan_parameters(
            state.config.planning, **body.model_dump(exclude={"score_id", "name", "purpose"})
        )
        document = make_plan(
            snapshot,
            parameters,
            inspections=inspections.frame,
            inspections_snapshot_id=inspections.snapshot_id,
            name=body.name,
            purpose=body.purpose,
            min_contribution=state.config.scoring.min_contribution,
        )
    except CooldownUnavailableError as error:
        raise ProblemError(409, "cooldown-unavailable", "Cooldown cannot be applied", str(error)) from error
    except ValueError as error:  # a design that cannot be drawn (e.g. a floor above K/N)
        raise ProblemError(422, "invalid-design", "The plan's design cannot be drawn", str(error)) from error
    state.plans.save(document)
    request.state.audit_resources = {"plan_id": document["plan_id"], "score_id": snapshot.id}
    response.headers["Location"] = f"/v1/plans/{document['plan_id']}"
    return Plan.model_validate(state.plans.open(document["plan_id"]))


def _scores_for(score_id: str | None, served: ScoreSnapshot, state: StateDep) -> ScoreSnapshot:
    if score_id is None or score_id == served.id:
        return served
    try:
        return state.holder.store.open(score_id)
    except (ScoreNotFoundError, ScoreValidationError) as error:
        # The store's message names its directory (and the id as sent): neither goes to the client.
        raise ProblemError(
            404, "unknown-score", "Unknown scoring snapshot", "no valid scoring snapshot with that score_id"
        ) from error


def _team_scores(team: str, score_id: str | None, state: StateDep) -> ScoreSnapshot:
    """The scoring made for ``team`` (``score_id``, already checked to exist, must be one)."""
    try:
        return scoring_for_team(state.holder.store, team, score_id)
    except NoTeamScoringError as error:  # its message names the team and the teams with a scoring only
        raise ProblemError(404, "no-team-scoring", "No scoring for that team", str(error)) from error
    except (ScoreNotFoundError, ScoreValidationError) as error:
        raise ProblemError(
            404, "unknown-score", "Unknown scoring snapshot", "the team's scoring snapshot cannot be read"
        ) from error


PlanId = Annotated[
    str, Path(pattern=PLAN_ID_PATTERN, openapi_examples={"plan": {"value": "plan-3f2a9c1b7d4e5a60"}})
]
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The CSV file."}
}


@router.get(
    "/plans",
    response_model=PlanList,
    dependencies=[Depends(require_scope("read:plans"))],
    responses=problem_responses(*AUTHENTICATED),
    summary="Stored inspection plans, newest first, filtered by creation day, design, risk area, name",
)
def list_plans(*, request: Request, state: StateDep, query: Annotated[PlanListQuery, Query()]) -> PlanList:
    filters = query.model_dump(exclude={"limit", "offset"})
    matching = [summary for summary in state.plans.summaries() if plan_matches(summary, **filters)]
    page = matching[query.offset : query.offset + query.limit]
    return PlanList(
        total=len(matching),
        limit=query.limit,
        offset=query.offset,
        links=_list_links(request.url.path, query, len(matching)),
        items=[PlanSummary.model_validate(summary) for summary in page],
    )


def _list_links(path: str, query: PlanListQuery, total: int) -> ListLinks:
    """``self``, ``next`` and ``prev`` of a plan page, keeping its filters (None past either end)."""
    kept = {key: str(value) for key, value in query.model_dump(exclude_none=True).items() if key != "offset"}

    def link(offset: int) -> str:
        return f"{path}?{urlencode(kept | {'offset': str(offset)})}"

    following = query.offset + query.limit
    return ListLinks.model_validate(
        {
            "self": link(query.offset),
            "next": link(following) if following < total else None,
            "prev": link(max(query.offset - query.limit, 0)) if query.offset > 0 else None,
        }
    )


@router.get(
    "/plans/{plan_id}",
    response_model=Plan,
    dependencies=[Depends(require_scope("read:plans")), NoQueryParameters],
    responses=problem_responses(*AUTHENTICATED, UNKNOWN_PLAN, VALIDATION_ERROR),
    summary="A stored inspection plan with its name, purpose, parameters, seed, chosen and skipped units",
)
def read_plan(*, response: Response, state: StateDep, plan_id: PlanId) -> Plan:
    plan = Plan.model_validate(_stored(state, plan_id))
    # A plan id is derived from the plan's inputs (scoring, parameters, seed, name and purpose when
    # given): the plan never changes.
    response.headers["Cache-Control"] = IMMUTABLE
    return plan


@router.get(
    "/plans/{plan_id}/plan.csv",
    response_class=Response,
    dependencies=[Depends(require_scope("read:plans")), NoQueryParameters],
    responses=CSV_RESPONSE | problem_responses(*AUTHENTICATED, UNKNOWN_PLAN, VALIDATION_ERROR),
    summary="A plan's chosen units for Swedish Excel (the web page's file: ';', decimal comma, BOM)",
)
def read_plan_csv(*, state: StateDep, plan_id: PlanId) -> Response:
    return _csv(plan_csv_text(_stored(state, plan_id)), f"{plan_id}.csv")


@router.get(
    "/plans/{plan_id}/inspections.csv",
    response_class=Response,
    dependencies=[Depends(require_scope("read:plans")), NoQueryParameters],
    responses=CSV_RESPONSE | problem_responses(*AUTHENTICATED, UNKNOWN_PLAN, VALIDATION_ERROR),
    summary="A plan's inspections.csv rows for the inspectors to fill in (the web page's file)",
)
def read_inspections_csv(*, state: StateDep, plan_id: PlanId) -> Response:
    text = inspections_csv_text(_stored(state, plan_id), state.config.risk_area_ids)
    # With a byte-order mark, as the planners' page serves it, so Excel reads the file as UTF-8.
    return _csv(BOM + text, f"{plan_id}-inspections.csv")


def _stored(state: StateDep, plan_id: str) -> dict[str, Any]:
    try:
        return state.plans.open(plan_id)
    except PlanNotFoundError as error:
        raise ProblemError(404, "unknown-plan", "Unknown plan", "no plan with that id") from error


def _csv(text: str, filename: str) -> Response:
    # The file name is built from a validated plan id only: nothing to quote or escape.
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(text.encode("utf-8"), media_type=CSV_MEDIA_TYPE, headers=headers)
