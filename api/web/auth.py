"""Who is looking at a page: the session behind the cookie, its key's scopes, and CSRF checks.

Pages declare what they need as dependencies (``PageViewer("read:units")``), like the JSON routes
declare scopes. Every check that fails raises a :class:`PageError` that the web layer answers with an
HTML page (or a redirect to the sign-in page), never with JSON.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request

from api.web.state import app_state, web_state

SESSION_COOKIE = "tr_session"
SIGNIN_CSRF_COOKIE = "tr_signin_csrf"
CSRF_FIELD = "csrf_token"


class PageError(Exception):
    """A page cannot be shown; answered as an HTML page with ``status``."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class SignInRequiredError(PageError):
    """No live session: answered with a redirect to the sign-in page (back to ``next_path`` after)."""

    def __init__(self, next_path: str, reason: str = "") -> None:
        super().__init__(303, "Logga in", reason)
        self.next_path = next_path


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: the key's public id, name and scopes, and the session's CSRF token."""

    key_id: str
    key_name: str
    scopes: frozenset[str]
    csrf_token: str

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def current_viewer(request: Request) -> Viewer:
    """The viewer of a live session whose key is still active (else :class:`SignInRequiredError`).

    Records the key's name and public id on ``request.state``, where the audit log reads them.
    """
    session = web_state(request).sessions.get(request.cookies.get(SESSION_COOKIE))
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if session is None:
        raise SignInRequiredError(target)
    key = next((key for key in app_state(request).keys.list() if key.key_id == session.key_id), None)
    if key is None or not key.active:
        web_state(request).sessions.delete(request.cookies.get(SESSION_COOKIE))
        raise SignInRequiredError(target, "Nyckeln har återkallats. Logga in med en giltig nyckel.")
    request.state.api_key_id = key.key_id
    request.state.api_key_name = key.name
    return Viewer(key.key_id, key.name, key.scopes, session.csrf_token)


def viewer_if_signed_in(request: Request) -> Viewer | None:
    """The signed-in viewer behind the request's session, or None (for pages anyone may see)."""
    try:
        return current_viewer(request)
    except PageError:
        return None


def page_viewer(scope: str | None = None) -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency: the signed-in viewer, who must hold ``scope`` (else a 403 page)."""

    async def viewer_with_scope(request: Request) -> Viewer:
        viewer = current_viewer(request)
        if scope is not None and not viewer.can(scope):
            raise PageError(
                403,
                "Behörighet saknas",
                f"Din nyckel ({viewer.key_name}) saknar behörigheten {scope} som den här sidan kräver.",
            )
        return viewer

    viewer_with_scope.__name__ = f"viewer_{(scope or 'any').replace(':', '_')}"
    return viewer_with_scope


def tokens_match(presented: str, expected: str) -> bool:
    """Whether ``presented`` is ``expected``, in constant time; any text gets an answer, never an error.

    ``hmac.compare_digest`` refuses ``str`` with characters outside ASCII (``TypeError``), so a token
    typed as ``"å"`` would end in a server error instead of a refusal. Both sides are compared as UTF-8
    bytes; a character that has no UTF-8 form (a lone surrogate) becomes ``?``, which no issued token
    contains (they are URL-safe base64).
    """
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


async def csrf_checked(request: Request, viewer: Viewer) -> None:
    """Refuse (403 page) a form whose CSRF token is missing or is not this session's."""
    form = await request.form()
    presented = form.get(CSRF_FIELD)
    if not isinstance(presented, str) or not tokens_match(presented, viewer.csrf_token):
        raise PageError(
            403,
            "Formuläret avvisades",
            "Formuläret saknar en giltig säkerhetstoken (CSRF). Ladda om sidan och försök igen.",
        )


def signin_path(next_path: str) -> str:
    """The sign-in page that returns to ``next_path`` (a local path only)."""
    return "/logga-in" if next_path in ("", "/") else f"/logga-in?next={quote(next_path, safe='')}"


def safe_next(next_path: str | None) -> str:
    """``next_path`` if it is a path on this site, else ``/`` (no open redirect)."""
    if not next_path or not next_path.startswith("/") or next_path.startswith("//") or "\\" in next_path:
        return "/"
    return next_path
