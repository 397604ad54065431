"""Scoring snapshots: the contract between the scoring job, the planner and the API.

A scoring snapshot is one Parquet file ``<root>/<score_id>.parquet`` (one row per unit × risk area, plus
``risk_area == "overall"``) and its metadata ``<root>/<score_id>.json``. Snapshots are immutable; the one
the API serves is named by ``<root>/CURRENT``, which :meth:`ScoreStore.publish` replaces atomically
(write a temporary file, then ``os.replace``), so a reader sees either the old or the new id, never half.

The store validates every frame against :class:`ScoresModel` when it is written *and* when it is
opened, so a truncated or hand-edited file is refused instead of served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
from pandera.errors import SchemaError, SchemaErrors
from pydantic import BaseModel, ConfigDict

from engine.config import RankingTarget
from engine.contract import OWNERSHIPS, REGIONS
from engine.events import EventLog
from engine.files import remove_stale_temporaries
from engine.identifiers import HSA_ID_PATTERN, ORGANISATION_NUMBER_PATTERN

logger = logging.getLogger(__name__)

SCORES_SCHEMA_VERSION = 1
OVERALL = "overall"
CURRENT_FILE = "CURRENT"
SCORE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"

# Column of model predictions (``RiskModel.predict_frame``) with each area's contributions to P(deficiency),
# present where some area's ``contributions`` explain P(serious) (its ranking target): the overall row,
# a mean of P(deficiency), is explained by these.
DEFICIENCY_CONTRIBUTIONS = "deficiency_contributions"
RANKING_SCORES: dict[str, pl.Expr] = {
    "deficiency": pl.col("p_deficiency"),
    "serious": pl.col("p_serious"),
    # The expected level of the finding (none 0 < deficiency 1 < serious 2); models.targets.
    "ordinal": pl.col("p_deficiency") + pl.col("p_serious"),
}
"""The score that ranks an area by each ranking target (``engine.config.RankingTarget``)."""
DEFAULT_RANKING_TARGET: RankingTarget = "deficiency"

UNIT_CONTEXT_COLUMNS: tuple[str, ...] = (
    "unit_id",
    "unit_name",
    "provider_id",
    "provider_name",
    "region_code",
    "municipality_code",
    "unit_type",
    "ownership",
)
"""The columns that describe the unit (the same on every risk area's row)."""

EXPLANATION_DTYPE = pl.Struct(
    {"feature": pl.String, "sentence_sv": pl.String, "contribution": pl.Float64, "value": pl.Float64}
)


class ScoreNotFoundError(LookupError):
    """No scoring snapshot with that id (or none published yet)."""


class NoTeamScoringError(ScoreNotFoundError):
    """No stored scoring assumes the team asked for (the message names no path: it may reach a client)."""


class ScoreValidationError(ValueError):
    """A scoring snapshot on disk is unreadable or does not satisfy :class:`ScoresModel`."""


class ScoresModel(pa.DataFrameModel):
    """One row per unit × risk area (plus ``overall``): the scoring snapshot served by the API."""

    unit_id: str = pa.Field(str_matches=HSA_ID_PATTERN)
    unit_name: str = pa.Field(str_length={"min_value": 1})
    provider_id: str = pa.Field(str_matches=ORGANISATION_NUMBER_PATTERN)
    provider_name: str = pa.Field(str_length={"min_value": 1})
    region_code: str = pa.Field(isin=list(REGIONS))
    municipality_code: str = pa.Field(str_matches=r"^\d{4}$")
    unit_type: str
    ownership: str = pa.Field(isin=OWNERSHIPS)
    listed_patients: int = pa.Field(ge=0)
    risk_area: str = pa.Field(str_matches=r"^[a-z][a-z0-9_]*$")
    p_deficiency: float = pa.Field(ge=0.0, le=1.0)
    p_serious: float = pa.Field(ge=0.0, le=1.0)
    rank: int = pa.Field(ge=1)
    percentile: float = pa.Field(ge=0.0, le=100.0)
    explanations: pl.List = pa.Field(dtype_kwargs={"inner": EXPLANATION_DTYPE})
    as_of: dt.date

    @pa.dataframe_check(name="serious_not_above_deficiency")
    def _serious_le_deficiency(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("p_serious") <= pl.col("p_deficiency") + 1e-9)

    @pa.dataframe_check(name="rank_is_a_permutation_within_area")
    def _rank_permutation(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("rank").n_unique().over("risk_area") == pl.len().over("risk_area"))
            & (pl.col("rank").max().over("risk_area") == pl.len().over("risk_area"))
        )

    @pa.dataframe_check(name="rank_follows_a_ranking_target")
    def _rank_order(cls, data: PolarsData) -> pl.LazyFrame:
        # Each area is ranked by one target's score (the metadata's ``targets`` says which).
        ordered = data.lazyframe.sort("risk_area", "rank").with_columns(
            [_descends(score).alias(f"_by_{target}") for target, score in RANKING_SCORES.items()]
        )
        by_any = [pl.col(f"_by_{target}").all().over("risk_area") for target in RANKING_SCORES]
        return ordered.select(pl.any_horizontal(by_any))

    @pa.dataframe_check(name="one_as_of_date")
    def _single_as_of(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("as_of").n_unique() == 1)

    @pa.dataframe_check(name="overall_present")
    def _overall_present(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("risk_area") == OVERALL).any())

    class Config:
        name = "scores"
        strict = True
        unique = ["unit_id", "risk_area"]  # noqa: RUF012 - pandera reads this class attribute


class ScoreMetadata(BaseModel):
    """``<score_id>.json``: what a scoring snapshot was computed from."""

    model_config = ConfigDict(extra="allow", frozen=True, protected_namespaces=())

    score_id: str
    schema_version: int = SCORES_SCHEMA_VERSION
    as_of: dt.date
    model_name: str
    model_version: str
    run_id: str | None = None
    feature_set_id: str
    snapshot_id: str
    config_hash: str
    created_at: dt.datetime
    rows: int
    rows_per_area: dict[str, int]
    content_hash: str
    model_versions: dict[str, str] = {}
    targets: dict[str, dict[str, Any]] = {}
    """Per risk area the ranking target and why (``RiskModel.metadata["targets"]``); empty in snapshots
    from before targets, which were all ranked by P(deficiency)."""

    def ranking_target(self, area: str) -> RankingTarget:
        """What ranks ``area``: ``deficiency``, ``serious`` or ``ordinal``."""
        entry = self.targets.get(area)
        target = entry.get("target") if entry else None
        return target if target in RANKING_SCORES else DEFAULT_RANKING_TARGET  # type: ignore[return-value]

    planned_inspection: dict[str, str] = {}
    """The team (and method) the scores assume (``score --team``); empty: team-neutral."""


@dataclass(frozen=True)
class ScoreSnapshot:
    """A validated scoring snapshot loaded into memory."""

    id: str
    metadata: ScoreMetadata
    frame: pl.DataFrame


def ranking_score(targets: Mapping[str, str]) -> pl.Expr:
    """Each row's score under its area's ranking target (``p_deficiency`` where ``targets`` names none)."""
    score = RANKING_SCORES[DEFAULT_RANKING_TARGET]
    for target, expression in RANKING_SCORES.items():
        areas = sorted(area for area, chosen in targets.items() if chosen == target)
        if target != DEFAULT_RANKING_TARGET and areas:
            score = pl.when(pl.col("risk_area").is_in(areas)).then(expression).otherwise(score)
    return score


def ranked_scores(scores: pl.LazyFrame, targets: Mapping[str, str] | None = None) -> pl.LazyFrame:
    """Add ``rank`` (1 = highest score within the area) and ``percentile`` (100 = highest).

    The score is the area's ranking target's (``targets``: area → ``deficiency``, ``serious`` or
    ``ordinal``; ``p_deficiency`` for an area not named). Ties are broken by ``unit_id`` so ranks are a
    deterministic permutation. ``percentile`` is the share of the area's units whose score is at or below
    this unit's, times 100.
    """
    score = ranking_score(targets or {})
    ordered = scores.with_columns(score.alias(_SCORE)).sort(
        ["risk_area", _SCORE, "unit_id"], descending=[False, True, False]
    )
    return ordered.with_columns(
        rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("risk_area"),
        percentile=(
            pl.col(_SCORE).rank(method="max").over("risk_area").cast(pl.Float64)
            / pl.len().over("risk_area")
            * 100.0
        ),
    ).drop(_SCORE)


_SCORE = "_ranking_score"


def _descends(score: pl.Expr) -> pl.Expr:
    """True where ``score`` is at most the previous row's (rows sorted by area and rank)."""
    previous = score.shift(1).over("risk_area")
    return previous.is_null() | (previous >= score)


def validated_scores(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in contract column order, validated by :class:`ScoresModel` (raises on violation)."""
    columns = list(ScoresModel.to_schema().columns)
    missing = sorted(set(columns) - set(frame.columns))
    if missing:
        raise ScoreValidationError(f"scores frame lacks columns {missing}; expected {columns}")
    ordered = frame.select(columns)
    try:
        return ScoresModel.validate(ordered, lazy=True)
    except SchemaErrors as error:
        summary = "; ".join(_describe(item) for item in error.schema_errors)
        raise ScoreValidationError(f"scores frame violates ScoresModel: {summary}") from error
    except SchemaError as error:
        raise ScoreValidationError(f"scores frame violates ScoresModel: {_describe(error)}") from error


def _describe(error: SchemaError) -> str:
    check = getattr(error.check, "name", None) or str(error.check or error.reason_code)
    column = error.column_name or "<frame>"
    return f"{column}: {check} ({error.reason_code.value if error.reason_code else 'error'})"


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=False)
    return buffer.getvalue()


def atomic_write(path: Path, data: bytes) -> None:
    """Write through a temporary file unique to this call (threads of one process never share one).

    Stale temporaries that killed writes left in the same directory are removed first.
    """
    remove_stale_temporaries(path.parent)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


class ScoreStore:
    """Scoring snapshots under ``root`` (``Settings().scores_dir``) and the ``CURRENT`` pointer.

    With ``events`` (``EventLog(Settings().events_db)``), every publication that changes ``CURRENT``
    is recorded in the change feed.
    """

    def __init__(self, root: Path, events: EventLog | None = None) -> None:
        self.root = root
        self.events = events

    def current_path(self) -> Path:
        """The file naming the published snapshot (its content is one score id)."""
        return self.root / CURRENT_FILE

    def write(
        self,
        frame: pl.DataFrame,
        *,
        model_name: str,
        model_version: str,
        feature_set_id: str,
        snapshot_id: str,
        config_hash: str,
        run_id: str | None = None,
        model_versions: dict[str, str] | None = None,
        created_at: dt.datetime | None = None,
        targets: dict[str, dict[str, Any]] | None = None,
        planned_inspection: dict[str, str] | None = None,
    ) -> ScoreMetadata:
        """Validate and store a scoring frame; returns its metadata. Does not publish it.

        The score id is ``<as_of>-<content hash>``: writing the same frame twice yields the same id.
        ``planned_inspection`` (the team and method the scores assume) is part of the hash, so a
        team's scoring never shares an id with another team's or the team-neutral one.
        """
        valid = validated_scores(frame).sort(["risk_area", "rank"])
        data = _parquet_bytes(valid)
        as_of = valid.get_column("as_of").item(0)
        lineage: list[object] = [model_name, model_version, feature_set_id, snapshot_id]
        if planned_inspection:  # team-neutral scorings keep the ids they always had
            lineage.append(dict(sorted(planned_inspection.items())))
        content_hash = hashlib.sha256(data + json.dumps(lineage).encode()).hexdigest()
        score_id = f"{as_of:%Y%m%d}-{content_hash[:12]}"
        per_area = valid.group_by("risk_area").len().sort("risk_area")
        metadata = ScoreMetadata(
            score_id=score_id,
            as_of=as_of,
            model_name=model_name,
            model_version=model_version,
            run_id=run_id,
            feature_set_id=feature_set_id,
            snapshot_id=snapshot_id,
            config_hash=config_hash,
            created_at=created_at or dt.datetime.now(dt.UTC),
            rows=valid.height,
            rows_per_area=dict(zip(per_area["risk_area"], per_area["len"], strict=True)),
            content_hash=content_hash,
            model_versions=model_versions or {},
            targets=targets or {},
            planned_inspection=planned_inspection or {},
        )
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.root / f"{score_id}.parquet", data)
        atomic_write(self.root / f"{score_id}.json", metadata.model_dump_json(indent=2).encode())
        logger.info("wrote scoring snapshot %s (%d rows)", score_id, valid.height)
        return metadata

    def publish(self, score_id: str) -> None:
        """Make ``score_id`` the served snapshot by replacing ``CURRENT`` atomically (validates first).

        Publishing the snapshot that is already served changes nothing and logs no event. The event
        is logged after ``CURRENT`` is replaced: the feed never announces a scoring that is not served.
        """
        snapshot = self.open(score_id)
        previous = self.current_id()
        atomic_write(self.current_path(), f"{score_id}\n".encode())
        logger.info("published scoring snapshot %s", score_id)
        if self.events is not None and previous != score_id:
            meta = snapshot.metadata
            self.events.append(
                "scoring.published",
                {
                    "score_id": score_id,
                    "previous_score_id": previous,
                    "as_of": meta.as_of.isoformat(),
                    "model_name": meta.model_name,
                    "model_version": meta.model_version,
                },
            )

    def current_id(self) -> str | None:
        """The published score id, or None when nothing has been published."""
        try:
            text = self.current_path().read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def current(self) -> ScoreSnapshot:
        """The published snapshot, loaded and validated (raises :class:`ScoreNotFoundError` if none)."""
        return self.open()

    def ids(self) -> list[str]:
        """Every stored score id (those with a metadata file), oldest ``as_of`` first."""
        if not self.root.is_dir():
            return []
        return sorted(path.stem for path in self.root.glob("*.json") if re.match(SCORE_ID_PATTERN, path.stem))

    def metadata(self, score_id: str) -> ScoreMetadata:
        """The metadata of one stored snapshot."""
        path = self._path(score_id, "json")
        try:
            return ScoreMetadata.model_validate_json(path.read_bytes())
        except FileNotFoundError as error:
            raise ScoreNotFoundError(f"no scoring snapshot {score_id!r} in {self.root}") from error
        except ValueError as error:
            message = f"metadata of scoring snapshot {score_id!r} is invalid: {error}"
            raise ScoreValidationError(message) from error

    def list(self) -> list[ScoreMetadata]:
        """Metadata of every stored snapshot that has readable metadata, by ``as_of`` then creation."""
        found: list[ScoreMetadata] = []
        for score_id in self.ids():
            try:
                found.append(self.metadata(score_id))
            except (ScoreNotFoundError, ScoreValidationError) as error:
                logger.warning("skipping scoring snapshot %s: %s", score_id, error)
        return sorted(found, key=lambda meta: (meta.as_of, meta.created_at))

    def open(self, score_id: str | None = None) -> ScoreSnapshot:
        """Load and validate a snapshot (``None`` = the published one)."""
        wanted = score_id if score_id is not None else self.current_id()
        if wanted is None:
            raise ScoreNotFoundError(f"no scoring snapshot has been published in {self.root}")
        metadata = self.metadata(wanted)
        path = self._path(wanted, "parquet")
        try:
            frame = pl.read_parquet(path)
        except FileNotFoundError as error:
            raise ScoreNotFoundError(f"scoring snapshot {wanted!r} has no data file {path.name}") from error
        except Exception as error:
            raise ScoreValidationError(f"scoring snapshot {wanted!r} is unreadable: {error}") from error
        if frame.height != metadata.rows:
            raise ScoreValidationError(
                f"scoring snapshot {wanted!r} has {frame.height} rows, its metadata says {metadata.rows}"
            )
        return ScoreSnapshot(id=wanted, metadata=metadata, frame=validated_scores(frame))

    def _path(self, score_id: str, suffix: str) -> Path:
        if not re.match(SCORE_ID_PATTERN, score_id):
            raise ScoreNotFoundError(f"invalid score id {score_id!r}; expected {SCORE_ID_PATTERN}")
        return self.root / f"{score_id}.{suffix}"


def scoring_for_team(store: ScoreStore, team: str, score_id: str | None = None) -> ScoreSnapshot:
    """The stored scoring that assumes ``team`` inspects: ``score_id`` when given (it must assume that
    team), otherwise the newest one made from the same snapshot, features and model as the published one.

    Raises
    ------
    NoTeamScoringError
        When there is no such scoring (the message says how to make one and, bounded, which teams
        have one), or ``score_id`` assumes another team.
    ScoreNotFoundError, ScoreValidationError
        When ``score_id`` or the scoring found cannot be opened.
    """
    if score_id is not None:
        snapshot = store.open(score_id)
        assumed = snapshot.metadata.planned_inspection.get("team")
        if assumed != team:
            what = f"team {assumed!r}" if assumed else "no team (it is team-neutral)"
            raise NoTeamScoringError(f"scoring {score_id} assumes {what}, not team {team!r}")
        return snapshot
    current = store.current_id()
    served = store.metadata(current) if current is not None else None
    same_source = [
        meta
        for meta in store.list()
        if served is None
        or (meta.snapshot_id, meta.feature_set_id, meta.model_version, meta.as_of)
        == (served.snapshot_id, served.feature_set_id, served.model_version, served.as_of)
    ]
    matching = [meta for meta in same_source if meta.planned_inspection.get("team") == team]
    if not matching:
        teams = sorted({t for meta in same_source if (t := meta.planned_inspection.get("team"))})
        shown = f"; teams with one: {teams[:20]}" if teams else ""
        raise NoTeamScoringError(
            f"no scoring assumes team {team!r} for the published scores' snapshot and model{shown}; "
            f"make one with `tillsynsrisk score --team {team} --no-publish`"
        )
    newest = max(matching, key=lambda meta: (meta.created_at, meta.score_id))
    return store.open(newest.score_id)
