"""/healthz (liveness) and /readyz (a valid scoring snapshot is served) — no authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.problems import TYPE_PREFIX, problem_response
from api.routes.common import problem_responses
from api.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def read_health() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses=problem_responses(503),
    summary="Readiness: the published scoring snapshot is loaded and valid",
)
def read_readiness(*, request: Request, state: StateDep) -> Readiness | JSONResponse:
    state.holder.refresh()
    served = state.holder.served
    if served is None or state.holder.problem is not None:
        return problem_response(
            request,
            503,
            title="Not ready",
            detail=state.holder.public_problem or "no scoring snapshot loaded",
            type_=TYPE_PREFIX + "not-ready",
            headers={"Retry-After": "30"},
        )
    return Readiness(status="ready", score_id=served.id, as_of=served.metadata.as_of)
