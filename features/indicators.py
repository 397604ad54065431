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

from collections.abc import Mapping

import polars as pl

from engine.config import IndicatorSource
from engine.contract import with_null_columns
from engine.order_free import order_free_sum
from features.asof import dates_per_series, month_index
from features.catalog import INDICATOR_STATISTICS, indicator_name, indicator_not_reporting_name
from features.context import keyed, keyed_units

_SLOPE_WINDOW = 12
_LATEST_WITHIN_MONTHS = 12
_MIN_SLOPE_MONTHS = 3
_X_ORIGIN = 2000 * 12  # keeps the least-squares sums small
_MAX_MEASURES = 1 << 12  # measures across all indicator sources, far more than any configuration
_MAX_UNITS = 1 << 32  # unit keys are UInt32
_MONTHS_PER_SERIES = 1 << 17  # month indices (year * 12 + month - 1) up to the year 10922
_RUNNING = ["num", "den", "obs", "below", "sx", "sy", "sxy", "sxx"]
_WHOLE = ["den", "obs", "below", "sx", "sxx"]  # whole numbers (denominators are counts by contract)
_ROUNDED = ["num", "sy", "sxy"]
_REPORT = ["month", "share", "series"]  # the latest report at or before a row


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


def _series_key() -> pl.Expr:
    """One integer per measure and unit that sorts as (measure, unit): a measure's rows are one block
    (a single, cheap ``by`` key for the as-of joins; 12 + 32 bits, so the lookup key fits an Int64)."""
    return (pl.col("measure").cast(pl.UInt64) * _MAX_UNITS + pl.col("unit_key").cast(pl.UInt64)).alias(
        "series"
    )


def _lookup_key(month: pl.Expr) -> pl.Expr:
    """``series`` and ``month`` as one integer that sorts as (series, month): a backward as-of join
    on it is a single merge of two sorted columns, with no per-series hash partitioning."""
    return pl.col("series").cast(pl.Int64) * _MONTHS_PER_SERIES + month.cast(pl.Int64)


def _in_series_order(monthly: pl.LazyFrame) -> pl.LazyFrame:
    """``monthly`` sorted by its lookup key ``_key`` (series, month), with ``series`` instead of the
    unit and measure it encodes (two columns fewer to sort)."""
    return (
        monthly.select(_series_key(), "month", "num", "den", "share", "worse")
        .with_columns(_lookup_key(pl.col("month")).alias("_key"))
        .sort("_key")
        .with_columns(pl.col("_key").set_sorted())
    )


def _unit_and_measure() -> list[pl.Expr]:
    """``unit_key`` and ``measure`` of a row from its ``series`` (:func:`_series_key`)."""
    return [
        (pl.col("series") % _MAX_UNITS).cast(pl.UInt32).alias("unit_key"),
        (pl.col("series") // _MAX_UNITS).cast(pl.UInt32).alias("measure"),
    ]


def _increments() -> dict[str, pl.Expr]:
    """What a monthly row adds to each running total (a month without a share adds nothing)."""
    observed = pl.col("share").is_not_null()
    x = (pl.col("month") - _X_ORIGIN).cast(pl.Float64)
    y = pl.col("share")
    return {
        "num": pl.when(observed).then(pl.col("num")).otherwise(0.0),
        "den": pl.when(observed).then(pl.col("den")).otherwise(0.0),
        "obs": observed.cast(pl.Float64),
        "below": pl.col("worse").fill_null(False).cast(pl.Float64),
        "sx": pl.when(observed).then(x).otherwise(0.0),
        "sy": y.fill_null(0.0),
        "sxy": pl.when(observed).then(x * y).otherwise(0.0),
        "sxx": pl.when(observed).then(x * x).otherwise(0.0),
    }


def _running_totals(ordered: pl.LazyFrame) -> pl.LazyFrame:
    """Per series and month: the running totals and the latest reported month, its share and series.

    ``ordered`` is :func:`_in_series_order`'s. The totals of whole numbers (denominators, counts,
    month offsets and their squares) are one running sum over all rows, as Int64: a window is the
    difference of two of them, and where a series has no row yet the backward lookup lands on the
    previous series' last row, whose total is exactly the one before the series starts, so the
    difference is the series' own (whole numbers add up exactly in any grouping). The three totals
    that round (numerators of value measures, shares, month × share) are summed series by series in
    month order, in one group each (a group-by keeps the groups in their sorted order). The latest
    report at or before a row may be an earlier series' (``last_series`` tells).
    """
    increments = _increments()  # computed in each branch: no frame of all eight is ever held
    reported = pl.col("share").is_not_null()
    exact = ordered.select(
        "series",
        "_key",
        *(increments[column].cast(pl.Int64).cum_sum().alias(column) for column in _WHOLE),
        *(
            pl.when(reported).then(pl.col(column)).forward_fill().alias(f"last_{column}")
            for column in _REPORT
        ),
    )
    rounded = (
        ordered.select("series", *(increments[column].alias(column) for column in _ROUNDED))
        .group_by("series", maintain_order=True)
        .agg(pl.col(_ROUNDED).cum_sum())
        .explode(*_ROUNDED)
        .select(_ROUNDED)
    )
    return pl.concat([exact, rounded], how="horizontal").with_columns(pl.col("_key").set_sorted())


def _region_numbers(units: pl.LazyFrame) -> pl.LazyFrame:
    """unit_key → ``region`` (UInt32, the rank of the unit's region_code; null without one)."""
    return keyed_units(units).select(
        "unit_key", pl.col("region_code").rank("dense").cast(pl.UInt32).alias("region")
    )


def _peer_key(region: pl.Expr, measure: pl.Expr, month: pl.Expr) -> pl.Expr:
    """(region, measure, month) as one integer: the regional figures join on a single key."""
    return (region.cast(pl.Int64) * _MAX_MEASURES + measure.cast(pl.Int64)) * _MONTHS_PER_SERIES + month.cast(
        pl.Int64
    )


def peer_values(monthly: pl.LazyFrame, units: pl.LazyFrame, value_series: list[int]) -> pl.LazyFrame:
    """Per region, measure and month (``_peer``, :func:`_peer_key`): the regional median share and
    the national share.

    The national value is Σ numerator / Σ denominator over all reporting units that month; the
    regional median is the median of the units' monthly shares. Both use only that month's reports,
    so they are known exactly when the month itself is. ``value_series`` are the measures (numbers in
    ``monthly``) of kind value, whose numerators are not whole numbers.
    """
    reported = (
        monthly.filter(pl.col("share").is_not_null())
        .select("month", "num", "den", "share", *_unit_and_measure())
        .join(_region_numbers(units), on="unit_key", how="inner")
        .cache()
    )
    is_value = pl.col("measure").is_in(value_series)
    month_totals = [pl.col("den").sum().alias("_den")]
    # values are added in ascending order (the same sum in every run); counts, and the denominators,
    # are whole numbers: exact in any order, so a plain sum gives the same bits without the sort
    national = pl.concat(
        [
            reported.filter(is_value)
            .group_by("measure", "month")
            .agg(order_free_sum(pl.col("num")).alias("_num"), *month_totals),
            reported.filter(~is_value)
            .group_by("measure", "month")
            .agg(pl.col("num").sum().alias("_num"), *month_totals),
        ]
    ).select("measure", "month", (pl.col("_num") / pl.col("_den")).alias("national_share"))
    regional = reported.group_by(
        _peer_key(pl.col("region"), pl.col("measure"), pl.col("month")).alias("_peer")
    ).agg(pl.col("share").median().alias("region_median_share"), pl.col("measure", "month").first())
    return regional.join(national, on=["measure", "month"], how="left").select(
        "_peer", "region_median_share", "national_share"
    )


def _with_peers(queries: pl.LazyFrame, peers: pl.LazyFrame) -> pl.LazyFrame:
    """``queries`` (with their unit's ``region``) with the regional median and national share of their
    latest reported month.

    The join is made on the key alone and its columns set beside ``queries``: a left join would copy
    every column of the wide ``queries`` to keep its order.
    """
    queries = queries.cache()
    key = _peer_key(pl.col("region"), pl.col("measure"), pl.col("last_month")).alias("_peer")
    looked_up = queries.select(key).join(peers, on="_peer", how="left", maintain_order="left")
    return pl.concat(
        [
            queries.drop("region"),
            looked_up.select(
                pl.col("region_median_share").alias("last_region_median"),
                pl.col("national_share").alias("last_national"),
            ),
        ],
        how="horizontal",
    )


_LOOKBACKS: dict[int, list[str]] = {0: _RUNNING, 3: ["num", "den"], _SLOPE_WINDOW: _RUNNING}
"""Months back from the latest known month → the running totals a statistic needs there."""


def _last_at_or_before(
    queries: pl.LazyFrame, right: pl.LazyFrame, months_back: int, columns: list[str]
) -> tuple[pl.LazyFrame, pl.Expr]:
    """``queries`` (sorted by series, then known month) with ``columns`` of their series' last row of
    ``right`` at or before ``known_month - months_back``, and the condition that such a row exists
    (the merge may land on an earlier series' row)."""
    joined = queries.with_columns(_lookup_key(pl.col("known_month") - months_back).alias("_key")).join_asof(
        right.select("_key", pl.col("series").alias("_found"), *columns),
        on="_key",
        strategy="backward",
        check_sortedness=False,  # both keys sort by (series, month): flagged sorted in _lookup_key
    )
    return joined.drop("_key"), pl.col("_found") == pl.col("series")


def _totals_at(queries: pl.LazyFrame, running: pl.LazyFrame, months_back: int) -> pl.LazyFrame:
    """``queries`` with the running totals ``_LOOKBACKS[months_back]`` at ``known_month - months_back``
    (``column@months_back``: the rounding totals 0 when the series has no row there yet, the whole
    ones as they are, see :func:`_running_totals`); at 0 months back also the latest reported month
    and its share (null when the series has none yet)."""
    columns = _LOOKBACKS[months_back]
    latest = [f"last_{column}" for column in _REPORT] if months_back == 0 else []
    joined, found = _last_at_or_before(queries, running, months_back, [*columns, *latest])
    totals = joined.with_columns(
        (
            pl.col(column).fill_null(0)  # no row at all before: nothing summed yet
            if column in _WHOLE
            else pl.when(found).then(pl.col(column)).otherwise(0.0)
        ).alias(f"{column}@{months_back}")
        for column in columns
    )
    if not latest:
        return totals.drop(*columns, "_found")
    reported = pl.col("last_series") == pl.col("series")  # else the latest report is an earlier series'
    return totals.with_columns(
        pl.when(reported).then(pl.col(column)).alias(column) for column in ("last_month", "last_share")
    ).drop(*columns, "_found", "last_series")


def _between(column: str, months: int) -> pl.Expr:
    """The total of ``column`` over the ``months`` months up to the latest known one (Float64)."""
    difference = pl.col(f"{column}@0") - pl.col(f"{column}@{months}")
    return difference.cast(pl.Float64) if column in _WHOLE else difference


def _share_over(months: int) -> pl.Expr:
    denominator = _between("den", months)
    return pl.when(denominator > 0).then(_between("num", months) / denominator)


def _least_squares_slope(months: int) -> pl.Expr:
    n, sx, sy = _between("obs", months), _between("sx", months), _between("sy", months)
    sxy, sxx = _between("sxy", months), _between("sxx", months)
    spread = n * sxx - sx * sx
    return pl.when((n >= _MIN_SLOPE_MONTHS) & (spread > 0)).then((n * sxy - sx * sy) / spread)


def _series_table(sources: Mapping[str, IndicatorSource]) -> list[tuple[str, str, IndicatorSource]]:
    """(source name, measure, source) per series; a series' number is its position here."""
    return [(name, key, source) for name, source in sources.items() for key in source.measures]


def _known_month_by_series(series: list[tuple[str, str, IndicatorSource]]) -> pl.Expr:
    """The latest known month at ``as_of`` under the publication lags of each row's series."""
    lag_months = {index: source.publication_lag_months for index, (_, _, source) in enumerate(series)}
    lag_days = {index: source.publication_lag_days for index, (_, _, source) in enumerate(series)}
    days = pl.col("measure").replace_strict(lag_days, return_dtype=pl.Int64)
    months = pl.col("measure").replace_strict(lag_months, return_dtype=pl.Int32)
    return month_index(pl.col("as_of") - pl.duration(days=days)) - 1 - months


def indicator_sources_features(
    indicators: Mapping[str, pl.LazyFrame],
    units_at: pl.LazyFrame,
    units: pl.LazyFrame,
    keys: pl.LazyFrame,
    *,
    sources: Mapping[str, IndicatorSource],
    stop_reporting_months: int,
) -> pl.LazyFrame:
    """Indicator features of every source per (unit_key, as_of) for the active units in ``units_at``.

    Every measure of every source (shares and values alike) is one series: its months are accumulated
    once and looked up at each planning date in the same three as-of joins, only for the units that
    ever reported it (the others get nulls, as a window without reports does).

    Parameters
    ----------
    indicators
        Each source's normalised table (unit_id, period, measure, numerator, denominator, value),
        by the source's configured name.
    units_at
        Active units per planning date (unit_key, as_of), sorted by both.
    units
        The units table (regions of every reporting unit, for the regional medians).
    keys
        unit_id → unit_key (:func:`features.context.unit_keys`).
    sources
        The sources' configurations by name (measures, thresholds, publication lag); their order is
        the order of the series.
    stop_reporting_months
        A unit without any report in this many latest published months of a source is flagged as not
        reporting that source.
    """
    series = _series_table(sources)
    offsets: dict[str, int] = {}
    for index, (name, _, _) in enumerate(series):
        offsets.setdefault(name, index)
    monthly = pl.concat(
        [
            monthly_indicator_values(keyed(with_value_column(indicators[name]), keys), source).with_columns(
                pl.col("measure") + offsets[name]
            )
            for name, source in sources.items()
        ],
        how="vertical",
    )
    if len(series) > _MAX_MEASURES:
        raise ValueError(
            f"{len(series)} indicator measures configured; at most {_MAX_MEASURES} are supported"
        )
    # Every (unit, date) row gets every series, in the order of the lookup key: measure by measure.
    queries = dates_per_series(
        units_at, "measure", len(series), pl.UInt32, per_unit=_region_numbers(units), series_first=True
    ).with_columns(_series_key(), known_month=_known_month_by_series(series))
    ordered = _in_series_order(monthly).cache()  # the only copy of the monthly rows
    running = _running_totals(ordered).cache()
    for months_back in _LOOKBACKS:
        queries = _totals_at(queries, running, months_back)
    value_series = [index for index, (_, key, source) in enumerate(series) if key in source.value_measures]
    queries = _with_peers(queries, peer_values(ordered, units, value_series))
    statistics = _series_statistics(queries)
    rows = pl.len() // len(series)  # each measure's block holds every (unit, date) once, in order
    wide = statistics.select(
        pl.col("unit_key", "as_of").head(rows),
        *[
            pl.col(statistic).slice(rows * index, rows).alias(indicator_name(name, key, statistic))
            for index, (name, key, _) in enumerate(series)
            for statistic in INDICATOR_STATISTICS
        ],
    )
    no_threshold = [
        indicator_name(name, key, "months_below_threshold_12m")
        for name, key, source in series
        if source.measures[key].threshold is None  # nothing to fall below
    ]
    return wide.with_columns(
        pl.lit(None, dtype=pl.Float64).alias(column) for column in no_threshold
    ).with_columns(
        _not_reporting(
            [indicator_name(name, key, "months_since_report") for key in source.measures],
            stop_reporting_months,
        ).alias(indicator_not_reporting_name(name))
        for name, source in sources.items()
    )


def _not_reporting(since_columns: list[str], stop_reporting_months: int) -> pl.Expr:
    recent = pl.min_horizontal(since_columns)
    return pl.when(recent.is_null() | (recent >= stop_reporting_months)).then(1.0).otherwise(0.0)


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
    """Indicator features of one source (:func:`indicator_sources_features` for that source alone)."""
    return indicator_sources_features(
        {name: indicator},
        units_at,
        units,
        keys,
        sources={name: source},
        stop_reporting_months=stop_reporting_months,
    )


def _series_statistics(queries: pl.LazyFrame) -> pl.LazyFrame:
    """The statistics of each series per (unit_key, as_of), named as in INDICATOR_STATISTICS."""
    since = pl.col("known_month") - pl.col("last_month")
    latest = pl.when(since < _LATEST_WITHIN_MONTHS).then(pl.col("last_share"))
    return (
        queries.with_columns(latest.alias("latest"), since.cast(pl.Float64).alias("months_since_report"))
        .select(
            "unit_key",
            "as_of",
            "measure",
            "latest",
            _share_over(3).alias("3m"),
            _share_over(12).alias("12m"),
            _least_squares_slope(_SLOPE_WINDOW).alias("slope_12m"),
            pl.when(_between("obs", 12) > 0).then(_between("below", 12)).alias("months_below_threshold_12m"),
            (pl.col("latest") - pl.col("last_region_median")).alias("gap_region_median"),
            (pl.col("latest") - pl.col("last_national")).alias("gap_national"),
            "months_since_report",
        )
        .with_columns(pl.col(INDICATOR_STATISTICS).cast(pl.Float64))
    )
