"""The audit log's batched writer: bounded queue, nothing lost on a clean shutdown, rows as recorded."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from api.audit import AuditLog, PendingEntry


def _pending(index: int) -> PendingEntry:
    return (
        1_750_000_000.0 + index,
        "planner",
        "0123456789ab",
        "GET",
        f"/v1/units/u{index}",
        b"limit=5",
        {"unit_id": f"u{index}"},
        200,
        1.23456,
    )


def _committed_rows(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM audit_log").fetchone()[0])


def test_audit_rows_are_formatted_by_the_writer_as_recorded(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    log.append(_pending(0))
    [entry] = log.entries()
    log.close()
    assert entry.at == "2025-06-15T15:06:40.000+00:00", "time is UTC ISO 8601 with milliseconds"
    assert (entry.key_name, entry.key_id, entry.path, entry.query) == (
        "planner",
        "0123456789ab",
        "/v1/units/u0",
        "limit=5",
    )
    assert entry.resource_ids == {"unit_id": "u0"} and entry.status == 200 and entry.duration_ms == 1.235


def test_a_full_audit_queue_is_written_by_the_request_that_fills_it(tmp_path: Path) -> None:
    # given a writer that would not flush on its own for an hour, and room for three pending entries
    path = tmp_path / "audit.sqlite3"
    log = AuditLog(path, flush_seconds=3600, max_pending=3)
    log.append(_pending(0))
    log.append(_pending(1))
    assert _committed_rows(path) == 0, "below the bound, entries wait for the writer"
    # when the third entry fills the queue
    log.append(_pending(2))
    # then all three are committed at once (bounded memory, nothing dropped)
    assert _committed_rows(path) == 3
    log.close()


def test_closing_the_audit_log_commits_every_pending_entry(tmp_path: Path) -> None:
    # given entries queued but not yet written (the writer's period has not elapsed)
    path = tmp_path / "audit.sqlite3"
    log = AuditLog(path, flush_seconds=3600)
    for index in range(250):
        log.append(_pending(index))
    started = time.monotonic()
    # when the application shuts down cleanly
    log.close()
    # then every entry is in the database, in the order the requests finished
    assert time.monotonic() - started < 5, "close must not wait for the writer's period"
    with sqlite3.connect(path) as connection:
        paths = [row[0] for row in connection.execute("SELECT path FROM audit_log ORDER BY id")]
    assert paths == [f"/v1/units/u{index}" for index in range(250)]
