"""``tillsynsrisk simulate``: the planning loop with several designs in a synthetic world, over seeds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from cli.common import console, fail, load_effective_config, load_settings
from serving.planning import equal_probability, floor_makes_random, largest_useful_floor


def _csv(value: str, kind: type, name: str) -> tuple:  # type: ignore[type-arg]
    try:
        return tuple(kind(part.strip()) for part in value.split(",") if part.strip())
    except ValueError:
        fail(f"{name} must be a comma-separated list, got {value!r}", 2)


def simulate(
    *,
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            help="World scenario: default, realistic, weak or shifted (docs/synthetic-world.md).",
        ),
    ] = "default",
    years: Annotated[int, typer.Option("--years", min=1, help="Simulated planning years.")] = 4,
    capacity: Annotated[int, typer.Option("--capacity", min=1, help="Inspections per year (K).")] = 150,
    designs: Annotated[
        str, typer.Option("--designs", help="Comma-separated: top, pps, stratified, oracle, random.")
    ] = "top,pps,stratified,oracle,random",
    seeds: Annotated[
        str, typer.Option("--seeds", help="Comma-separated world and draw seeds.")
    ] = "1,2,3,4,5",
    risk_area: Annotated[
        str, typer.Option("--risk-area", help="The risk area plans are made for.")
    ] = "tillganglighet",
    exploration: Annotated[
        float | None,
        typer.Option(
            "--exploration", min=0.0, max=1.0, help="top: share of K drawn at random (default: [planning])."
        ),
    ] = None,
    floor: Annotated[float, typer.Option("--floor", min=0.0, max=1.0, help="pps: π_min.")] = 0.1,
    units: Annotated[
        int | None, typer.Option("--units", min=30, help="World size (default: the scenario's).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="HTML report to write.")] = Path(
        "var/simulation-report.html"
    ),
) -> None:
    """Train, score, plan with each design, reveal outcomes from the truth, repeat; report and MLflow run."""
    from models.registry import tracking_for
    from simulation.loop import SimulationSettings
    from simulation.loop import simulate as run_simulation
    from simulation.report import headline, log_simulation

    settings = load_settings()
    config = load_effective_config(settings)
    try:
        sim = SimulationSettings(
            scenario=scenario,
            years=years,
            capacity=capacity,
            designs=_csv(designs, str, "--designs"),
            seeds=_csv(seeds, int, "--seeds"),
            risk_area=risk_area,
            exploration=exploration,
            floor=floor,
            n_units=units,
        )
    except ValueError as error:
        fail(str(error), 2)
    started = time.perf_counter()
    try:
        with console.status("simulating") as status:
            result = run_simulation(config, sim, progress=status.update)
    except ValueError as error:
        fail(str(error), 2)
    result.timings["simulation_seconds"] = time.perf_counter() - started
    run_id, html = log_simulation(tracking_for(settings), result)
    result.timings["total_seconds"] = time.perf_counter() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    values = headline(result)
    table = Table("design", "findings (sum)", "vs top", "worst decile", "estimate RMSE", "coverage")
    for design in sim.designs:
        table.add_row(
            design,
            _fmt(values.get(f"{design}/findings"), 1),
            _fmt(values.get(f"{design}/findings_vs_top"), 2),
            _fmt(values.get(f"{design}/worst_decile_share"), 2),
            _fmt(values.get(f"{design}/estimate_rmse"), 3),
            _fmt(values.get(f"{design}/estimate_coverage"), 2),
        )
    console.print(table)
    advice = random_floor_advice(result.metrics, sim.floor, sim.capacity) if "pps" in sim.designs else None
    if advice is not None:
        console.print(f"[yellow]warning:[/] {advice}")
    console.print(
        f"Simulated in {result.timings['simulation_seconds']:.0f} s "
        f"(total {result.timings['total_seconds']:.0f} s); MLflow run {run_id}; report {out}"
    )


def random_floor_advice(metrics: pl.DataFrame, floor: float, capacity: int) -> str | None:
    """What to say when the pps arm's floor made every probability equal in some simulated year, or None.

    ``metrics`` has one row per seed, year and design with the design's ``eligible`` units.
    """
    eligible = metrics.filter(pl.col("design") == "pps")["eligible"].to_list()
    random_years = [n for n in eligible if floor_makes_random(floor, capacity, n)]
    if not random_years:
        return None
    most = max(random_years)
    return (
        f"the pps floor {floor:g} is at or above capacity / eligible units ({capacity} / {most} = "
        f"{equal_probability(capacity, most):.4f}) in {len(random_years)} of {len(eligible)} simulated "
        "years: every unit then has the same inclusion probability, so pps is the random design there; "
        f"the largest useful floor is {largest_useful_floor(capacity, max(eligible)):g}"
    )


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"
