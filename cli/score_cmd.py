"""``tillsynsrisk score``: score every active unit for every risk area with the champion and publish it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from cli.common import (
    console,
    error_console,
    fail,
    load_effective_config,
    load_settings,
    open_snapshot,
    shown,
)
from engine.contract import REGIONS
from engine.events import EventLog
from engine.scores import OVERALL, ScoreStore, ScoreValidationError
from serving.scoring import provider_rollup

TOP_UNITS = 10
TOP_PROVIDERS = 5


def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--as-of must be a date YYYY-MM-DD, got {value!r}", 2)


def score(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Planning date YYYY-MM-DD (default: the first day of the month after the newest record "
            "in the snapshot).",
        ),
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="Snapshot id or unique prefix (default: current).")
    ] = None,
    publish: Annotated[
        bool | None,
        typer.Option(
            "--publish/--no-publish",
            help="Make it the snapshot the API serves (default: yes when team-neutral, no with --team).",
        ),
    ] = None,
    team: Annotated[
        str | None,
        typer.Option(
            "--team",
            help="Score as if this team inspects every unit (a plan whose team is known); default: "
            "team-neutral, averaged over the teams' training mix.",
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            "--method", help="Score as if inspected by this method (default: averaged over the mix)."
        ),
    ] = None,
) -> None:
    """Score every active unit for every risk area with the champion; store (and publish) the snapshot."""
    from models.registry import MODEL_NAME, NoChampionError
    from serving.score_snapshot import (
        PlannedInspectionError,
        ScoringError,
        planned_inspection,
        score_snapshot,
    )

    settings = load_settings()
    config = load_effective_config(settings)
    try:
        planned = planned_inspection(team, method)
    except PlannedInspectionError as error:
        fail(str(error), 2)
    source = open_snapshot(settings, snapshot)
    planning_date = _parse_date(as_of) if as_of is not None else None
    publish = not planned if publish is None else publish
    try:
        with console.status(f"Scoring snapshot {source.id} with the champion ..."):
            scoring = score_snapshot(settings, config, source, planning_date, planned=planned)
    except PlannedInspectionError as error:
        fail(str(error), 2)
    except (ScoringError, NoChampionError) as error:
        fail(str(error))
    except ScoreValidationError as error:
        fail(f"the scores did not pass their contract; nothing was written: {error}")
    for note in scoring.notes:
        error_console.print(f"[yellow]note:[/] {shown(note)}")
    state = "published" if publish else "stored, not published"
    score_id = scoring.metadata.score_id
    reported_then_published(
        ScoreStore(settings.scores_dir, EventLog(settings.events_db)),
        scoring.frame,
        score_id,
        publish,
        settings.high_risk_percentile,
    )
    champion = scoring.champion
    assumed = ", ".join(f"{name} {shown(value)}" for name, value in planned.items()) or "team-neutral"
    console.print(
        f"Scoring snapshot [bold]{score_id}[/] ({state}; {assumed}) in {scoring.seconds:.1f} s: "
        f"{scoring.units:,} units × {len(champion.model.risk_areas)} risk areas + overall "
        f"at {scoring.planning_date}; "
        f"model {MODEL_NAME} v{champion.version} (run {champion.run_id}), "
        f"feature set {scoring.feature_set_id}, snapshot {source.id}."
    )


def reported_then_published(
    store: ScoreStore, frame: pl.DataFrame, score_id: str, publish: bool, high_risk_percentile: float
) -> None:
    """Print the top units and providers, then publish ``score_id`` (when asked).

    Publishing is the last step: everything that can fail (printing data included) comes first, so
    a failed command never leaves a new snapshot served.
    """
    _print_top_units(frame)
    _print_providers(frame, high_risk_percentile)
    if publish:
        store.publish(score_id)


def _print_top_units(frame: pl.DataFrame) -> None:
    top = frame.filter(pl.col("risk_area") == OVERALL).sort("rank").head(TOP_UNITS)
    console.print(
        f"[bold]Top {top.height} units over all risk areas[/] "
        "(mean probability of a deficiency over the areas; why: the signals that raised it most)"
    )
    for row in top.iter_rows(named=True):
        region = REGIONS.get(row["region_code"], row["region_code"])
        where = (
            row["provider_name"] if region in row["provider_name"] else f"{row['provider_name']}, {region}"
        )
        console.print(
            f"{row['rank']:>3}. {shown(row['unit_name'])} ({shown(row['unit_id'])}), {shown(where)}: "
            f"P(brist) {row['p_deficiency']:.2f}, "
            f"P(allvarlig brist) {row['p_serious']:.2f}"
        )
        for reason in row["explanations"]:
            console.print(f"       – {shown(reason['sentence_sv'])}")


def _print_providers(frame: pl.DataFrame, high_risk_percentile: float) -> None:
    rollup = (
        provider_rollup(frame.lazy().filter(pl.col("risk_area") == OVERALL), high_risk_percentile)
        .collect()
        .head(TOP_PROVIDERS)
    )
    table = Table(
        title=f"Providers with most high-risk units (overall percentile ≥ {high_risk_percentile:g})"
    )
    for column in ("provider", "units", "high-risk", "max P(brist)", "mean P(brist)"):
        table.add_column(column, justify="left" if column == "provider" else "right")
    for row in rollup.iter_rows(named=True):
        table.add_row(
            f"{shown(row['provider_name'])} ({shown(row['provider_id'])})",
            str(row["units"]),
            str(row["high_risk_units"]),
            f"{row['max_p_deficiency']:.2f}",
            f"{row['mean_p_deficiency']:.2f}",
        )
    console.print(table)
