"""Event-source features (klagomål, lex Maria, any configured event source).

Counts are exact for any planning date: per unit, the events are accumulated over received dates
once; the count in ``[as_of - w months, as_of)`` is then the cumulative count strictly before
``as_of`` minus the cumulative count strictly before ``as_of - w months``, each looked up with a
backward as-of join (``allow_exact_matches=False`` implements ``received_date < boundary``).
The planning-date grid therefore never joins against the raw events.
"""

from __future__ import annotations

import polars as pl

from engine.config import EventSource
from engine.order_free import order_free_sum
from features.asof import EVENT_WINDOWS_MONTHS, months_before
from features.catalog import (
    RATE_WINDOW_MONTHS,
    SEVERITY_WINDOWS_MONTHS,
    SHRINKAGE_MIN_CELL_UNITS,
    event_count_name,
    event_days_since_name,
    event_has_any_name,
    event_rate_name,
    event_severity_name,
    event_shrunk_rate_name,
    event_trend_name,
    provider_other_rate_name,
)
from features.context import keyed
from features.shrinkage import prior_columns, shrinkage_priors, shrunk_rate

PER_PATIENTS = 10_000.0
_ALL = "all"
_SEVERITY = "severity"
_BOUNDARIES = (0, *EVENT_WINDOWS_MONTHS)
_DAYS_OFFSET = 1 << 25  # days: dates from about 90,000 years before 1970 on
_DAYS_PER_UNIT = 1 << 26


def cumulative_event_counts(events: pl.LazyFrame, source: EventSource, areas: list[str]) -> pl.LazyFrame:
    """Per unit and received date, cumulative event counts overall, per risk area and by severity.

    Columns: unit_key, received_date, ``all`` (events), one column per risk area, ``severity``
    (sum of severity weights; 0 when the source has no severities), all running totals.
    A source with ``publication_lag_days`` > 0 is dated by when it became usable
    (``received_date + lag``), so an event counts at ``as_of`` iff ``received_date + lag < as_of``.
    """
    area = pl.col("category").replace_strict(source.categories, default=None, return_dtype=pl.String)
    if source.severities:
        weight = pl.col("severity").replace_strict(source.severities, default=0.0, return_dtype=pl.Float64)
    else:
        weight = pl.lit(0.0)
    counted = [_ALL, *areas, _SEVERITY]
    return (
        events.select(
            "unit_key",
            (pl.col("received_date") + pl.duration(days=source.publication_lag_days)).alias("received_date"),
            area.alias("_area"),
            weight.alias("_weight"),
        )
        .group_by("unit_key", "received_date")
        .agg(
            pl.len().cast(pl.Float64).alias(_ALL),
            *[(pl.col("_area") == a).sum().cast(pl.Float64).alias(a) for a in areas],
            # configured weights need not be whole; a source without severities weighs nothing
            order_free_sum(pl.col("_weight")).alias(_SEVERITY)
            if source.severities
            else pl.lit(0.0).alias(_SEVERITY),
        )
        .sort("unit_key", "received_date")
        .with_columns(pl.col(counted).cum_sum().over("unit_key"))
    )


def _day_key(date: pl.Expr) -> pl.Expr:
    """``unit_key`` and a date as one integer that sorts as (unit_key, date): a backward as-of join on
    it is a single merge of two sorted columns, with no per-unit hash partitioning."""
    days = date.cast(pl.Int32).cast(pl.Int64) + _DAYS_OFFSET  # days since 1970, made non-negative
    return pl.col("unit_key").cast(pl.Int64) * _DAYS_PER_UNIT + days


def _cumulative_before(
    queries: pl.LazyFrame, cumulative: pl.LazyFrame, months: int, columns: list[str]
) -> pl.LazyFrame:
    """Attach the running totals strictly before ``as_of - months`` as ``<column>@<months>``.

    ``queries`` must be sorted by unit_key and as_of (so by the boundary within each unit)."""
    right = cumulative.select(
        _day_key(pl.col("received_date")).set_sorted().alias("_key"),
        pl.col("unit_key").alias("_found"),
        *columns,
        *([pl.col("received_date").alias("_last_received")] if months == 0 else []),
    )
    found = pl.col("_found") == pl.col("unit_key")
    joined = queries.with_columns(
        _day_key(months_before(pl.col("as_of"), months)).set_sorted().alias("_key")
    ).join_asof(
        right,
        on="_key",
        strategy="backward",
        allow_exact_matches=False,  # received strictly before the boundary
        check_sortedness=False,  # both keys sort by (unit_key, date), flagged just above
    )
    return joined.with_columns(
        *[pl.when(found).then(pl.col(c)).otherwise(0.0).alias(f"{c}@{months}") for c in columns],
        *([pl.when(found).then(pl.col("_last_received")).alias("_last_received")] if months == 0 else []),
    ).drop("_key", "_found", *columns)


def _window(column: str, months: int, *, until: int = 0) -> pl.Expr:
    """Events in ``[as_of - months, as_of - until)`` from the attached running totals."""
    return pl.col(f"{column}@{until}") - pl.col(f"{column}@{months}")


def _with_priors(
    frame: pl.LazyFrame, priors: pl.LazyFrame, cell: list[str], rates: list[str]
) -> pl.LazyFrame:
    """``frame`` with the prior columns of ``rates`` of each row's cell (in ``frame``'s order)."""
    wanted = [column for rate in rates for column in prior_columns(rate)]
    return frame.join(
        priors.select(*cell, *wanted), on=cell, how="left", nulls_equal=True, maintain_order="left"
    )


def mean_of_other_units(column: str, group: list[str]) -> pl.Expr:
    """Mean of ``column`` over the OTHER rows of the same ``group`` (null when none has a value)."""
    value = pl.col(column)
    others = value.count().over(group) - value.is_not_null().cast(pl.UInt32)
    total = order_free_sum(value).over(group) - value.fill_null(0.0)
    return pl.when(others > 0).then(total / others)


def event_features(
    events: pl.LazyFrame,
    units_at: pl.LazyFrame,
    keys: pl.LazyFrame,
    *,
    name: str,
    source: EventSource,
    areas: list[str],
    rows: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Event features of one source per (unit_key, as_of) for the active units in ``units_at``.

    The shrunk rates' priors (every unit of a region × unit-type cell at the date) and the provider
    rollup (the provider's other units) need every active unit; the other columns are computed only
    for ``rows``.

    Parameters
    ----------
    events
        The source's normalised table (unit_id, received_date, category, severity, ...).
    units_at
        Every active unit per planning date with unit_key, provider_id, listed_patients, region_code
        and unit_type, sorted by unit_key and as_of.
    keys
        unit_id → unit_key (:func:`features.context.unit_keys`).
    name
        The source's configured name (column prefix).
    source
        The source's configuration (category → risk area mapping, severity weights).
    areas
        Risk areas the source's categories map to.
    rows
        The (unit_key, as_of) rows to return, a subset of ``units_at`` in its order; all of them
        when ``None``.

    Returns
    -------
    pl.LazyFrame
        unit_key, as_of and the source's feature columns (see :func:`features.catalog.feature_catalog`),
        including the provider's other units' mean shrunk rate.
    """
    columns = [_ALL, *areas, _SEVERITY]
    cumulative = cumulative_event_counts(keyed(events, keys), source, areas).cache()
    frame = units_at.select("unit_key", "as_of", "provider_id", "listed_patients", "region_code", "unit_type")
    for months in (0, RATE_WINDOW_MONTHS):
        frame = _cumulative_before(frame, cumulative, months, columns)
    exposure = pl.col("listed_patients") / PER_PATIENTS
    counts_12m = {
        event_shrunk_rate_name(name, area): _window(area or _ALL, RATE_WINDOW_MONTHS)
        for area in [None, *areas]
    }
    # The priors need every unit's 12-month counts, the provider rollup every unit's overall shrunk
    # rate; the rates of the risk areas are shrunk only for the rows returned.
    cell = ["as_of", "region_code", "unit_type"]
    priors = shrinkage_priors(
        frame,
        counts_12m,
        exposure,
        cell=cell,
        population=["as_of"],
        min_cell_units=SHRINKAGE_MIN_CELL_UNITS,
    ).cache()
    overall = event_shrunk_rate_name(name, None)
    frame = (
        _with_priors(frame, priors, cell, [overall])
        .with_columns(shrunk_rate(overall, counts_12m[overall], exposure))
        .with_columns(
            mean_of_other_units(overall, ["provider_id", "as_of"]).alias(provider_other_rate_name(name))
        )
    )
    if rows is not None:
        frame = frame.join(
            rows.select("unit_key", "as_of"), on=["unit_key", "as_of"], how="semi", maintain_order="left"
        )
    in_areas = [event_shrunk_rate_name(name, area) for area in areas]
    frame = _with_priors(frame, priors, cell, in_areas).with_columns(
        shrunk_rate(rate, counts_12m[rate], exposure) for rate in in_areas
    )
    for months in _BOUNDARIES:
        if months not in (0, RATE_WINDOW_MONTHS):
            frame = _cumulative_before(frame, cumulative, months, columns)
    outputs: list[pl.Expr] = []
    for area in [None, *areas]:
        column = area or _ALL
        for months in EVENT_WINDOWS_MONTHS:
            outputs.append(_window(column, months).alias(event_count_name(name, area, months)))
        count_12m = _window(column, RATE_WINDOW_MONTHS)
        previous_12m = _window(column, 2 * RATE_WINDOW_MONTHS, until=RATE_WINDOW_MONTHS)
        outputs.append(pl.when(exposure > 0).then(count_12m / exposure).alias(event_rate_name(name, area)))
        outputs.append(((count_12m + 1.0) / (previous_12m + 1.0)).log().alias(event_trend_name(name, area)))
        outputs.append(pl.col(event_shrunk_rate_name(name, area)))
    outputs.append(
        (pl.col("as_of") - pl.col("_last_received"))
        .dt.total_days()
        .cast(pl.Float64)
        .alias(event_days_since_name(name))
    )
    outputs.append((pl.col(f"{_ALL}@0") > 0).cast(pl.Float64).alias(event_has_any_name(name)))
    if source.severities:
        for months in SEVERITY_WINDOWS_MONTHS:
            outputs.append(_window(_SEVERITY, months).alias(event_severity_name(name, months)))
    return frame.select("unit_key", "as_of", *outputs, pl.col(provider_other_rate_name(name)))
