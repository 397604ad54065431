"""RFC 9457 problem details for every error the API returns — never a stack trace.

Problem types (documented in docs/api.md): plain HTTP errors (404 unknown path, 405, ...) use
``about:blank`` with the HTTP reason phrase as title; the API's own problems use
``urn:tillsynsrisk:problem:<slug>``. A query the route does not accept (an unknown parameter or a bad
value) and a body that cannot be parsed are 400; invalid path or body values are 422.

A problem never echoes what the request sent: validation errors carry the location and message only
(never pydantic's ``input``), a request's query and path values quoted in a detail are replaced by
``<value>``, every text is cut to :data:`MAX_DETAIL_CHARS` and personal identity numbers are masked
(:mod:`engine.personal_data`), and no detail names a filesystem path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.personal_data import masked

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:tillsynsrisk:problem:"
MAX_DETAIL_CHARS = 300
MAX_INSTANCE_CHARS = 200
MAX_VALIDATION_ERRORS = 20
REQUEST_VALUE = "<value>"
# A query parameter name is named in a problem only if it looks like one: a credential or a long token
# sent as a name (``?tr_<key>=``) is not echoed.
PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,31}")
UNNAMED_PARAMETER = "<parameter>"


def safe_text(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """``text`` cut to ``limit`` characters with personal identity numbers masked."""
    clipped = text if len(text) <= limit else text[: limit - 1] + "…"
    return masked(clipped)


def without_request_values(request: Request, text: str) -> str:
    """``text`` with every query or path value of ``request`` that it quotes replaced by ``<value>``."""
    values = [*request.query_params.values(), *(str(value) for value in request.path_params.values())]
    for value in sorted(set(values), key=len, reverse=True):
        if value:
            text = text.replace(repr(value), REQUEST_VALUE)
    return text


class ProblemError(Exception):
    """Raise in a handler or dependency to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        *,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(
    request: Request,
    status: int,
    *,
    title: str,
    detail: str,
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A ``application/problem+json`` response."""
    body = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": safe_text(without_request_values(request, detail)),
        "instance": safe_text(request.url.path, MAX_INSTANCE_CHARS),
    }
    return JSONResponse(
        body | (extra or {}), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _problem_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemError)
    return problem_response(
        request,
        error.status,
        title=error.title,
        detail=error.detail,
        type_=TYPE_PREFIX + error.slug,
        headers=error.headers,
        extra=error.extra,
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400:  # FastAPI's answer to a body it cannot decode (not UTF-8, not a form)
        return _malformed_body(request)
    detail = error.detail if isinstance(error.detail, str) else _phrase(error.status_code)
    if error.status_code == 404 and detail == "Not Found":
        detail = "no resource at this path"
    if error.status_code == 405:
        detail = "this method is not allowed on this path"
    return problem_response(
        request, error.status_code, title=_phrase(error.status_code), detail=detail, headers=error.headers
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    """400 for a malformed JSON body or a query the route does not accept; 422 for any other
    invalid input (a body or path value)."""
    assert isinstance(error, RequestValidationError)
    raw = error.errors()
    if any(item.get("type") == "json_invalid" for item in raw):
        return _malformed_body(request)
    # Location and message only: pydantic's ``input`` (and ``ctx``) would echo what was sent.
    errors = [
        {
            "location": safe_text(".".join(_location(item.get("loc", ()))), 100),
            "message": safe_text(_message(item), 200),
        }
        for item in raw[:MAX_VALIDATION_ERRORS]
    ]
    summary = "; ".join(f"{item['location']}: {item['message']}" for item in errors)
    if any(item.get("loc", ("",))[0] == "query" for item in raw):
        allowed = allowed_query_parameters(request)
        return problem_response(
            request,
            400,
            title="Invalid query parameter",
            detail=f"the query does not match the route: {summary}; allowed parameters: "
            + (", ".join(allowed) or "none"),
            type_=TYPE_PREFIX + "invalid-query",
            extra={"errors": errors, "allowed_parameters": allowed},
        )
    return problem_response(
        request,
        422,
        title="Invalid request",
        detail=f"the request does not match the API: {summary}",
        type_=TYPE_PREFIX + "validation-error",
        extra={"errors": errors},
    )


def _malformed_body(request: Request) -> JSONResponse:
    return problem_response(
        request,
        400,
        title="Malformed request body",
        detail="the request body cannot be parsed as JSON",
        type_=TYPE_PREFIX + "malformed-body",
    )


def _location(loc: Sequence[Any]) -> list[str]:
    """A validation error's location as text, a query parameter's name kept only if it looks like one."""
    parts = [str(part) for part in loc]
    if len(parts) > 1 and parts[0] == "query" and not PARAMETER_NAME.fullmatch(parts[1]):
        parts[1] = UNNAMED_PARAMETER
    return parts


def _message(item: Mapping[str, Any]) -> str:
    if item.get("type") == "extra_forbidden":
        return "unknown parameter"
    return str(item.get("msg", ""))


def allowed_query_parameters(request: Request) -> list[str]:
    """The query parameter names the matched route accepts (its query model's fields), sorted."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return []
    names: set[str] = set()
    pending = [dependant]
    while pending:  # the route's own query parameters and those of its dependencies
        current = pending.pop()
        pending.extend(current.dependencies)
        for field in current.query_params:
            annotation = field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names.update(info.alias or name for name, info in annotation.model_fields.items())
            else:
                names.add(field.alias)
    return sorted(names)


async def _unhandled_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        request,
        500,
        title="Internal Server Error",
        detail="the server could not complete the request; the error has been logged",
        type_=TYPE_PREFIX + "internal-error",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error (ours, HTTP, validation, unhandled) as problem+json."""
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled_error)
