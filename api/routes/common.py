"""Response documentation shared by the routes: every error is problem+json, and each route lists the
problem ``type`` values it can answer with (a schema per status whose ``type`` is an enum of them)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from api.problems import PROBLEM_MEDIA_TYPE, TYPE_PREFIX

ProblemType = tuple[int, str]  # (status, slug of urn:tillsynsrisk:problem:<slug>)

INVALID_QUERY: ProblemType = (400, "invalid-query")
MALFORMED_BODY: ProblemType = (400, "malformed-body")
UNKNOWN_RISK_AREA_QUERY: ProblemType = (400, "unknown-risk-area")
UNAUTHENTICATED: ProblemType = (401, "unauthenticated")
INVALID_KEY: ProblemType = (401, "invalid-key")
INSUFFICIENT_SCOPE: ProblemType = (403, "insufficient-scope")
UNKNOWN_UNIT: ProblemType = (404, "unknown-unit")
UNKNOWN_PROVIDER: ProblemType = (404, "unknown-provider")
UNKNOWN_PLAN: ProblemType = (404, "unknown-plan")
UNKNOWN_SCORE: ProblemType = (404, "unknown-score")
COOLDOWN_UNAVAILABLE: ProblemType = (409, "cooldown-unavailable")
SCORE_GONE: ProblemType = (410, "score-gone")
BODY_TOO_LARGE: ProblemType = (413, "body-too-large")
VALIDATION_ERROR: ProblemType = (422, "validation-error")
UNKNOWN_RISK_AREA_BODY: ProblemType = (422, "unknown-risk-area")
INVALID_DESIGN: ProblemType = (422, "invalid-design")
# A schema-valid team whose scoring does not exist: not found, as an unknown ``score_id`` is.
NO_TEAM_SCORING: ProblemType = (404, "no-team-scoring")
INTERNAL_ERROR: ProblemType = (500, "internal-error")
NOT_READY: ProblemType = (503, "not-ready")

# What any route can answer: a query it does not accept, a body over the limit, an unexpected error.
EVERY_ROUTE = (INVALID_QUERY, BODY_TOO_LARGE, INTERNAL_ERROR)
# A route behind a key and a scope.
AUTHENTICATED = (*EVERY_ROUTE, UNAUTHENTICATED, INVALID_KEY, INSUFFICIENT_SCOPE)
# An authenticated route that reads the served scoring.
SCORED = (*AUTHENTICATED, NOT_READY)

# Cache-Control of a response that must not be stored at all (health probes); every other API response
# is ``private, no-cache`` unless its route says otherwise (api.conditional).
NO_STORE = "no-store"
# A resource whose id is derived from its content never changes: a client may keep it for a year.
IMMUTABLE = "private, max-age=31536000, immutable"

DESCRIPTIONS = {
    400: "Malformed body, or a query parameter the route does not accept or with an invalid value.",
    401: "Missing or invalid API key (with `WWW-Authenticate: Bearer`).",
    403: "The key lacks the scope this route needs.",
    404: "No such resource.",
    409: "The request conflicts with the state of the server.",
    410: "The pinned scoring (`score_id`) is no longer served; `current_score_id` names the current one.",
    413: "The request body is over 64 KiB.",
    422: "Invalid path or body values.",
    500: "An unexpected error (logged on the server).",
    503: "No valid scoring snapshot is loaded (with `Retry-After`).",
}


def problem_responses(*problems: ProblemType) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for ``problems``: per status, the problem schema with ``type``
    restricted to the listed types, so a client (and the contract test) knows every problem a route
    can answer with."""
    slugs: dict[int, list[str]] = defaultdict(list)
    for status, slug in dict.fromkeys(problems):
        slugs[status].append(TYPE_PREFIX + slug)
    return {
        status: {
            "description": f"{DESCRIPTIONS[status]} Types: " + ", ".join(f"`{t}`" for t in types),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": problem_schema(status, types)}},
        }
        for status, types in sorted(slugs.items())
    }


def problem_schema(status: int, types: list[str]) -> dict[str, Any]:
    """The JSON schema of a problem with ``status`` and one of ``types``."""
    return {
        "allOf": [
            {"$ref": "#/components/schemas/Problem"},
            {"properties": {"type": {"enum": types}, "status": {"enum": [status]}}},
        ]
    }
