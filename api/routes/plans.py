"""POST /v1/plans and GET /v1/plans/{plan_id} — reproducible inspection plans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from api.deps import InspectionsDep, NoQueryParameters, ScoresDep, StateDep, require_scope
from api.problems import ProblemError
from api.routes.common import (
    AUTHENTICATED,
    COOLDOWN_UNAVAILABLE,
    IMMUTABLE,
    INVALID_DESIGN,
    MALFORMED_BODY,
    SCORED,
    UNKNOWN_PLAN,
    UNKNOWN_RISK_AREA_BODY,
    UNKNOWN_SCORE,
    VALIDATION_ERROR,
    problem_responses,
)
from api.schemas import Plan, PlanRequest
from engine.scores import ScoreNotFoundError, ScoreSnapshot, ScoreValidationError
from serving.planning import plan_parameters
from serving.plans import PLAN_ID_PATTERN, CooldownUnavailableError, PlanNotFoundError, make_plan

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
    areas = sorted(set(snapshot.frame["risk_area"].unique().to_list()))
    if body.risk_area not in areas:
        raise ProblemError(
            422,
            "unknown-risk-area",
            "Unknown risk area",
            f"the risk area is not scored in this snapshot; known: {areas}",
        )
    try:
        parameters = plan_parameters(state.config.planning, **body.model_dump(exclude={"score_id"}))
        document = make_plan(
            snapshot,
            parameters,
            inspections=inspections.frame,
            inspections_snapshot_id=inspections.snapshot_id,
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


@router.get(
    "/plans/{plan_id}",
    response_model=Plan,
    dependencies=[Depends(require_scope("read:plans")), NoQueryParameters],
    responses=problem_responses(*AUTHENTICATED, UNKNOWN_PLAN, VALIDATION_ERROR),
    summary="A stored inspection plan with its parameters, seed, chosen and skipped units",
)
def read_plan(
    *,
    response: Response,
    state: StateDep,
    plan_id: Annotated[
        str, Path(pattern=PLAN_ID_PATTERN, openapi_examples={"plan": {"value": "plan-3f2a9c1b7d4e5a60"}})
    ],
) -> Plan:
    try:
        plan = Plan.model_validate(state.plans.open(plan_id))
    except PlanNotFoundError as error:
        raise ProblemError(404, "unknown-plan", "Unknown plan", "no plan with that id") from error
    # A plan id is derived from the plan's inputs (scoring, parameters, seed): the plan never changes.
    response.headers["Cache-Control"] = IMMUTABLE
    return plan
