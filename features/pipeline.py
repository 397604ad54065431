"""``build_features``: the full point-in-time feature table for a list of planning dates.

Pure and lazy: tables in (the normalised snapshot frames), one LazyFrame out, nothing collected.
Every configured event and indicator source contributes its family of columns; the column set and
order are exactly :func:`features.catalog.feature_catalog` (plus the key and context columns).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import polars as pl

from engine.config import Config
from engine.contract import table_schemas, with_missing_columns
from features.asof import normalised_as_of_dates
from features.attributes import attribute_features, empty_attribute_table
from features.catalog import CONTEXT_COLUMNS, feature_catalog, source_areas
from features.context import JOIN_KEY, OUTPUT_KEY, active_units, unit_keys
from features.continuity import visit_continuity_features
from features.events import event_features
from features.history import history_features
from features.indicators import indicator_sources_features

FIXED_TABLES: tuple[str, ...] = ("providers", "units", "inspections")
VISITS_TABLE = "visits"


def required_tables(config: Config) -> list[str]:
    """Tables ``build_features`` needs under ``config`` (``visits`` and the sources configured with
    ``required = false`` are optional)."""
    return [*FIXED_TABLES, *(source.file for source in config.sources.values() if source.required)]


def _as_version_2(tables: Mapping[str, pl.LazyFrame], config: Config) -> dict[str, pl.LazyFrame]:
    """The tables with every optional contract column present (a version-1 snapshot's tables get
    the version-2 columns empty) and every optional source that was not delivered as an empty
    table, so the families never branch on what a snapshot holds."""
    specs = table_schemas(config)
    upgraded = {
        name: with_missing_columns(frame, specs[name]) if name in specs else frame
        for name, frame in tables.items()
    }
    for source in config.indicator_sources.values():
        if source.file not in upgraded:
            upgraded[source.file] = pl.LazyFrame(
                schema={
                    "unit_id": pl.String, "period": pl.Date, "measure": pl.String,
                    "numerator": pl.Int64, "denominator": pl.Int64, "value": pl.Float64,
                }
            )  # fmt: skip
    for attribute_source in config.attribute_sources.values():
        upgraded.setdefault(attribute_source.file, empty_attribute_table())
    return upgraded


def feature_columns(config: Config, *, has_visits: bool = False) -> list[str]:
    """Column order of the feature table: key, identifying context, then the catalog's features."""
    names = [spec.name for spec in feature_catalog(config, has_visits=has_visits)]
    return [*OUTPUT_KEY, *(c for c in CONTEXT_COLUMNS if c not in names), *names]


def _needed_rows(units_at: pl.LazyFrame, pairs: pl.DataFrame, as_of_dates: Sequence[dt.date]) -> pl.LazyFrame:
    """The rows of ``units_at`` named by ``pairs`` and every row at ``as_of_dates``, in its order."""
    named = pairs.lazy().select(OUTPUT_KEY).unique().with_columns(_named=pl.lit(True))
    return (
        units_at.join(named, on=OUTPUT_KEY, how="left", maintain_order="left")
        .filter(pl.col("_named").fill_null(False) | pl.col("as_of").is_in(list(as_of_dates)))
        .drop("_named")
    )


def with_provider_other_units(rows: pl.LazyFrame, units_at: pl.LazyFrame) -> pl.LazyFrame:
    """``rows`` with ``provider_other_units``: how many other units of its provider are active at its
    date (counted over ``units_at``, every active unit), in ``rows``' order."""
    others = units_at.group_by("provider_id", "as_of").agg(
        (pl.len() - 1).cast(pl.Float64).alias("provider_other_units")
    )
    return rows.join(others, on=["provider_id", "as_of"], how="left", nulls_equal=True, maintain_order="left")


def _pair_dates(pairs: pl.DataFrame) -> list[dt.date]:
    """The planning dates of ``pairs`` (a frame with unit_id: String and as_of: Date)."""
    expected = {"unit_id": pl.String, "as_of": pl.Date}
    actual = {name: pairs.schema.get(name) for name in expected}
    if actual != expected:
        raise TypeError(f"pairs must have columns unit_id (String) and as_of (Date), got {pairs.schema}")
    return pairs.get_column("as_of").drop_nulls().unique().to_list()


def build_features(
    tables: Mapping[str, pl.LazyFrame],
    as_of_dates: Sequence[dt.date],
    config: Config,
    *,
    pairs: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """One row per (unit_id, as_of) for every unit active at each planning date (and per pair).

    Parameters
    ----------
    tables
        Normalised snapshot tables by name: providers, units, inspections, one per configured source
        (by its ``file``; optional sources may be absent) and optionally ``visits``. Tables of contract
        version 1 are read as version 2 with the new columns empty.
    as_of_dates
        Planning dates; features at a date use only what was known strictly before it.
    config
        The domain configuration (sources, risk areas, thresholds).
    pairs
        Further rows wanted: (unit_id, as_of) pairs, at dates that need not be in ``as_of_dates``
        (a training set: the inspected units at their planning dates). Each pair of a unit active
        at its date gets the row the build for every unit at that date would give, bit for bit:
        the parts that depend on other units (the shrunk rates' priors, the provider rollup) are
        still computed over every active unit, the rest only for the pairs.

    Returns
    -------
    pl.LazyFrame
        unit_id, as_of, provider_id, municipality_code and the catalog's columns, sorted by key.
    """
    missing = [name for name in required_tables(config) if name not in tables]
    if missing:
        raise KeyError(f"tables missing for build_features: {missing}; given: {sorted(tables)}")
    tables = _as_version_2(tables, config)
    dates = normalised_as_of_dates(as_of_dates)
    if pairs is not None:
        dates = normalised_as_of_dates([*dates, *_pair_dates(pairs)])
    # read by every family's every-unit part, the rows and the provider counts: computed once
    units_at = active_units(tables["units"], tables["providers"], dates).cache()
    rows = None if pairs is None else _needed_rows(units_at, pairs, as_of_dates).cache()
    keys = unit_keys(tables["units"])
    parts: list[pl.LazyFrame] = []
    for name, event_source in config.event_sources.items():
        areas = source_areas(config, event_source)
        parts.append(
            event_features(
                tables[event_source.file],
                units_at,
                keys,
                name=name,
                source=event_source,
                areas=areas,
                rows=rows,
            )
        )
    if rows is None:
        rows = units_at
    if config.indicator_sources:
        parts.append(
            indicator_sources_features(
                {name: tables[source.file] for name, source in config.indicator_sources.items()},
                rows,
                tables["units"],
                keys,
                sources=config.indicator_sources,
                stop_reporting_months=config.quality.stop_reporting_months,
            )
        )
    for name, attribute_source in config.attribute_sources.items():
        parts.append(
            attribute_features(tables[attribute_source.file], rows, keys, name=name, source=attribute_source)
        )
    parts.append(
        history_features(
            tables["inspections"], units_at, keys, config.risk_area_ids, rows=None if pairs is None else rows
        )
    )
    has_visits = VISITS_TABLE in tables
    if has_visits:
        parts.append(visit_continuity_features(tables[VISITS_TABLE], rows, keys, dates))
    frame = with_provider_other_units(rows, units_at)
    for part in parts:
        frame = frame.join(part, on=JOIN_KEY, how="left", maintain_order="left")
    # rows are sorted by unit_key (the rank of unit_id) and as_of, that is by the output key
    return frame.select(feature_columns(config, has_visits=has_visits))
