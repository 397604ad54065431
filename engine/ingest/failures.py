"""Ingest failures: one frame shape for every rule, and the rule catalogue (id, severity, hint).

Every check in the ingest returns a LazyFrame of :data:`FAILURE_SCHEMA`. ``row`` follows the
spreadsheet convention (header = row 1, first data record = row 2; Parquet records are numbered the
same way); it is null for failures about a whole file, column or unit. ``value`` is what was found,
already masked for personal data. Severity is fixed per rule here and explained in
``docs/data-quality.md``: an *error* rejects the ingest, a *warning* is recorded in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from engine.personal_data import masked_expr

Severity = Literal["error", "warning"]

FAILURE_SCHEMA: dict[str, pl.DataType] = {
    "table": pl.String(),
    "file": pl.String(),
    "row": pl.Int64(),
    "column": pl.String(),
    "rule": pl.String(),
    "severity": pl.String(),
    "unit_id": pl.String(),
    "value": pl.String(),
    "hint": pl.String(),
}
FAILURE_COLUMNS = tuple(FAILURE_SCHEMA)


@dataclass(frozen=True)
class Rule:
    """A rule of the ingest: its fixed id, severity and the hint shown to the person fixing the file."""

    id: str
    severity: Severity
    hint: str


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        # Files and columns
        Rule("missing_file", "error", "required table is missing: add <table>.csv or <table>.parquet"),
        Rule("unreadable_file", "error", "the file cannot be read as CSV/Parquet"),
        Rule("mixed_encoding", "error", "the file mixes UTF-8 and Windows-1252 lines"),
        Rule("unsupported_encoding", "error", "the file is UTF-16 or UTF-32; save it as UTF-8"),
        Rule("compressed_file", "error", "the file is compressed (gzip, zip, zstd, ...); unpack it first"),
        Rule("truncated_file", "error", "the file ends mid-row (no final line break or a short last row)"),
        Rule(
            "unsupported_column_type",
            "error",
            "a Parquet column is a list, struct, time of day, duration or binary; export it as text",
        ),
        Rule("duplicate_column", "error", "two column names are the same once trimmed and lower-cased"),
        # Limits ([ingest] in the configuration)
        Rule("file_too_large", "error", "the file is larger than [ingest] max_file_mib"),
        Rule("too_many_rows", "error", "the table has more rows than [ingest] max_rows"),
        Rule("too_many_columns", "error", "the file has more columns than [ingest] max_columns"),
        Rule("table_too_large", "error", "the table read as text is larger than [ingest] max_table_mib"),
        Rule(
            "link_outside_source",
            "error",
            "the file is a symbolic link to a place outside the source directory; copy the file in instead",
        ),
        Rule("empty_table", "warning", "the file has a header but no rows"),
        Rule("control_character", "error", "value holds a control character (NUL, escape, ...)"),
        Rule("missing_column", "error", "a required column is missing from the header"),
        Rule("unknown_column", "warning", "column is not part of the contract and was dropped"),
        Rule("unparseable_value", "error", "value cannot be parsed to the column's type"),
        # Schema (pandera) checks
        Rule("missing_value", "error", "a value is required"),
        Rule("duplicate_key", "error", "the key must be unique within the file"),
        Rule("invalid_format", "error", "value does not have the required format"),
        Rule("invalid_value", "error", "value is not one of the allowed values"),
        Rule("invalid_check_digit", "error", "organisationsnummer check digit (Luhn) is wrong"),
        Rule("out_of_range", "error", "value is outside the allowed range"),
        Rule("inverted_active_period", "error", "active_to is before active_from"),
        Rule("municipality_not_in_region", "error", "municipality code does not start with the region code"),
        Rule("received_before_event", "error", "received_date is before event_date"),
        Rule("numerator_above_denominator", "error", "numerator is larger than denominator"),
        Rule("decision_before_start", "error", "decision_date is before start_date"),
        Rule(
            "missing_inclusion_probability",
            "error",
            "a randomly selected inspection needs its inclusion_probability",
        ),
        Rule(
            "counts_inconsistent_with_finding",
            "error",
            "deficiency_count/serious_count contradict finding (none: 0 deficiencies; deficiency: >= 1"
            " and 0 serious; serious: >= 1 serious; serious_count <= deficiency_count)",
        ),
        Rule(
            "indicator_figures_missing",
            "error",
            "a share measure needs numerator and denominator (and no value); a value measure needs value"
            " (and no numerator/denominator)",
        ),
        Rule("value_out_of_range", "error", "value is outside the measure's or attribute's configured range"),
        Rule(
            "invalid_attribute_value",
            "error",
            "value does not fit the attribute's type (a number for numeric, a configured code for"
            " categorical)",
        ),
        Rule("schema_check", "error", "value fails a contract check (see the check named in the hint)"),
        # Cross-table rules
        Rule("unknown_provider", "error", "provider_id is not in providers"),
        Rule("unknown_unit", "error", "unit_id is not in units"),
        Rule("future_date", "error", "date is after the reference date"),
        Rule("outside_active_period", "error", "date is outside the unit's active period"),
        # Data quality seen in real Swedish reporting
        Rule(
            "placeholder_value",
            "error",
            "a placeholder at the field maximum (e.g. 999 999) stands for a count",
        ),
        Rule("magnitude_outlier", "error", "count is far off the unit's own history (entered in thousands?)"),
        Rule(
            "listed_patients_magnitude",
            "error",
            "listed_patients is far below the unit's indicator denominators (entered in thousands?)",
        ),
        Rule("share_in_percent", "warning", "share given in percent; stored as a fraction (÷ 100)"),
        Rule("share_mismatch", "error", "numerator/denominator does not match the reported share"),
        Rule("stopped_reporting", "warning", "unit is active but stopped reporting this source"),
        Rule(
            "personal_data",
            "error",
            "free text holds a personnummer/samordningsnummer; remove it or use --redact",
        ),
        Rule(
            "pseudonymised_identifier",
            "warning",
            "a sole trader's organisationsnummer (a personnummer) was replaced by its keyed pseudonym",
        ),
        Rule(
            "pseudonym_collision",
            "error",
            "two provider ids map to the same pseudonym; report this (the key must be rotated)",
        ),
    )
}


def empty_failures() -> pl.LazyFrame:
    """A failure frame without rows."""
    return pl.LazyFrame(schema=FAILURE_SCHEMA)


def failures_frame(
    rows: pl.LazyFrame,
    *,
    table: str,
    file: str,
    rule: str,
    column: str | pl.Expr | None = None,
    value: pl.Expr | None = None,
    row: pl.Expr | None = None,
    unit_id: pl.Expr | None = None,
    hint: str | pl.Expr | None = None,
    severity: Severity | None = None,
) -> pl.LazyFrame:
    """Failures of ``rule``, one per row of ``rows``, in :data:`FAILURE_SCHEMA`.

    Values are raw here; :func:`masked_failures` masks personal data once over all failures.
    """
    known = RULES[rule]

    def _as_expr(item: str | pl.Expr | None) -> pl.Expr:
        if isinstance(item, pl.Expr):
            return item.cast(pl.String)
        return pl.lit(item, dtype=pl.String)

    return rows.select(
        table=pl.lit(table, dtype=pl.String),
        file=pl.lit(file, dtype=pl.String),
        row=(row if row is not None else pl.lit(None)).cast(pl.Int64),
        column=_as_expr(column),
        rule=pl.lit(rule, dtype=pl.String),
        severity=pl.lit(severity or known.severity, dtype=pl.String),
        unit_id=_as_expr(unit_id),
        value=_as_expr(value),
        hint=_as_expr(hint if hint is not None else known.hint),
    )


def single_failure(
    *,
    table: str,
    file: str,
    rule: str,
    column: str | None = None,
    value: str | None = None,
    hint: str | None = None,
    severity: Severity | None = None,
) -> pl.LazyFrame:
    """One failure about a whole file or column."""
    return failures_frame(
        pl.LazyFrame({"_": [0]}),
        table=table,
        file=file,
        rule=rule,
        column=column,
        value=pl.lit(value, dtype=pl.String),
        hint=hint,
        severity=severity,
    )


def listed_failures(failures: pl.LazyFrame, limit: int) -> pl.LazyFrame:
    """At most ``limit`` failures per file, rule and column (the first in reading order), and for each
    such group over the limit one row, without a row number, saying how many more there are.

    A file of ten million bad rows would otherwise make tens of millions of failure rows: gigabytes
    to hold, sort and mask, and nobody reads past the first few hundred of one kind.
    """
    keys = ["table", "file", "rule", "severity", "column"]
    listed = failures.filter(pl.int_range(pl.len()).over(keys) < limit)
    more = (
        failures.group_by(keys, maintain_order=True)
        .agg(count=pl.len())
        .filter(pl.col("count") > limit)
        .select(
            *keys,
            row=pl.lit(None, dtype=pl.Int64),
            unit_id=pl.lit(None, dtype=pl.String),
            value=pl.format("{} more not listed", pl.col("count") - limit),
            hint=pl.format(
                "{} more failures of this rule in this column, not listed ([ingest] max_failures_listed)",
                pl.col("count") - limit,
            ),
        )
    )
    return pl.concat([listed, more.select(FAILURE_COLUMNS)])


def failure_count(failures: pl.DataFrame) -> int:
    """How many failures ``failures`` stands for: its rows, with each row of :func:`listed_failures`
    that counts the unlisted ones taken at its count."""
    unlisted = failures.get_column("value").str.extract(_MORE_PATTERN).cast(pl.Int64)
    return failures.height - int(unlisted.is_not_null().sum()) + int(unlisted.sum() or 0)


_MORE_PATTERN = r"^(\d+) more not listed$"


def masked_failures(failures: pl.LazyFrame) -> pl.LazyFrame:
    """``failures`` with personal identity numbers masked wherever they can appear (the column, the
    unit id, the value and the hint)."""
    return failures.with_columns(
        masked_expr(pl.col(column)) for column in ("column", "unit_id", "value", "hint")
    )


def sorted_failures(failures: pl.LazyFrame) -> pl.LazyFrame:
    """Failures in reading order: errors first, then by file, row, column and rule."""
    return failures.sort(
        pl.col("severity") != "error", "file", "row", "column", "rule", nulls_last=True, maintain_order=True
    )


def counts_by_rule(failures: pl.LazyFrame) -> pl.LazyFrame:
    """Number of failures per rule, severity and table."""
    return (
        failures.group_by("rule", "severity", "table")
        .agg(count=pl.len())
        .sort(pl.col("severity") != "error", "rule", "table")
    )
