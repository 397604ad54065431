"""The change feed: an append-only log of what an integrator may want to react to (``Settings().events_db``).

Three kinds of event, each written by the code that makes it happen, at the lowest layer that owns it:

- ``scoring.published``: :meth:`engine.scores.ScoreStore.publish` replaced ``CURRENT`` with another id;
- ``model.promoted``: :func:`models.registry.promote` aliased a new model version ``champion``;
- ``plan.saved``: :meth:`serving.plans.PlanStore.save` stored a plan it did not have.

Why a log and not a feed derived from the stores: a publication leaves no trace in the score store
(``CURRENT`` only names the latest one, so a publication that was later replaced, or a snapshot
published twice, cannot be recovered), and an order across three stores with three clocks is not
stable. The log gives each event an id once, from SQLite's ``AUTOINCREMENT`` (strictly increasing,
never reused, even after a row is deleted), and that id is the feed's cursor: a client that asks for
events ``after`` the last id it saw gets each event exactly once, in the order they happened.

The file is SQLite (one short connection per call: publishers are separate processes, the API
reads concurrently) readable only by its owner (mode 0600), like the key store and the audit log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

EventType = Literal["scoring.published", "model.promoted", "plan.saved"]
EVENT_TYPES: tuple[EventType, ...] = ("scoring.published", "model.promoted", "plan.saved")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    type        TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    subject     TEXT NOT NULL,
    once_key    TEXT UNIQUE
);
"""


@dataclass(frozen=True)
class Event:
    """One entry of the log: its id (the feed cursor), type, UTC time and what it is about."""

    id: int
    type: EventType
    occurred_at: dt.datetime
    subject: dict[str, Any]


class EventLog:
    """The append-only event log in the SQLite file ``path`` (created, mode 0600, on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(
        self,
        event_type: EventType,
        subject: dict[str, Any],
        *,
        once_key: str | None = None,
        occurred_at: dt.datetime | None = None,
    ) -> int | None:
        """Record an event; returns its id, or None when an event with ``once_key`` is already logged.

        ``once_key`` makes an event happen once however many writers race to record it (two requests
        storing the same new plan at the same moment log one ``plan.saved``).
        """
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}; known: {list(EVENT_TYPES)}")
        when = (occurred_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="microseconds")
        with self._connection() as connection:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO events (type, occurred_at, subject, once_key) VALUES (?, ?, ?, ?)",
                (event_type, when, json.dumps(subject, sort_keys=True, ensure_ascii=False), once_key),
            )
            return cursor.lastrowid if cursor.rowcount == 1 else None

    def after(self, after: int, limit: int) -> list[Event]:
        """Up to ``limit`` events with an id greater than ``after``, oldest first."""
        if not self.path.exists():
            return []
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT id, type, occurred_at, subject FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            ).fetchall()
        return [
            Event(
                id=row[0],
                type=row[1],
                occurred_at=dt.datetime.fromisoformat(row[2]),
                subject=json.loads(row[3]),
            )
            for row in rows
        ]

    def last_id(self) -> int:
        """The id of the newest event (0 when there is none)."""
        if not self.path.exists():
            return 0
        with self._connection() as connection:
            row = connection.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
        return int(row[0])

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        _create_private(self.path)
        with closing(sqlite3.connect(self.path, timeout=10.0, isolation_level=None)) as connection:
            connection.executescript(_SCHEMA)
            yield connection


def _create_private(path: Path) -> None:
    """Create ``path`` readable only by its owner (an existing file is left as it is)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(descriptor)
    os.chmod(path, 0o600)
