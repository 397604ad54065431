"""GET /v1/candidates — ranked units of one risk area, filtered and paginated, with explanations."""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams

from api.deps import require_scope, served_scores_or_503
from api.lean_route import LeanRoute
from api.problems import ProblemError
from api.routes.common import AUTHENTICATED, problem_responses
from api.schemas import CandidatePage, CandidateQuery

FILTERS = ("region", "ownership", "unit_type", "provider_id")


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI query parameter objects for the fields of ``model``."""
    schema = model.model_json_schema()
    return [
        {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", []),
            "description": prop.get("description", ""),
            "schema": {key: value for key, value in prop.items() if key != "description"},
        }
        for name, prop in schema["properties"].items()
    ]


def candidate_query(request: Request) -> CandidateQuery:
    """The validated query of a candidates request (422 problem on invalid values).

    Validated as one pydantic model straight from the query string: on the hottest endpoint this costs
    a fraction of FastAPI's per-parameter resolution; the parameters are documented via ``openapi_extra``.
    Short query strings (dashboards ask for the same few pages) are looked up in a bounded cache of
    valid queries; the result is a frozen model, so sharing it between requests is safe.
    """
    query_string: bytes = request.scope["query_string"]
    if len(query_string) <= MAX_CACHED_QUERY_BYTES:
        return _cached_query(query_string)
    return _validated_query(query_string)


MAX_CACHED_QUERY_BYTES = 256


@functools.lru_cache(maxsize=1024)
def _cached_query(query_string: bytes) -> CandidateQuery:
    return _validated_query(query_string)  # an invalid query raises, and exceptions are not cached


def _validated_query(query_string: bytes) -> CandidateQuery:
    try:
        return CandidateQuery.model_validate(dict(QueryParams(query_string)))
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("query", *item["loc"])} for item in error.errors(include_input=False)]
        ) from error


def add_route(app: FastAPI) -> None:
    """Add ``GET /v1/candidates`` to ``app`` as a :class:`~api.lean_route.LeanRoute`.

    Added to the application's own routes rather than through an ``APIRouter`` and ``include_router``:
    FastAPI matches an included router's routes through an extra layer (about 7 µs per request
    in-process, more under load), which the hottest route does without.
    """
    app.router.add_api_route(
        "/v1/candidates",
        read_candidates,
        methods=["GET"],
        tags=["candidates"],
        response_model=CandidatePage,
        dependencies=[Depends(require_scope("read:candidates"))],
        responses=problem_responses(*AUTHENTICATED),
        summary="Ranked inspection candidates for a risk area",
        openapi_extra={"parameters": query_parameters(CandidateQuery)},
        route_class_override=LeanRoute,
    )


async def read_candidates(request: Request) -> Response:
    # The hottest endpoint, on a LeanRoute: the scope dependency is awaited directly, the served
    # scores are taken directly (same 503 problem as ScoresDep), and the page is assembled from bytes
    # rendered through the response model when the snapshot was loaded (api.serving). The response
    # model stays the documented contract; tests check pages against it.
    scores = served_scores_or_503(request)
    query = candidate_query(request)
    index = scores.areas.get(query.risk_area)
    if index is None:
        raise ProblemError(
            422,
            "unknown-risk-area",
            "Unknown risk area",
            f"unknown risk area {query.risk_area!r}; known: {sorted(scores.areas)}",
        )
    wanted = tuple(getattr(query, name) for name in FILTERS)
    positions = index.matching(wanted)
    offset, limit = query.offset, query.limit
    page = positions[offset : offset + limit]
    base = f"{request.scope['path']}?risk_area={quote(query.risk_area)}&limit={limit}" + "".join(
        f"&{name}={quote(value)}" for name, value in zip(FILTERS, wanted, strict=True) if value is not None
    )
    next_link = _json_string(f"{base}&offset={offset + limit}") if offset + limit < len(positions) else "null"
    tail = (
        f'"total":{len(positions)},"limit":{limit},"offset":{offset},'
        f'"links":{{"self":{_json_string(f"{base}&offset={offset}")},"next":{next_link}}},"items":['
    )
    body = b"".join((index.head, tail.encode(), b",".join([index.items[i] for i in page]), b"]}"))
    return Response(content=body, media_type="application/json")


_json_string = json.dumps  # a JSON string literal (the links are ASCII: their values are quoted)
