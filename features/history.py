"""Inspection-history features: earlier findings per risk area and across areas, over trailing
windows, time since the last inspection and the last finding, the level of the last finding and
whether the last inspection was a follow-up.

Only decisions made strictly before the planning date count (``decision_date < as_of``): an
inspection that has started but not been decided is not yet a finding IVO can plan on. A trailing
window of ``w`` months is ``[as_of - w months, as_of)`` by decision date.

Counting findings: a decided risk-area assessment contributes ``deficiency_count`` deficiencies and
``serious_count`` serious findings (föreläggande) when the export reports them (contract version 2),
and otherwise one deficiency when ``finding`` is ``deficiency`` or ``serious`` and one serious
finding when it is ``serious``.
"""

from __future__ import annotations

import polars as pl

from features.asof import months_before
from features.catalog import HISTORY_WINDOWS_MONTHS, history_area_name, history_count_name
from features.context import keyed

HISTORY_ROWS = "_history_rows"
HISTORY_DEFICIENT = "_history_deficient"
"""Running totals kept for the provider rollup (dropped from the final table)."""

_CUMULATIVE = ["inspections", "rows", "deficient", "deficiencies", "serious"]


def _deficient() -> pl.Expr:
    return (pl.col("finding") != "none").cast(pl.Float64)


def _level() -> pl.Expr:
    """0 no finding, 1 deficiency, 2 serious finding (föreläggande)."""
    return pl.col("finding").replace_strict({"none": 0.0, "deficiency": 1.0, "serious": 2.0}, default=None)


def _deficiency_count() -> pl.Expr:
    return pl.col("deficiency_count").cast(pl.Float64).fill_null(_deficient())


def _serious_count() -> pl.Expr:
    serious = (pl.col("finding") == "serious").cast(pl.Float64)
    return pl.col("serious_count").cast(pl.Float64).fill_null(serious)


def with_history_columns(inspections: pl.LazyFrame) -> pl.LazyFrame:
    """``inspections`` with the version-2 columns the history needs (null when a version-1 table)."""
    present = inspections.collect_schema().names()
    missing: dict[str, pl.DataType] = {"deficiency_count": pl.Int64(), "serious_count": pl.Int64()}
    if "selection" not in present:
        missing["selection"] = pl.String()
    return inspections.with_columns(
        pl.lit(None, dtype=dtype).alias(column) for column, dtype in missing.items() if column not in present
    )


def _running(inspections: pl.LazyFrame, key: list[str]) -> pl.LazyFrame:
    """Per ``key`` and decision date: running totals up to and including that date, the level and
    follow-up flag of that date's decisions, and the date of the latest decision with a finding."""
    return (
        inspections.group_by(*key, "decision_date")
        .agg(
            pl.col("inspection_id").n_unique().cast(pl.Float64).alias("inspections"),
            pl.len().cast(pl.Float64).alias("rows"),
            _deficient().sum().alias("deficient"),
            _deficiency_count().sum().alias("deficiencies"),
            _serious_count().sum().alias("serious"),
            _deficient().max().alias("last_deficient"),
            _level().max().alias("last_level"),
            (pl.col("selection") == "follow_up").any().cast(pl.Float64).alias("last_follow_up"),
        )
        .sort(*key, "decision_date")
        .with_columns(
            pl.col(_CUMULATIVE).cum_sum().over(key),
            pl.when(pl.col("last_deficient") > 0)
            .then(pl.col("decision_date"))
            .forward_fill()
            .over(key)
            .alias("last_finding_date"),
        )
    )


def _before(
    queries: pl.LazyFrame, running: pl.LazyFrame, by: list[str], at: pl.Expr | None = None
) -> pl.LazyFrame:
    """Each query row with the running totals of the last decision strictly before ``at``
    (default: the planning date itself)."""
    boundary = at if at is not None else pl.col("as_of")
    return (
        queries.with_columns(boundary.alias("_boundary"))
        .sort(*by, "_boundary")
        .join_asof(
            running,
            left_on="_boundary",
            right_on="decision_date",
            by=by,
            strategy="backward",
            allow_exact_matches=False,
            coalesce=False,
            check_sortedness=False,  # sorted just above; polars cannot check it per group
        )
        .drop([f"{column}_right" for column in by], strict=False)
        .drop("_boundary")
    )


def _window_counts(
    queries: pl.LazyFrame, running: pl.LazyFrame, by: list[str], area: str | None
) -> pl.LazyFrame:
    """Deficiencies and serious findings decided in each trailing window, per query row."""
    totals = running.select(*by, "decision_date", "deficiencies", "serious")
    frame = _before(queries, totals, by).select(
        *by, "as_of", pl.col("deficiencies", "serious").fill_null(0.0).name.suffix("@now")
    )
    for window in HISTORY_WINDOWS_MONTHS:
        earlier = _before(queries, totals, by, months_before(pl.col("as_of"), window)).select(
            *by, "as_of", pl.col("deficiencies", "serious").fill_null(0.0).name.suffix("@start")
        )
        frame = frame.join(earlier, on=[*by, "as_of"], how="left").select(
            pl.exclude("deficiencies@start", "serious@start"),
            (pl.col("deficiencies@now") - pl.col("deficiencies@start")).alias(
                history_count_name(area, "deficiencies", window)
            ),
            (pl.col("serious@now") - pl.col("serious@start")).alias(
                history_count_name(area, "serious", window)
            ),
        )
    return frame.drop("deficiencies@now", "serious@now")


def _overall_history(inspections: pl.LazyFrame, units_at: pl.LazyFrame) -> pl.LazyFrame:
    running = _running(inspections, ["unit_key"]).cache()
    queries = units_at.select("unit_key", "as_of")
    joined = _before(queries, running, ["unit_key"])
    rows = pl.col("rows").fill_null(0.0)
    days_since = (pl.col("as_of") - pl.col("decision_date")).dt.total_days().cast(pl.Float64)
    statistics = joined.select(
        "unit_key",
        "as_of",
        pl.col("inspections").fill_null(0.0).alias("history_inspections"),
        pl.when(rows > 0).then(pl.col("deficient") / rows).alias("history_deficiency_share"),
        days_since.alias("history_days_since_inspection"),
        (pl.col("as_of") - pl.col("last_finding_date"))
        .dt.total_days()
        .cast(pl.Float64)
        .alias("history_days_since_finding"),
        pl.col("last_level").alias("history_last_finding_level"),
        pl.col("last_follow_up").alias("history_last_was_follow_up"),
        rows.alias(HISTORY_ROWS),
        pl.col("deficient").fill_null(0.0).alias(HISTORY_DEFICIENT),
    )
    counts = _window_counts(queries, running, ["unit_key"], None)
    return statistics.join(counts, on=["unit_key", "as_of"], how="left")


def _area_history(inspections: pl.LazyFrame, units_at: pl.LazyFrame, areas: list[str]) -> pl.LazyFrame:
    running = _running(inspections, ["unit_key", "risk_area"]).cache()
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
            pl.col("last_level").alias(history_area_name(area, "last_finding_level")),
        )
        counts = _window_counts(queries, in_area, ["unit_key"], area)
        frame = frame.join(statistics, on=["unit_key", "as_of"], how="left").join(
            counts, on=["unit_key", "as_of"], how="left"
        )
    return frame


def history_features(
    inspections: pl.LazyFrame, units_at: pl.LazyFrame, keys: pl.LazyFrame, areas: list[str]
) -> pl.LazyFrame:
    """Inspection-history features per (unit_id, as_of) for the active units in ``units_at``.

    Parameters
    ----------
    inspections
        The normalised inspections table (one row per inspection and risk area; version-1 tables
        without the finding counts are read with them empty).
    units_at
        Active units per planning date (with unit_key).
    keys
        unit_id → unit_key (:func:`features.context.unit_keys`).
    areas
        The configured risk areas (one set of per-area columns each).
    """
    with_keys = keyed(with_history_columns(inspections), keys)
    return _overall_history(with_keys, units_at).join(
        _area_history(with_keys, units_at, areas), on=["unit_key", "as_of"], how="left"
    )
