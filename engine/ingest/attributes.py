"""Data-quality rules of attribute sources, and their snapshot form.

An attribute table holds ``value`` as a string because its type depends on the row's attribute: a
number for ``numeric`` attributes (decimal comma allowed, inside ``[value_min, value_max]``), a
configured code for ``categorical`` ones, anything or nothing for ``change`` attributes (a dated
change; features use only the date). The contract checks the columns; these rules check each value
against its attribute. The snapshot stores numbers in one canonical form (``0.25``) so the features
read them with a plain cast.
"""

from __future__ import annotations

import polars as pl

from engine.config import AttributeSource
from engine.ingest.failures import failures_frame
from engine.ingest.parsing import decimal_expr
from engine.ingest.readers import ROW_COLUMN


def _numeric(source: AttributeSource) -> list[str]:
    return [key for key, attribute in source.attributes.items() if attribute.type == "numeric"]


def attribute_number_expr() -> pl.Expr:
    """The ``value`` of a row as a number (null when it is not one)."""
    return decimal_expr(pl.col("value"))


def _range_expr(source: AttributeSource) -> pl.Expr:
    """Whether a parsed numeric value lies inside its attribute's range."""
    inside = pl.lit(True)
    for key in _numeric(source):
        attribute = source.attributes[key]
        in_range = pl.col("__number").is_between(attribute.value_min, attribute.value_max)
        inside = inside & ((pl.col("attribute") != key) | in_range.fill_null(True))
    return inside


def _category_expr(source: AttributeSource) -> pl.Expr:
    """Whether a categorical attribute's value is one of its configured codes."""
    fits = pl.lit(True)
    for key, attribute in source.attributes.items():
        if attribute.type == "categorical":
            fits = fits & ((pl.col("attribute") != key) | pl.col("value").is_in(sorted(attribute.categories)))
    return fits


def attribute_failures(frame: pl.LazyFrame, source: AttributeSource, table: str, file: str) -> pl.LazyFrame:
    """``invalid_attribute_value`` (a numeric value that is not a number, an unknown or empty
    category, an empty numeric value) and ``value_out_of_range`` rows of one attribute table."""
    numeric = pl.col("attribute").is_in(_numeric(source))
    checked = frame.with_columns(attribute_number_expr().alias("__number"))
    not_a_number = numeric & pl.col("__number").is_null()
    return pl.concat(
        [
            failures_frame(
                checked.filter(not_a_number | ~_category_expr(source).fill_null(False)),
                table=table,
                file=file,
                rule="invalid_attribute_value",
                column="value",
                value=pl.format("{}={}", pl.col("attribute"), pl.col("value").fill_null("")),
                row=pl.col(ROW_COLUMN),
                unit_id=pl.col("unit_id"),
            ),
            failures_frame(
                checked.filter(~_range_expr(source)),
                table=table,
                file=file,
                rule="value_out_of_range",
                column="value",
                value=pl.format("{}={}", pl.col("attribute"), pl.col("value")),
                row=pl.col(ROW_COLUMN),
                unit_id=pl.col("unit_id"),
            ),
        ]
    )


def with_canonical_numbers(frame: pl.LazyFrame, source: AttributeSource) -> pl.LazyFrame:
    """``frame`` with numeric attributes' values written as plain decimals (``0,25`` → ``0.25``)."""
    numeric = pl.col("attribute").is_in(_numeric(source))
    return frame.with_columns(
        pl.when(numeric)
        .then(attribute_number_expr().cast(pl.String))
        .otherwise(pl.col("value"))
        .alias("value")
    )
