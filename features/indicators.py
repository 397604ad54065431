"""Indicator-source features (Väntetidsdatabasen availability, continuity, any configured measure).

A month ``M`` of a source with publication lag ``L`` is known at ``as_of`` iff
``month_index(M) <= K = month_index(as_of) - 1 - L``. Per unit and measure the reported months are
accumulated once (numerator, denominator, months reported, months worse than the threshold and the
least-squares sums); a window ``[K - w + 1, K]`` is the difference of two running totals looked up
with backward as-of joins at ``K`` and ``K - w``. Shares over a window are recomputed as
Σ numerator / Σ denominator, never as a mean of monthly shares. A month without a report (or with a
zero denominator) is missing: it contributes nothing, and a window without reports gives null.
"""

from __future__ import annotations

import polars as pl

from engine.config import IndicatorSource
from features.asof import latest_known_month_index, month_index
from features.catalog import INDICATOR_STATISTICS, indicator_name, indicator_not_reporting_name

_SLOPE_WINDOW = 12
_LATEST_WITHIN_MONTHS = 12
_MIN_SLOPE_MONTHS = 3
_X_ORIGIN = 2000 * 12  # keeps the least-squares sums small
_RUNNING = ["num", "den", "obs", "below", "sx", "sy", "sxy", "sxx"]


def monthly_indicator_values(indicator: pl.LazyFrame, source: IndicatorSource) -> pl.LazyFrame:
    """One row per unit, measure and reported month: numerator, denominator, share, worse-than-threshold.

    ``share`` is null when the denominator is zero (nothing to measure, not a zero share).
    """
    thresholds = {key: measure.threshold for key, measure in source.measures.items()}
    higher_is_better = {key: measure.higher_is_better for key, measure in source.measures.items()}
    measure = pl.col("measure")
    share = pl.col("share")
    threshold = measure.replace_strict(thresholds, return_dtype=pl.Float64)
    worse = (
        pl.when(measure.replace_strict(higher_is_better, return_dtype=pl.Boolean))
        .then(share < threshold)
        .otherwise(share > threshold)
    )
    return (
        indicator.filter(measure.is_in(list(source.measures)))
        .select(
            "unit_id",
            "measure",
            month_index(pl.col("period")).alias("month"),
            pl.col("numerator").cast(pl.Float64).alias("num"),
            pl.col("denominator").cast(pl.Float64).alias("den"),
        )
        .with_columns(pl.when(pl.col("den") > 0).then(pl.col("num") / pl.col("den")).alias("share"))
        .with_columns(worse.alias("worse"))
    )


def _running_totals(monthly: pl.LazyFrame) -> pl.LazyFrame:
    observed = pl.col("share").is_not_null()
    x = (pl.col("month") - _X_ORIGIN).cast(pl.Float64)
    y = pl.col("share")
    key = ["unit_id", "measure"]
    return (
        monthly.sort("unit_id", "measure", "month")
        .select(
            *key,
            "month",
            pl.when(observed).then(pl.col("num")).otherwise(0.0).alias("num"),
            pl.when(observed).then(pl.col("den")).otherwise(0.0).alias("den"),
            observed.cast(pl.Float64).alias("obs"),
            pl.col("worse").fill_null(False).cast(pl.Float64).alias("below"),
            pl.when(observed).then(x).otherwise(0.0).alias("sx"),
            y.fill_null(0.0).alias("sy"),
            pl.when(observed).then(x * y).otherwise(0.0).alias("sxy"),
            pl.when(observed).then(x * x).otherwise(0.0).alias("sxx"),
            pl.when(observed).then(pl.col("month")).alias("last_month"),
            y.alias("last_share"),
        )
        .with_columns(
            pl.col(_RUNNING).cum_sum().over(key),
            pl.col("last_month", "last_share").forward_fill().over(key),
        )
    )


def peer_values(monthly: pl.LazyFrame, units: pl.LazyFrame) -> pl.LazyFrame:
    """Per region, measure and month: the regional median share and the national share.

    The national value is Σ numerator / Σ denominator over all reporting units that month; the
    regional median is the median of the units' monthly shares. Both use only that month's reports,
    so they are known exactly when the month itself is.
    """
    reported = monthly.filter(pl.col("share").is_not_null()).join(
        units.select("unit_id", "region_code"), on="unit_id", how="inner"
    )
    national = reported.group_by("measure", "month").agg(
        (pl.col("num").sum() / pl.col("den").sum()).alias("national_share")
    )
    regional = reported.group_by("region_code", "measure", "month").agg(
        pl.col("share").median().alias("region_median_share")
    )
    return regional.join(national, on=["measure", "month"], how="left")


def _totals_at(queries: pl.LazyFrame, running: pl.LazyFrame, months_back: int) -> pl.LazyFrame:
    columns = _RUNNING if months_back else [*_RUNNING, "last_month", "last_share"]
    right = running.select("unit_id", "measure", "month", *columns)
    return (
        queries.with_columns((pl.col("known_month") - months_back).alias("_boundary"))
        .sort("unit_id", "measure", "_boundary")
        .join_asof(right, left_on="_boundary", right_on="month", by=["unit_id", "measure"])
        .drop("_boundary", "month", strict=False)
        .with_columns(pl.col(_RUNNING).fill_null(0.0).name.suffix(f"@{months_back}"))
        .drop(_RUNNING)
    )


def _between(column: str, months: int) -> pl.Expr:
    return pl.col(f"{column}@0") - pl.col(f"{column}@{months}")


def _share_over(months: int) -> pl.Expr:
    denominator = _between("den", months)
    return pl.when(denominator > 0).then(_between("num", months) / denominator)


def _least_squares_slope(months: int) -> pl.Expr:
    n, sx, sy = _between("obs", months), _between("sx", months), _between("sy", months)
    sxy, sxx = _between("sxy", months), _between("sxx", months)
    spread = n * sxx - sx * sx
    return pl.when((n >= _MIN_SLOPE_MONTHS) & (spread > 0)).then((n * sxy - sx * sy) / spread)


def indicator_features(
    indicator: pl.LazyFrame,
    units_at: pl.LazyFrame,
    units: pl.LazyFrame,
    *,
    name: str,
    source: IndicatorSource,
    stop_reporting_months: int,
) -> pl.LazyFrame:
    """Indicator features of one source per (unit_id, as_of) for the active units in ``units_at``.

    Parameters
    ----------
    indicator
        The source's normalised table (unit_id, period, measure, numerator, denominator).
    units_at
        Active units per planning date (unit_id, as_of, region_code).
    units
        The units table (regions of every reporting unit, for the regional medians).
    name
        The source's configured name (column prefix).
    source
        The source's configuration (measures, thresholds, publication lag).
    stop_reporting_months
        A unit without any report in this many latest published months is flagged as not reporting.
    """
    monthly = monthly_indicator_values(indicator, source)
    running = _running_totals(monthly)
    peers = peer_values(monthly, units)
    measures = pl.LazyFrame({"measure": list(source.measures)}, schema={"measure": pl.String})
    queries = (
        units_at.select("unit_id", "as_of", "region_code")
        .join(measures, how="cross")
        .with_columns(known_month=latest_known_month_index(pl.col("as_of"), source.publication_lag_months))
    )
    for months_back in (0, 3, _SLOPE_WINDOW):
        queries = _totals_at(queries, running, months_back)
    since = pl.col("known_month") - pl.col("last_month")
    latest = pl.when(since < _LATEST_WITHIN_MONTHS).then(pl.col("last_share"))
    long = (
        queries.join(
            peers,
            left_on=["region_code", "measure", "last_month"],
            right_on=["region_code", "measure", "month"],
            how="left",
        )
        .with_columns(latest.alias("latest"), since.cast(pl.Float64).alias("months_since_report"))
        .select(
            "unit_id",
            "as_of",
            "measure",
            "latest",
            _share_over(3).alias("3m"),
            _share_over(12).alias("12m"),
            _least_squares_slope(_SLOPE_WINDOW).alias("slope_12m"),
            pl.when(_between("obs", 12) > 0).then(_between("below", 12)).alias("months_below_threshold_12m"),
            (pl.col("latest") - pl.col("region_median_share")).alias("gap_region_median"),
            (pl.col("latest") - pl.col("national_share")).alias("gap_national"),
            "months_since_report",
        )
    )
    recent = pl.col("months_since_report").min()
    return long.group_by("unit_id", "as_of").agg(
        *[
            pl.col(statistic)
            .filter(pl.col("measure") == key)
            .first()
            .cast(pl.Float64)
            .alias(indicator_name(name, key, statistic))
            for key in source.measures
            for statistic in INDICATOR_STATISTICS
        ],
        pl.when(recent.is_null() | (recent >= stop_reporting_months))
        .then(1.0)
        .otherwise(0.0)
        .alias(indicator_not_reporting_name(name)),
    )
