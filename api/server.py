"""How ``tillsynsrisk serve`` runs uvicorn: limits and timeouts that keep slow clients from taking it down.

uvicorn closes an idle keep-alive connection ``timeout_keep_alive`` seconds after a response, but it has
no timeout for *receiving* a request: the keep-alive timer starts only once a response was sent, and
every byte received cancels it. A connection that never sends a request, or trickles one a byte at a
time, stays open for ever, and enough of them use up the process's file descriptors. So:

- :class:`RequestDeadlineProtocol` (uvicorn's h11 protocol with one timer more) gives each request a
  deadline, from the opening of the connection (or the first byte of a later request on it) to the last
  byte of its body; a client that misses it is disconnected;
- :func:`raised_open_file_limit` lifts the soft limit on open files to the hard one at start-up;
- :class:`AcceptErrorThrottle` keeps asyncio's accept loop from writing thousands of tracebacks a second
  when the descriptors run out all the same (it logs every failed ``accept`` of a burst, each with its
  traceback).

A reverse proxy in front still does what one process cannot: per-client connection and rate limits
(docs/api.md, "Connections and timeouts").
"""

from __future__ import annotations

import asyncio
import logging
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from engine.settings import Settings

logger = logging.getLogger(__name__)

ACCEPT_ERROR = "socket.accept() out of system resource"
ACCEPT_RESTART = "BaseSelectorEventLoop._start_serving"


class RequestDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for receiving each whole request (line, headers, body).

    The deadline starts when the connection is made, and for a later request on a kept-alive connection
    at its first byte (until then uvicorn's keep-alive timeout applies). It ends when the request's last
    byte has arrived: the time the application takes to answer is not limited here.
    """

    request_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            # IDLE after bytes arrived: a request head has begun but is not complete yet.
            self._arm_deadline()
        else:
            self._disarm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def _arm_deadline(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.request_timeout, self._on_deadline)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _on_deadline(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            logger.debug("closed a connection that sent no whole request within %.1f s", self.request_timeout)
            self.transport.close()


def protocol_with_deadline(seconds: float) -> type[RequestDeadlineProtocol]:
    """:class:`RequestDeadlineProtocol` with a request deadline of ``seconds`` (uvicorn takes a class)."""
    return type("RequestDeadlineProtocol", (RequestDeadlineProtocol,), {"request_timeout": seconds})


def is_accept_loop_error(message: str) -> bool:
    """Whether an ``asyncio`` log message comes from its accept loop running out of descriptors.

    Besides the failed ``accept`` itself: each one schedules a restart of the loop a second later, and
    restarts still pending when the server stops fail on the closed socket.
    """
    first_line = message.partition("\n")[0]
    return first_line.startswith(ACCEPT_ERROR) or ACCEPT_RESTART in first_line


class AcceptErrorThrottle(logging.Filter):
    """Lets one accept-loop error through per ``interval_seconds``, without its traceback.

    asyncio logs every failed ``accept`` of a burst (up to ``backlog`` a second) with its traceback; the
    record let through says how many were dropped since the previous one. Other records pass untouched.
    """

    def __init__(self, interval_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_seconds = interval_seconds
        self.clock = clock
        self._last = -float("inf")
        self._suppressed = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_accept_loop_error(str(record.msg)):
            return True
        with self._lock:
            now = self.clock()
            if now - self._last < self.interval_seconds:
                self._suppressed += 1
                return False
            self._last, suppressed, self._suppressed = now, self._suppressed, 0
        error = record.exc_info[1] if record.exc_info else None
        first_line = str(record.msg).partition("\n")[0][:120]
        record.msg = "%s (%s): too many open connections; %d more since the last message"
        record.args = (first_line, error, suppressed)
        record.exc_info = None
        record.exc_text = None
        return True


def raised_open_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; returns the soft limit in force.

    Each connection holds a descriptor; the soft limit is often 1024 while the hard one is far higher.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard in (resource.RLIM_INFINITY, soft):
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as error:
        logger.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, error)
        return soft
    return hard


def install_accept_error_throttle() -> AcceptErrorThrottle:
    """Add an :class:`AcceptErrorThrottle` to asyncio's logger (once per process); returns it."""
    asyncio_logger = logging.getLogger("asyncio")
    for existing in asyncio_logger.filters:
        if isinstance(existing, AcceptErrorThrottle):
            return existing
    throttle = AcceptErrorThrottle()
    asyncio_logger.addFilter(throttle)
    return throttle


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's keyword arguments for the connection limits and timeouts of ``settings``.

    The h11 protocol is named explicitly: the request deadline extends it, and the head-size limit
    (``h11_max_incomplete_event_size``) is h11's. No WebSocket protocol: the API serves none.
    """
    return {
        "http": protocol_with_deadline(settings.server_request_timeout_seconds),
        "ws": "none",
        "timeout_keep_alive": settings.server_keep_alive_seconds,
        "limit_concurrency": settings.server_limit_concurrency,
        "backlog": settings.server_backlog,
        "h11_max_incomplete_event_size": settings.server_max_header_bytes,
    }
