"""``tillsynsrisk plan`` (create an inspection plan) and ``plan show|list|export``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import console, fail, load_effective_config, load_settings, shown
from engine.events import EventLog
from engine.scores import OVERALL, ScoreNotFoundError, ScoreStore, ScoreValidationError, scoring_for_team
from serving.plan_export import BOM, inspected_areas, inspections_csv_text, place_cell
from serving.planning import plan_parameters
from serving.plans import (
    CooldownUnavailableError,
    PlanNotFoundError,
    PlanStore,
    current_inspections,
    make_plan,
)

MAX_TEAM_LENGTH = 64

plan_app = typer.Typer(
    help="Inspection plans: `tillsynsrisk plan --capacity K --seed S` creates one; subcommands read them."
)


@plan_app.callback(invoke_without_command=True)
def plan(
    ctx: typer.Context,
    *,
    capacity: Annotated[
        int | None, typer.Option("--capacity", min=1, help="Inspections to plan (K).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Seed of the exploration draw.")] = None,
    risk_area: Annotated[str, typer.Option("--risk-area", help="A risk area id, or 'overall'.")] = OVERALL,
    per_region: Annotated[
        int | None, typer.Option("--per-region", min=1, help="Max units per region.")
    ] = None,
    max_per_provider: Annotated[
        int | None, typer.Option("--max-per-provider", min=1, help="Max units per provider.")
    ] = None,
    exploration: Annotated[
        float | None,
        typer.Option(
            "--exploration", min=0.0, max=1.0, help="Share of K drawn at random (default: [planning])."
        ),
    ] = None,
    cooldown_months: Annotated[
        int | None,
        typer.Option(
            "--cooldown-months", min=0, help="Skip units inspected this recently (default: [planning])."
        ),
    ] = None,
    design: Annotated[
        str | None,
        typer.Option(
            "--design",
            help="top (risk ranks + random share), pps (∝ risk with a floor) or stratified "
            "(default: [planning]).",
        ),
    ] = None,
    floor: Annotated[
        float | None,
        typer.Option(
            "--floor", min=0.0, max=1.0, help="pps: π_min of every eligible unit (default: [planning])."
        ),
    ] = None,
    score: Annotated[
        str | None, typer.Option("--score", help="Scoring snapshot id (default: published).")
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", help="Limit the plan to this region (SCB code, e.g. 01); repeatable."),
    ] = None,
    kommun: Annotated[
        list[str] | None,
        typer.Option("--kommun", help="Limit the plan to this kommun (SCB code, e.g. 0180); repeatable."),
    ] = None,
    team: Annotated[
        str | None,
        typer.Option(
            "--team",
            help="The team that will inspect: plan on the scores made for it (`tillsynsrisk score --team`; "
            "default: the team-neutral scores).",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="A short name for the plan (one line, part of its id).")
    ] = None,
    purpose: Annotated[
        str | None, typer.Option("--purpose", help="Why the plan is made (free text, part of its id).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan document as JSON.")] = False,
) -> None:
    """Choose K units: by risk rank with a random share (top), ∝ risk with a floor (pps), or stratified."""
    if ctx.invoked_subcommand is not None:
        return
    if capacity is None or seed is None:
        fail("`tillsynsrisk plan` needs --capacity K and --seed S (or a subcommand: show, list, export)", 2)
    settings = load_settings()
    defaults = load_effective_config(settings).planning
    chosen_design = defaults.design if design is None else design
    if floor is not None and floor > 0 and chosen_design != "pps":
        fail(f"--floor applies to --design pps only, not {chosen_design!r}", 2)
    if team is not None and not 0 < len(team) <= MAX_TEAM_LENGTH:
        fail(f"--team is 1 to {MAX_TEAM_LENGTH} characters", 2)
    store = ScoreStore(settings.scores_dir)
    try:
        scores = store.open(score) if team is None else scoring_for_team(store, team, score)
    except (ScoreNotFoundError, ScoreValidationError) as error:
        if team is not None:
            fail(str(error), 2)
        fail(f"{error}; run `tillsynsrisk score` first")
    try:
        parameters = plan_parameters(
            defaults,
            capacity=capacity,
            seed=seed,
            risk_area=risk_area,
            per_region=per_region,
            max_per_provider=max_per_provider,
            exploration=exploration,
            cooldown_months=cooldown_months,
            design=design,
            floor=floor,
            regions=region,
            municipalities=kommun,
        )
        inspections, snapshot_id = current_inspections(settings.snapshots_dir)
        document = make_plan(
            scores,
            parameters,
            inspections=inspections,
            inspections_snapshot_id=snapshot_id,
            name=name,
            purpose=purpose,
            min_contribution=load_effective_config(settings).scoring.min_contribution,
        )
    except (ValueError, CooldownUnavailableError) as error:
        fail(str(error), 2)
    # Printed before it is stored: a command that fails never leaves half its effect.
    if as_json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        _print_plan(document)
    path = PlanStore(settings.plans_dir, EventLog(settings.events_db)).save(document)
    if not as_json:
        console.print(f"Stored {shown(path)}")


@plan_app.command("show")
def show_plan(plan_id: Annotated[str, typer.Argument(help="A plan id (plan-...).")]) -> None:
    """Print a stored plan."""
    _print_plan(_open(plan_id))


@plan_app.command("list")
def list_plans() -> None:
    """List stored plans."""
    store = PlanStore(load_settings().plans_dir)
    table = Table(
        "plan id", "name", "created", "score id", "risk area", "capacity", "seed", "expected findings"
    )
    for plan_id in store.ids():
        doc = store.open(plan_id)
        params = doc["parameters"]
        table.add_row(
            plan_id,
            shown(doc.get("name") or ""),
            shown(doc["created_at"][:19]),
            shown(doc["score_id"]),
            shown(params["risk_area"]),
            str(params["capacity"]),
            str(doc["seed"]),
            f"{doc['expected_findings']:.2f}",
        )
    console.print(table)


@plan_app.command("export")
def export_plan(
    plan_id: Annotated[str, typer.Argument(help="A plan id (plan-...).")],
    export_format: Annotated[
        str, typer.Option("--format", help="Only 'inspections-csv'.")
    ] = "inspections-csv",
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout).")] = None,
) -> None:
    """Write the plan as inspections.csv rows (selection + inclusion probability; outcome columns empty)."""
    if export_format != "inspections-csv":
        fail(f"unknown format {export_format!r}; allowed: ['inspections-csv']", 2)
    document = _open(plan_id)
    area_ids = load_effective_config(load_settings()).risk_area_ids
    areas = inspected_areas(document, area_ids)
    text = inspections_csv_text(document, area_ids)
    if out is None:
        print(text, end="")
        return
    out.write_text(BOM + text, encoding="utf-8")
    console.print(f"Wrote {len(document['chosen'])} units × {len(areas)} risk areas to {shown(out)}")


def _open(plan_id: str) -> dict[str, Any]:
    try:
        return PlanStore(load_settings().plans_dir).open(plan_id)
    except PlanNotFoundError as error:
        fail(str(error))


def _print_plan(doc: dict[str, Any]) -> None:
    params = doc["parameters"]
    console.print(
        f"[bold]{shown(doc['plan_id'])}[/]  risk area {shown(params['risk_area'])}, "
        f"capacity {params['capacity']}, seed {doc['seed']}, scores {shown(doc['score_id'])} "
        f"(model {shown(doc['model_name'])} v{shown(doc['model_version'])}), "
        f"inspections snapshot {shown(doc['inspections_snapshot_id'])}"
    )
    if doc.get("name"):
        console.print(f"Name: {shown(doc['name'])}")
    if doc.get("purpose"):
        console.print(f"Purpose: {shown(doc['purpose'])}")
    places = [*params.get("regions", []), *params.get("municipalities", [])]
    if places:
        console.print(f"Limited to: {shown(', '.join(place_cell(code) for code in places))}")
    chosen = Table("#", "unit", "name", "region", "provider", "rank", "p", "reason", "incl. prob.")
    for unit in doc["chosen"]:
        chosen.add_row(
            str(unit["plan_position"]),
            shown(unit["unit_id"]),
            shown(unit["unit_name"]),
            shown(unit["region_code"]),
            shown(unit["provider_id"]),
            str(unit["rank"]),
            f"{unit['p_deficiency']:.3f}",
            shown(unit["reason"]),
            f"{unit['inclusion_probability']:.4f}",
        )
    console.print(chosen)
    if doc["skipped"]:
        skipped = Table("rank", "unit", "reason", "detail", title="Higher-ranked units skipped")
        for unit in doc["skipped"]:
            skipped.add_row(
                str(unit["rank"]), shown(unit["unit_id"]), shown(unit["reason"]), shown(unit["detail"])
            )
        console.print(skipped)
    console.print(
        f"Design {doc.get('design', 'top')}. Expected findings {doc['expected_findings']:.2f}; "
        f"{doc['risk_ranked']} risk-ranked, {doc['random']} random, {doc.get('pps', 0)} pps; "
        f"{doc['units_in_cooldown']} units in cooldown."
    )
    errors = doc.get("expected_standard_errors") or {}
    if errors:
        per_area = ", ".join(
            f"{shown(area)} {'–' if se is None else f'{se * 100:.1f} pp'}" for area, se in errors.items()
        )
        console.print(f"Anticipated standard error of the prevalence estimate: {per_area}")
    for warning in doc["warnings"]:
        console.print(f"[yellow]warning:[/] {shown(warning)}")
