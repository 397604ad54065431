"""What the pages read, computed once per input and kept until the input changes.

- :class:`ScoresView` — per served scoring snapshot: the area frames in rank order (region names added),
  the overview table and the filter options.
- :class:`SnapshotHistory` — per ingest snapshot: every unit's indicator series with its regional
  median, quarterly complaint and lex Maria counts (counts only) and inspections, indexed by unit, plus
  the last inspection per unit.
- :class:`ModelFacts` — per MLflow run: what the served model rests on (run, lineage, evaluation
  summary per area, subgroup audit), read from the champion run's stored artifacts.

Each cache holds one entry (the current input) and is rebuilt under a lock when the input's id changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import polars as pl

from engine.config import Config
from engine.contract import REGIONS
from engine.places import municipality_names
from engine.scores import OVERALL, ScoreSnapshot
from serving.planning import cooldown_units
from serving.unit_history import (
    indicator_rows,
    indicators_with_regional_median,
    inspection_history,
    quarterly_event_counts,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


class OneEntryCache(Generic[T]):
    """Holds the value built for one key; building for a new key replaces it (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Any = None
        self._value: T | None = None

    def peek(self, key: Any) -> T | None:
        """The value for ``key`` if it is built, without waiting or building."""
        value = self._value
        return value if value is not None and self._key == key else None

    def get(self, key: Any, build: Callable[[], T]) -> T:
        value = self._value
        if value is not None and self._key == key:
            return value
        with self._lock:
            if self._value is not None and self._key == key:
                return self._value
            built = build()
            self._key, self._value = key, built
            return built


@dataclass(frozen=True)
class ScoresView:
    """One scoring snapshot arranged for the pages."""

    score_id: str
    as_of: dt.date
    areas: dict[str, pl.DataFrame]  # risk area -> its rows in rank order
    overview: pl.DataFrame  # region_code, region_name, risk_area, units, mean_p, high_risk
    area_totals: pl.DataFrame  # risk_area, units, high_risk
    regions: list[tuple[str, str]]
    municipalities: dict[str, list[tuple[str, str]]]  # region code -> (code, name) by name ("" = all)
    unit_types: list[str]

    def unit_rows(self, unit_id: str) -> pl.DataFrame:
        """The unit's rows in every area (empty when unknown)."""
        return pl.concat([frame.filter(pl.col("unit_id") == unit_id) for frame in self.areas.values()])

    def provider_rows(self, provider_id: str) -> pl.DataFrame:
        return pl.concat(
            [frame.filter(pl.col("provider_id") == provider_id) for frame in self.areas.values()]
        )


def scores_view(snapshot: ScoreSnapshot, high_risk_percentile: float) -> ScoresView:
    """Arrange ``snapshot`` for the pages (area frames, overview per region and area, filter options)."""
    frame = snapshot.frame.with_columns(
        region_name=pl.col("region_code").replace_strict(REGIONS, default=pl.col("region_code")),
        municipality_name=pl.col("municipality_code").replace_strict(
            municipality_names(), default=pl.col("municipality_code")
        ),
    )
    areas = {
        str(area): group.sort("rank") for (area,), group in frame.group_by("risk_area", maintain_order=True)
    }
    high = pl.col("percentile") >= high_risk_percentile
    overview = (
        frame.group_by("region_code", "region_name", "risk_area")
        .agg(units=pl.len(), mean_p=pl.col("p_deficiency").mean(), high_risk=high.sum().cast(pl.Int64))
        .sort("region_name", "risk_area")
    )
    totals = frame.group_by("risk_area").agg(units=pl.len(), high_risk=high.sum().cast(pl.Int64))
    units = areas.get(OVERALL, frame)
    regions = units.select("region_code", "region_name").unique().sort("region_name").rows()
    places = units.select("region_code", "municipality_code", "municipality_name").unique()
    municipalities = {"": _by_name(places)}
    for (region,), group in places.group_by("region_code"):
        municipalities[str(region)] = _by_name(group)
    return ScoresView(
        score_id=snapshot.id,
        as_of=snapshot.metadata.as_of,
        areas=areas,
        overview=overview,
        area_totals=totals,
        regions=[(str(code), str(name)) for code, name in regions],
        municipalities=municipalities,
        unit_types=sorted(units["unit_type"].unique().to_list()),
    )


def _by_name(places: pl.DataFrame) -> list[tuple[str, str]]:
    ordered = places.sort("municipality_name", "municipality_code")
    return list(
        zip(ordered["municipality_code"].to_list(), ordered["municipality_name"].to_list(), strict=True)
    )


@dataclass(frozen=True)
class RecentInspections:
    """Per unit of an ingest snapshot: its last inspection, and whether it is in karenstid (cooldown).

    Small and quick to build (one group-by of the inspections), so the candidate list can filter on
    karenstid without waiting for the full unit history.
    """

    snapshot_id: str | None
    last_inspected: dict[str, dt.date] = field(default_factory=dict)
    in_cooldown: frozenset[str] = frozenset()


def recent_inspections(
    inspections: pl.LazyFrame | None, snapshot_id: str | None, as_of: dt.date, cooldown_months: int
) -> RecentInspections:
    """Every unit's last inspection (start or decision date) and the units in karenstid on ``as_of``."""
    if inspections is None:
        return RecentInspections(snapshot_id)
    last = (
        inspections.group_by("unit_id")
        .agg(last=pl.max_horizontal("start_date", "decision_date").max())
        .collect()
    )
    cooling = cooldown_units(inspections, as_of, cooldown_months).collect()["unit_id"].to_list()
    return RecentInspections(
        snapshot_id,
        last_inspected=dict(zip(last["unit_id"].to_list(), last["last"].to_list(), strict=True)),
        in_cooldown=frozenset(cooling),
    )


@dataclass(frozen=True)
class SnapshotHistory:
    """An ingest snapshot's history per unit (empty when no snapshot is available)."""

    snapshot_id: str | None
    indicators: UnitIndex = field(default_factory=lambda: UnitIndex(pl.DataFrame()))
    events: UnitIndex = field(default_factory=lambda: UnitIndex(pl.DataFrame()))
    inspections: UnitIndex = field(default_factory=lambda: UnitIndex(pl.DataFrame()))
    last_inspected: dict[str, dt.date] = field(default_factory=dict)
    in_cooldown: frozenset[str] = frozenset()
    sources: dict[str, str] = field(default_factory=dict)  # event source id -> Swedish name
    loading: bool = False  # a stand-in while the real history is built in the background


def snapshot_history(
    tables: dict[str, pl.LazyFrame],
    snapshot_id: str | None,
    config: Config,
    as_of: dt.date,
    unit_id: str | None = None,
) -> SnapshotHistory:
    """Collect the per-unit history of an ingest snapshot's ``tables`` (see :mod:`serving.unit_history`).

    With ``unit_id``, only that unit's history: its region's units alone give the regional medians (the
    same medians, as a median is per region), so one unit page costs a fraction of the index of every
    unit. That is what a unit page answers with while the full index is still being built.
    """
    if not tables or "units" not in tables:
        return SnapshotHistory(snapshot_id)
    units = tables["units"]
    if unit_id is not None:
        region = units.filter(pl.col("unit_id") == unit_id).select("region_code")
        units = units.join(region, on="region_code", how="semi")
        indicator_files = {source.file for source in config.indicator_sources.values()}
        own_files = {source.file for source in config.event_sources.values()} | {"inspections"}
        tables = {
            name: table.join(units.select("unit_id"), on="unit_id", how="semi")
            if name in indicator_files
            else table.filter(pl.col("unit_id") == unit_id)
            if name in own_files
            else table
            for name, table in tables.items()
        }
    indicator_frames = [
        indicator_rows(tables[source.file])
        for source in config.indicator_sources.values()
        if source.file in tables
    ]
    indicators = (
        indicators_with_regional_median(pl.concat(indicator_frames), units)
        if indicator_frames
        else pl.LazyFrame()
    )
    if unit_id is not None and indicator_frames:
        indicators = indicators.filter(pl.col("unit_id") == unit_id)
    indicators_frame = indicators.collect() if indicator_frames else pl.DataFrame()
    event_frames = [
        quarterly_event_counts(tables[source.file], name)
        for name, source in config.event_sources.items()
        if source.file in tables
    ]
    events = pl.concat(event_frames).collect() if event_frames else pl.DataFrame()
    inspections = (
        inspection_history(tables["inspections"]).collect() if "inspections" in tables else pl.DataFrame()
    )
    last = (
        inspections.group_by("unit_id").agg(last=pl.max_horizontal("start_date", "decision_date").max())
        if inspections.height
        else pl.DataFrame({"unit_id": [], "last": []})
    )
    cooling = (
        cooldown_units(tables["inspections"], as_of, config.planning.cooldown_months)
        .collect()["unit_id"]
        .to_list()
        if "inspections" in tables
        else []
    )
    return SnapshotHistory(
        snapshot_id=snapshot_id,
        indicators=UnitIndex(indicators_frame),
        events=UnitIndex(events),
        inspections=UnitIndex(inspections),
        last_inspected=dict(zip(last["unit_id"].to_list(), last["last"].to_list(), strict=True)),
        in_cooldown=frozenset(cooling),
        sources={name: source.name_sv for name, source in config.event_sources.items()},
    )


class UnitIndex:
    """A frame sorted by ``unit_id`` and each unit's row range: a unit's rows are a zero-copy slice.

    One frame and one dict instead of a frame per unit: building it costs a sort and a group-by, not
    the creation of tens of thousands of small frames.
    """

    def __init__(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            self._frame = frame
            self._ranges: dict[str, tuple[int, int]] = {}
            return
        ordered = frame.sort("unit_id", maintain_order=True)
        ranges = (
            ordered.select("unit_id")
            .with_row_index("row")
            .group_by("unit_id")
            .agg(start=pl.col("row").min(), length=pl.len())
        )
        self._frame = ordered.drop("unit_id")
        self._ranges = {str(unit): (int(start), int(length)) for unit, start, length in ranges.iter_rows()}

    def get(self, unit_id: str, default: pl.DataFrame | None = None) -> pl.DataFrame | None:
        """The unit's rows (without ``unit_id``), or ``default`` when it has none."""
        found = self._ranges.get(unit_id)
        if found is None:
            return default
        return self._frame.slice(found[0], found[1])

    def __len__(self) -> int:
        return len(self._ranges)


@dataclass(frozen=True)
class ModelFacts:
    """What the served model rests on, from its MLflow run (``problem`` says what could not be read)."""

    run_id: str | None
    started: dt.datetime | None = None
    params: dict[str, str] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The same per area on the inspections with known inclusion probability, weighted (empty: none).
    summary_weighted: dict[str, dict[str, Any]] = field(default_factory=dict)
    subgroups: pl.DataFrame = field(default_factory=pl.DataFrame)
    registry_tags: dict[str, str] = field(default_factory=dict)
    families: dict[str, dict[str, Any]] = field(default_factory=dict)  # area → family/choice.json's entry
    problem: str | None = None
    loaded_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class TopTenthChanges:
    """How the high-risk group moved between the previous scoring and the current one."""

    previous_id: str | None
    previous_as_of: dt.date | None
    per_area: dict[str, tuple[int, int]] = field(default_factory=dict)  # area -> (entered, left)


def top_tenth_changes(
    current: pl.DataFrame, previous: pl.DataFrame, high_risk_percentile: float
) -> dict[str, tuple[int, int]]:
    """Per risk area: units that entered and that left the high-risk group since ``previous``.

    Both frames have ``unit_id, risk_area, percentile``. A unit absent from one scoring (opened or
    closed between them) counts as entering or leaving when it is high risk in the other.
    """
    high = pl.col("percentile") >= high_risk_percentile

    def high_risk(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(high).select("unit_id", "risk_area")

    now, before = high_risk(current), high_risk(previous)
    entered = now.join(before, on=["unit_id", "risk_area"], how="anti").group_by("risk_area").len()
    left = before.join(now, on=["unit_id", "risk_area"], how="anti").group_by("risk_area").len()
    counts_in = dict(entered.iter_rows())
    counts_out = dict(left.iter_rows())
    areas = set(current["risk_area"].unique().to_list())
    return {str(area): (int(counts_in.get(area, 0)), int(counts_out.get(area, 0))) for area in areas}


@dataclass(frozen=True)
class SourceFreshness:
    """The newest date a source has in the ingest snapshot (``monthly``: the date is a month)."""

    name: str
    newest: dt.date | None
    monthly: bool


def source_freshness(tables: dict[str, pl.LazyFrame], config: Config) -> list[SourceFreshness]:
    """Per configured source present in the snapshot: its newest period, event date or inspection date."""
    found = []
    for source in config.indicator_sources.values():
        if source.file in tables:
            newest = _newest(tables[source.file], "period")
            found.append(SourceFreshness(source.name_sv, newest, monthly=True))
    for event_source in config.event_sources.values():
        if event_source.file in tables:
            newest = _newest(tables[event_source.file], "event_date")
            found.append(SourceFreshness(event_source.name_sv, newest, monthly=False))
    if "inspections" in tables:
        newest = _newest(tables["inspections"], "start_date", "decision_date")
        found.append(SourceFreshness("Inspektioner", newest, monthly=False))
    return found


def _newest(table: pl.LazyFrame, *columns: str) -> dt.date | None:
    value = table.select(pl.max_horizontal(*columns).max()).collect().item()
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None
