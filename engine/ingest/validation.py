"""Running the pandera contract lazily and turning its failure cases into ingest failures.

pandera names checks (``str_matches('^SE...')``, ``isin([...])``, ``received_not_before_event``); the
ingest reports them under stable rule ids (:data:`CHECK_RULES`). Dataframe-level checks echo the whole
row as JSON in ``failure_case`` — free text and all — so that value is never used: the failure is
rebuilt from the columns the check compares, and free-text values are never echoed at all.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from engine.contract import TableSpec
from engine.ingest.failures import FAILURE_COLUMNS, RULES, empty_failures
from engine.ingest.readers import FIRST_DATA_ROW, ROW_COLUMN
from engine.personal_data import masked_expr

CHECK_RULES: dict[str, str] = {
    "not_nullable": "missing_value",
    "field_uniqueness": "duplicate_key",
    "multiple_fields_uniqueness": "duplicate_key",
    "unique": "duplicate_key",
    "str_matches": "invalid_format",
    "isin": "invalid_value",
    "luhn_check_digit": "invalid_check_digit",
    "greater_than_or_equal_to": "out_of_range",
    "greater_than": "out_of_range",
    "less_than_or_equal_to": "out_of_range",
    "less_than": "out_of_range",
    "in_range": "out_of_range",
    "str_length": "missing_value",
    "period_is_first_of_month": "invalid_format",
    "active_to_not_before_active_from": "inverted_active_period",
    "municipality_in_region": "municipality_not_in_region",
    "received_not_before_event": "received_before_event",
    "numerator_not_above_denominator": "numerator_above_denominator",
    "decision_not_before_start": "decision_before_start",
    "random_selection_has_inclusion_probability": "missing_inclusion_probability",
    "counts_match_finding": "counts_inconsistent_with_finding",
    "measure_has_its_figures": "indicator_figures_missing",
    "value_in_measure_range": "value_out_of_range",
}

# The columns each dataframe-level check compares: what a failure shows instead of the whole row.
DATAFRAME_CHECK_COLUMNS: dict[str, tuple[str, ...]] = {
    "active_to_not_before_active_from": ("active_from", "active_to"),
    "municipality_in_region": ("municipality_code", "region_code"),
    "received_not_before_event": ("event_date", "received_date"),
    "numerator_not_above_denominator": ("numerator", "denominator"),
    "decision_not_before_start": ("start_date", "decision_date"),
    "random_selection_has_inclusion_probability": ("selection", "inclusion_probability"),
    "counts_match_finding": ("finding", "deficiency_count", "serious_count"),
    "measure_has_its_figures": ("measure", "numerator", "denominator", "value"),
    "value_in_measure_range": ("measure", "value"),
}


def schema_failure_cases(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame | None:
    """pandera's failure cases for ``frame`` (without ``__row__``), or None when it validates.

    A DataFrame, not a LazyFrame: pandera runs only schema-level checks on LazyFrames by default.
    """
    try:
        schema.validate(frame.drop(ROW_COLUMN), lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return cases if isinstance(cases, pl.DataFrame) else pl.DataFrame(cases)
    return None


def schema_failures(frame: pl.DataFrame, spec: TableSpec, file: str) -> pl.LazyFrame:
    """Every contract failure of ``frame`` as ingest failures (one per failing cell or row)."""
    cases = schema_failure_cases(frame, spec.schema)
    if cases is None or cases.is_empty():
        return empty_failures()
    cases_lazy = cases.lazy().with_columns(
        row=(pl.col("index").cast(pl.Int64) + FIRST_DATA_ROW),
        check_name=pl.col("check").str.split("(").list.first(),
    )
    column_level = cases_lazy.filter(pl.col("schema_context") == "Column")
    frame_level = cases_lazy.filter(pl.col("schema_context") != "Column")
    free_text = list(spec.free_text_columns)
    column_failures = column_level.select(
        table=pl.lit(spec.name),
        file=pl.lit(file),
        row=pl.col("row"),
        column=pl.col("column"),
        rule=_rule_expr(pl.col("check_name")),
        severity=pl.lit("error"),
        unit_id=pl.lit(None, dtype=pl.String),
        value=pl.when(pl.col("column").is_in(free_text))
        .then(pl.lit("<fritext>"))
        .otherwise(masked_expr(pl.col("failure_case"))),
        hint=_hint_expr(pl.col("check_name"), pl.col("check")),
    )
    return pl.concat([column_failures, _frame_level_failures(frame_level, frame.lazy(), spec, file)]).select(
        FAILURE_COLUMNS
    )


def _frame_level_failures(
    cases: pl.LazyFrame, frame: pl.LazyFrame, spec: TableSpec, file: str
) -> pl.LazyFrame:
    parts = []
    key_check = {"multiple_fields_uniqueness": spec.key} if spec.key else {}
    compared = DATAFRAME_CHECK_COLUMNS | key_check
    for check, columns in compared.items():
        if not all(column in spec.schema.columns for column in columns):
            continue
        shown = pl.concat_str(
            [pl.lit(f"{column}=") + pl.col(column).cast(pl.String).fill_null("") for column in columns],
            separator=", ",
        )
        parts.append(
            cases.filter(pl.col("check_name") == check)
            .join(frame.select(ROW_COLUMN, *columns), left_on="row", right_on=ROW_COLUMN, how="left")
            .select(
                table=pl.lit(spec.name),
                file=pl.lit(file),
                row=pl.col("row"),
                column=pl.lit(",".join(columns)),
                rule=pl.lit(CHECK_RULES[check]),
                severity=pl.lit("error"),
                unit_id=pl.lit(None, dtype=pl.String),
                value=shown,
                hint=pl.lit(RULES[CHECK_RULES[check]].hint),
            )
        )
    other = cases.filter(~pl.col("check_name").is_in(list(compared))).select(
        table=pl.lit(spec.name),
        file=pl.lit(file),
        row=pl.col("row"),
        column=pl.lit(None, dtype=pl.String),
        rule=_rule_expr(pl.col("check_name")),
        severity=pl.lit("error"),
        unit_id=pl.lit(None, dtype=pl.String),
        value=pl.lit(None, dtype=pl.String),
        hint=_hint_expr(pl.col("check_name"), pl.col("check")),
    )
    return pl.concat([*parts, other], how="vertical_relaxed")


def _rule_expr(check_name: pl.Expr) -> pl.Expr:
    return check_name.replace_strict(CHECK_RULES, default="schema_check", return_dtype=pl.String)


def _hint_expr(check_name: pl.Expr, check: pl.Expr) -> pl.Expr:
    hints = {check: RULES[rule].hint for check, rule in CHECK_RULES.items()}
    base = check_name.replace_strict(hints, default=RULES["schema_check"].hint, return_dtype=pl.String)
    detail = check.str.slice(0, 300)
    return (
        pl.when(
            check_name.is_in(
                ["isin", "str_matches", "greater_than_or_equal_to", "greater_than", "less_than_or_equal_to"]
            )
        )
        .then(base + " — " + detail)
        .otherwise(base)
    )
