"""Feature sets on disk: ``<root>/<id>/features.parquet`` + ``catalog.json`` + ``manifest.json``.

A feature set is content-addressed: its id hashes the snapshot id, the planning dates, the
configuration hash and the feature code version, so the same inputs always name the same set and a
rebuild is a no-op. Writes go to a temporary directory renamed into place (never half-written).
This module is the feature layer's only I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandera.errors
import polars as pl

from engine.config import Config
from engine.files import remove_stale_temporaries
from features.catalog import FEATURE_CODE_VERSION, FeatureSpec, feature_catalog
from features.pipeline import VISITS_TABLE, build_features
from features.schema import feature_table_schema

FEATURES_FILE = "features.parquet"
CATALOG_FILE = "catalog.json"
MANIFEST_FILE = "manifest.json"
ID_LENGTH = 16


class FeatureSetNotFoundError(LookupError):
    """No feature set with that id (or none at all)."""


def feature_set_id(
    snapshot_id: str,
    as_of_dates: Sequence[dt.date],
    config_hash: str,
    code_version: str = FEATURE_CODE_VERSION,
) -> str:
    """The content address of a feature set built from these inputs."""
    canonical = json.dumps(
        {
            "snapshot_id": snapshot_id,
            "as_of": [d.isoformat() for d in sorted(set(as_of_dates))],
            "config_hash": config_hash,
            "feature_code_version": code_version,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:ID_LENGTH]


@dataclass(frozen=True)
class FeatureSet:
    """One stored feature set; the table is scanned lazily."""

    id: str
    path: Path
    manifest: dict[str, Any]

    def scan(self) -> pl.LazyFrame:
        """The feature table, lazily."""
        return pl.scan_parquet(self.path / FEATURES_FILE)

    def read(self) -> pl.DataFrame:
        """The feature table, in memory."""
        return pl.read_parquet(self.path / FEATURES_FILE)

    @property
    def catalog(self) -> list[FeatureSpec]:
        entries = json.loads((self.path / CATALOG_FILE).read_text(encoding="utf-8"))
        return [FeatureSpec.from_dict(entry) for entry in entries]

    @property
    def snapshot_id(self) -> str:
        return str(self.manifest["snapshot_id"])

    @property
    def as_of_dates(self) -> list[dt.date]:
        return [dt.date.fromisoformat(value) for value in self.manifest["as_of"]]


class FeatureStore:
    """Feature sets under ``root`` (``Settings().features_dir``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self, set_id: str) -> bool:
        return (self.root / set_id / MANIFEST_FILE).is_file()

    def write(
        self,
        features: pl.DataFrame,
        catalog: Sequence[FeatureSpec],
        *,
        snapshot_id: str,
        as_of_dates: Sequence[dt.date],
        config_hash: str,
        extra: dict[str, Any] | None = None,
    ) -> FeatureSet:
        """Store ``features`` with its catalog and manifest; an existing identical set is reused."""
        set_id = feature_set_id(snapshot_id, as_of_dates, config_hash)
        if self.exists(set_id):
            return self.open(set_id)
        names = {spec.name for spec in catalog}
        missing = sorted(names - set(features.columns))
        if missing:
            raise ValueError(f"catalog features missing from the table: {missing}")
        manifest = {
            "feature_set_id": set_id,
            "snapshot_id": snapshot_id,
            "as_of": [d.isoformat() for d in sorted(set(as_of_dates))],
            "config_hash": config_hash,
            "feature_code_version": FEATURE_CODE_VERSION,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "rows": features.height,
            "units": features["unit_id"].n_unique() if features.height else 0,
            "features": len(catalog),
            "columns": features.columns,
            **(extra or {}),
        }
        self.root.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.root)  # left by killed writes
        temporary = self.root / f".{set_id}.{os.getpid()}.tmp"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        features.write_parquet(temporary / FEATURES_FILE)
        (temporary / CATALOG_FILE).write_text(
            json.dumps([spec.to_dict() for spec in catalog], ensure_ascii=False, indent=2), encoding="utf-8"
        )
        (temporary / MANIFEST_FILE).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        try:
            temporary.rename(self.root / set_id)
        except OSError:  # another process stored the same content-addressed set first
            shutil.rmtree(temporary, ignore_errors=True)
        return self.open(set_id)

    def list(self) -> list[FeatureSet]:
        """Every stored feature set, oldest first."""
        if not self.root.is_dir():
            return []
        sets = [
            self._load(path)
            for path in self.root.iterdir()
            if not path.name.startswith(".") and (path / MANIFEST_FILE).is_file()
        ]
        return sorted(sets, key=lambda s: (str(s.manifest.get("created_at", "")), s.id))

    def open(self, set_id: str) -> FeatureSet:
        """The feature set ``set_id`` (a unique prefix is enough)."""
        path = self.root / set_id
        if set_id and (path / MANIFEST_FILE).is_file():
            return self._load(path)
        candidates = [s for s in self.list() if set_id and s.id.startswith(set_id)]
        if len(candidates) != 1:
            known = [s.id for s in self.list()]
            raise FeatureSetNotFoundError(f"no feature set {set_id!r} in {self.root}; known: {known}")
        return candidates[0]

    def latest(self) -> FeatureSet:
        """The most recently created feature set."""
        sets = self.list()
        if not sets:
            raise FeatureSetNotFoundError(f"no feature sets in {self.root}; run `tillsynsrisk features`")
        return sets[-1]

    @staticmethod
    def _load(path: Path) -> FeatureSet:
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
        return FeatureSet(path.name, path, manifest)


class FeatureBuildError(ValueError):
    """The snapshot does not fit the configuration, or the built table failed its schema."""


def stored_feature_set(
    store: FeatureStore,
    tables: Mapping[str, pl.LazyFrame],
    *,
    snapshot_id: str,
    dates: Sequence[dt.date],
    config: Config,
) -> tuple[FeatureSet, pl.DataFrame, float | None]:
    """The feature set for ``dates`` from a snapshot's tables: reused when stored, else built and stored.

    The one way every job (``features``, ``train``'s callers, ``score``) gets its feature table, so the
    same snapshot, dates and configuration always name the same stored set.

    Parameters
    ----------
    store
        Where feature sets are kept.
    tables
        The snapshot's tables (``Snapshot.tables()``).
    snapshot_id
        The snapshot's id, part of the set's id.
    dates
        The planning (as-of) dates.
    config
        The effective configuration (its hash is part of the set's id).

    Returns
    -------
    The stored set, its table, and the build time in seconds (None when the set was reused).

    Raises
    ------
    FeatureBuildError
        When the snapshot lacks a table or column the configuration needs, or the table fails its schema.
    """
    set_id = feature_set_id(snapshot_id, dates, config.content_hash())
    if store.exists(set_id):
        feature_set = store.open(set_id)
        return feature_set, feature_set.read(), None
    has_visits = VISITS_TABLE in tables
    started = time.perf_counter()
    try:
        # in-memory: measured 1.8x faster than the streaming engine at equal peak memory (bench_features)
        frame = build_features(tables, list(dates), config).collect(engine="in-memory")
    except KeyError as error:
        raise FeatureBuildError(
            f"snapshot {snapshot_id} does not fit the configuration: {error.args[0]}"
        ) from error
    try:
        feature_table_schema(config, has_visits=has_visits).validate(frame)
    except pandera.errors.SchemaError as error:
        raise FeatureBuildError(f"feature table failed its schema: {error}") from error
    seconds = time.perf_counter() - started
    feature_set = store.write(
        frame,
        feature_catalog(config, has_visits=has_visits),
        snapshot_id=snapshot_id,
        as_of_dates=dates,
        config_hash=config.content_hash(),
        extra={"has_visits": has_visits, "build_seconds": round(seconds, 3)},
    )
    return feature_set, frame, seconds
