"""Sums and means of floats that come out the same, bit for bit, in every run and on any number of threads.

Polars adds up a group's floats in parallel parts and combines the parts in whatever order the threads
finish (since Polars 1.35; pola-rs/polars#25163), and floating-point addition is not associative: the
same ``group_by(...).agg(pl.col(x).sum())`` or ``pl.col(x).mean().over(...)`` on the same frame differs
in the last bits from one run to the next. Those bits reach the feature table, the model's bin
boundaries and the scoring file's contributions, so the same command gave different models and score
ids (docs/models.md, "Determinism").

These expressions add a group's values in ascending order, one list per group: the order of the
additions is fixed by the values alone, whatever the row order and the threads. A sum of floats that
are whole numbers (counts) is exact in any order below 2**53 and needs none of this.
"""

from __future__ import annotations

import polars as pl


def order_free_sum(values: pl.Expr) -> pl.Expr:
    """Σ ``values`` (nulls ignored, 0 when there are none), added in ascending order.

    Works wherever ``.sum()`` does: in ``group_by(...).agg``, in ``.over(...)`` and on a whole frame.

    Examples
    --------
    >>> frame = pl.DataFrame({"g": [1, 1, 2], "x": [0.1, 0.2, None]})
    >>> frame.group_by("g").agg(order_free_sum(pl.col("x"))).sort("g")["x"].to_list()
    [0.30000000000000004, 0.0]
    """
    return values.sort().implode().list.sum()


def order_free_mean(values: pl.Expr) -> pl.Expr:
    """Mean of the non-null ``values`` (null when there are none), summed in ascending order.

    Examples
    --------
    >>> frame = pl.DataFrame({"g": [1, 1, 2], "x": [0.1, 0.2, None]})
    >>> frame.group_by("g").agg(order_free_mean(pl.col("x"))).sort("g")["x"].to_list()
    [0.15000000000000002, None]
    """
    return values.sort().implode().list.mean()
