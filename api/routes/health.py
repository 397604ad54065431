"""/healthz (liveness) and /readyz (a valid scoring snapshot is served) — no authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.deps import NoQueryParameters, StateDep
from api.problems import TYPE_PREFIX, problem_response
from api.routes.common import EVERY_ROUTE, NO_STORE, NOT_READY, problem_responses
from api.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=Health,
    dependencies=[NoQueryParameters],
    responses=problem_responses(*EVERY_ROUTE),
    summary="Liveness: the process answers",
)
async def read_health(*, response: Response) -> Health:
    response.headers["Cache-Control"] = NO_STORE  # a probe must reach the process, never a cache
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    dependencies=[NoQueryParameters],
    responses=problem_responses(*EVERY_ROUTE, NOT_READY),
    summary="Readiness: the published scoring snapshot is loaded and valid",
)
def read_readiness(*, request: Request, response: Response, state: StateDep) -> Readiness | JSONResponse:
    response.headers["Cache-Control"] = NO_STORE
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
