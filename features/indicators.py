"""Indicator-source features (Väntetidsdatabasen availability, continuity, any configured measure).

A month ``M`` of a source with publication lag ``L`` is known at ``as_of`` iff
``month_index(M) <= K = month_index(as_of) - 1 - L``. Per unit and measure the reported months are
accumulated once (numerator, denominator, months reported, months worse than the threshold and the
least-squares sums); a window ``[K - w + 1, K]`` is the difference of two running totals looked up
with backward as-of joins at ``K`` and ``K - w``. Shares over a window are recomputed as
Σ numerator / Σ denominator, never as a mean of monthly shares. A month without a report (or with a
zero denominator) is missing: it contributes nothing, and a window without reports gives null.

Measures of kind ``value`` (an index 0–100, a rate per 1,000) go through the same machinery as a
numerator ``value`` over a denominator 1: window figures are means of the reported months, the
national figure is the mean over reporting units, and the regional median is the median of values.
"""

from __future__ import annotations

import polars as pl

from engine.config import IndicatorSource
from engine.contract import with_null_columns
from engine.order_free import order_free_sum
from features.asof import latest_known_month_index, month_index
from features.catalog import INDICATOR_STATISTICS, indicator_name, indicator_not_reporting_name
from features.context import keyed

_SLOPE_WINDOW = 12
_LATEST_WITHIN_MONTHS = 12
_MIN_SLOPE_MONTHS = 3
_X_ORIGIN = 2000 * 12  # keeps the least-squares sums small
_RUNNING = ["num", "den", "obs", "below", "sx", "sy", "sxy", "sxx"]


def _measure_index(source: IndicatorSource) -> dict[str, int]:
    return {key: index for index, key in enumerate(source.measures)}


def monthly_indicator_values(indicator: pl.LazyFrame, source: IndicatorSource) -> pl.LazyFrame:
    """One row per unit, measure and reported month: numerator, denominator, share, worse-than-threshold.

    ``indicator`` must carry ``unit_key`` (:func:`features.context.keyed`); ``measure`` becomes its
    position in the configuration (UInt32). ``share`` is null when the denominator is zero (nothing
    to measure, not a zero share).
    """
    index = _measure_index(source)
    thresholds = {index[key]: measure.threshold for key, measure in source.measures.items()}
    is_value = pl.col("measure").is_in(source.value_measures)
    higher_is_better = {index[key]: measure.higher_is_better for key, measure in source.measures.items()}
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
            "unit_key",
            measure.replace_strict(index, return_dtype=pl.UInt32).alias("measure"),
            month_index(pl.col("period")).alias("month"),
            pl.when(is_value)
            .then(pl.col("value"))
            .otherwise(pl.col("numerator"))
            .cast(pl.Float64)
            .alias("num"),
            pl.when(is_value)
            .then(pl.when(pl.col("value").is_not_null()).then(1.0))
            .otherwise(pl.col("denominator"))
            .cast(pl.Float64)
            .alias("den"),
        )
        .with_columns(pl.when(pl.col("den") > 0).then(pl.col("num") / pl.col("den")).alias("share"))
        .with_columns(worse.alias("worse"))
    )


def with_value_column(indicator: pl.LazyFrame) -> pl.LazyFrame:
    """``indicator`` with ``value``, ``numerator`` and ``denominator`` columns (null where the table
    lacks them: a table from before value measures, or a source of value measures only)."""
    return with_null_columns(
        indicator, {"numerator": pl.Int64(), "denominator": pl.Int64(), "value": pl.Float64()}
    )


def _series_key(measures: int) -> pl.Expr:
    """One integer per unit and measure (a single, cheap as-of ``by`` key)."""
    return (pl.col("unit_key").cast(pl.UInt64) * measures + pl.col("measure").cast(pl.UInt64)).alias("series")


def _running_totals(monthly: pl.LazyFrame, len_measures: int) -> pl.LazyFrame:
    observed = pl.col("share").is_not_null()
    x = (pl.col("month") - _X_ORIGIN).cast(pl.Float64)
    y = pl.col("share")
    key = "series"
    return (
        monthly.with_columns(_series_key(len_measures))
        .sort(key, "month")
        .select(
            key,
            "unit_key",
            "measure",
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
        (order_free_sum(pl.col("num")) / order_free_sum(pl.col("den"))).alias("national_share")
    )
    regional = reported.group_by("region_code", "measure", "month").agg(
        pl.col("share").median().alias("region_median_share")
    )
    return regional.join(national, on=["measure", "month"], how="left")


def _totals_at(queries: pl.LazyFrame, running: pl.LazyFrame, months_back: int) -> pl.LazyFrame:
    columns = _RUNNING if months_back else [*_RUNNING, "last_month", "last_share"]
    right = running.select("unit_key", "month", *columns)
    return (
        queries.with_columns((pl.col("known_month") - months_back).alias("_boundary"))
        .sort("unit_key", "_boundary")
        .join_asof(right, left_on="_boundary", right_on="month", by="unit_key", check_sortedness=False)
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
    keys: pl.LazyFrame,
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
        Active units per planning date (unit_key, as_of, region_code).
    units
        The units table (regions of every reporting unit, for the regional medians).
    keys
        unit_id → unit_key (:func:`features.context.unit_keys`).
    name
        The source's configured name (column prefix).
    source
        The source's configuration (measures, thresholds, publication lag).
    stop_reporting_months
        A unit without any report in this many latest published months is flagged as not reporting.
    """
    monthly = monthly_indicator_values(keyed(with_value_column(indicator), keys), source)
    monthly = monthly.cache()
    peers = peer_values(monthly, units).cache()
    queries = units_at.select("unit_key", "as_of", "region_code").with_columns(
        known_month=latest_known_month_index(
            pl.col("as_of"), source.publication_lag_months, source.publication_lag_days
        )
    )
    frame = units_at.select("unit_key", "as_of")
    since_columns: list[str] = []
    for key, index in _measure_index(source).items():
        statistics = _measure_statistics(
            queries,
            _running_totals(monthly.filter(pl.col("measure") == index), len(source.measures)).cache(),
            peers.filter(pl.col("measure") == index).drop("measure"),
        )
        if source.measures[key].threshold is None:  # nothing to fall below
            statistics = statistics.with_columns(
                pl.lit(None, dtype=pl.Float64).alias("months_below_threshold_12m")
            )
        frame = frame.join(
            statistics.rename({s: indicator_name(name, key, s) for s in INDICATOR_STATISTICS}),
            on=["unit_key", "as_of"],
            how="left",
        )
        since_columns.append(indicator_name(name, key, "months_since_report"))
    recent = pl.min_horizontal(since_columns)
    return frame.with_columns(
        pl.when(recent.is_null() | (recent >= stop_reporting_months))
        .then(1.0)
        .otherwise(0.0)
        .alias(indicator_not_reporting_name(name))
    )


def _measure_statistics(queries: pl.LazyFrame, running: pl.LazyFrame, peers: pl.LazyFrame) -> pl.LazyFrame:
    """The statistics of one measure per (unit_key, as_of), named as in INDICATOR_STATISTICS."""
    for months_back in (0, 3, _SLOPE_WINDOW):
        queries = _totals_at(queries, running, months_back)
    since = pl.col("known_month") - pl.col("last_month")
    latest = pl.when(since < _LATEST_WITHIN_MONTHS).then(pl.col("last_share"))
    return (
        queries.join(
            peers,
            left_on=["region_code", "last_month"],
            right_on=["region_code", "month"],
            how="left",
        )
        .with_columns(latest.alias("latest"), since.cast(pl.Float64).alias("months_since_report"))
        .select(
            "unit_key",
            "as_of",
            "latest",
            _share_over(3).alias("3m"),
            _share_over(12).alias("12m"),
            _least_squares_slope(_SLOPE_WINDOW).alias("slope_12m"),
            pl.when(_between("obs", 12) > 0).then(_between("below", 12)).alias("months_below_threshold_12m"),
            (pl.col("latest") - pl.col("region_median_share")).alias("gap_region_median"),
            (pl.col("latest") - pl.col("national_share")).alias("gap_national"),
            "months_since_report",
        )
        .with_columns(pl.col(INDICATOR_STATISTICS).cast(pl.Float64))
    )
