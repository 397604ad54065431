"""Dependencies shared by the routes, as ``Annotated`` aliases that chain.

``StateDep`` → ``SettingsDep`` / ``ScoresDep`` / ``CurrentClient`` → ``require_scope(...)``.
Permissions are dependencies: a route declares the scope it needs and never checks keys itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import polars as pl
from fastapi import Depends, Query, Request

from api.audit import AuditLog
from api.problems import ProblemError
from api.schemas import NoQuery
from api.security import ApiKey, ApiKeyStore
from api.serving import ScoresHolder, ServedScores
from engine.config import Config
from engine.settings import Settings
from serving.plans import PlanStore, current_inspections

logger = logging.getLogger(__name__)


@dataclass
class AppState:
    """Everything a request needs, created once by :func:`api.main.create_app`."""

    settings: Settings
    config: Config
    holder: ScoresHolder
    keys: ApiKeyStore
    audit: AuditLog
    plans: PlanStore


@dataclass(frozen=True)
class Inspections:
    """The inspections of the current ingest snapshot (for plan cooldowns), if there is one."""

    frame: pl.LazyFrame | None
    snapshot_id: str | None


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.tillsynsrisk
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]

BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key from `tillsynsrisk apikey create`, sent as `Authorization: Bearer <key>`.",
}


async def current_client(request: Request, state: StateDep) -> ApiKey:
    """Dependency: the key presented with ``request``; 401 with ``WWW-Authenticate: Bearer`` when missing
    or invalid.

    Reads the header itself (rather than through ``HTTPBearer``); the security scheme is declared in the
    OpenAPI document by :func:`api.main.create_app`. Records the key's name and public id on
    ``request.state`` for the audit log.
    """
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ProblemError(
            401,
            "unauthenticated",
            "Authentication required",
            "send an API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": 'Bearer realm="tillsynsrisk"'},
        )
    presented = presented.strip()
    key = state.keys.authenticate(presented)
    request.state.api_key_id = key.key_id if key else ApiKeyStore.key_id_of(presented)
    if key is None:
        raise ProblemError(
            401,
            "invalid-key",
            "Invalid API key",
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer realm="tillsynsrisk", error="invalid_token"'},
        )
    request.state.api_key_name = key.name
    return key


CurrentClient = Annotated[ApiKey, Depends(current_client)]


def require_scope(scope: str) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """A dependency that lets the request through only if its key is valid (else 401, from
    :data:`CurrentClient`) and has ``scope`` (else 403)."""

    async def client_with_scope(client: CurrentClient) -> ApiKey:
        if scope not in client.scopes:
            raise ProblemError(
                403,
                "insufficient-scope",
                "Insufficient scope",
                f"this request needs scope {scope!r}; the key has {sorted(client.scopes)}",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            )
        return client

    client_with_scope.__name__ = f"require_{scope.replace(':', '_')}"
    return client_with_scope


async def get_scores(state: StateDep) -> ServedScores:
    """Dependency: the served scoring snapshot (503 problem when none could be loaded); polls ``CURRENT``."""
    state.holder.poll()
    served = state.holder.served
    if served is None:
        raise ProblemError(
            503,
            "not-ready",
            "No scoring snapshot loaded",
            state.holder.public_problem or "no scoring snapshot has been loaded yet",
            headers={"Retry-After": "30"},
        )
    return served


ScoresDep = Annotated[ServedScores, Depends(get_scores)]


def get_inspections(settings: SettingsDep) -> Inspections:
    """Inspections of the current ingest snapshot (``engine.snapshots.SnapshotStore``), for cooldowns."""
    frame, snapshot_id = current_inspections(settings.snapshots_dir)
    return Inspections(frame=frame, snapshot_id=snapshot_id)


InspectionsDep = Annotated[Inspections, Depends(get_inspections)]


async def no_query_parameters(query: Annotated[NoQuery, Query()]) -> None:
    """Dependency of a route without query parameters: any parameter sent is a 400 ``invalid-query``.

    The route lists it in ``dependencies=[NoQueryParameters]``; FastAPI validates the empty
    ``extra="forbid"`` model against the request's query like any other query model.
    """


NoQueryParameters = Depends(no_query_parameters)


def pinned(scores: ServedScores, score_id: str | None) -> ServedScores:
    """``scores`` when ``score_id`` is None or is the served scoring; otherwise a 410 ``score-gone``
    problem whose ``current_score_id`` names the scoring served now.

    A list asked for with the ``score_id`` of an earlier page must not mix two rankings: when a new
    scoring was published in between, the client starts again from the current one.
    """
    if score_id is None or score_id == scores.id:
        return scores
    raise ProblemError(
        410,
        "score-gone",
        "Scoring no longer served",
        f"the requested scoring is not served; the current scoring is {scores.id}: start again from it",
        extra={"current_score_id": scores.id},
    )
