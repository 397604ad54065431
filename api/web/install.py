"""Wiring the planners' pages into the application: routers, static files and HTML error pages."""

from __future__ import annotations

import inspect
import logging

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.web import pages, planning, signin
from api.web.auth import PageError, SignInRequiredError, signin_path, viewer_if_signed_in
from api.web.rendering import HERE, render, templates, with_security_headers
from api.web.sessions import SessionStore
from api.web.state import WebState
from engine.settings import Settings

# The machine-facing paths: their errors stay problem+json. Every other path is a page (or would be one).
API_PREFIXES = ("/v1/", "/openapi.json", "/healthz", "/readyz", "/docs", "/redoc")
NOT_FOUND_TITLE = "Sidan finns inte"
# The address is not repeated on the page: a mistyped path may hold what must not be echoed.
NOT_FOUND_MESSAGE = "Det finns ingen sida på den adressen. Kontrollera adressen, eller gå vidare härifrån."

logger = logging.getLogger(__name__)


def is_page_request(request: Request) -> bool:
    """Whether an error at this path is answered with an HTML page (everything outside ``/v1``)."""
    path = request.url.path
    return path != "/v1" and not path.startswith(API_PREFIXES)


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    """A Swedish error page with the navigation the viewer (if signed in) may use."""
    return render(
        request,
        "error.html.j2",
        viewer_if_signed_in(request),
        status=status,
        code=status,
        title=title,
        message=message,
    )


async def _page_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, PageError)
    if isinstance(error, SignInRequiredError):
        response = RedirectResponse(signin_path(error.next_path), status_code=303)
        return with_security_headers(response)
    return error_page(request, error.status, error.title, error.message)


def install_web(app: FastAPI, settings: Settings) -> WebState:
    """Add the planners' pages (``/``), their static files and their HTML error pages to ``app``."""
    state = WebState(
        sessions=SessionStore(settings.web_sessions_db, settings.web_session_idle_minutes),
        templates=templates(),
    )
    app.state.tillsynsrisk_web = state
    for module in (signin, pages, planning):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(PageError, _page_error)
    api_http_error = app.exception_handlers.get(StarletteHTTPException)
    api_server_error = app.exception_handlers.get(Exception)

    async def http_error(request: Request, error: Exception) -> Response:
        # Everything outside /v1 answers in HTML; the API keeps its problem+json.
        assert isinstance(error, StarletteHTTPException)
        if is_page_request(request) and error.status_code in (404, 405):
            return error_page(request, 404, NOT_FOUND_TITLE, NOT_FOUND_MESSAGE)
        assert api_http_error is not None
        result = api_http_error(request, error)
        return await result if inspect.isawaitable(result) else result

    async def server_error(request: Request, error: Exception) -> Response:
        if not is_page_request(request):
            assert api_server_error is not None
            result = api_server_error(request, error)
            return await result if inspect.isawaitable(result) else result
        logger.exception("unhandled error on page %s %s", request.method, request.url.path)
        # No session lookup here: whatever failed may be the session store itself.
        return render(
            request,
            "error.html.j2",
            None,
            status=500,
            code=500,
            title="Något gick fel",
            message="Sidan kunde inte visas på grund av ett fel hos tjänsten. Felet är loggat. "
            "Försök igen om en stund.",
        )

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, server_error)
    return state
