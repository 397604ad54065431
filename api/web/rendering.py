"""Pages from templates: autoescaped Jinja templates, the Swedish filters and the security headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from api.web.auth import Viewer
from api.web.format import FILTERS, shown
from api.web.state import web_state

HERE = Path(__file__).parent
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
    response = web_state(request).templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer, "path": request.url.path, **context},
        status_code=status,
    )
    return with_security_headers(response)
