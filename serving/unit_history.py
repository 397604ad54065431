"""A unit's history for the planners' unit page: indicators against the region, event counts, inspections.

Pure and lazy (LazyFrames in and out, for every unit at once); the web layer collects once per ingest
snapshot and looks units up. Event sources contribute **counts only**: no free-text column is ever
selected, so a complaint's summary can never reach a page.
"""

from __future__ import annotations

import polars as pl


def indicator_shares(indicators: pl.LazyFrame) -> pl.LazyFrame:
    """``unit_id, measure, period, share`` (numerator / denominator; null when the denominator is 0)."""
    return indicators.select(
        "unit_id",
        "measure",
        "period",
        share=pl.when(pl.col("denominator") > 0)
        .then(pl.col("numerator") / pl.col("denominator"))
        .otherwise(None),
    )


def indicators_with_regional_median(indicators: pl.LazyFrame, units: pl.LazyFrame) -> pl.LazyFrame:
    """Every unit's monthly share per measure with the median share of its region's units that month.

    Columns: ``unit_id, measure, period, share, region_median`` sorted by unit, measure and period.
    """
    shares = indicator_shares(indicators).join(
        units.select("unit_id", "region_code"), on="unit_id", how="inner"
    )
    medians = shares.group_by("region_code", "measure", "period").agg(region_median=pl.col("share").median())
    return (
        shares.join(medians, on=["region_code", "measure", "period"], how="left")
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
