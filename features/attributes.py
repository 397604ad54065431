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
from features.asof import months_before
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


def known_rows(attributes: pl.LazyFrame, keys: pl.LazyFrame, key: str, lag_days: int) -> pl.LazyFrame:
    """One attribute's rows with unit_key and ``known_at = valid_from + lag`` (a row counts at
    planning dates strictly after it), sorted for as-of joins."""
    return (
        keyed(attributes.filter(pl.col("attribute") == key), keys)
        .select(
            "unit_key",
            "valid_from",
            (pl.col("valid_from") + pl.duration(days=lag_days)).alias("known_at"),
            "value",
        )
        .sort("unit_key", "known_at")
    )


def _latest_before(queries: pl.LazyFrame, rows: pl.LazyFrame, at: pl.Expr) -> pl.LazyFrame:
    """Each query row with the latest attribute row whose ``known_at`` is strictly before ``at``."""
    return (
        queries.with_columns(at.alias("_boundary"))
        .sort("unit_key", "_boundary")
        .join_asof(
            rows,
            left_on="_boundary",
            right_on="known_at",
            by="unit_key",
            strategy="backward",
            allow_exact_matches=False,
            coalesce=False,
            check_sortedness=False,
        )
        .drop("_boundary", "unit_key_right", strict=False)
    )


def _value_features(
    queries: pl.LazyFrame, rows: pl.LazyFrame, name: str, key: str, attribute: Attribute
) -> pl.LazyFrame:
    latest = _latest_before(queries, rows, pl.col("as_of"))
    value = pl.col("value").cast(pl.Float64, strict=False) if attribute.type == "numeric" else pl.col("value")
    return latest.select("unit_key", "as_of", value.alias(attribute_name(name, key)))


def _change_features(queries: pl.LazyFrame, rows: pl.LazyFrame, name: str, key: str) -> pl.LazyFrame:
    window = ATTRIBUTE_CHANGE_WINDOW_MONTHS
    running = rows.with_columns(pl.int_range(1, pl.len() + 1).over("unit_key").cast(pl.Float64).alias("n"))
    now = _latest_before(queries, running, pl.col("as_of")).select(
        "unit_key",
        "as_of",
        (pl.col("as_of") - pl.col("valid_from")).dt.total_days().cast(pl.Float64).alias("days"),
        pl.col("n").fill_null(0.0).alias("n_now"),
    )
    start = _latest_before(queries, running, months_before(pl.col("as_of"), window)).select(
        "unit_key", "as_of", pl.col("n").fill_null(0.0).alias("n_start")
    )
    return now.join(start, on=["unit_key", "as_of"], how="left").select(
        "unit_key",
        "as_of",
        pl.col("days").alias(attribute_name(name, key, "days_since")),
        (pl.col("n_now") - pl.col("n_start")).alias(attribute_name(name, key, f"count_{window}m")),
    )


def attribute_features(
    attributes: pl.LazyFrame,
    units_at: pl.LazyFrame,
    keys: pl.LazyFrame,
    *,
    name: str,
    source: AttributeSource,
) -> pl.LazyFrame:
    """Attribute features of one source per (unit_key, as_of) for the active units in ``units_at``.

    Parameters
    ----------
    attributes
        The source's normalised table (unit_id, valid_from, attribute, value); numbers in canonical
        form (``0.25``), as the ingest stores them.
    units_at
        Active units per planning date (with unit_key).
    keys
        unit_id → unit_key (:func:`features.context.unit_keys`).
    name
        The source's configured name (column prefix).
    source
        The source's configuration (attributes, types, publication lag).
    """
    queries = units_at.select("unit_key", "as_of")
    frame = queries
    for key, attribute in source.attributes.items():
        rows = known_rows(attributes, keys, key, source.publication_lag_days)
        part = (
            _change_features(queries, rows, name, key)
            if attribute.type == "change"
            else _value_features(queries, rows, name, key, attribute)
        )
        frame = frame.join(part, on=["unit_key", "as_of"], how="left")
    return frame
