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
from engine.order_free import order_free_sum
from features.asof import normalised_as_of_dates
from features.attributes import attribute_features, empty_attribute_table
from features.catalog import CONTEXT_COLUMNS, feature_catalog, provider_other_rate_name, source_areas
from features.catalog import event_shrunk_rate_name as _shrunk_name
from features.context import JOIN_KEY, OUTPUT_KEY, active_units, unit_keys
from features.continuity import visit_continuity_features
from features.events import event_features
from features.history import HISTORY_DEFICIENT, HISTORY_ROWS, history_features
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


def _mean_of_other_units(column: str, group: list[str]) -> pl.Expr:
    value = pl.col(column)
    others = value.count().over(group) - value.is_not_null().cast(pl.UInt32)
    total = order_free_sum(value).over(group) - value.fill_null(0.0)
    return pl.when(others > 0).then(total / others)


def provider_rollup(frame: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    """Add the provider's OTHER active units' signals at the same planning date (never the unit's own).

    ``provider_other_units`` counts them; per event source the mean of their shrunk 12-month rates;
    the share of deficiencies among their earlier decided risk-area assessments.
    """
    group = ["provider_id", "as_of"]
    other_rows = pl.col(HISTORY_ROWS).sum().over(group) - pl.col(HISTORY_ROWS)
    other_deficient = pl.col(HISTORY_DEFICIENT).sum().over(group) - pl.col(HISTORY_DEFICIENT)
    return frame.with_columns(
        (pl.len().over(group) - 1).cast(pl.Float64).alias("provider_other_units"),
        pl.when(other_rows > 0)
        .then(other_deficient / other_rows)
        .alias("provider_other_units_deficiency_share"),
        *[
            _mean_of_other_units(_shrunk_name(name, None), group).alias(provider_other_rate_name(name))
            for name in config.event_sources
        ],
    )


def build_features(
    tables: Mapping[str, pl.LazyFrame], as_of_dates: Sequence[dt.date], config: Config
) -> pl.LazyFrame:
    """One row per (unit_id, as_of) for every unit active at each planning date.

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
    units_at = active_units(tables["units"], tables["providers"], dates)
    keys = unit_keys(tables["units"])
    parts: list[pl.LazyFrame] = []
    for name, event_source in config.event_sources.items():
        areas = source_areas(config, event_source)
        parts.append(
            event_features(
                tables[event_source.file], units_at, keys, name=name, source=event_source, areas=areas
            )
        )
    if config.indicator_sources:
        parts.append(
            indicator_sources_features(
                {name: tables[source.file] for name, source in config.indicator_sources.items()},
                units_at,
                tables["units"],
                keys,
                sources=config.indicator_sources,
                stop_reporting_months=config.quality.stop_reporting_months,
            )
        )
    for name, attribute_source in config.attribute_sources.items():
        parts.append(
            attribute_features(
                tables[attribute_source.file], units_at, keys, name=name, source=attribute_source
            )
        )
    parts.append(history_features(tables["inspections"], units_at, keys, config.risk_area_ids))
    has_visits = VISITS_TABLE in tables
    if has_visits:
        parts.append(visit_continuity_features(tables[VISITS_TABLE], units_at, keys, dates))
    frame = units_at
    for part in parts:
        frame = frame.join(part, on=JOIN_KEY, how="left")
    return (
        provider_rollup(frame, config).select(feature_columns(config, has_visits=has_visits)).sort(OUTPUT_KEY)
    )
