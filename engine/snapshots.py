"""The snapshot store: immutable, content-addressed sets of validated contract tables.

Layout under ``root`` (``$TILLSYNSRISK_HOME/snapshots``)::

    <id>/<table>.parquet ... + manifest.json     one snapshot, never modified after it is renamed in
    CURRENT                                      the id of the current snapshot (replaced atomically)

The id is the hash of the contract schema version, the configuration hash and each table's content
hash, where a content hash is taken over a canonical serialisation of the key-sorted frame (column
names, dtypes, then the rows as CSV) — not over Parquet bytes, so a different Parquet writer or
compression gives the same id, and ``created_at`` never enters it. A snapshot is written into a temp
directory next to its final place, fsynced and renamed; an interrupted write leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from engine.contract import INSPECTION_V2_COLUMNS, READABLE_SCHEMA_VERSIONS

logger = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
CURRENT_FILE = "CURRENT"
TEMP_PREFIX = ".tmp-"
ID_LENGTH = 16
_HASH_SLICE_ROWS = 500_000


class SnapshotNotFoundError(LookupError):
    """No snapshot with that id (or no current snapshot)."""


class SnapshotVersionError(SnapshotNotFoundError):
    """A snapshot written under a contract version this engine cannot read (no readable snapshot by
    that id: every caller that handles a missing snapshot handles this one the same way)."""


@dataclass(frozen=True)
class SnapshotInfo:
    """A line of ``snapshot list``."""

    id: str
    created_at: str
    rows: dict[str, int]
    is_current: bool


@dataclass(frozen=True)
class Snapshot:
    """One stored snapshot: its id, directory and manifest; tables are scanned lazily."""

    id: str
    path: Path
    manifest: dict[str, Any]

    def table_names(self) -> list[str]:
        """Tables in the snapshot (optional ``visits`` only if it was ingested)."""
        return sorted(self.manifest["tables"])

    @property
    def schema_version(self) -> int:
        """The contract version the snapshot was written under (1 when the manifest predates it)."""
        return int(self.manifest.get("schema_version", 1))

    def scan(self, table: str) -> pl.LazyFrame:
        """``pl.scan_parquet`` of one table; a version-1 ``inspections`` table is read as version 2
        (the columns version 2 added are present and empty)."""
        if table not in self.manifest["tables"]:
            raise KeyError(f"snapshot {self.id} has no table {table!r}; tables: {self.table_names()}")
        frame = pl.scan_parquet(self.path / f"{table}.parquet")
        if table == "inspections":
            present = set(frame.collect_schema().names())
            missing = {c: t for c, t in INSPECTION_V2_COLUMNS.items() if c not in present}
            frame = frame.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in missing.items())
        return frame

    def tables(self) -> dict[str, pl.LazyFrame]:
        """Every table present, scanned lazily."""
        return {name: self.scan(name) for name in self.table_names()}


def table_content_hash(frame: pl.DataFrame) -> str:
    """SHA-256 of a canonical serialisation of ``frame`` (schema, then rows as CSV in order)."""
    digest = hashlib.sha256()
    header = json.dumps([[name, str(dtype)] for name, dtype in frame.schema.items()], ensure_ascii=False)
    digest.update(header.encode("utf-8") + b"\n")
    for offset in range(0, frame.height, _HASH_SLICE_ROWS):
        chunk = frame.slice(offset, _HASH_SLICE_ROWS)
        digest.update(chunk.write_csv(include_header=False, date_format="%Y-%m-%d").encode("utf-8"))
    return digest.hexdigest()


def snapshot_id_for(schema_version: int, config_hash: str, content_hashes: Mapping[str, str]) -> str:
    """The content address of a snapshot."""
    canonical = json.dumps(
        {
            "schema_version": schema_version,
            "config_hash": config_hash,
            "tables": dict(sorted(content_hashes.items())),
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:ID_LENGTH]


class SnapshotStore:
    """Snapshots under ``root``; see the module docstring for the layout and guarantees."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def current_id(self) -> str | None:
        """The id in ``CURRENT``, or None before the first ingest."""
        try:
            text = (self.root / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def list(self) -> list[SnapshotInfo]:
        """Every complete snapshot, oldest first."""
        if not self.root.is_dir():
            return []
        current = self.current_id()
        infos = []
        for path in self.root.iterdir():
            manifest_path = path / MANIFEST_FILE
            if path.name.startswith(".") or not manifest_path.is_file():
                continue
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            rows = {name: int(table["rows"]) for name, table in manifest["tables"].items()}
            infos.append(SnapshotInfo(path.name, manifest.get("created_at", ""), rows, path.name == current))
        return sorted(infos, key=lambda info: (info.created_at, info.id))

    def open(self, snapshot_id: str | None = None) -> Snapshot:
        """The snapshot ``snapshot_id`` (a unique prefix is enough), or the current one when None."""
        wanted = snapshot_id if snapshot_id is not None else self.current_id()
        if wanted is None:
            raise SnapshotNotFoundError(
                f"no current snapshot in {self.root}; run `tillsynsrisk ingest SRC_DIR`"
            )
        path = self.root / wanted
        if not (path / MANIFEST_FILE).is_file():
            candidates = [info.id for info in self.list() if info.id.startswith(wanted)] if wanted else []
            if len(candidates) != 1:
                known = [info.id for info in self.list()]
                raise SnapshotNotFoundError(f"no snapshot {wanted!r} in {self.root}; known: {known}")
            path = self.root / candidates[0]
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
        version = manifest.get("schema_version", 1)
        if version not in READABLE_SCHEMA_VERSIONS:
            raise SnapshotVersionError(
                f"snapshot {path.name} was written under data contract version {version}; this engine "
                f"reads versions {list(READABLE_SCHEMA_VERSIONS)}. Ingest the source files again with "
                "this version (`tillsynsrisk ingest SRC_DIR`) or use the engine that wrote it."
            )
        return Snapshot(path.name, path, manifest)

    def write(
        self,
        tables: Mapping[str, pl.DataFrame],
        *,
        schema_version: int,
        config_hash: str,
        metadata: Mapping[str, Any],
    ) -> Snapshot:
        """Store ``tables`` as a snapshot (reusing an existing one with the same id) and return it.

        ``metadata`` goes into the manifest as is (reference_date, redacted, sources, warnings).
        Nothing is left behind if writing fails or is interrupted.
        """
        hashes = {name: table_content_hash(frame) for name, frame in tables.items()}
        snapshot_id = snapshot_id_for(schema_version, config_hash, hashes)
        final = self.root / snapshot_id
        if (final / MANIFEST_FILE).is_file():
            logger.info("snapshot %s already exists; reusing it", snapshot_id)
            return self.open(snapshot_id)
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned_temp_dirs()
        manifest = {
            "snapshot_id": snapshot_id,
            "schema_version": schema_version,
            "config_hash": config_hash,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **metadata,
            "tables": {
                name: {
                    "rows": frame.height,
                    "content_hash": hashes[name],
                    "columns": {column: str(dtype) for column, dtype in frame.schema.items()},
                }
                for name, frame in sorted(tables.items())
            },
        }
        temp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{snapshot_id}-{os.getpid()}-", dir=self.root))
        try:
            for name, frame in tables.items():
                target = temp / f"{name}.parquet"
                frame.write_parquet(target, compression="zstd", statistics=True)
                _fsync_file(target)
            manifest_path = temp / MANIFEST_FILE
            manifest_path.write_text(
                json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            _fsync_file(manifest_path)
            _fsync_dir(temp)
            try:
                os.rename(temp, final)
            except OSError:
                if not (final / MANIFEST_FILE).is_file():
                    raise
                shutil.rmtree(temp, ignore_errors=True)  # a concurrent ingest wrote the same snapshot
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return self.open(snapshot_id)

    def set_current(self, snapshot_id: str) -> None:
        """Make ``snapshot_id`` current (temp file + ``os.replace``: readers see old or new, never half)."""
        if not (self.root / snapshot_id / MANIFEST_FILE).is_file():
            raise SnapshotNotFoundError(f"no snapshot {snapshot_id!r} in {self.root}")
        temp = self.root / f"{TEMP_PREFIX}{CURRENT_FILE}-{os.getpid()}"
        try:
            temp.write_text(snapshot_id + "\n", encoding="utf-8")
            _fsync_file(temp)
            os.replace(temp, self.root / CURRENT_FILE)
            _fsync_dir(self.root)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _remove_abandoned_temp_dirs(self) -> None:
        """Temp dirs left by a process that was killed (its pid no longer runs)."""
        for path in self.root.glob(f"{TEMP_PREFIX}*"):
            pid = _pid_of_temp(path.name)
            if path.is_dir() and pid is not None and not _process_alive(pid):
                logger.warning("removing abandoned temporary snapshot directory %s", path.name)
                shutil.rmtree(path, ignore_errors=True)


def _pid_of_temp(name: str) -> int | None:
    parts = name[len(TEMP_PREFIX) :].split("-")
    return int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
