"""Rules that need more than one table: references, dates against the reference date and the
unit's active period.

Each function takes typed frames (with ``__row__``) and returns failures; a table that could not be
parsed is simply absent, and the rules that need it are skipped (its own failures already explain why).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from engine.contract import TableSpec
from engine.ingest.failures import empty_failures, failures_frame
from engine.ingest.readers import ROW_COLUMN

Frames = dict[str, pl.LazyFrame]

# The date each table is tied to the unit's active period by (the date the thing happened at the unit).
_ACTIVITY_DATE = {
    "event": "event_date",
    "indicator": "period",
    "inspections": "start_date",
    "visits": "visit_date",
    "attribute": "valid_from",
}


def unknown_provider_failures(frames: Frames, files: dict[str, str]) -> pl.LazyFrame:
    """Units whose provider_id is not in providers."""
    if "units" not in frames or "providers" not in frames:
        return empty_failures()
    orphans = frames["units"].join(frames["providers"].select("provider_id"), on="provider_id", how="anti")
    return failures_frame(
        orphans.filter(pl.col("provider_id").is_not_null()),
        table="units",
        file=files["units"],
        rule="unknown_provider",
        column="provider_id",
        value=pl.col("provider_id"),
        row=pl.col(ROW_COLUMN),
        unit_id=pl.col("unit_id"),
    )


def unknown_unit_failures(frames: Frames, specs: dict[str, TableSpec], files: dict[str, str]) -> pl.LazyFrame:
    """Rows of every unit-level table whose unit_id is not in units."""
    if "units" not in frames:
        return empty_failures()
    units = frames["units"].select("unit_id")
    parts = [
        failures_frame(
            frame.filter(pl.col("unit_id").is_not_null()).join(units, on="unit_id", how="anti"),
            table=name,
            file=files[name],
            rule="unknown_unit",
            column="unit_id",
            value=pl.col("unit_id"),
            row=pl.col(ROW_COLUMN),
            unit_id=pl.col("unit_id"),
        )
        for name, frame in frames.items()
        if name not in ("units", "providers") and "unit_id" in specs[name].schema.columns
    ]
    return pl.concat(parts) if parts else empty_failures()


def future_date_failures(
    frames: Frames, specs: dict[str, TableSpec], files: dict[str, str], reference_date: dt.date
) -> pl.LazyFrame:
    """Dates after the reference date (months after its month) in event, indicator, inspection and
    visit tables. Units' dates are exempt: a planned closing date is legitimately in the future."""
    reference_month = reference_date.replace(day=1)
    parts = []
    for name, frame in frames.items():
        spec = specs[name]
        if spec.kind in ("units", "providers"):
            continue
        limits = [(column, reference_date) for column in spec.date_columns]
        limits += [(column, reference_month) for column in spec.month_columns]
        parts += [
            failures_frame(
                frame.filter(pl.col(column) > limit),
                table=name,
                file=files[name],
                rule="future_date",
                column=column,
                value=pl.col(column).dt.strftime("%Y-%m-%d"),
                row=pl.col(ROW_COLUMN),
                unit_id=pl.col("unit_id") if "unit_id" in spec.schema.columns else None,
                hint=f"date is after the reference date {reference_date.isoformat()}",
            )
            for column, limit in limits
        ]
    return pl.concat(parts) if parts else empty_failures()


def outside_active_period_failures(
    frames: Frames, specs: dict[str, TableSpec], files: dict[str, str]
) -> pl.LazyFrame:
    """Events, indicator months, inspections, visits and attribute values dated outside their unit's
    active period.

    An indicator month counts as inside when any day of it is; received dates are not checked (a
    complaint about a closed unit can still arrive).
    """
    if "units" not in frames:
        return empty_failures()
    periods = frames["units"].select("unit_id", "active_from", "active_to")
    parts = []
    for name, frame in frames.items():
        spec = specs[name]
        column = _ACTIVITY_DATE.get(spec.kind)
        if column is None:
            continue
        start = pl.col(column)
        end = start.dt.month_end() if spec.kind == "indicator" else start
        outside = (end < pl.col("active_from")) | (start > pl.col("active_to")).fill_null(False)
        parts.append(
            failures_frame(
                frame.join(periods, on="unit_id", how="inner").filter(outside),
                table=name,
                file=files[name],
                rule="outside_active_period",
                column=column,
                value=pl.format(
                    "{} (active {} – {})",
                    start.dt.strftime("%Y-%m-%d"),
                    pl.col("active_from").dt.strftime("%Y-%m-%d"),
                    pl.col("active_to").dt.strftime("%Y-%m-%d").fill_null(""),
                ),
                row=pl.col(ROW_COLUMN),
                unit_id=pl.col("unit_id"),
            )
        )
    return pl.concat(parts) if parts else empty_failures()
