"""Files of the stores: SQLite stores readable by their owner only; no temporaries left by killed writes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from api.security import ApiKeyStore
from api.web.sessions import SessionStore
from engine.files import STALE_AFTER_SECONDS, remove_stale_temporaries
from engine.scores import ScoreStore
from features.store import FeatureStore
from serving.plans import PlanStore
from tests.scores_factory import make_scores, write_published

SIDE_FILES = ("", "-wal", "-shm")


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common umask 022, under which files are created 0644 unless asked otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _modes(database: Path) -> dict[str, str]:
    return {
        database.name + suffix: oct(stat.S_IMODE(database.with_name(database.name + suffix).stat().st_mode))
        for suffix in SIDE_FILES
        if database.with_name(database.name + suffix).exists()
    }


def test_api_key_store_and_its_wal_files_are_private(tmp_path: Path, usual_umask: None) -> None:
    # Given a new key store, with a key written (SQLite then has its -wal and -shm files open)
    database = tmp_path / "api_keys.sqlite3"
    store = ApiKeyStore(database)
    try:
        store.create("planner", frozenset({"read:candidates"}))
        modes = _modes(database)
    finally:
        store.close()
    # Then the database and its side files are readable by their owner only
    assert set(modes) == {"api_keys.sqlite3", "api_keys.sqlite3-wal", "api_keys.sqlite3-shm"}, modes
    assert set(modes.values()) == {"0o600"}, f"key store files readable by others: {modes}"


def test_web_session_store_and_its_wal_files_are_private(tmp_path: Path, usual_umask: None) -> None:
    # Given a new session store holding a session (its CSRF token is stored in clear)
    database = tmp_path / "web_sessions.sqlite3"
    store = SessionStore(database)
    try:
        store.create("0123456789ab", "planner")
        modes = _modes(database)
    finally:
        store.close()
    # Then the database and its side files are readable by their owner only
    expected = {"web_sessions.sqlite3", "web_sessions.sqlite3-wal", "web_sessions.sqlite3-shm"}
    assert set(modes) == expected, modes
    assert set(modes.values()) == {"0o600"}, f"session store files readable by others: {modes}"


def test_stores_created_readable_by_others_are_made_private(tmp_path: Path, usual_umask: None) -> None:
    # Given store files left 0644 by an earlier version, a WAL file among them
    for name in ("api_keys.sqlite3", "web_sessions.sqlite3"):
        for suffix in ("", "-wal"):
            (tmp_path / f"{name}{suffix}").touch(mode=0o644)
    # When the stores are opened
    ApiKeyStore(tmp_path / "api_keys.sqlite3").close()
    SessionStore(tmp_path / "web_sessions.sqlite3").close()
    # Then every file still there is 0600
    left = {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in tmp_path.iterdir()}
    assert left and set(left.values()) == {"0o600"}, f"store files readable by others: {left}"


def _age(path: Path, seconds: float) -> None:
    """Set the modification time of ``path`` (and its entries) ``seconds`` into the past."""
    then = time.time() - seconds
    for entry in [*path.iterdir()] if path.is_dir() else []:
        os.utime(entry, (then, then))
    os.utime(path, (then, then))


def _killed_writer(code: str, directory: Path) -> None:
    """Run ``code`` in a process that stops itself with SIGKILL where ``code`` says ``die()``."""
    program = f"import os, signal\ndef die():\n    os.kill(os.getpid(), signal.SIGKILL)\n{code}"
    result = subprocess.run([sys.executable, "-c", program, str(directory)], check=False, timeout=60)
    assert result.returncode == -signal.SIGKILL, f"the writer was not killed: {result.returncode}"


def test_scores_write_removes_the_temporary_of_a_killed_write(tmp_path: Path) -> None:
    # Given a scores directory where a process was killed after writing its temporary, before the rename
    store = ScoreStore(tmp_path / "scores")
    write_published(store, make_scores(units=10, seed=1))
    _killed_writer(
        "import sys, engine.scores as s\n"
        "s.os.replace = lambda *_: die()\n"
        "s.atomic_write(__import__('pathlib').Path(sys.argv[1]) / 'CURRENT', b'x')\n",
        store.root,
    )
    (left,) = [path for path in store.root.iterdir() if path.name.endswith(".tmp")]
    # When the store writes again before the temporary is stale
    write_published(store, make_scores(units=10, seed=2))
    # Then it is kept (it could be a write still running); once stale, the next write removes it
    assert left.exists(), "a fresh temporary may belong to a running write and must be kept"
    _age(left, STALE_AFTER_SECONDS + 1)
    write_published(store, make_scores(units=10, seed=3))
    assert not left.exists(), f"the stale temporary {left.name} of a killed write was not removed"


def test_plan_save_removes_the_temporary_of_a_killed_write(tmp_path: Path) -> None:
    # Given a plans directory holding the temporary of a killed write, untouched for longer than any write
    plans = tmp_path / "plans"
    plans.mkdir()
    left = plans / ".plan-0123456789abcdef.json.k3j2h1.tmp"
    left.write_text('{"plan_id": "plan-0123', encoding="utf-8")
    _age(left, STALE_AFTER_SECONDS + 1)
    # When a plan is saved
    PlanStore(plans).save({"plan_id": "plan-fedcba9876543210", "units": []})
    # Then the temporary is gone and the plan is stored
    assert sorted(path.name for path in plans.iterdir()) == ["plan-fedcba9876543210.json"]


def write_feature_set(root: Path, snapshot_id: str) -> str:
    """Store a one-row feature set under ``root``; returns its id."""
    day = dt.date(2025, 1, 1)
    frame = pl.DataFrame({"unit_id": ["u1"], "as_of": [day]})
    return FeatureStore(root).write(frame, [], snapshot_id=snapshot_id, as_of_dates=[day], config_hash="c").id


def test_feature_store_write_removes_the_directory_of_a_killed_write(tmp_path: Path) -> None:
    # Given a feature store where a process was killed after filling its temporary directory
    root = tmp_path / "features"
    _killed_writer(
        "import pathlib, sys\n"
        "from tests.test_store_files import write_feature_set\n"
        "pathlib.Path.rename = lambda *_: die()\n"
        "write_feature_set(pathlib.Path(sys.argv[1]), 'killed')\n",
        root,
    )
    (left,) = [path for path in root.iterdir() if path.name.endswith(".tmp")]
    assert left.is_dir() and any(left.iterdir()), "the killed write should have left a filled directory"
    _age(left, STALE_AFTER_SECONDS + 1)
    # When another feature set is written
    written = write_feature_set(root, "next")
    # Then the temporary directory is gone and the new set is stored
    assert sorted(path.name for path in root.iterdir()) == [written], "the stale temporary was kept"


def test_only_temporaries_are_removed(tmp_path: Path) -> None:
    # Given stale files of every kind: temporaries, stored snapshots and hidden files of other names
    names = [".a.json.x1.tmp", ".set.77.tmp", "20250601-0123456789ab.json", "CURRENT", ".keep", "x.tmp"]
    for name in names:
        (tmp_path / name).write_text("x", encoding="utf-8")
        _age(tmp_path / name, STALE_AFTER_SECONDS + 1)
    # When stale temporaries are removed
    removed = remove_stale_temporaries(tmp_path)
    # Then only the two named like a store's temporary are gone
    assert sorted(path.name for path in removed) == [".a.json.x1.tmp", ".set.77.tmp"]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names[2:])
