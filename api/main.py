"""The FastAPI application: ``create_app(settings)`` wires state, routers, errors, audit and CORS.

Run it with ``tillsynsrisk serve`` (uvicorn). Nothing is created at import time: settings, the key
store, the audit log and the served scores all come from :func:`create_app`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.audit import AuditLog, AuditMiddleware
from api.deps import BEARER_SCHEME, AppState
from api.limits import BodySizeLimitMiddleware
from api.problems import install_problem_handlers
from api.routes import candidates, events, health, models, plans, providers, risk_areas, units
from api.security import SCOPES, ApiKeyStore
from api.serving import ScoresHolder, snapshot_inspections
from api.web.state import install_web
from engine.events import EventLog
from engine.scores import OVERALL, ScoreStore
from engine.settings import Settings
from serving.plans import PlanStore

logger = logging.getLogger(__name__)

DESCRIPTION = (
    """
Risk-based supervision targeting for IVO: ranked, explained inspection candidates per risk area
(riskområde), unit and provider profiles, and reproducible inspection plans.

Every endpoint except `/healthz` and `/readyz` needs an API key (`Authorization: Bearer <key>`,
created with `tillsynsrisk apikey create`). Scopes:

"""
    + "\n".join(f"- `{scope}`: {text}" for scope, text in SCOPES.items())
    + """

Errors are RFC 9457 problem details (`application/problem+json`). Every request is written to an
append-only audit log.
"""
)

# One router per resource, each route an ordinary APIRoute with Annotated dependencies.
ROUTERS = tuple(
    module.router for module in (health, risk_areas, candidates, units, providers, plans, models, events)
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for ``settings`` (default: read from the environment now)."""
    settings = settings or Settings()
    config = settings.load_config()
    event_log = EventLog(settings.events_db)
    holder = ScoresHolder(
        ScoreStore(settings.scores_dir),
        config,
        settings.scores_refresh_seconds,
        inspections=snapshot_inspections(settings.snapshots_dir),
    )
    holder.refresh()
    if holder.problem:
        logger.warning("API starts without a servable scoring snapshot: %s", holder.problem)
    state = AppState(
        settings=settings,
        config=config,
        holder=holder,
        keys=ApiKeyStore(settings.api_keys_db),
        audit=AuditLog(settings.audit_db),
        plans=PlanStore(settings.plans_dir, event_log),
        events=event_log,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.keys.close()
        state.audit.close()
        app.state.tillsynsrisk_web.sessions.close()

    app = FastAPI(
        title="tillsynsrisk API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry hooks check the global providers on every request; this service
        # exports no traces or metrics, so they are switched off rather than paid for per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        openapi_tags=[
            {"name": name} for name in ("risk areas", "candidates", "units", "providers", "plans", "events")
        ],
    )
    app.state.tillsynsrisk = state
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    # Inside the audit middleware: an oversized body is refused (and audited) before anything reads it.
    app.add_middleware(BodySizeLimitMiddleware)
    install_web(app, settings)  # the planners' pages under / (api/web; docs/web.md)
    app.add_middleware(AuditMiddleware, audit=state.audit)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    _complete_openapi(app, [*config.risk_area_ids, OVERALL], config.planning.model_dump())
    return app


def _complete_openapi(app: FastAPI, area_ids: list[str], plan_defaults: dict[str, Any]) -> None:
    """Add what FastAPI cannot infer: the configured risk areas as an enum, the configured plan defaults
    (``[planning]``) as the plan request's defaults, and the bearer security."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build_schema()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for parameter in operation.get("parameters", []):
                    if parameter.get("name") == "risk_area":
                        parameter["schema"]["enum"] = area_ids
                if operation.get("tags") != ["health"]:
                    operation["security"] = [{"ApiKey": []}]
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["ApiKey"] = BEARER_SCHEME
        plan_request = schema.get("components", {}).get("schemas", {}).get("PlanRequest", {})
        properties = plan_request.get("properties", {})
        if "risk_area" in properties:
            properties["risk_area"]["enum"] = area_ids
        for name, value in plan_defaults.items():
            if name in properties:
                properties[name]["default"] = value
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
