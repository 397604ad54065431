"""Inspection-history features: earlier findings per risk area and time since the last inspection.

Only decisions made strictly before the planning date count (``decision_date < as_of``): an
inspection that has started but not been decided is not yet a finding IVO can plan on.
"""

from __future__ import annotations

import polars as pl

from features.catalog import history_area_name
from features.context import keyed

HISTORY_ROWS = "_history_rows"
HISTORY_DEFICIENT = "_history_deficient"
"""Running totals kept for the provider rollup (dropped from the final table)."""


def _deficient() -> pl.Expr:
    return (pl.col("finding") != "none").cast(pl.Float64)


def _before(queries: pl.LazyFrame, running: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    return (
        queries.sort(*by, "as_of")
        .join_asof(
            running,
            left_on="as_of",
            right_on="decision_date",
            by=by,
            strategy="backward",
            allow_exact_matches=False,
            coalesce=False,
            check_sortedness=False,  # sorted just above; polars cannot check it per group
        )
        .drop([f"{column}_right" for column in by], strict=False)
    )


def _overall_history(inspections: pl.LazyFrame, units_at: pl.LazyFrame) -> pl.LazyFrame:
    running = (
        inspections.group_by("unit_key", "decision_date")
        .agg(
            pl.col("inspection_id").n_unique().cast(pl.Float64).alias("inspections"),
            pl.len().cast(pl.Float64).alias("rows"),
            _deficient().sum().alias("deficient"),
        )
        .sort("unit_key", "decision_date")
        .with_columns(pl.col("inspections", "rows", "deficient").cum_sum().over("unit_key"))
    )
    joined = _before(units_at.select("unit_key", "as_of"), running, ["unit_key"])
    rows = pl.col("rows").fill_null(0.0)
    return joined.select(
        "unit_key",
        "as_of",
        pl.col("inspections").fill_null(0.0).alias("history_inspections"),
        pl.when(rows > 0).then(pl.col("deficient") / rows).alias("history_deficiency_share"),
        (pl.col("as_of") - pl.col("decision_date"))
        .dt.total_days()
        .cast(pl.Float64)
        .alias("history_days_since_inspection"),
        rows.alias(HISTORY_ROWS),
        pl.col("deficient").fill_null(0.0).alias(HISTORY_DEFICIENT),
    )


def _area_history(inspections: pl.LazyFrame, units_at: pl.LazyFrame, areas: list[str]) -> pl.LazyFrame:
    key = ["unit_key", "risk_area"]
    running = (
        inspections.group_by(*key, "decision_date")
        .agg(
            pl.len().cast(pl.Float64).alias("rows"),
            _deficient().sum().alias("deficient"),
            _deficient().max().alias("last_deficient"),
        )
        .sort(*key, "decision_date")
        .with_columns(pl.col("rows", "deficient").cum_sum().over(key))
        .cache()
    )
    frame = units_at.select("unit_key", "as_of")
    queries = frame.sort("unit_key", "as_of")
    for area in areas:
        in_area = running.filter(pl.col("risk_area") == area).drop("risk_area")
        statistics = _before(queries, in_area, ["unit_key"]).select(
            "unit_key",
            "as_of",
            pl.col("rows").fill_null(0.0).alias(history_area_name(area, "inspections")),
            pl.when(pl.col("rows") > 0)
            .then(pl.col("deficient") / pl.col("rows"))
            .alias(history_area_name(area, "deficiency_share")),
            pl.col("last_deficient").alias(history_area_name(area, "last_deficiency")),
        )
        frame = frame.join(statistics, on=["unit_key", "as_of"], how="left")
    return frame


def history_features(
    inspections: pl.LazyFrame, units_at: pl.LazyFrame, keys: pl.LazyFrame, areas: list[str]
) -> pl.LazyFrame:
    """Inspection-history features per (unit_id, as_of) for the active units in ``units_at``.

    Parameters
    ----------
    inspections
        The normalised inspections table (one row per inspection and risk area).
    units_at
        Active units per planning date (with unit_key).
    keys
        unit_id → unit_key (:func:`features.context.unit_keys`).
    areas
        The configured risk areas (one set of per-area columns each).
    """
    with_keys = keyed(inspections, keys)
    return _overall_history(with_keys, units_at).join(
        _area_history(with_keys, units_at, areas), on=["unit_key", "as_of"], how="left"
    )
