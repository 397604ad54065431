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
from api.conditional import ConditionalGetMiddleware
from api.deps import BEARER_SCHEME, AppState
from api.docs_pages import install_docs
from api.limits import BodySizeLimitMiddleware
from api.problems import install_problem_handlers
from api.routes import candidates, health, models, plans, providers, risk_areas, units
from api.schemas import Problem
from api.security import SCOPES, ApiKeyStore
from api.serving import ScoresHolder
from api.web.install import install_web
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
ROUTERS = tuple(module.router for module in (health, risk_areas, candidates, units, providers, plans, models))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for ``settings`` (default: read from the environment now)."""
    settings = settings or Settings()
    config = settings.load_config()
    holder = ScoresHolder(ScoreStore(settings.scores_dir), config, settings.scores_refresh_seconds)
    holder.refresh()
    if holder.problem:
        logger.warning("API starts without a servable scoring snapshot: %s", holder.problem)
    state = AppState(
        settings=settings,
        config=config,
        holder=holder,
        keys=ApiKeyStore(settings.api_keys_db),
        audit=AuditLog(settings.audit_db),
        plans=PlanStore(settings.plans_dir),
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
        # The documentation pages come from api/docs_pages.py (local assets, security headers), not the CDN.
        docs_url=None,
        redoc_url=None,
        # FastAPI's native OpenTelemetry hooks check the global providers on every request; this service
        # exports no traces or metrics, so they are switched off rather than paid for per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        openapi_tags=[{"name": name} for name in ("risk areas", "candidates", "units", "providers", "plans")],
    )
    app.state.tillsynsrisk = state
    install_problem_handlers(app)
    install_docs(app)
    for router in ROUTERS:
        app.include_router(router)
    # Inside the audit middleware: an oversized body is refused (and audited) before anything reads it.
    app.add_middleware(BodySizeLimitMiddleware)
    # ETags, 304 and HEAD for the API's reads; inside the audit log, which records HEAD as sent.
    app.add_middleware(ConditionalGetMiddleware)
    install_web(app, settings)  # the planners' pages under / (api/web; docs/web.md)
    app.add_middleware(AuditMiddleware, audit=state.audit)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=["ETag", "Location"],
        )
    _complete_openapi(app, [*config.risk_area_ids, OVERALL], config.planning.model_dump())
    return app


def _complete_openapi(app: FastAPI, area_ids: list[str], plan_defaults: dict[str, Any]) -> None:
    """Add what FastAPI cannot infer: the configured risk areas as an enum, the configured plan defaults
    (``[planning]``) as the plan request's defaults, the bearer security, the problem schema the routes'
    error responses refer to, and the conditional-GET headers and 304."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build_schema()
        for path in schema.get("paths", {}).values():
            for method, operation in path.items():
                for parameter in operation.get("parameters", []):
                    if parameter.get("name") == "risk_area":
                        parameter["schema"]["enum"] = area_ids
                if operation.get("tags") != ["health"]:
                    operation["security"] = [{"ApiKey": []}]
                _problems_only(operation)
                if method == "get":
                    _conditional(operation)
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["ApiKey"] = BEARER_SCHEME
        schemas = components.setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        properties = schemas.get("PlanRequest", {}).get("properties", {})
        if "risk_area" in properties:
            properties["risk_area"]["enum"] = area_ids
        for name, value in plan_defaults.items():
            if name in properties:
                properties[name]["default"] = value
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problems_only(operation: dict[str, Any]) -> None:
    """Drop FastAPI's default 422 (``HTTPValidationError``): this API answers validation errors as
    problems, which each route lists itself (api.routes.common.problem_responses)."""
    default = operation.get("responses", {}).get("422", {})
    if "application/json" in default.get("content", {}):
        del operation["responses"]["422"]


def _conditional(operation: dict[str, Any]) -> None:
    """Document what api.conditional adds to every GET: ETag and Cache-Control, and the 304."""
    ok = operation.get("responses", {}).get("200")
    if ok is None:
        return
    ok.setdefault("headers", {}).update(
        {
            # Required, so the contract test checks that every successful read carries them.
            "ETag": {
                "description": "Strong entity tag of the body.",
                "required": True,
                "schema": {"type": "string", "pattern": '^"[0-9a-f]+"$'},
            },
            "Cache-Control": {
                "description": "How long the body may be reused.",
                "required": True,
                "schema": {"type": "string"},
            },
        }
    )
    operation["responses"]["304"] = {
        "description": "Not Modified: `If-None-Match` names the current ETag (no body).",
        "headers": {"ETag": {"description": "The current entity tag.", "schema": {"type": "string"}}},
    }
