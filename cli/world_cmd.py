"""``tillsynsrisk generate``: write a calibrated synthetic supervision world to a directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from cli.common import console, fail, load_effective_config, load_settings, status
from synthetic import generate_world
from synthetic.scenarios import SCENARIOS, scenario_params
from synthetic.writer import WorldFormat, write_world


def generate(
    *,
    seed: Annotated[int, typer.Option(help="Seed of the world: the same seed gives byte-identical files.")],
    out: Annotated[Path, typer.Option(help="Directory to write the world to (created if missing).")],
    units: Annotated[
        int, typer.Option(help="Number of vårdcentraler (default scale: 1,200, ~1,150 active).")
    ] = 1200,
    years: Annotated[int, typer.Option(help="Years of history ending at --end.")] = 6,
    end: Annotated[str, typer.Option(help="Last month of the world, YYYY-MM.")] = "2025-12",
    faults: Annotated[
        bool, typer.Option("--faults", help="Inject the data-quality faults (truth/faults.json).")
    ] = False,
    visits: Annotated[bool, typer.Option("--visits", help="Also write the optional visits table.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="File format of the tables: csv or parquet.")] = "csv",
    scenario: Annotated[
        str,
        typer.Option(help=f"Named parameter set: one of {', '.join(SCENARIOS)} (docs/synthetic-world.md)."),
    ] = "default",
) -> None:
    """Generate a synthetic world: the contract's files plus truth/ (never read by ingest)."""
    if fmt not in ("csv", "parquet"):
        fail(f"--format must be one of ['csv', 'parquet'], got {fmt!r}")
    try:
        params = scenario_params(
            scenario, seed=seed, n_units=units, years=years, end=end, with_faults=faults, with_visits=visits
        )
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        fail(f"invalid world parameters: {problems}")
    except ValueError as error:  # an unknown scenario
        fail(str(error))
    config = load_effective_config(load_settings())
    started = time.perf_counter()
    with status("Generating the synthetic world..."):
        try:
            world = generate_world(params, config)
        except ValueError as error:
            fail(str(error))
        format_: WorldFormat = "csv" if fmt == "csv" else "parquet"
        write_world(world, out, format_)
    elapsed = time.perf_counter() - started
    table = Table(title=f"Synthetic world {scenario!r} seed {seed} → {out}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, frame in world.tables.items():
        table.add_row(name, f"{frame.height:,}")
    console.print(table)
    if world.faults:
        console.print(f"Injected {len(world.faults)} faults: see {out / 'truth' / 'faults.json'}")
    console.print(f"Done in {elapsed:.1f} s. Truth (never read by ingest): {out / 'truth'}")
