"""Conditional GET and HEAD for the API's read routes, as one pure-ASGI layer.

Every successful ``GET`` of an API path gets a strong ``ETag`` (a hash of the body bytes) and a
``Cache-Control`` (the route's own, else ``private, no-cache``: revalidate every time); a request whose
``If-None-Match`` names that tag gets ``304 Not Modified`` with the tag and no body. ``HEAD`` is
answered as the ``GET`` it mirrors, without the body.

Why here and not in each route: the tag is the hash of exactly what would be sent, so it changes when
anything in the body changes (a new scoring, the score history, a settings default) and never
otherwise, without each route having to know what its body depends on; and one layer covers every read
route, including the ones added later. Why HEAD here: FastAPI's ``APIRoute`` answers only the methods
it declares, and declaring ``["GET", "HEAD"]`` on every route would put a second operation per path in
the OpenAPI document; answering HEAD as GET minus the body is what RFC 9110 asks and needs no route to
know about it. The route still runs in full for a 304 (the body is built, hashed and dropped): for the
candidate page that is one SHA-256 over 49 kB, within the benchmark's noise
(docs/results/2026-12-06-api-conditional.md).
"""

from __future__ import annotations

import hashlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The paths this layer answers for: the API and its probes (the web pages have their own sessions and
# Starlette's HEAD handling).
API_PATH_PREFIXES = ("/v1/", "/healthz", "/readyz")
DEFAULT_CACHE_CONTROL = "private, no-cache"
ERROR_CACHE_CONTROL = "no-store"
# Headers a 304 repeats from the 200 it stands for (RFC 9110 §15.4.5).
NOT_MODIFIED_HEADERS = ("cache-control", "etag", "vary", "date", "expires", "content-location")


def entity_tag(body: bytes) -> str:
    """The strong entity tag of ``body``: a quoted, truncated SHA-256 of its bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def none_match(if_none_match: str | None, tag: str) -> bool:
    """True when an ``If-None-Match`` header value matches ``tag`` (``*`` or any listed tag, compared
    weakly as RFC 9110 §13.1.2 asks: a ``W/`` prefix is ignored)."""
    if not if_none_match:
        return False
    candidates = [part.strip() for part in if_none_match.split(",")]
    return any(candidate == "*" or candidate.removeprefix("W/") == tag for candidate in candidates)


def is_api_path(path: str) -> bool:
    """True for the paths whose reads this layer makes conditional."""
    return path.startswith(API_PATH_PREFIXES)


class ConditionalGetMiddleware:
    """ETag, ``If-None-Match`` → 304, default ``Cache-Control`` and HEAD for the API's GET routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("GET", "HEAD") or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        head = method == "HEAD"
        if head:
            scope = dict(scope, method="GET")
        if_none_match = Headers(scope=scope).get("if-none-match")
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != 200:  # errors and redirects pass through as they are
                    _default_cache_control(message, ERROR_CACHE_CONTROL)
                    await send(message)
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            if start["status"] != 200:
                await send(message if not head else {**message, "body": b""})
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._send_complete(start, b"".join(chunks), if_none_match, head, send)

        await self.app(scope, receive, buffered_send)

    @staticmethod
    async def _send_complete(
        start: Message, body: bytes, if_none_match: str | None, head: bool, send: Send
    ) -> None:
        headers = MutableHeaders(scope=start)
        tag = headers.get("etag") or entity_tag(body)
        headers["etag"] = tag
        if "cache-control" not in headers:
            headers["cache-control"] = DEFAULT_CACHE_CONTROL
        if none_match(if_none_match, tag):
            kept = [(name, value) for name, value in headers.raw if name.decode() in NOT_MODIFIED_HEADERS]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        await send(start)
        await send({"type": "http.response.body", "body": b"" if head else body})


def _default_cache_control(start: Message, value: str) -> None:
    headers = MutableHeaders(scope=start)
    if "cache-control" not in headers:
        headers["cache-control"] = value
