"""Swedish personal identity numbers in free text: find them, mask them, redact them.

A personnummer is ``YYMMDD-NNNC`` (or ``YYYYMMDDNNNC``; separator ``-``, ``+`` for people over 100,
or none) whose ten-digit form ends in a Luhn check digit. A samordningsnummer adds 60 to the day.
Organisationsnummer share the ten-digit Luhn form but have month digits ≥ 20, so the plausible-date
test keeps them out. The numbers themselves never leave this module: matches are reported as a row,
a column and a kind (``personnummer``/``samordningsnummer``), and every other output masks them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from engine.identifiers import luhn_valid_expr

# Maximal runs of digits, optionally joined by one separator: candidates are cut from these, so a
# longer number (an account, a phone number with area code) is never split into a false match.
_TOKEN_PATTERN = r"\d+(?:[-+]\d+)?"
_CANDIDATE_PATTERN = r"^(?:\d{6}|\d{8})[-+]?\d{4}$"
_CENTURIES = ("18", "19", "20")

PERSONNUMMER_MASK = "<personnummer>"
REDACTION_TEXT = "[personnummer borttaget]"


def personal_number_kind_expr(token: pl.Expr) -> pl.Expr:
    """``personnummer``, ``samordningsnummer`` or null for a candidate token (string expression)."""
    digits = token.str.replace_all(r"[-+]", "")
    twelve = digits.str.len_chars() == 12
    ten = pl.when(twelve).then(digits.str.slice(2, 10)).otherwise(digits)
    month = ten.str.slice(2, 2).cast(pl.Int32, strict=False)
    day = ten.str.slice(4, 2).cast(pl.Int32, strict=False)
    century_ok = ~twelve | digits.str.slice(0, 2).is_in(_CENTURIES)
    month_ok = month.is_between(1, 12)
    plausible = (
        token.str.contains(_CANDIDATE_PATTERN) & century_ok & month_ok & luhn_valid_expr(ten).fill_null(False)
    )
    return (
        pl.when(plausible & day.is_between(1, 31))
        .then(pl.lit("personnummer"))
        .when(plausible & day.is_between(61, 91))
        .then(pl.lit("samordningsnummer"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def personal_number_matches(
    frame: pl.LazyFrame, columns: Sequence[str], row_column: str = "__row__"
) -> pl.LazyFrame:
    """One row per personal identity number found in ``columns`` of ``frame``.

    Returns
    -------
    pl.LazyFrame
        ``row`` (from ``row_column``), ``column``, ``kind`` and ``token`` (the number as written —
        only for :func:`redacted`; never put it in a report).
    """
    parts = [
        frame.select(
            pl.col(row_column).alias("row"),
            pl.lit(column).alias("column"),
            pl.col(column).cast(pl.String).str.extract_all(_TOKEN_PATTERN).alias("token"),
        )
        .filter(pl.col("token").list.len() > 0)
        .explode("token")
        .with_columns(kind=personal_number_kind_expr(pl.col("token")))
        .filter(pl.col("kind").is_not_null())
        for column in columns
    ]
    if not parts:
        return pl.LazyFrame(
            schema={"row": pl.Int64, "column": pl.String, "token": pl.String, "kind": pl.String}
        )
    return pl.concat(parts).select("row", "column", "kind", "token")


def redacted(frame: pl.LazyFrame, columns: Sequence[str], tokens: Iterable[str]) -> pl.LazyFrame:
    """``frame`` with every found number (``tokens``) in ``columns`` replaced by the redaction text."""
    mapping = dict.fromkeys(sorted(set(tokens)), REDACTION_TEXT)
    if not mapping or not columns:
        return frame
    return frame.with_columns(pl.col(column).str.replace_many(mapping) for column in columns)


def masked_expr(text: pl.Expr) -> pl.Expr:
    """``text`` with every plausible personal identity number replaced by ``<personnummer>``.

    Used on anything that is echoed (failure values, messages). Only values that hold a plausible
    number are touched (and in them every number of that shape), so organisationsnummer and HSA-ids
    elsewhere stay readable.
    """
    tokens = text.str.extract_all(_TOKEN_PATTERN)
    personal = tokens.list.eval(pl.element().filter(personal_number_kind_expr(pl.element()).is_not_null()))
    return (
        pl.when(personal.list.len() > 0)
        .then(text.str.replace_all(r"(?:\d{8}|\d{6})[-+]?\d{4}", PERSONNUMMER_MASK))
        .otherwise(text)
    )


def masked(text: str) -> str:
    """Python-side :func:`masked_expr` for single messages (exceptions, log lines)."""
    return pl.select(masked_expr(pl.lit(text, dtype=pl.String))).item() or ""
