"""Files the stores leave on disk: private SQLite databases and temporaries of interrupted writes.

- :func:`create_private_file` makes a database readable by its owner only before SQLite opens it; SQLite
  gives the ``-wal``, ``-shm`` and ``-journal`` files it creates next to it the same mode.
- :func:`remove_stale_temporaries` deletes what a killed write left behind. The stores write through a
  temporary named ``.<name>….tmp`` (a file, or a directory for a feature set) renamed into place; a
  process killed before the rename leaves it for ever. One older than ``max_age_seconds`` belongs to no
  running write (writes take seconds), so it is removed when the store next writes.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

logger = logging.getLogger(__name__)

TEMPORARY_PREFIX = "."
TEMPORARY_SUFFIX = ".tmp"
# Far longer than any write takes, so a temporary still being written is never taken.
STALE_AFTER_SECONDS = 15 * 60
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def create_private_file(path: Path) -> None:
    """Create ``path`` with mode 0600 (and make an existing one, and its SQLite side files, so)."""
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(descriptor)
    for candidate in [path, *(path.with_name(path.name + suffix) for suffix in SQLITE_SIDE_FILES)]:
        try:
            os.chmod(candidate, 0o600)
        except FileNotFoundError:
            continue


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is named like a store's temporary (``.<name>….tmp``)."""
    return path.name.startswith(TEMPORARY_PREFIX) and path.name.endswith(TEMPORARY_SUFFIX)


def last_modified(path: Path) -> float:
    """The newest modification time of ``path`` and, for a directory, of its entries (a write adds them)."""
    times = [path.lstat().st_mtime]
    if path.is_dir() and not path.is_symlink():
        times += [entry.lstat().st_mtime for entry in path.iterdir()]
    return max(times)


def remove_stale_temporaries(
    directory: Path, *, max_age_seconds: float = STALE_AFTER_SECONDS, now: float | None = None
) -> list[Path]:
    """Remove the temporaries in ``directory`` untouched for ``max_age_seconds``; returns those removed.

    Safe to run while other processes write: a temporary that vanishes meanwhile (renamed into place,
    or removed by another cleaner) is skipped.
    """
    if not directory.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for path in directory.iterdir():
        if not is_temporary(path):
            continue
        try:
            if now - last_modified(path) < max_age_seconds:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
        logger.info("removed %s, left by an interrupted write", path.name)
    return removed
