"""Attribute-source features: each configured unit attribute as of the planning date.

An attribute row ``(unit_id, valid_from, attribute, value)`` holds from ``valid_from`` until the
unit's next row for the same attribute; it is known at ``as_of`` iff ``valid_from + lag days <
as_of`` (the source's ``publication_lag_days``). Per attribute type:

- ``numeric``: the latest known value (``<source>_<attribute>``, Float64);
- ``categorical``: the latest known category code (``<source>_<attribute>``, String);
- ``change`` (a new owner, a new verksamhetschef): days since the latest known change
  (``..._days_since``, null when none) and the changes in the trailing
  :data:`~features.catalog.ATTRIBUTE_CHANGE_WINDOW_MONTHS` months (``..._count_24m``).
"""

from __future__ import annotations

import polars as pl

from engine.config import Attribute, AttributeSource
from features.asof import dates_per_series, months_before
from features.catalog import ATTRIBUTE_CHANGE_WINDOW_MONTHS, attribute_name
from features.context import keyed

ATTRIBUTE_SCHEMA: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "valid_from": pl.Date(),
    "attribute": pl.String(),
    "value": pl.String(),
}


def empty_attribute_table() -> pl.LazyFrame:
    """An attribute table without rows (an optional source that was not delivered)."""
    return pl.LazyFrame(schema=ATTRIBUTE_SCHEMA)


_DAYS_OFFSET = 1 << 25  # days: dates from about 90,000 years before 1970 on
_DAYS_PER_SERIES = 1 << 26
_MAX_ATTRIBUTES = 1 << 10


def _series_key(attribute: pl.Expr) -> pl.Expr:
    """One integer per unit and attribute (its position in the source's configuration)."""
    return pl.col("unit_key").cast(pl.Int64) * _MAX_ATTRIBUTES + attribute.cast(pl.Int64)


def _day_key(date: pl.Expr) -> pl.Expr:
    """The series and a date as one integer that sorts as (series, date): a backward as-of join on
    it is a single merge of two sorted columns, with no per-series hash partitioning."""
    days = date.cast(pl.Int32).cast(pl.Int64) + _DAYS_OFFSET  # days since 1970, made non-negative
    return pl.col("series") * _DAYS_PER_SERIES + days


def known_rows(
    attributes: pl.LazyFrame, keys: pl.LazyFrame, keys_of: list[str], lag_days: int
) -> pl.LazyFrame:
    """The rows of the attributes ``keys_of`` with their series (unit and attribute position),
    ``known_at = valid_from + lag`` (a row counts at planning dates strictly after it) and ``n``, the
    series' rows so far, sorted by series and ``known_at`` for the lookups."""
    position = pl.col("attribute").replace_strict(
        {key: index for index, key in enumerate(keys_of)}, return_dtype=pl.Int64
    )
    return (
        keyed(attributes.filter(pl.col("attribute").is_in(keys_of)), keys)
        .select(
            _series_key(position).alias("series"),
            "valid_from",
            (pl.col("valid_from") + pl.duration(days=lag_days)).alias("known_at"),
            "value",
        )
        .with_columns(_day_key(pl.col("known_at")).alias("_key"))
        .sort("_key")
        .with_columns(
            pl.col("_key").set_sorted(),
            pl.int_range(1, pl.len() + 1).over("series").cast(pl.Float64).alias("n"),
        )
    )


def _latest_before(
    queries: pl.LazyFrame, rows: pl.LazyFrame, at: pl.Expr, columns: list[str], suffix: str = ""
) -> pl.LazyFrame:
    """Each query row with ``columns`` (named ``<column><suffix>``) of its series' latest row whose
    ``known_at`` is strictly before ``at``; ``queries`` must be sorted by series and then ``at``."""
    found = pl.col("_found") == pl.col("series")
    return (
        queries.with_columns(_day_key(at).set_sorted().alias("_key"))
        .join_asof(
            rows.select(
                "_key", pl.col("series").alias("_found"), *[pl.col(c).alias(f"{c}{suffix}") for c in columns]
            ),
            on="_key",
            strategy="backward",
            allow_exact_matches=False,
            check_sortedness=False,  # both keys sort by (series, date), flagged just above
        )
        .with_columns(pl.when(found).then(pl.col(f"{c}{suffix}")).name.keep() for c in columns)
        .drop("_key", "_found")
    )


def _attribute_columns(name: str, key: str, attribute: Attribute, in_series: pl.Expr) -> list[pl.Expr]:
    """The feature columns of one attribute from its series' rows of the lookups."""
    if attribute.type == "change":
        window = ATTRIBUTE_CHANGE_WINDOW_MONTHS
        days = (pl.col("as_of") - pl.col("valid_from")).dt.total_days().cast(pl.Float64)
        count = pl.col("n").fill_null(0.0) - pl.col("n@start").fill_null(0.0)
        return [
            days.filter(in_series).alias(attribute_name(name, key, "days_since")),
            count.filter(in_series).alias(attribute_name(name, key, f"count_{window}m")),
        ]
    value = pl.col("value").cast(pl.Float64, strict=False) if attribute.type == "numeric" else pl.col("value")
    return [value.filter(in_series).alias(attribute_name(name, key))]


def attribute_features(
    attributes: pl.LazyFrame,
    units_at: pl.LazyFrame,
    keys: pl.LazyFrame,
    *,
    name: str,
    source: AttributeSource,
) -> pl.LazyFrame:
    """Attribute features of one source per (unit_key, as_of) for the active units in ``units_at``.

    Every attribute of the source is one series per unit, looked up at each planning date (and,
    for the change counts, at the window's start) in the same two as-of joins.

    Parameters
    ----------
    attributes
        The source's normalised table (unit_id, valid_from, attribute, value); numbers in canonical
        form (``0.25``), as the ingest stores them.
    units_at
        Active units per planning date (with unit_key), sorted by unit_key and as_of.
    keys
        unit_id → unit_key (:func:`features.context.unit_keys`).
    name
        The source's configured name (column prefix).
    source
        The source's configuration (attributes, types, publication lag).
    """
    configured = list(source.attributes)
    if not configured:
        return units_at.select("unit_key", "as_of")
    rows = known_rows(attributes, keys, configured, source.publication_lag_days).cache()
    queries = dates_per_series(units_at, "attribute", len(configured), pl.Int64).with_columns(
        _series_key(pl.col("attribute")).alias("series")
    )
    lookups = _latest_before(queries, rows, pl.col("as_of"), ["valid_from", "value", "n"])
    lookups = _latest_before(
        lookups, rows, months_before(pl.col("as_of"), ATTRIBUTE_CHANGE_WINDOW_MONTHS), ["n"], "@start"
    )
    in_series = [pl.col("attribute") == index for index in range(len(configured))]
    return lookups.select(
        pl.col("unit_key", "as_of").filter(in_series[0]),
        *[
            column
            for index, (key, attribute) in enumerate(source.attributes.items())
            for column in _attribute_columns(name, key, attribute, in_series[index])
        ],
    )
