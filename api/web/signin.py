"""Sign-in (an API key exchanged for a server-side session) and sign-out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.web.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGNIN_CSRF_COOKIE,
    PageError,
    Viewer,
    app_state,
    csrf_checked,
    page_viewer,
    safe_next,
    tokens_match,
    web_state,
)
from api.web.rendering import render, with_security_headers
from api.web.views import warm_up

router = APIRouter(include_in_schema=False)


def _cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/logga-in")
async def read_signin(*, request: Request, next: Annotated[str | None, Query()] = None) -> Response:
    """The sign-in form; a fresh token in a cookie and in the form protects it (double submit)."""
    return _signin_form(request, next_path=safe_next(next), error=None)


def _signin_form(request: Request, *, next_path: str, error: str | None, status: int = 200) -> Response:
    """The sign-in page with a fresh double-submit token, in its cookie and in the form."""
    token = secrets.token_urlsafe(32)
    response = render(
        request, "signin.html.j2", None, status=status, next_path=next_path, signin_csrf=token, error=error
    )
    response.set_cookie(
        SIGNIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
        path="/logga-in",
    )
    return response


@router.post("/logga-in")
async def create_session(
    *,
    request: Request,
    api_key: Annotated[str, Form(max_length=200)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """Check the key; on success start a session and go to ``next``; the key itself is never stored."""
    expected = request.cookies.get(SIGNIN_CSRF_COOKIE, "")
    if not expected or not tokens_match(csrf_token, expected):
        raise PageError(
            403,
            "Formuläret avvisades",
            "Inloggningsformuläret saknar en giltig säkerhetstoken (CSRF). Ladda om sidan och försök igen.",
        )
    state = app_state(request)
    presented = api_key.strip()
    key = state.keys.authenticate(presented)
    request.state.api_key_id = key.key_id if key else state.keys.key_id_of(presented)
    if key is None:
        return _signin_form(
            request,
            next_path=safe_next(next_path),
            status=401,
            error="Nyckeln är okänd eller återkallad. Kontrollera att du klistrat in hela nyckeln.",
        )
    request.state.api_key_name = key.name
    session_token, _ = web_state(request).sessions.create(key.key_id, key.name)
    warm_up(request)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_token,
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
        path="/",
    )
    response.delete_cookie(SIGNIN_CSRF_COOKIE, path="/logga-in")
    return with_security_headers(response)


@router.post("/logga-ut")
async def delete_session(*, request: Request, viewer: Annotated[Viewer, Depends(page_viewer())]) -> Response:
    """End the session (CSRF-checked) and return to the sign-in page."""
    await csrf_checked(request, viewer)
    web_state(request).sessions.delete(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/logga-in?utloggad=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return with_security_headers(response)
