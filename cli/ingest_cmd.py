"""``tillsynsrisk ingest SRC_DIR`` and ``tillsynsrisk snapshot show|list``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich import box
from rich.table import Table

from cli.common import console, error_console, fail, load_effective_config, load_settings, shown
from engine.config import Config
from engine.contract import CONTRACT_SCHEMA_VERSION
from engine.ingest import IngestResult, ingest_directory
from engine.ingest.failures import counts_by_rule
from engine.personal_data import masked
from engine.pseudonyms import pseudonym_key
from engine.settings import Settings
from engine.snapshots import Snapshot, SnapshotNotFoundError, SnapshotStore

USAGE_ERROR = 2
REPORT_ROWS_PER_RULE = 5
REPORT_MAX_ROWS = 60
# The sample's columns (file:row, unit, column, rule, value) fill about 110 of 120 columns: the hint
# column joins them from 160 (the width of piped output), below that the hints follow the table.
WIDE_TERMINAL = 160


def ingest(
    src_dir: Annotated[Path, typer.Argument(help="Directory with <table>.csv or <table>.parquet files.")],
    report: Annotated[
        Path | None, typer.Option("--report", help="Write every failure and warning to this JSON file.")
    ] = None,
    redact: Annotated[
        bool,
        typer.Option("--redact", help="Replace personnummer in free text instead of rejecting the file."),
    ] = False,
    reference_date: Annotated[
        str | None,
        typer.Option("--reference-date", help="YYYY-MM-DD; later dates are errors (default: today)."),
    ] = None,
) -> None:
    """Validate a directory of exports and store it as the current snapshot (nothing is written on error)."""
    if not src_dir.is_dir():
        fail(f"source directory {src_dir} does not exist or is not a directory", USAGE_ERROR)
    reference = _parsed_reference_date(reference_date)
    settings = load_settings()
    config = load_effective_config(settings)
    with console.status(f"Validating {shown(src_dir)} ..."):
        result = ingest_directory(
            src_dir,
            config,
            reference_date=reference,
            redact=redact,
            pseudonym_key=pseudonym_key(settings.pseudonym_key_file),
        )
    if report is not None:
        _write_report(report, result)
    _print_failures(result)
    if not result.ok:
        store = SnapshotStore(settings.snapshots_dir)
        kept = store.current_id()
        error_console.print(
            f"[bold red]Ingest rejected:[/] {result.errors.height} error(s); nothing was written. "
            + (f"Current snapshot stays {kept}." if kept else "There is no current snapshot.")
        )
        raise typer.Exit(code=1)
    store = SnapshotStore(settings.snapshots_dir)
    snapshot = store.write(
        result.tables,
        schema_version=CONTRACT_SCHEMA_VERSION,
        config_hash=config.content_hash(),
        metadata={
            "reference_date": result.reference_date.isoformat(),
            "redacted": result.redacted,
            "source_dir": masked(str(src_dir)),
            "sources": result.sources,
            "warnings": result.manifest_warnings(),
        },
    )
    store.set_current(snapshot.id)
    rows = sum(table["rows"] for table in snapshot.manifest["tables"].values())
    console.print(
        f"[bold green]Snapshot {snapshot.id}[/] is current: {len(snapshot.table_names())} tables, "
        f"{rows:,} rows, {result.warnings.height} warning(s)."
    )
    _update_prospective_record(settings, config, snapshot)


def _mlflow_store_exists(tracking_uri: str) -> bool:
    """False for a SQLite store whose file does not exist yet (no model was ever trained there)."""
    if not tracking_uri.startswith("sqlite:///"):
        return True
    return Path(tracking_uri.removeprefix("sqlite:///")).is_file()


def _update_prospective_record(settings: Settings, config: Config, snapshot: Snapshot) -> None:
    """After an ingest: the champion's record on the inspections decided since it was put in force.

    The snapshot is already stored and current; a failure here is reported and never undoes it.
    """
    if not _mlflow_store_exists(settings.mlflow_tracking_uri):
        return
    from models.prospective import keep_record, prospective_record, since_label
    from models.registry import tracking_for

    tracking = tracking_for(settings)
    try:
        with console.status("Updating the champion's prospective record ..."):
            record = prospective_record(
                snapshot.tables(), config, tracking, snapshot_id=snapshot.id, scores_dir=settings.scores_dir
            )
            if record is not None:
                keep_record(tracking, record)
    except Exception as error:  # the ingest has succeeded; the record is a follow-up, never a failure
        error_console.print(f"[yellow]The champion's prospective record was not updated:[/] {shown(error)}")
        return
    if record is None:
        return
    console.print(
        f"Champion {since_label(record)}: {record['inspections']} inspection(s) scored "
        f"({record['stored_scores_used']} rows from its stored scores); `tillsynsrisk evaluate "
        f"{record['run_id']}` shows the figures."
    )


def show_snapshot(
    snapshot_id: Annotated[
        str | None, typer.Argument(help="Snapshot id or unique prefix (default: current).")
    ] = None,
) -> None:
    """Summarise a snapshot: tables, rows, sources, warnings per rule, id and config hash."""
    snapshot = _opened(snapshot_id)
    manifest = snapshot.manifest
    store = SnapshotStore(load_settings().snapshots_dir)
    current = " (current)" if store.current_id() == snapshot.id else ""
    console.print(f"[bold]Snapshot {snapshot.id}[/]{current}")
    console.print(f"  created {manifest.get('created_at')}  reference date {manifest.get('reference_date')}")
    config_hash = str(manifest.get("config_hash"))[:16]
    redacted = "yes" if manifest.get("redacted") else "no"
    console.print(
        f"  schema version {manifest.get('schema_version')}  config hash {config_hash}  redacted {redacted}"
    )
    console.print(f"  path {shown(snapshot.path)}")
    tables = Table(title="Tables", title_justify="left")
    for column in ("table", "rows", "cols", "source file", "encoding", "hash"):
        tables.add_column(column, justify="right" if column in ("rows", "cols") else "left", no_wrap=True)
    sources = manifest.get("sources", {})
    for name in snapshot.table_names():
        table = manifest["tables"][name]
        source = sources.get(name, {})
        tables.add_row(
            name,
            f"{table['rows']:,}",
            str(len(table["columns"])),
            shown(source.get("file", "")),
            source.get("encoding") or source.get("format", ""),
            table["content_hash"][:8],
        )
    console.print(tables)
    warnings = manifest.get("warnings", [])
    if not warnings:
        console.print("No warnings.")
        return
    summary = Table(title="Warnings per rule", title_justify="left")
    for column in ("rule", "table", "column", "count", "hint"):
        summary.add_column(column, justify="right" if column == "count" else "left")
    for warning in warnings:
        summary.add_row(
            shown(warning["rule"]),
            shown(warning["table"]),
            shown(warning.get("column") or ""),
            f"{warning['count']:,}",
            shown(warning["hint"]),
        )
    console.print(summary)


def list_snapshots() -> None:
    """List stored snapshots, oldest first; the current one is marked."""
    store = SnapshotStore(load_settings().snapshots_dir)
    infos = store.list()
    if not infos:
        console.print(f"No snapshots in {shown(store.root)}.")
        return
    table = Table(title=f"Snapshots in {shown(store.root)}", title_justify="left")
    for column in ("", "id", "created", "tables", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for info in infos:
        table.add_row(
            "*" if info.is_current else "",
            info.id,
            info.created_at,
            str(len(info.rows)),
            f"{sum(info.rows.values()):,}",
        )
    console.print(table)


def _opened(snapshot_id: str | None) -> Snapshot:
    store = SnapshotStore(load_settings().snapshots_dir)
    try:
        return store.open(snapshot_id)
    except SnapshotNotFoundError as error:
        fail(str(error))


def _parsed_reference_date(text: str | None) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"--reference-date must be a date YYYY-MM-DD, got {text!r}", USAGE_ERROR)


def _write_report(path: Path, result: IngestResult) -> None:
    counts = counts_by_rule(result.failures.lazy()).collect()
    payload: dict[str, Any] = {
        "ok": result.ok,
        "reference_date": result.reference_date.isoformat(),
        "errors": result.errors.height,
        "warnings": result.warnings.height,
        "counts": counts.to_dicts(),
        "sources": result.sources,
        "failures": result.failures.to_dicts(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(_masked_payload(payload), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def _masked_payload(item: Any) -> Any:
    """``item`` with every string in it (keys too) masked for personal identity numbers.

    The failures are masked where they are made; this pass covers every other string of the report
    (sources, counts, anything added later) with the same detector, before JSON escapes could split a
    number written with control characters into something else.
    """
    if isinstance(item, str):
        return masked(item)
    if isinstance(item, dict):
        return {_masked_payload(key): _masked_payload(value) for key, value in item.items()}
    if isinstance(item, list | tuple):
        return [_masked_payload(value) for value in item]
    return item


def _print_failures(result: IngestResult) -> None:
    if result.failures.is_empty():
        return
    listed = failure_sample(result.failures, REPORT_ROWS_PER_RULE, REPORT_MAX_ROWS)
    title = f"Ingest failures ({result.errors.height} errors, {result.warnings.height} warnings)"
    # On a narrow terminal the hints go below the table, once per rule, instead of in a squeezed column.
    wide = error_console.width >= WIDE_TERMINAL
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("file:row", no_wrap=True)
    table.add_column("unit", overflow="fold", max_width=24)
    table.add_column("column", overflow="fold", min_width=12, max_width=24)
    table.add_column("rule", no_wrap=True)
    table.add_column("value", overflow="fold", min_width=12, max_width=40)
    if wide:
        table.add_column("hint", overflow="fold", ratio=1)
    for item in listed.iter_rows(named=True):
        style = "red" if item["severity"] == "error" else "yellow"
        where = item["file"] if item["row"] is None else f"{item['file']}:{item['row']}"
        cells = [
            shown(where),
            shown(item["unit_id"] or ""),
            shown(item["column"] or ""),
            f"[{style}]{shown(item['rule'])}[/]",
            shown(_clipped(item["value"])),
        ]
        table.add_row(*cells, *([shown(_clipped(item["hint"], 90))] if wide else []))
    error_console.print(table)
    if not wide:
        hints = listed.unique(["rule", "hint"], keep="first", maintain_order=True)
        for item in hints.iter_rows(named=True):
            error_console.print(f"  [bold]{shown(item['rule'])}[/]: {shown(_clipped(item['hint'], 200))}")
    if listed.height < result.failures.height:
        counts = counts_by_rule(result.failures.lazy()).collect()
        per_rule = Table(
            title=f"All {result.failures.height:,} failures by rule",
            title_justify="left",
            box=box.SIMPLE_HEAD,
        )
        for column in ("rule", "severity", "table", "count"):
            per_rule.add_column(column, justify="right" if column == "count" else "left")
        for item in counts.iter_rows(named=True):
            per_rule.add_row(item["rule"], item["severity"], item["table"], f"{item['count']:,}")
        error_console.print(per_rule)
        error_console.print("Use --report FILE.json for the full list.")


def failure_sample(failures: pl.DataFrame, per_rule: int, limit: int) -> pl.DataFrame:
    """At most ``per_rule`` failures of each rule and table, at most ``limit`` in all, in file order.

    The examples differ where the failures allow: first one failure per distinct value, then one per
    unit not shown yet, then the rest in file order; five copies of the same value teach nothing.
    """
    group = ("rule", "table")
    return (
        failures.with_row_index("position")
        .with_columns(
            repeated_value=pl.int_range(pl.len()).over(*group, "value") > 0,
            repeated_unit=pl.int_range(pl.len()).over(*group, "unit_id") > 0,
        )
        .sort("repeated_value", "repeated_unit", "position")
        .with_columns(rank=pl.int_range(pl.len()).over(*group))
        .filter(pl.col("rank") < per_rule)
        .sort("position")
        .head(limit)
        .drop("position", "repeated_value", "repeated_unit", "rank")
    )


def _clipped(text: str | None, width: int = 60) -> str:
    if text is None:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"
