"""``tillsynsrisk estimate PLAN_ID...``: design-based shares of units with a deficiency, per risk area."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from cli.common import console, fail, load_settings, shown
from serving.estimation import UnknownProbabilitiesError, plan_sample, prevalence_table
from serving.plans import PlanNotFoundError, PlanStore, current_inspections


def estimate(
    plan_ids: Annotated[list[str], typer.Argument(help="One or more plan ids (plan-...).")],
    inspections_file: Annotated[
        Path | None,
        typer.Option(
            "--inspections",
            help="inspections.csv rows exported by `plan export` with the outcomes filled in "
            "(default: the current snapshot's inspections).",
        ),
    ] = None,
    window_months: Annotated[
        int, typer.Option("--window-months", min=1, help="Inspections started this long after the plan.")
    ] = 12,
    min_domain_n: Annotated[
        int, typer.Option("--min-domain-n", min=2, help="Inspected units a region needs for its own share.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Per risk area, the national (and per-region) share of units with a deficiency, with a 95 % interval.

    Hájek estimator under each plan's design; refuses plans whose inclusion probabilities are unknown.
    """
    settings = load_settings()
    store = PlanStore(settings.plans_dir)
    inspections = (
        _read_inspections(inspections_file)
        if inspections_file is not None
        else current_inspections(settings.snapshots_dir)[0]
    )
    if inspections is None:
        fail("no ingest snapshot with inspections; ingest one or give --inspections FILE")
    samples: list[pl.DataFrame] = []
    planned = 0
    for plan_id in dict.fromkeys(plan_ids):
        try:
            plan = store.open(plan_id)
            samples.append(plan_sample(plan, inspections, window_months=window_months))
        except PlanNotFoundError as error:
            fail(str(error))
        except UnknownProbabilitiesError as error:
            fail(f"cannot estimate from {plan_id}: {error}", 2)
        planned += len(plan["chosen"])
    sample = pl.concat(samples)
    if sample.is_empty():
        fail("no decided inspection of the plans' units was found; nothing to estimate", 1)
    table = prevalence_table(sample, min_domain_n=min_domain_n)
    inspected = sample["unit_id"].n_unique()
    if as_json:
        print(
            json.dumps({"planned": planned, "inspected": inspected, "estimates": table.to_dicts()}, indent=2)
        )
        return
    _print(table, planned, inspected)


def _read_inspections(path: Path) -> pl.LazyFrame:
    if not path.is_file():
        fail(f"no file {path}")
    try:
        frame = pl.read_csv(
            path,
            separator=";",
            decimal_comma=True,
            encoding="utf8-lossy",
            schema_overrides={"inspection_id": pl.String, "unit_id": pl.String, "finding": pl.String},
            try_parse_dates=True,
        )
    except pl.exceptions.PolarsError as error:
        fail(f"cannot read {path}: {error}")
    frame = frame.rename({c: c.lstrip("\ufeff") for c in frame.columns})
    missing = {"inspection_id", "unit_id", "start_date", "risk_area", "finding"} - set(frame.columns)
    if missing:
        fail(f"{path} lacks the columns {sorted(missing)}")
    return frame.with_columns(pl.col("start_date").cast(pl.Date, strict=False)).lazy()


def _print(table: pl.DataFrame, planned: int, inspected: int) -> None:
    out = Table("risk area", "domain", "share", "95 % interval", "se", "n", "with deficiency")
    for row in table.iter_rows(named=True):
        out.add_row(
            shown(row["risk_area"]),
            shown(row["domain"]),
            f"{row['share'] * 100:.1f} %",
            f"{row['lower'] * 100:.1f}–{row['upper'] * 100:.1f} %",
            f"{row['standard_error'] * 100:.1f} pp",
            str(row["n"]),
            str(row["deficient"]),
        )
    console.print(out)
    note = planned - inspected
    console.print(
        f"{inspected} of {planned} planned units have a decided inspection"
        + (f"; {note} without one are treated as missing at random" if note else "")
        + ". Hájek estimator, Wilson interval at the effective sample size (docs/planning.md)."
    )
