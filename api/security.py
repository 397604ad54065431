"""API keys with scopes, stored hashed in SQLite (``Settings().api_keys_db``).

A key looks like ``tr_<key_id>_<secret>``: ``key_id`` (12 hex characters) is public and finds the row;
the secret carries 256 bits from :func:`secrets.token_urlsafe`. Only the SHA-256 of the whole key is
stored; a fast hash is enough for a high-entropy key (no dictionary to attack), and the stored and
presented digests are compared in constant time. The key itself is shown once, when it is created.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from engine.files import create_private_file

SCOPES: dict[str, str] = {
    "read:candidates": "List risk areas and ranked candidates (GET /v1/risk-areas, /v1/candidates).",
    "read:units": "Read a unit's profile and score history (GET /v1/units/{unit_id}).",
    "read:providers": "Read a provider's rollup (GET /v1/providers/{provider_id}).",
    "read:models": "Read the served model and scoring snapshot metadata (GET /v1/models/current).",
    "read:plans": "List and read stored inspection plans and their CSV files (GET /v1/plans...).",
    "write:plans": "Create inspection plans (POST /v1/plans).",
    "read:events": "Read the change feed: publications, promotions, saved plans (GET /v1/events).",
}
KEY_PATTERN = re.compile(r"^tr_(?P<key_id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")
_DUMMY_DIGEST = hashlib.sha256(b"no such key").hexdigest()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_sha256  TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_active_name ON api_keys(name) WHERE revoked_at IS NULL;
"""


class ApiKeyError(ValueError):
    """A key cannot be created or revoked as asked (bad name, unknown scope, unknown key)."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never the key itself)."""

    key_id: str
    name: str
    scopes: frozenset[str]
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def parse_scopes(text: str) -> frozenset[str]:
    """Scopes from ``"read:candidates,write:plans"``; unknown scopes name the allowed ones."""
    scopes = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(scopes - set(SCOPES))
    if unknown or not scopes:
        raise ApiKeyError(f"unknown or no scopes {unknown or text!r}; allowed: {sorted(SCOPES)}")
    return scopes


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeyStore:
    """The key table; one connection shared under a lock.

    :meth:`authenticate` answers from an in-memory copy of the table, reloaded when the database files
    have changed; they are checked (a ``stat`` of the database and its WAL) at most every
    ``refresh_seconds``, so a key created or revoked by ``tillsynsrisk apikey`` in another process takes
    effect within that time. Changes made through this object take effect at once.
    """

    def __init__(self, path: Path, refresh_seconds: float = 1.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        create_private_file(path)  # 0600 before SQLite opens it; its -wal and -shm files inherit the mode
        self.path = path
        self.refresh_seconds = refresh_seconds
        self._checked_at = -float("inf")
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA busy_timeout=5000")
        self._connection.executescript(_SCHEMA)
        self._cache: dict[str, tuple[str, ApiKey]] = {}
        self._cache_marker: tuple[tuple[int, int], ...] | None = None
        self._reload()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def create(self, name: str, scopes: frozenset[str]) -> tuple[ApiKey, str]:
        """Store a new key; returns its record and the key (shown once, never stored)."""
        if not NAME_PATTERN.match(name):
            raise ApiKeyError(
                f"invalid key name {name!r}; use 1-64 letters, digits, space, '.', '_', '@', '-'"
            )
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ApiKeyError(f"unknown or no scopes {unknown}; allowed: {sorted(SCOPES)}")
        key_id = secrets.token_hex(6)
        key = f"tr_{key_id}_{secrets.token_urlsafe(32)}"
        created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        try:
            with self._lock:
                self._connection.execute(
                    "INSERT INTO api_keys (key_id, name, key_sha256, scopes, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key_id, name, _digest(key), " ".join(sorted(scopes)), created_at),
                )
        except sqlite3.IntegrityError as error:
            raise ApiKeyError(f"an active key named {name!r} already exists; revoke it first") from error
        self._reload()
        return ApiKey(key_id, name, frozenset(scopes), created_at), key

    def list(self) -> list[ApiKey]:
        """Every key, active and revoked, oldest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT key_id, name, scopes, created_at, revoked_at FROM api_keys "
                "ORDER BY created_at, key_id"
            ).fetchall()
        return [ApiKey(row[0], row[1], frozenset(row[2].split()), row[3], row[4]) for row in rows]

    def revoke(self, name_or_id: str) -> ApiKey:
        """Revoke the active key with that name or key id."""
        revoked_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._lock:
            row = self._connection.execute(
                "SELECT key_id FROM api_keys WHERE revoked_at IS NULL AND (name = ? OR key_id = ?)",
                (name_or_id, name_or_id),
            ).fetchone()
            if row is None:
                raise ApiKeyError(f"no active key with name or id {name_or_id!r}")
            self._connection.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (revoked_at, row[0])
            )
        self._reload()
        return next(key for key in self.list() if key.key_id == row[0])

    def authenticate(self, presented: str) -> ApiKey | None:
        """The active key matching ``presented``, or None (constant-time digest comparison)."""
        match = KEY_PATTERN.match(presented)
        keys = self._current_keys()
        stored, key = keys.get(match.group("key_id") if match else "", (_DUMMY_DIGEST, None))
        valid = hmac.compare_digest(_digest(presented), stored)
        if key is None or not valid or not key.active:
            return None
        return key

    def _current_keys(self) -> dict[str, tuple[str, ApiKey]]:
        now = time.monotonic()
        if now - self._checked_at >= self.refresh_seconds:
            marker = self._files_marker()
            if marker != self._cache_marker:
                self._reload(marker)
            self._checked_at = now
        return self._cache

    def _reload(self, marker: tuple[tuple[int, int], ...] | None = None) -> None:
        marker = marker or self._files_marker()  # taken before reading: a later write triggers a reload
        with self._lock:
            rows = self._connection.execute(
                "SELECT key_id, name, key_sha256, scopes, created_at, revoked_at FROM api_keys"
            ).fetchall()
        self._cache = {
            row[0]: (row[2], ApiKey(row[0], row[1], frozenset(row[3].split()), row[4], row[5]))
            for row in rows
        }
        self._cache_marker = marker

    def _files_marker(self) -> tuple[tuple[int, int], ...]:
        marker = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                stat = path.stat()
                marker.append((stat.st_mtime_ns, stat.st_size))
            except FileNotFoundError:
                marker.append((0, 0))
        return tuple(marker)

    @staticmethod
    def key_id_of(presented: str) -> str | None:
        """The public key id in a well-formed key (for the audit log), else None."""
        match = KEY_PATTERN.match(presented)
        return match.group("key_id") if match else None
