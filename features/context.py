"""Context of a unit at a planning date: which units are active, their size, type, owner and age."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from features.asof import as_of_frame, month_index

OUTPUT_KEY = ["unit_id", "as_of"]
JOIN_KEY = ["unit_key", "as_of"]
"""Families join on an integer unit key (hashing strings dominated national-scale builds)."""


def keyed_units(units: pl.LazyFrame) -> pl.LazyFrame:
    """The units table with ``unit_key`` (UInt32, the unit's rank by unit_id; internal only).

    Ranked by unit_id, so that rows sorted by (unit_key, as_of) are sorted by the output key too:
    the feature table comes out in its order without a sort (a copy of the whole table).
    """
    return units.sort("unit_id").with_row_index("unit_key")


def unit_keys(units: pl.LazyFrame) -> pl.LazyFrame:
    """unit_id → unit_key (:func:`keyed_units`)."""
    return keyed_units(units).select("unit_key", "unit_id")


def keyed(frame: pl.LazyFrame, keys: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with its units' integer key; records of units missing from the units table drop out."""
    return frame.join(keys, on="unit_id", how="inner")


def active_units(
    units: pl.LazyFrame, providers: pl.LazyFrame, as_of_dates: Sequence[dt.date]
) -> pl.LazyFrame:
    """One row per unit active at each planning date, with its context and size.

    A unit is active at ``as_of`` when ``active_from <= as_of`` and ``active_to`` is empty or
    ``>= as_of``. Columns: unit_id, as_of, provider_id, region_code, municipality_code, unit_type,
    ownership, listed_patients (Float64), unit_age_months (whole months since ``active_from``).
    ``listed_patients`` is the listing recorded in the snapshot (the contract keeps no history of it).
    """
    owners = providers.select("provider_id", "ownership")
    # units (sorted by unit_key) × dates (sorted), in that order: rows come out in (unit_key, as_of)
    # order without sorting the whole grid
    return (
        keyed_units(units)
        .join(as_of_frame(as_of_dates), how="cross", maintain_order="left_right")
        .filter(
            (pl.col("active_from") <= pl.col("as_of"))
            & (pl.col("active_to").is_null() | (pl.col("active_to") >= pl.col("as_of")))
        )
        .join(owners, on="provider_id", how="left", maintain_order="left")
        .select(
            "unit_key",
            "unit_id",
            "as_of",
            "provider_id",
            "region_code",
            "municipality_code",
            "unit_type",
            "ownership",
            pl.col("listed_patients").cast(pl.Float64),
            unit_age_months(pl.col("active_from"), pl.col("as_of")),
        )
    )


def unit_age_months(active_from: pl.Expr, as_of: pl.Expr) -> pl.Expr:
    """Whole calendar months from ``active_from`` to ``as_of`` (as Float64)."""
    months = month_index(as_of) - month_index(active_from)
    partial = (as_of.dt.day() < active_from.dt.day()).cast(pl.Int32)
    return (months - partial).cast(pl.Float64).alias("unit_age_months")
