"""The web pages' state and their wiring into the application (:func:`install_web`)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.web.auth import PageError, SignInRequiredError, Viewer, signin_path
from api.web.data import ModelFacts, OneEntryCache, ScoresView, SnapshotHistory
from api.web.format import FILTERS, shown
from api.web.sessions import SessionStore
from engine.settings import Settings

HERE = Path(__file__).parent
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
# Pages are self-contained: our own stylesheet and script only; no inline script, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass
class WebState:
    """Created once by :func:`install_web`; caches are rebuilt when their input changes."""

    sessions: SessionStore
    templates: Jinja2Templates
    scores: OneEntryCache[ScoresView] = field(default_factory=OneEntryCache)
    history: OneEntryCache[SnapshotHistory] = field(default_factory=OneEntryCache)
    model: OneEntryCache[ModelFacts] = field(default_factory=OneEntryCache)
    report: OneEntryCache[str] = field(default_factory=OneEntryCache)


def templates() -> Jinja2Templates:
    """The page templates with the Swedish formatting filters, every one of them autoescaped.

    The templates are named ``*.html.j2``, which Jinja's default ``select_autoescape()`` does not
    recognise, so escaping is switched on for every template explicitly: whatever the data says is
    shown as text, never obeyed. Only :class:`markupsafe.Markup` built from escaped parts (the charts)
    is inserted as HTML. Every value also loses its invisible format characters (bidi overrides,
    zero-width characters: :func:`api.web.format.shown`) on its way into a page.
    """
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        finalize=shown,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(FILTERS)
    return Jinja2Templates(env=environment)


def with_security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def render(
    request: Request, template: str, viewer: Viewer | None, *, status: int = 200, **context: Any
) -> Response:
    """A page from ``template`` with the navigation the viewer's scopes allow."""
    state: WebState = request.app.state.tillsynsrisk_web
    response = state.templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer, "path": request.url.path, **context},
        status_code=status,
    )
    return with_security_headers(response)


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
    from api.web import pages, planning, signin

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
