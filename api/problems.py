"""RFC 9457 problem details for every error the API returns — never a stack trace.

Problem types (documented in docs/api.md): plain HTTP errors (404 unknown path, 405, ...) use
``about:blank`` with the HTTP reason phrase as title; the API's own problems use
``urn:tillsynsrisk:problem:<slug>``.

A problem never echoes what the request sent: validation errors carry the location and message only
(never pydantic's ``input``), a request's query and path values quoted in a detail are replaced by
``<value>``, every text is cut to :data:`MAX_DETAIL_CHARS` and personal identity numbers are masked
(:mod:`engine.personal_data`), and no detail names a filesystem path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.personal_data import masked

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:tillsynsrisk:problem:"
MAX_DETAIL_CHARS = 300
MAX_INSTANCE_CHARS = 200
MAX_VALIDATION_ERRORS = 20
REQUEST_VALUE = "<value>"


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
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}


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
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else _phrase(error.status_code)
    if error.status_code == 404 and detail == "Not Found":
        detail = "no resource at this path"
    if error.status_code == 405:
        detail = "this method is not allowed on this path"
    return problem_response(
        request, error.status_code, title=_phrase(error.status_code), detail=detail, headers=error.headers
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # Location and message only: pydantic's ``input`` (and ``ctx``) would echo what was sent.
    errors = [
        {
            "location": safe_text(".".join(str(part) for part in item.get("loc", ())), 100),
            "message": safe_text(str(item.get("msg", "")), 200),
        }
        for item in error.errors()[:MAX_VALIDATION_ERRORS]
    ]
    summary = "; ".join(f"{item['location']}: {item['message']}" for item in errors)
    return problem_response(
        request,
        422,
        title="Invalid request",
        detail=f"the request does not match the API: {summary}",
        type_=TYPE_PREFIX + "validation-error",
        extra={"errors": errors},
    )


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
