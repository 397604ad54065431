"""Append-only audit log of API requests, in SQLite (``Settings().audit_db``).

One row per request: when, who (the key's name and public id — never the key), what (method, the
route's path template, the query parameter names, resource ids) and the response status.

What a row may hold is limited, because the table cannot be erased: the path *template*
(``/v1/units/{unit_id}``; an unmatched path is masked and cut to :data:`MAX_PATH_CHARS`), the query
parameter *names* with a value only for parameters whose values are identifiers of this system
(:data:`KEPT_QUERY_VALUES`: risk area, region, limit, ...) and only when the value has that shape —
never a key or token (``?api_key=``, ``?access_token=`` keep only their name) — and never a
personnummer (the one detector of :mod:`engine.personal_data` masks names, values and resource ids).
The file is created with mode 0600. Requests without a valid key are logged at most
``unauthenticated_per_second`` per second (a token bucket, burst ``unauthenticated_burst``); the
rows dropped above that are counted in the next logged row (``resource_ids.suppressed``), so a flood
cannot grow the log without bound. Append-only is enforced by the database: triggers
abort every UPDATE and DELETE, and this module offers no way to change a row.

Requests hand their entry to a writer thread (a tuple of raw values; the writer formats the time and
the resource ids), which inserts everything queued in one transaction at least every ``flush_seconds``
(default 0.1 s) and on shutdown. An insert per request would cost a transaction commit on the request
path; batching keeps the audit log off the latency budget. The queue is bounded: when ``max_pending``
entries are waiting (the writer cannot keep up, e.g. the disk stalls) the request that finds it full
writes them itself, so memory stays bounded and nothing is dropped. The price: a process killed with
SIGKILL (or a power loss) loses the entries not yet committed — at most the last ``flush_seconds`` of
requests, and never more than ``max_pending`` entries. A clean shutdown (SIGTERM/SIGINT, lifespan end)
flushes everything.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.files import create_private_file
from engine.identifiers import ORGANISATION_NUMBER_PATTERN
from engine.personal_data import contains_personal_number, masked

UNAUDITED_PATHS = frozenset({"/healthz", "/readyz"})
PUBLIC_KEY_ID = re.compile(r"^[Bb]earer\s+tr_([0-9a-f]{12})_")
MAX_PATH_CHARS = 200
MAX_QUERY_NAMES = 20
MAX_NAME_CHARS = 64
MAX_RESOURCE_CHARS = 128
_IDENTIFIER = r"^[a-z][a-z0-9_]{0,63}$"
KEPT_QUERY_VALUES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern)
    for name, pattern in {
        "risk_area": _IDENTIFIER,
        "unit_type": _IDENTIFIER,
        "ownership": _IDENTIFIER,
        "region": r"^\d{2}$",
        "provider_id": ORGANISATION_NUMBER_PATTERN,
        "limit": r"^\d{1,7}$",
        "offset": r"^\d{1,7}$",
        "high_risk_percentile": r"^\d{1,3}(\.\d{1,6})?$",
    }.items()
}
"""Query parameters whose values are identifiers of this system, and the shape a kept value has."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    key_name      TEXT,
    key_id        TEXT,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    query         TEXT NOT NULL,
    resource_ids  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    duration_ms   REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""


@dataclass(frozen=True)
class AuditEntry:
    """One request as recorded."""

    at: str
    key_name: str | None
    key_id: str | None
    method: str
    path: str
    query: str
    resource_ids: dict[str, str]
    status: int
    duration_ms: float


# What a request queues: (unix time, key name, key id, method, path, query string, resource ids,
# status, duration in ms) — formatted into an audit row by the writer, off the request path.
PendingEntry = tuple[float, str | None, str | None, str, str, bytes, dict[str, str], int, float]


class AuditLog:
    """Writer and reader of the audit table (WAL mode; entries are written in batches by a thread)."""

    def __init__(self, path: Path, flush_seconds: float = 0.1, max_pending: int = 10_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        create_private_file(path)
        self.path = path
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA busy_timeout=5000")
        self._connection.executescript(_SCHEMA)
        self._queue: queue.SimpleQueue[PendingEntry] = queue.SimpleQueue()
        self._drain_lock = threading.Lock()  # one drainer at a time keeps rows in request order
        self._stopping = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="audit-writer", daemon=True)
        self._writer.start()

    def append(self, entry: PendingEntry) -> None:
        """Queue one row (written within ``flush_seconds``; at once if ``max_pending`` are waiting)."""
        self._queue.put(entry)
        if self._queue.qsize() >= self.max_pending:
            self.flush()

    def flush(self) -> None:
        """Write every queued row now."""
        with self._drain_lock:
            pending: list[PendingEntry] = []
            while True:
                try:
                    pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._insert(pending)

    def close(self) -> None:
        """Flush and stop the writer (idempotent)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._writer.join(timeout=10)
        self.flush()
        with self._lock:
            self._connection.close()

    def entries(self, limit: int = 1000) -> list[AuditEntry]:
        """The latest ``limit`` rows, oldest first (flushes first)."""
        self.flush()
        with self._lock:
            rows = self._connection.execute(
                "SELECT at, key_name, key_id, method, path, query, resource_ids, status, duration_ms "
                "FROM audit_log ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8])
            for r in reversed(rows)
        ]

    def _write_loop(self) -> None:
        while not self._stopping.wait(self.flush_seconds):
            self.flush()

    def _insert(self, batch: list[PendingEntry]) -> None:
        if not batch:
            return
        rows = [
            (
                dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds"),
                key_name,
                key_id,
                method,
                path,
                query.decode("utf-8"),
                json.dumps(resources, sort_keys=True) if resources else "{}",
                status,
                round(duration_ms, 3),
            )
            for at, key_name, key_id, method, path, query, resources, status, duration_ms in batch
        ]
        with self._lock:
            self._connection.execute("BEGIN")
            self._connection.executemany(
                "INSERT INTO audit_log (at, key_name, key_id, method, path, query, resource_ids, status, "
                "duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._connection.execute("COMMIT")


class AuditMiddleware:
    """Pure ASGI middleware: records every request (except health probes) after its response status.

    Who made the request is read from ``scope["state"]`` where the authentication dependency puts the
    key's name and id; resource ids are the route's path parameters plus any a handler adds under
    ``state["audit_resources"]`` (e.g. the id of a created plan).
    """

    def __init__(
        self,
        app: ASGIApp,
        audit: AuditLog,
        unauthenticated_per_second: float = 20.0,
        unauthenticated_burst: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.audit = audit
        self.rate = unauthenticated_per_second
        self.burst = float(unauthenticated_burst)
        self.clock = clock
        self._tokens = self.burst
        self._refilled = clock()
        self._suppressed = 0
        self._bucket_lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNAUDITED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})  # shared with request.state, where authentication records the key
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            authenticated = scope.get("state", {}).get("api_key_name") is not None
            suppressed = 0 if authenticated else self._admitted_unauthenticated()
            if suppressed is not None:
                self.audit.append(_entry(scope, status, started, suppressed))

    def _admitted_unauthenticated(self) -> int | None:
        """None when an unauthenticated request is over the rate (counted, not logged); else how many
        were dropped since the last one logged."""
        with self._bucket_lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
            self._refilled = now
            if self._tokens < 1.0:
                self._suppressed += 1
                return None
            self._tokens -= 1.0
            dropped, self._suppressed = self._suppressed, 0
            return dropped


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_text(text: str, limit: int) -> str:
    """``text`` with personal identity numbers masked, cut to ``limit`` characters."""
    return masked(_clipped(text, limit * 2))[:limit]


def audited_path(scope: Scope) -> str:
    """The matched route's path template, else the request path masked and cut."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    return safe_text(scope.get("path", ""), MAX_PATH_CHARS)


def audited_query(query_string: bytes) -> str:
    """Query parameter names, with values only for :data:`KEPT_QUERY_VALUES` of the right shape."""
    parts = []
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    for name, value in pairs[:MAX_QUERY_NAMES]:
        shown = safe_text(name, MAX_NAME_CHARS)
        pattern = KEPT_QUERY_VALUES.get(name)
        if pattern is not None and pattern.match(value) and not contains_personal_number(value):
            shown += f"={value}"
        parts.append(shown)
    if len(pairs) > MAX_QUERY_NAMES:
        parts.append(f"…{len(pairs) - MAX_QUERY_NAMES} more")
    return "&".join(parts)


def _entry(scope: Scope, status: int, started: float, suppressed: int = 0) -> PendingEntry:
    state: dict[str, Any] = scope.get("state", {})
    resources = {
        safe_text(str(key), MAX_NAME_CHARS): safe_text(str(value), MAX_RESOURCE_CHARS)
        for key, value in scope.get("path_params", {}).items()
    }
    if "audit_resources" in state:
        resources.update(state["audit_resources"])
    if suppressed:
        resources["suppressed"] = str(suppressed)
    key_id = state.get("api_key_id")
    if key_id is None:  # rejected before authentication ran (unknown path, wrong method): keep the public id
        key_id = _presented_key_id(scope)
    return (
        time.time(),
        state.get("api_key_name"),
        key_id,
        safe_text(scope["method"], 16),
        audited_path(scope),
        audited_query(scope.get("query_string", b"")).encode("utf-8"),
        resources,
        status,
        (time.perf_counter() - started) * 1000,
    )


def _presented_key_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            match = PUBLIC_KEY_ID.match(value.decode("latin-1"))
            return match.group(1) if match else None
    return None
