"""Server-side sessions of the planners' web pages, in SQLite (``Settings().web_sessions_db``).

A person signs in with an API key once; the key is checked and then forgotten. The browser gets only
a random session token (256 bits) in an HttpOnly, SameSite=Strict cookie; the store keeps the token's
SHA-256 (a stolen database file cannot be replayed as cookies), the key's public id and name, a CSRF
token and when the session was last used. A session ends on sign-out, after ``idle_minutes`` without
a request, or as soon as its key is revoked or loses the scopes (checked on every request by the web
layer against the key store).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from engine.files import create_private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web_sessions (
    token_sha256  TEXT PRIMARY KEY,
    key_id        TEXT NOT NULL,
    key_name      TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen     REAL NOT NULL
);
"""
TOUCH_EVERY_SECONDS = (
    15.0  # last_seen is rewritten at most this often per session (one write, not one per view)
)


@dataclass(frozen=True)
class WebSession:
    """A signed-in session (never the API key itself)."""

    key_id: str
    key_name: str
    csrf_token: str
    created_at: str
    last_seen: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    """The session table; one connection shared under a lock (WAL, so readers never wait for a writer)."""

    def __init__(self, path: Path, idle_minutes: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        create_private_file(path)  # 0600 before SQLite opens it; its -wal and -shm files inherit the mode
        self.path = path
        self.idle_seconds = idle_minutes * 60.0
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA busy_timeout=5000")
        self._connection.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def create(self, key_id: str, key_name: str, now: float | None = None) -> tuple[str, WebSession]:
        """Start a session for a checked key; returns the cookie token (shown once) and the session."""
        token = secrets.token_urlsafe(32)
        session = WebSession(
            key_id=key_id,
            key_name=key_name,
            csrf_token=secrets.token_urlsafe(32),
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            last_seen=time.time() if now is None else now,
        )
        with self._lock:
            self._connection.execute(
                "INSERT INTO web_sessions "
                "(token_sha256, key_id, key_name, csrf_token, created_at, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (_digest(token), key_id, key_name, session.csrf_token, session.created_at, session.last_seen),
            )
        return token, session

    def get(self, token: str | None, now: float | None = None) -> WebSession | None:
        """The live session of ``token`` (and mark it used), or None when unknown or idle too long.

        An idle session is deleted when it is found; :meth:`purge_idle` removes the ones never seen again.
        """
        if not token:
            return None
        now = time.time() if now is None else now
        digest = _digest(token)
        with self._lock:
            row = self._connection.execute(
                "SELECT key_id, key_name, csrf_token, created_at, last_seen FROM web_sessions "
                "WHERE token_sha256 = ?",
                (digest,),
            ).fetchone()
            if row is None:
                return None
            if now - row[4] > self.idle_seconds:
                self._connection.execute("DELETE FROM web_sessions WHERE token_sha256 = ?", (digest,))
                return None
            if now - row[4] >= TOUCH_EVERY_SECONDS:
                self._connection.execute(
                    "UPDATE web_sessions SET last_seen = ? WHERE token_sha256 = ?", (now, digest)
                )
        return WebSession(row[0], row[1], row[2], row[3], now)

    def delete(self, token: str | None) -> None:
        """End the session of ``token`` (sign-out); unknown tokens are ignored."""
        if not token:
            return
        with self._lock:
            self._connection.execute("DELETE FROM web_sessions WHERE token_sha256 = ?", (_digest(token),))

    def purge_idle(self, now: float | None = None) -> int:
        """Delete every session idle longer than the timeout; returns how many."""
        cutoff = (time.time() if now is None else now) - self.idle_seconds
        with self._lock:
            cursor = self._connection.execute("DELETE FROM web_sessions WHERE last_seen < ?", (cutoff,))
        return int(cursor.rowcount)
