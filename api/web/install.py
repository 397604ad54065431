"""Wiring the planners' pages into the application: routers, static files and HTML error pages."""

from __future__ import annotations

import inspect

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.web import pages, planning, signin
from api.web.auth import PageError, SignInRequiredError, signin_path
from api.web.rendering import HERE, render, templates, with_security_headers
from api.web.sessions import SessionStore
from api.web.state import WebState
from engine.settings import Settings

WEB_PREFIXES = (
    "/logga-in",
    "/logga-ut",
    "/kandidater",
    "/enheter",
    "/vardgivare",
    "/planera",
    "/planer",
    "/modell",
)


def is_page_request(request: Request) -> bool:
    path = request.url.path
    return path == "/" or path.startswith(WEB_PREFIXES)


async def _page_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, PageError)
    if isinstance(error, SignInRequiredError):
        response = RedirectResponse(signin_path(error.next_path), status_code=303)
        return with_security_headers(response)
    viewer = getattr(request.state, "web_viewer", None)
    return render(
        request, "error.html.j2", viewer, status=error.status, title=error.title, message=error.message
    )


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

    async def http_error(request: Request, error: Exception) -> Response:
        # Unknown pages under the web paths answer in HTML; everything else keeps the API's problem+json.
        assert isinstance(error, StarletteHTTPException)
        if is_page_request(request) and error.status_code in (404, 405):
            return render(
                request,
                "error.html.j2",
                None,
                status=error.status_code,
                title="Sidan finns inte",
                message="Sidan du sökte finns inte. Gå till översikten och försök igen.",
            )
        assert api_http_error is not None
        result = api_http_error(request, error)
        return await result if inspect.isawaitable(result) else result

    app.add_exception_handler(StarletteHTTPException, http_error)
    return state
