"""A request body size limit, as pure ASGI middleware (before any body is read or parsed).

The largest body the API accepts is a plan request of well under 1 KB; anything above
:data:`MAX_BODY_BYTES` is answered ``413`` as a problem document. A declared ``Content-Length`` above
the limit is refused before the body is read; a body streamed without one (chunked) is counted as it
arrives and refused as soon as it passes the limit, so memory stays bounded either way.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
PROBLEM_MEDIA_TYPE = b"application/problem+json"


class BodyTooLargeError(Exception):
    """The body passed the limit while it was being received."""


class BodySizeLimitMiddleware:
    """Answer 413 to any HTTP request whose body is larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, send)
            return
        received = 0
        too_large = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise BodyTooLargeError
            return message

        async def checked_send(message: Message) -> None:
            # The framework may turn the error into its own answer (FastAPI: 400): that answer is
            # replaced by the 413, and its body dropped.
            nonlocal replaced
            if too_large:
                if message["type"] == "http.response.start" and not replaced:
                    replaced = True
                    await self._too_large(scope, send)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, checked_send)
        except BodyTooLargeError:
            if not replaced:
                replaced = True
                await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "urn:tillsynsrisk:problem:body-too-large",
                "title": "Request body too large",
                "status": 413,
                "detail": f"the request body is larger than {self.max_bytes} bytes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
