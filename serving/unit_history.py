"""A unit's history for the planners' unit page: indicators against the region, event counts, inspections.

Pure and lazy (LazyFrames in and out, for every unit at once); the web layer collects once per ingest
snapshot and looks units up. Event sources contribute **counts only**: no free-text column is ever
selected, so a complaint's summary can never reach a page.
"""

from __future__ import annotations

import polars as pl

from engine.contract import with_null_columns

INDICATOR_FIGURES: dict[str, pl.DataType] = {
    "numerator": pl.Int64(),
    "denominator": pl.Int64(),
    "value": pl.Float64(),
}


def indicator_rows(table: pl.LazyFrame) -> pl.LazyFrame:
    """An indicator source's ``unit_id, period, measure, numerator, denominator, value``.

    A source of one kind of measure may leave the other kind's columns out of its export (shares have
    no ``value``, values no counts); the missing columns are added as typed nulls so every source
    stacks into one frame.
    """
    return with_null_columns(table, INDICATOR_FIGURES).select(
        "unit_id", "period", "measure", *INDICATOR_FIGURES
    )


def indicator_values(indicators: pl.LazyFrame) -> pl.LazyFrame:
    """``unit_id, measure, period, value``: what each measure reports, in its own unit.

    A share measure's value is numerator ÷ denominator (null when the denominator is 0); a value
    measure (a survey index 0–100, readmissions per 1 000) reports its ``value`` as it is.
    """
    return indicators.select(
        "unit_id",
        "measure",
        "period",
        value=pl.when(pl.col("denominator") > 0)
        .then(pl.col("numerator") / pl.col("denominator"))
        .when(pl.col("numerator").is_null() & pl.col("denominator").is_null())
        .then(pl.col("value"))
        .otherwise(None),
    )


def indicators_with_regional_median(indicators: pl.LazyFrame, units: pl.LazyFrame) -> pl.LazyFrame:
    """Every unit's value per measure and period with the median value of its region's units then.

    ``indicators``: rows as :func:`indicator_rows` gives them. Columns: ``unit_id, measure, period,
    value, region_median`` sorted by unit, measure and period.
    """
    values = indicator_values(indicators).join(
        units.select("unit_id", "region_code"), on="unit_id", how="inner"
    )
    medians = values.group_by("region_code", "measure", "period").agg(region_median=pl.col("value").median())
    return (
        values.join(medians, on=["region_code", "measure", "period"], how="left")
        .drop("region_code")
        .sort("unit_id", "measure", "period")
    )


def quarterly_event_counts(events: pl.LazyFrame, source: str) -> pl.LazyFrame:
    """Events per unit and calendar quarter of ``event_date``: ``unit_id, source, quarter_start, events``.

    Only ``unit_id`` and ``event_date`` are read; free-text columns never leave the snapshot.
    """
    return (
        events.select("unit_id", quarter_start=pl.col("event_date").dt.truncate("1q"))
        .group_by("unit_id", "quarter_start")
        .agg(events=pl.len().cast(pl.Int64))
        .with_columns(source=pl.lit(source))
        .select("unit_id", "source", "quarter_start", "events")
        .sort("unit_id", "quarter_start")
    )


def inspection_history(inspections: pl.LazyFrame) -> pl.LazyFrame:
    """Every inspection per unit and risk area, newest first (no free text in the table)."""
    return inspections.select(
        "unit_id",
        "inspection_id",
        "start_date",
        "decision_date",
        "risk_area",
        "finding",
        "selection",
    ).sort(["unit_id", "decision_date", "risk_area"], descending=[False, True, False])
