"""Response documentation shared by the routes (every error is problem+json)."""

from __future__ import annotations

from typing import Any

from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import Problem


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses."""
    descriptions = {
        400: "The request body cannot be parsed.",
        401: "Missing or invalid API key (with `WWW-Authenticate: Bearer`).",
        403: "The key lacks the scope this route needs.",
        404: "No such resource.",
        409: "The request conflicts with the state of the server.",
        422: "Invalid parameters.",
        503: "No valid scoring snapshot is loaded.",
    }
    return {
        status: {"model": Problem, "description": descriptions[status], "content": {PROBLEM_MEDIA_TYPE: {}}}
        for status in statuses
    }


AUTHENTICATED = (401, 403, 422, 503)
