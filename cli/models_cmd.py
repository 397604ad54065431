"""``tillsynsrisk train | evaluate | compare | promote``: risk models per riskområde, tracked in MLflow."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import console, fail, load_effective_config, load_settings
from engine.snapshots import SnapshotNotFoundError, SnapshotStore

if TYPE_CHECKING:
    from models.tracking import Tracking

# models.* (scikit-learn, LightGBM, MLflow) is imported inside each command: `tillsynsrisk --help` and
# the other commands should not pay seconds for it.

TRUTH_FILE = Path("truth") / "inspections.parquet"


def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--as-of must be a date YYYY-MM-DD, got {value!r}")


def _truth_path(manifest: dict[str, Any], truth: Path | None) -> Path | None:
    if truth is not None:
        path = truth / "inspections.parquet" if truth.is_dir() else truth
        if not path.is_file():
            fail(f"--truth: no truth inspections file at {path}")
        return path
    source_dir = manifest.get("source_dir")
    candidate = Path(source_dir) / TRUTH_FILE if source_dir else None
    return candidate if candidate is not None and candidate.is_file() else None


def _fmt(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _summary_table(result: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("risk area", "n", "base rate", "model p@10%", "oracle", "random", "complaints", "banding",
                   "logistic", "expected p@10% model", "oracle", "model AUC", "ECE",
                   "ECE noise 97.5%"):  # fmt: skip
        table.add_column(column, justify="right" if column != "risk area" else "left")
    for area, entry in result.items():
        scorers = {k: v or {} for k, v in entry.items() if isinstance(v, dict) or v is None}
        table.add_row(
            escape(str(area)),
            str(entry["n"]),
            _fmt(entry["base_rate"]),
            *[
                _fmt(scorers.get(s, {}).get("precision_at_10pct"))
                for s in ("model", "oracle", "random", "complaints", "banding", "logistic")
            ],
            *[_fmt(scorers.get(s, {}).get("expected_precision_at_10pct")) for s in ("model", "oracle")],
            _fmt(entry["model"].get("roc_auc")),
            _fmt(entry["model"].get("ece")),
            _fmt(entry["model"].get("ece_noise_upper")),
        )
    return table


def train(
    as_of: Annotated[
        str, typer.Option("--as-of", help="Training cut-off YYYY-MM-DD: labels decided before it.")
    ],
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="Snapshot id (default: current).")
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth", help="Synthetic truth dir/file for the oracle (default: <source_dir>/truth)."
        ),
    ] = None,
) -> None:
    """Build the training set, evaluate on yearly folds with baselines, log to MLflow, print the run id."""
    from models.jobs import build_training_data, run_training
    from models.registry import tracking_for

    settings = load_settings()
    config = load_effective_config(settings)
    cutoff = _parse_date(as_of)
    try:
        opened = SnapshotStore(settings.snapshots_dir).open(snapshot)
    except SnapshotNotFoundError as error:
        fail(str(error))
    truth_path = _truth_path(opened.manifest, truth)
    tracking = tracking_for(settings)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("building training set", total=3 + config.model.evaluation_years + 3)
        data = build_training_data(
            opened.tables(),
            config,
            as_of=cutoff,
            snapshot_id=opened.id,
            truth_inspections=pl.scan_parquet(truth_path) if truth_path else None,
        )
        progress.update(task, advance=3, description="rolling-origin evaluation")

        def step(name: str) -> None:
            progress.update(task, advance=1, description=name)

        try:
            result = run_training(
                data,
                config,
                tracking,
                as_of=cutoff,
                lineage={
                    "snapshot_id": opened.id,
                    "snapshot_manifest_config_hash": opened.manifest.get("config_hash"),
                    "snapshot_tables": {
                        k: v.get("content_hash") for k, v in opened.manifest.get("tables", {}).items()
                    },
                    "truth_file": str(truth_path) if truth_path else None,
                },
                progress=step,
            )
        except ValueError as error:
            fail(str(error))
    console.print(
        _summary_table(
            result.summary, "Random-selection inspections, all test folds (only inspected units have labels)"
        )
    )
    if truth_path is None:
        console.print("no truth files found: the oracle column is empty (real data)")
    console.print(f"run id: {result.run_id}")


def _tracking_and_metrics(run_id: str) -> tuple[Tracking, pl.DataFrame]:
    from mlflow.exceptions import MlflowException

    from models.registry import METRICS_ARTIFACT, tracking_for

    tracking = tracking_for(load_settings())
    try:
        return tracking, tracking.read_table(run_id, METRICS_ARTIFACT)
    except (MlflowException, OSError) as error:
        fail(f"run {run_id!r} has no evaluation in {tracking.tracking_uri}: {error}")


def evaluate(
    run_id: Annotated[str, typer.Argument(help="MLflow run id printed by `tillsynsrisk train`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print per-area metrics as JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write a self-contained HTML report here.")
    ] = None,
) -> None:
    """Show a run's evaluation: per area the model, oracle and baselines (random-selection inspections)."""
    from models.evaluation import summary
    from models.report import render_report
    from models.tracking import dumps

    tracking, metrics = _tracking_and_metrics(run_id)
    result = summary(metrics, "random")
    if as_json:
        for area, entry in summary(metrics, "all").items():
            result[area]["all_inspections"] = entry
        console.print_json(dumps(result))
    else:
        console.print(
            _summary_table(
                result, "Random-selection inspections (unbiased; only inspected units have labels)"
            )
        )
        console.print(
            _summary_table(summary(metrics, "all"), "All inspections (biased towards risky-looking units)")
        )
    if out is not None:
        out.write_text(render_report(tracking, run_id), encoding="utf-8")
        if not as_json:
            console.print(f"report written to {escape(str(out))}")


def compare(
    run_a: Annotated[str, typer.Argument(help="Baseline run id.")],
    run_b: Annotated[str, typer.Argument(help="Run id compared against RUN_A.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print deltas and PSI as JSON.")] = False,
) -> None:
    """Metric deltas (B − A) per area and population stability index per feature between training periods."""
    from models.jobs import psi_table
    from models.tracking import dumps

    tracking, metrics_a = _tracking_and_metrics(run_a)
    _, metrics_b = _tracking_and_metrics(run_b)
    key = ["population", "fold", "risk_area", "scorer", "metric"]
    joined = (
        metrics_a.filter(pl.col("fold") == "all")
        .select(*key, pl.col("value").alias("a"))
        .join(metrics_b.filter(pl.col("fold") == "all").select(*key, pl.col("value").alias("b")), on=key)
        .with_columns((pl.col("b") - pl.col("a")).alias("delta"))
        .filter(pl.col("scorer").is_in(["model", "data"]))
    )
    psi = psi_table(
        tracking.read_table(run_a, "evaluation/training_features.parquet"),
        tracking.read_table(run_b, "evaluation/training_features.parquet"),
    )
    if as_json:
        console.print_json(dumps({"deltas": joined.to_dicts(), "psi": psi.to_dicts()}))
        return
    table = Table(title=f"Model metrics, all test folds: {run_b[:8]} − {run_a[:8]}")
    for column in ("population", "risk area", "metric", "A", "B", "Δ"):
        table.add_column(column)
    shown = ("base_rate", "precision_at_10pct", "roc_auc", "average_precision", "ece")
    for row in joined.filter(pl.col("metric").is_in(shown)).sort(key).iter_rows(named=True):
        table.add_row(
            escape(row["population"]),
            escape(row["risk_area"]),
            escape(row["metric"]),
            _fmt(row["a"]),
            _fmt(row["b"]),
            _fmt(row["delta"]),
        )
    console.print(table)
    psi_view = Table(title="Population stability index of training features (>0.25 = major shift)")
    psi_view.add_column("feature")
    psi_view.add_column("PSI", justify="right")
    for row in psi.head(20).iter_rows(named=True):
        psi_view.add_row(escape(row["feature"]), _fmt(row["psi"]))
    console.print(psi_view)


def promote(
    run_id: Annotated[str, typer.Argument(help="Run id whose model becomes the champion.")],
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if gates fail (reasons are tagged).")
    ] = False,
) -> None:
    """Register a run's model as `tillsynsrisk` and alias it `champion` if it passes the promotion gates."""
    from models.registry import promote as promote_run

    settings = load_settings()
    config = load_effective_config(settings)
    tracking, _ = _tracking_and_metrics(run_id)
    decision = promote_run(tracking, run_id, config.model, force=force)
    if not decision.promoted:
        fail("promotion refused:\n  - " + "\n  - ".join(decision.reasons))
    for reason in decision.reasons:
        console.print(f"[yellow]forced despite:[/] {escape(reason)}")
    console.print(
        f"promoted run {run_id} as tillsynsrisk version {decision.version} (alias champion; "
        f"previous: {decision.previous_version or 'none'})"
    )
