"""The ``tillsynsrisk`` command line: the only layer that reads files, writes files and prints.

Each area of the engine keeps its commands in its own module here; this module only wires them up.
"""

from __future__ import annotations

import typer

from cli import (
    api_cmd,
    config_cmd,
    estimate_cmd,
    features_cmd,
    ingest_cmd,
    models_cmd,
    plan_cmd,
    score_cmd,
    simulate_cmd,
    world_cmd,
)
from cli.common import configure_consoles, configure_logging

app = typer.Typer(
    name="tillsynsrisk",
    help="Risk-based supervision targeting for IVO: ingest, features, models, scoring, plans and API.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
config_app.command("show")(config_cmd.show_config)
app.add_typer(config_app, name="config")

app.command("generate")(world_cmd.generate)
app.command("ingest")(ingest_cmd.ingest)
snapshot_app = typer.Typer(help="Inspect stored snapshots.", no_args_is_help=True)
snapshot_app.command("show")(ingest_cmd.show_snapshot)
snapshot_app.command("list")(ingest_cmd.list_snapshots)
app.add_typer(snapshot_app, name="snapshot")
app.command("features")(features_cmd.build_features_command)

app.command("train")(models_cmd.train)
app.command("evaluate")(models_cmd.evaluate)
app.command("compare")(models_cmd.compare)
app.command("promote")(models_cmd.promote)
app.command("backtest")(models_cmd.backtest)
app.command("score")(score_cmd.score)

app.add_typer(plan_cmd.plan_app, name="plan")
app.command("estimate")(estimate_cmd.estimate)
app.command("simulate")(simulate_cmd.simulate)
app.command("serve")(api_cmd.serve)
app.add_typer(api_cmd.apikey_app, name="apikey")


@app.callback()
def main() -> None:
    """tillsynsrisk — risk-based supervision targeting (riskbaserad tillsyn)."""
    configure_logging()
    configure_consoles()
