"""The ingest job: read a source directory, validate every table, and return normalised frames
plus every failure found (never just the first).

Order: read (strings) → personal-data guard on free text → parse to contract types → pandera contract
→ cross-table rules → data-quality rules. A table that cannot be read or misses required columns skips
the later steps (its own failures say why); every other table is still checked in full.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from engine.config import Config
from engine.contract import TableSpec, source_name_for_table, table_schemas
from engine.ingest import attributes, cross_table, quality
from engine.ingest.failures import (
    FAILURE_COLUMNS,
    FAILURE_SCHEMA,
    RULES,
    empty_failures,
    failure_count,
    failures_frame,
    listed_failures,
    masked_failures,
    single_failure,
    sorted_failures,
)
from engine.ingest.parsing import parsed_table
from engine.ingest.pseudonymisation import pseudonymised_tables
from engine.ingest.readers import (
    ROW_COLUMN,
    RawTable,
    UnreadableFileError,
    find_table_file,
    is_inside,
    read_raw_table,
)
from engine.ingest.validation import schema_failures
from engine.personal_data import (
    contains_personal_number,
    masked,
    masked_expr,
    personal_number_matches,
    redacted_expr,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What an ingest found: normalised tables (empty unless ``ok``) and all failures."""

    tables: dict[str, pl.DataFrame]
    failures: pl.DataFrame
    sources: dict[str, dict[str, Any]]
    reference_date: dt.date
    redacted: bool
    redaction_counts: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> pl.DataFrame:
        return self.failures.filter(pl.col("severity") == "error")

    @property
    def warnings(self) -> pl.DataFrame:
        return self.failures.filter(pl.col("severity") == "warning")

    @property
    def ok(self) -> bool:
        return self.errors.is_empty()

    def manifest_warnings(self, examples: int = 10) -> list[dict[str, Any]]:
        """Warnings summarised per rule, table and column for the manifest (values already masked)."""
        summaries = []
        grouped = self.warnings.group_by("rule", "table", "column", maintain_order=True)
        for (rule, table, column), group in grouped:
            count = (
                self.redaction_counts.get(str(table), group.height)
                if rule == "personal_data"
                else failure_count(group)
            )
            summaries.append(
                {
                    "rule": rule,
                    "table": table,
                    "column": column,
                    "count": count,
                    "hint": group["hint"][0],
                    "examples": group.head(examples).select("row", "unit_id", "value").to_dicts(),
                }
            )
        return summaries


def ingest_directory(
    src_dir: Path,
    config: Config,
    *,
    reference_date: dt.date,
    redact: bool = False,
    pseudonym_key: bytes | None = None,
) -> IngestResult:
    """Read and validate every contract table in ``src_dir``.

    Parameters
    ----------
    src_dir
        Directory with ``<table>.csv`` or ``<table>.parquet`` per table of :func:`table_schemas`.
    config
        The effective configuration (sources, allowed categories, quality thresholds).
    reference_date
        Dates after this are ``future_date`` errors.
    redact
        Replace personal identity numbers in free text instead of rejecting the file.
    pseudonym_key
        Key of the pseudonyms that replace sole traders' organisationsnummer in ``provider_id`` and
        inside ``unit_id`` (:mod:`engine.ingest.pseudonymisation`); without one such an id is an error.
    """
    specs = table_schemas(config)
    failures: list[pl.LazyFrame] = []
    raw_tables: dict[str, RawTable] = {}
    for name, spec in specs.items():
        path = find_table_file(src_dir, name)
        if path is None:
            if spec.required:
                failures.append(single_failure(table=name, file=f"{name}.csv", rule="missing_file"))
            continue
        if not is_inside(path, src_dir):
            failures.append(single_failure(table=name, file=path.name, rule="link_outside_source"))
            continue
        try:
            raw_tables[name] = read_raw_table(name, path, config.ingest)
        except UnreadableFileError as error:
            logger.warning("cannot ingest %s: %s", path.name, error.rule)
            failures.append(
                single_failure(
                    table=name, file=path.name, rule=error.rule, value=error.value, hint=masked(str(error))
                )
            )
        except (Exception, pl.exceptions.PanicException) as error:
            # Anything else the reader meets in an untrusted file (two columns of one name, a panic in a
            # parser, ...) is a fact about the file: a failure row with its numbers masked, never a
            # traceback that prints them. (polars' PanicException is not an Exception.)
            logger.warning("cannot read %s: %s", path.name, type(error).__name__)
            failures.append(
                single_failure(
                    table=name,
                    file=path.name,
                    rule="unreadable_file",
                    hint=masked(f"{RULES['unreadable_file'].hint}: {_first_line(error)}"),
                )
            )
    raw_tables, pseudonym_failures = pseudonymised_tables(raw_tables, pseudonym_key)
    failures += pseudonym_failures
    redaction_counts: dict[str, int] = {}
    guarded: dict[str, RawTable] = {}
    for name, raw in raw_tables.items():
        failures.append(_control_character_failures(raw))
        frame, guard_failures, count = _personal_data_guarded(raw, specs[name], redact)
        guarded[name] = replace(raw, frame=frame)
        raw_tables[name] = replace(raw, frame=pl.DataFrame())  # keep the metadata, free the strings
        failures.append(guard_failures)
        if count:
            redaction_counts[name] = count
    typed: dict[str, pl.DataFrame] = {}
    for name in list(guarded):
        parsed = parsed_table(guarded.pop(name), specs[name])
        failures.append(parsed.failures)
        if parsed.frame is not None:
            typed[name] = parsed.frame
            if parsed.frame.is_empty():
                failures.append(single_failure(table=name, file=raw_tables[name].file, rule="empty_table"))
    files = {name: raw.file for name, raw in raw_tables.items()}
    for name, frame in typed.items():
        failures.append(schema_failures(frame, specs[name], files[name]))
    failures += _cross_table_and_quality_failures(typed, specs, files, config, reference_date)
    # Collected part by part, one after the other: one plan over dozens of small rule queries optimises
    # slowly, and a part of millions of failures is cut to its listed ones before the next is computed.
    parts = [
        listed_failures(
            part.select(FAILURE_COLUMNS).cast(pl.Schema(FAILURE_SCHEMA)), config.ingest.max_failures_listed
        ).collect()
        for part in failures
    ]
    all_failures = _without_repeats(pl.concat(parts).lazy())
    collected = sorted_failures(masked_failures(all_failures)).collect()
    logger.info("ingest of %s: %d failures", masked(str(src_dir)), collected.height)
    has_errors = not collected.filter(pl.col("severity") == "error").is_empty()
    # A rejected ingest stores nothing, so its tables are not normalised (saves a sort per table).
    tables = (
        {} if has_errors else {name: _normalised(frame, specs[name], config) for name, frame in typed.items()}
    )
    sources = {
        name: {"file": raw.file, "sha256": raw.sha256, "format": raw.format, "encoding": raw.encoding}
        | ({"separator": raw.separator} if raw.separator else {})
        for name, raw in sorted(raw_tables.items())
    }
    return IngestResult(tables, collected, sources, reference_date, redact, redaction_counts)


# C0 controls except tab, newline and carriage return; DEL; C1 controls.
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"


def _control_character_failures(raw: RawTable) -> pl.LazyFrame:
    """Values holding control characters (NUL, escape, ...): never valid in an export.

    One pass finds the columns that hold any; only their cells are then unpivoted and filtered, in one
    query (a query per column, each over the whole frame, grew with the square of the columns).
    """
    columns = [
        column for column, dtype in raw.frame.schema.items() if column != ROW_COLUMN and dtype == pl.String
    ]
    if not columns or raw.frame.is_empty():
        return empty_failures()
    flags = raw.frame.select(pl.col(columns).str.contains(CONTROL_CHARACTERS).any()).row(0)
    flagged = [column for column, flag in zip(columns, flags, strict=True) if flag]
    if not flagged:
        return empty_failures()
    cells = (
        raw.frame.lazy()
        .select(ROW_COLUMN, *flagged)
        .unpivot(index=ROW_COLUMN, variable_name="column", value_name="value")
        .filter(pl.col("value").str.contains(CONTROL_CHARACTERS))
    )
    return failures_frame(
        cells,
        table=raw.name,
        file=raw.file,
        rule="control_character",
        column=pl.col("column"),
        # Masked before the control characters are shown as U+FFFD (one may sit inside a number).
        value=masked_expr(pl.col("value")).str.replace_all(CONTROL_CHARACTERS, "\ufffd").str.slice(0, 60),
        row=pl.col(ROW_COLUMN),
    )


def _personal_data_guarded(
    raw: RawTable, spec: TableSpec, redact: bool
) -> tuple[pl.DataFrame, pl.LazyFrame, int]:
    """Every string column (and every column name) of ``raw`` scanned for personal identity numbers.

    Free-text columns are redacted with ``redact``; anywhere else (names, ids, pseudonyms, counts,
    column names) a number is an error: an identifier cannot be redacted without breaking it.
    """
    columns = [column for column in raw.frame.columns if column != ROW_COLUMN]
    failures: list[pl.LazyFrame] = [
        single_failure(
            table=spec.name,
            file=raw.file,
            rule="personal_data",
            column=column,
            value="<personnummer> in the column name",
            hint="a column name holds a personnummer/samordningsnummer; rename the column",
        )
        for column in columns
        if contains_personal_number(column)
    ]
    matches = personal_number_matches(raw.frame, columns, ROW_COLUMN)
    redactable = [column for column in spec.free_text_columns if column in columns] if redact else []
    in_text = matches.filter(pl.col("column").is_in(redactable))
    elsewhere = matches.filter(~pl.col("column").is_in(redactable))
    frame = raw.frame
    if not in_text.is_empty():
        touched = sorted(set(in_text["column"].to_list()))
        frame = frame.with_columns(redacted_expr(pl.col(column)).alias(column) for column in touched)
        failures.append(
            single_failure(
                table=spec.name,
                file=raw.file,
                rule="personal_data",
                column=",".join(touched),
                value=f"{in_text.height} redacted",
                hint="personal identity numbers replaced by '[personnummer borttaget]' (--redact)",
                severity="warning",
            )
        )
    if not elsewhere.is_empty():
        free_text = set(spec.free_text_columns)
        failures.append(
            failures_frame(
                elsewhere.lazy(),
                table=spec.name,
                file=raw.file,
                rule="personal_data",
                column=pl.col("column"),
                value=pl.format("<{}>", pl.col("kind")),
                row=pl.col("row"),
                hint=pl.when(pl.col("column").is_in(list(free_text)))
                .then(pl.lit(RULES["personal_data"].hint))
                .otherwise(
                    pl.lit("a personnummer/samordningsnummer in a column that is not free text; remove it")
                ),
            )
        )
    return frame, pl.concat(failures) if failures else empty_failures(), in_text.height


def _cross_table_and_quality_failures(
    typed: dict[str, pl.DataFrame],
    specs: dict[str, TableSpec],
    files: dict[str, str],
    config: Config,
    reference_date: dt.date,
) -> list[pl.LazyFrame]:
    frames = {name: frame.lazy() for name, frame in typed.items()}
    parts = [
        cross_table.unknown_provider_failures(frames, files),
        cross_table.unknown_unit_failures(frames, specs, files),
        cross_table.future_date_failures(frames, specs, files, reference_date),
        cross_table.outside_active_period_failures(frames, specs, files),
    ]
    indicator_names = [name for name in frames if specs[name].kind == "indicator"]
    units = frames.get("units")
    parts += [
        quality.indicator_quality_failures(frames[name], units, name, files[name], config.quality)
        for name in indicator_names
    ]
    for name, frame in frames.items():
        if specs[name].kind == "attribute":
            source = config.attribute_sources[str(source_name_for_table(config, name))]
            parts.append(attributes.attribute_failures(frame, source, name, files[name]))
    if units is not None:
        reference = quality.typical_denominators([frames[name] for name in indicator_names], config.quality)
        parts.append(quality.listed_patients_failures(units, reference, files["units"], config.quality))
    return parts


# Failures that only restate a placeholder on the same row (999 999 is also above the denominator
# and off the reported share): the placeholder is the cause, so only it is reported.
_PLACEHOLDER_CONSEQUENCES = [
    "numerator_above_denominator",
    "share_mismatch",
    "magnitude_outlier",
    "out_of_range",
]


def _without_repeats(failures: pl.LazyFrame) -> pl.LazyFrame:
    """Drop failures that restate another on the same cell or row: contract failures on cells that
    failed to parse (the null they became), and consequences of a placeholder value."""
    unparseable = failures.filter(pl.col("rule") == "unparseable_value").select("table", "row", "column")
    placeholder_rows = failures.filter(
        (pl.col("rule") == "placeholder_value") & pl.col("row").is_not_null()
    ).select("table", "row")
    repeats = pl.concat(
        [
            # nulls_equal: the row that counts the failures past the listed limit has no row number.
            failures.filter(pl.col("rule") == "missing_value").join(
                unparseable, on=["table", "row", "column"], how="semi", nulls_equal=True
            ),
            failures.filter(pl.col("rule").is_in(_PLACEHOLDER_CONSEQUENCES)).join(
                placeholder_rows, on=["table", "row"], how="semi"
            ),
        ]
    )
    return failures.join(repeats, on=FAILURE_COLUMNS, how="anti", nulls_equal=True)


def _normalised(frame: pl.DataFrame, spec: TableSpec, config: Config) -> pl.DataFrame:
    """The snapshot form of a table: contract columns only, shares as fractions, sorted by key."""
    lazy = frame.lazy()
    if spec.kind == "indicator":
        lazy = quality.with_share_as_fraction(lazy, config.quality)
    if spec.kind == "attribute":
        source = config.attribute_sources[str(source_name_for_table(config, spec.name))]
        lazy = attributes.with_canonical_numbers(lazy, source)
    columns = [column for column in frame.columns if column != ROW_COLUMN]
    order = list(spec.key) + [column for column in columns if column not in spec.key]
    return lazy.select(columns).sort(order, nulls_last=True, maintain_order=True).collect()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
