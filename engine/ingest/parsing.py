"""From string columns to the contract's types, collecting every value that does not parse.

Swedish exports write decimals with a comma (``0,38``), group thousands with a space (``12 000``,
also a no-break space), dates as ``YYYY-MM-DD`` and months as ``YYYY-MM``. A month given as a full date
is read as that month (the contract stores the first day). A value that does not parse becomes null in
the typed frame and one ``unparseable_value`` failure naming the row, column and value.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from engine.contract import TableSpec
from engine.ingest.failures import empty_failures, failures_frame
from engine.ingest.readers import ROW_COLUMN, RawTable

_THOUSANDS_SEPARATORS = r"[\s\u00a0\u202f]"


@dataclass(frozen=True)
class ParsedTable:
    """A table in contract types (plus ``__row__``), or None when required columns are missing."""

    frame: pl.DataFrame | None
    failures: pl.LazyFrame


def required_columns(schema: pa.DataFrameSchema) -> list[str]:
    """Columns the contract requires in the file."""
    return [name for name, column in schema.columns.items() if column.required]


def integer_expr(raw: pl.Expr) -> pl.Expr:
    """A whole number from ``1234``, ``1 234`` or ``-5`` (null when it is not one)."""
    return raw.str.replace_all(_THOUSANDS_SEPARATORS, "").cast(pl.Int64, strict=False)


def decimal_expr(raw: pl.Expr) -> pl.Expr:
    """A decimal number from ``0,38``, ``0.38`` or ``1 234,5`` (null when it is not one)."""
    compact = raw.str.replace_all(_THOUSANDS_SEPARATORS, "")
    ambiguous = compact.str.contains(",") & compact.str.contains(r"\.")
    parsed = compact.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
    return pl.when(ambiguous).then(None).otherwise(parsed)


def date_expr(raw: pl.Expr) -> pl.Expr:
    """A date from ``YYYY-MM-DD`` (null when it is not a real date)."""
    return raw.str.to_date("%Y-%m-%d", strict=False)


def month_expr(raw: pl.Expr) -> pl.Expr:
    """The first day of the month from ``YYYY-MM`` or ``YYYY-MM-DD``."""
    as_date = pl.when(raw.str.len_chars() == 7).then(raw + "-01").otherwise(raw)
    return as_date.str.to_date("%Y-%m-%d", strict=False).dt.truncate("1mo")


_PARSERS = {
    "integer": (integer_expr, "a whole number, e.g. 1234 or 1 234"),
    "decimal": (decimal_expr, "a decimal number, e.g. 0,38"),
    "date": (date_expr, "a date YYYY-MM-DD"),
    "month": (month_expr, "a month YYYY-MM (or a date in the month)"),
}


def column_kinds(spec: TableSpec) -> dict[str, str]:
    """Which parser each typed column of ``spec`` needs."""
    kinds = dict.fromkeys(spec.integer_columns, "integer")
    kinds |= dict.fromkeys(spec.float_columns, "decimal")
    kinds |= dict.fromkeys(spec.date_columns, "date")
    kinds |= dict.fromkeys(spec.month_columns, "month")
    return kinds


def parsed_table(raw: RawTable, spec: TableSpec) -> ParsedTable:
    """``raw`` checked for missing/unknown columns and parsed to the contract's types.

    The typed frame is collected here (parsing is the one full pass over the raw strings).
    """
    present = [column for column in raw.frame.columns if column != ROW_COLUMN]
    contract_columns = list(spec.schema.columns)
    missing = [column for column in required_columns(spec.schema) if column not in present]
    unknown = [column for column in present if column not in contract_columns]
    # One frame per rule, not one per column: thousands of extra columns stay one small query.
    failures = [
        failures_frame(
            pl.LazyFrame({"column": columns}, schema={"column": pl.String}),
            table=spec.name,
            file=raw.file,
            rule=rule,
            column=pl.col("column"),
        )
        for rule, columns in (("missing_column", missing), ("unknown_column", unknown))
        if columns
    ]
    if missing:
        return ParsedTable(None, pl.concat(failures))
    kinds = column_kinds(spec)
    typed_present = [column for column in present if column in kinds]
    # One pass: parsed values next to the raw strings, so failures need no second parse.
    both = (
        raw.frame.lazy()
        .select(ROW_COLUMN, *[column for column in present if column in contract_columns])
        .with_columns(
            _PARSERS[kinds[column]][0](pl.col(column)).alias(_parsed(column)) for column in typed_present
        )
        .collect()
    )
    failures += [
        failures_frame(
            both.lazy().filter(pl.col(column).is_not_null() & pl.col(_parsed(column)).is_null()),
            table=spec.name,
            file=raw.file,
            rule="unparseable_value",
            column=column,
            value=pl.col(column),
            row=pl.col(ROW_COLUMN),
            hint=f"expected {_PARSERS[kinds[column]][1]}",
        )
        for column in typed_present
    ]
    typed = both.select(
        ROW_COLUMN,
        *(
            pl.col(_parsed(column)).alias(column)
            if column in typed_present
            else pl.col(column)
            if column in present
            else pl.lit(None, dtype=_dtype(kinds.get(column))).alias(column)
            for column in contract_columns
        ),
    )
    return ParsedTable(typed, pl.concat(failures) if failures else empty_failures())


def _parsed(column: str) -> str:
    return f"__parsed__{column}"


def _dtype(kind: str | None) -> pl.DataType:
    return {
        "integer": pl.Int64(),
        "decimal": pl.Float64(),
        "date": pl.Date(),
        "month": pl.Date(),
    }.get(kind or "", pl.String())
