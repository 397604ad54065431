"""Planning dates (as-of dates) and the calendar arithmetic every feature family shares.

Point-in-time rules live here so that every family applies them the same way:

- an event counts at ``as_of`` iff ``received_date < as_of`` (strictly before the planning date);
- a trailing window of ``w`` months at ``as_of`` is ``[as_of - w months, as_of)`` in calendar months,
  exact for any date (not only month starts);
- an indicator month ``M`` is known at ``as_of`` iff ``first_day(M) + 1 month + lag months + lag days
  <= as_of``, i.e. ``month_index(M) <= month_index(as_of - lag days) - 1 - lag months`` (the latest
  known month, see :func:`latest_known_month_index`);
- an attribute value counts at ``as_of`` iff ``valid_from + lag days < as_of``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import polars as pl

EVENT_WINDOWS_MONTHS: tuple[int, ...] = (3, 6, 12, 24)
"""Trailing windows for event counts; 12 is the window of rates, shrinkage and trend."""

GridStep = Literal["month", "quarter", "year"]
_STEP_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}


def month_index(date: pl.Expr) -> pl.Expr:
    """Months since year 0 (``year * 12 + month - 1``), the integer key of a calendar month."""
    return (date.dt.year().cast(pl.Int32) * 12 + date.dt.month().cast(pl.Int32) - 1).cast(pl.Int32)


def months_before(date: pl.Expr, months: int) -> pl.Expr:
    """``date`` moved back ``months`` calendar months (day clamped to the month's length)."""
    return date if months == 0 else date.dt.offset_by(f"-{months}mo")


def latest_known_month_index(
    as_of: pl.Expr, publication_lag_months: int, publication_lag_days: int = 0
) -> pl.Expr:
    """Month index of the latest indicator month published at ``as_of`` under the given lags.

    Month ``M`` is published on ``first_day(M + 1 + lag_months) + lag_days``; it is known when that
    day is on or before ``as_of``, i.e. when ``M + 1 + lag_months <= month_index(as_of - lag_days)``.
    """
    shifted = as_of - pl.duration(days=publication_lag_days) if publication_lag_days else as_of
    return month_index(shifted) - 1 - publication_lag_months


def normalised_as_of_dates(as_of_dates: Sequence[dt.date]) -> list[dt.date]:
    """Sorted distinct planning dates; raises when none are given."""
    dates = sorted(set(as_of_dates))
    if not dates:
        raise ValueError("at least one as_of date is required, got none")
    for value in dates:
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise TypeError(f"as_of dates must be datetime.date, got {value!r} ({type(value).__name__})")
    return dates


def as_of_frame(as_of_dates: Sequence[dt.date]) -> pl.LazyFrame:
    """One row per distinct planning date, column ``as_of`` (pl.Date), sorted."""
    return pl.LazyFrame({"as_of": normalised_as_of_dates(as_of_dates)}, schema={"as_of": pl.Date})


def as_of_grid(start: dt.date, end: dt.date, every: GridStep) -> list[dt.date]:
    """First days of each month/quarter/year period from ``start`` to ``end`` inclusive.

    Quarters start in January, April, July and October; years on 1 January. A ``start`` inside a
    period begins at the next period start, so every date of the grid lies within ``[start, end]``.
    """
    if every not in _STEP_MONTHS:
        raise ValueError(f"unknown grid step {every!r}; allowed: {sorted(_STEP_MONTHS)}")
    if end < start:
        raise ValueError(f"grid end {end} lies before its start {start}")
    step = _STEP_MONTHS[every]
    index = start.year * 12 + start.month - 1
    index += (-index) % step
    if dt.date(index // 12, index % 12 + 1, 1) < start:
        index += step
    dates: list[dt.date] = []
    while (current := dt.date(index // 12, index % 12 + 1, 1)) <= end:
        dates.append(current)
        index += step
    return dates


def dates_per_series(
    units_at: pl.LazyFrame,
    series: str,
    n_series: int,
    dtype: pl.DataType | type[pl.DataType],
    *,
    per_unit: pl.LazyFrame | None = None,
    series_first: bool = False,
) -> pl.LazyFrame:
    """``unit_key``, ``as_of`` and ``series`` (0 .. ``n_series`` − 1): every (unit, date) of ``units_at``
    once per series, ordered by unit, series and date (by series, unit and date with ``series_first``).

    That is the order of a (unit, series, date) lookup key: as-of joins on it keep the rows in order, and
    series i of the rows in ``units_at`` order is the subsequence of series i. With ``series_first``
    the lookup key sorts as (series, unit, date) and series i is the i-th of ``n_series`` equal blocks,
    each in ``units_at`` order (a slice, no filter). ``per_unit`` (a frame
    with one row per ``unit_key``) adds its columns to every row of its unit (null for a unit it lacks),
    joined once per unit rather than once per row.
    """
    grouped = units_at.select("unit_key", "as_of").group_by("unit_key", maintain_order=True).agg("as_of")
    if per_unit is not None:
        grouped = grouped.join(per_unit, on="unit_key", how="left", maintain_order="left")
    return grouped.join(
        pl.LazyFrame({series: range(n_series)}, schema={series: dtype}),
        how="cross",
        maintain_order="right_left" if series_first else "left_right",
    ).explode("as_of")
