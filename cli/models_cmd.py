"""``tillsynsrisk train | evaluate | compare | promote``: risk models per riskområde, tracked in MLflow."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import console, fail, load_effective_config, load_settings
from engine.events import EventLog
from engine.snapshots import SnapshotNotFoundError, SnapshotStore

if TYPE_CHECKING:
    from engine.config import Config
    from engine.settings import Settings
    from models.backtest import BacktestResult, PairedVerdict, VersionToScore
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


LABEL_COLUMNS = ("test year", "population")


def _compact_table(title: str) -> Table:
    """A table that fits a 120-column terminal: a rule under the header only, one space between columns."""
    return Table(
        title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, title_justify="left"
    )


def _add_area_columns(table: Table, *numbers: str) -> None:
    """The risk area (never cut: ids are up to 28 characters), then right-aligned figures."""
    table.add_column("risk area", no_wrap=True)
    for column in numbers:
        if column in LABEL_COLUMNS:
            table.add_column(column)
            continue
        # An interval "0.417 (0.083–0.667)" is 19 characters; it is the figure read, so it is never cut.
        interval = "(95% CI)" in column
        table.add_column(column, justify="right", no_wrap=interval, min_width=19 if interval else None)


def _scorers(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v or {} for k, v in entry.items() if isinstance(v, dict) or v is None}


def _summary_table(result: dict[str, dict[str, Any]], title: str) -> Table:
    """Precision@10 % per area: the model with its interval, the oracle and the baselines."""
    table = _compact_table(title)
    _add_area_columns(table, "n", "base rate", "model p@10% (95% CI)", "oracle", "complaints", "banding",
                      "logistic", "model AUC")  # fmt: skip
    for area, entry in result.items():
        scorers = _scorers(entry)
        model = scorers.get("model", {})
        table.add_row(
            escape(str(area)),
            str(entry["n"]),
            _fmt(entry["base_rate"]),
            _interval_text(model.get("precision_at_10pct"), model.get("precision_at_10pct_ci")),
            *[
                _fmt(scorers.get(s, {}).get("precision_at_10pct"))
                for s in ("oracle", "complaints", "banding", "logistic")
            ],
            _fmt(model.get("roc_auc")),
        )
    return table


def _calibration_table(result: dict[str, dict[str, Any]], title: str) -> Table:
    """Calibration per area: expected precision@10 % from the probabilities, ECE beside its noise band."""
    table = _compact_table(title)
    _add_area_columns(table, "n", "random p@10%", "expected p@10% model", "expected p@10% oracle", "ECE",
                      "ECE noise 97.5%")  # fmt: skip
    for area, entry in result.items():
        scorers = _scorers(entry)
        table.add_row(
            escape(str(area)),
            str(entry["n"]),
            _fmt(scorers.get("random", {}).get("precision_at_10pct")),
            *[_fmt(scorers.get(s, {}).get("expected_precision_at_10pct")) for s in ("model", "oracle")],
            _fmt(scorers.get("model", {}).get("ece")),
            _fmt(scorers.get("model", {}).get("ece_noise_upper")),
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
    _print_targets(result.model.metadata.get("targets", {}))
    _print_headline(result.metrics)
    _print_families(result.families.get("final", {}))
    if truth_path is None:
        console.print("no truth files found: the oracle column is empty (real data)")
    console.print(f"run id: {result.run_id}")
    console.print(
        f"`tillsynsrisk evaluate {result.run_id}` shows all inspections, calibration and each test year."
    )


NO_RANDOM_NOTE = (
    "no test inspection has selection = random: the unbiased (random-selection) subset is empty, so "
    "only the all-inspection figures exist (biased towards units chosen because they looked risky)"
)
RANDOM_TITLE = "Random-selection inspections, all test folds (unbiased; only inspected units have labels)"
ALL_TITLE = "All inspections, all test folds (biased towards risky-looking units)"


def _print_targets(targets: dict[str, dict[str, Any]]) -> None:
    """Per area: the ranking target the model chose and why (the base rate and precision below are of
    that target's label)."""
    if not targets:
        return
    console.print(
        "[bold]Ranking targets[/] (what ranks each area; base rate and precision below are of its label):"
    )
    for area, entry in targets.items():
        console.print(f"  {escape(area)}: {escape(str(entry['target']))} ({escape(str(entry['reason']))})")


def _print_verdicts(metrics: pl.DataFrame) -> None:
    """Per area in words: is the model reliably better than random selection and the best baseline?

    On the random selections (all inspections when there are none) and, where inclusion probabilities
    are known, on the weighted population too; each comparison with the best baseline carries its
    minimum detectable difference.
    """
    from models.evaluation import WEIGHTED, has_population, verdicts
    from models.verdicts import POPULATION_EN, overall_en, sentence_en

    populations = ["random" if has_population(metrics, "random") else "all"]
    if has_population(metrics, WEIGHTED):
        populations.append(WEIGHTED)
    for population in populations:
        found = verdicts(metrics, population)
        console.print(
            f"[bold]Verdict[/] ({POPULATION_EN[population]}, precision@10 %, read from the 95 % intervals; "
            "MDD = the smallest difference from the best baseline detectable with 80 % power): "
            + escape(overall_en(found))
        )
        for verdict in found.values():
            console.print(f"  {escape(sentence_en(verdict))}")


def _difference_text(row: dict[str, Any] | None) -> str:
    if row is None:
        return "–"
    auc = row.get("roc_auc") or {}
    return (
        f"{_fmt(row.get('value'))} ({_fmt(row.get('lower'))} to {_fmt(row.get('upper'))}); "
        f"AUC {_fmt(auc.get('value'))}"
    )


def _print_families(choices: dict[str, Any]) -> None:
    """The served model's family per area, the runners-up and the validation evidence."""
    if not choices:
        return
    metric = next(
        (row["metric"] for choice in choices.values() for row in choice.get("evidence", [])), "gate metric"
    )
    table = _compact_table("Model family per area, chosen on the validation years (never the test year)")
    _add_area_columns(
        table, "family", "compared on", "runners-up", "validation", "LightGBM − EN", "blend − EN"
    )
    for area, choice in choices.items():
        evidence = {row["family"]: row for row in choice.get("evidence", [])}
        years = choice.get("validation_years") or []
        table.add_row(
            escape(area),
            escape(choice["family"]),
            escape(str(choice.get("label", "deficiency"))),  # the area's ranking label (models.targets)
            escape(", ".join(choice.get("runners_up", []))),
            f"{'–'.join([years[0], years[-1]]) if years else '–'} n={choice.get('n', 0)}",
            _difference_text(evidence.get("lightgbm")),
            _difference_text(evidence.get("blend")),
        )
    console.print(table)
    console.print(
        f"Differences against the elastic net (EN) on the validation years: {escape(metric)} (95% CI); "
        "ROC AUC."
    )
    for area, choice in choices.items():
        console.print(f"  {escape(area)}: {escape(choice['family'])}: {escape(choice.get('reason', ''))}")


def _read_families(tracking: Tracking, run_id: str) -> dict[str, Any]:
    """The run's ``family/choice.json`` for the served model (empty for a run from before the choice)."""
    from models.family import FAMILY_ARTIFACT, FINAL

    try:
        return dict(tracking.read_json(run_id, FAMILY_ARTIFACT).get(FINAL, {}))
    except Exception:  # an older run: it has no family choice to show
        return {}


def _print_folds(metrics: pl.DataFrame, population: str) -> None:
    """The model per test year: a drop after a change in the world shows here."""
    from models.evaluation import fold_table

    folds = fold_table(metrics, population)
    if folds.is_empty():
        return
    label = "random selections" if population == "random" else "all inspections"
    table = _compact_table(f"Model per test year, {label} (each year scored by a model fitted before it)")
    # Expected precision per year stays in `evaluate --json` and the HTML report: with it the table
    # would not fit 120 columns.
    _add_area_columns(table, "test year", "n", "base rate", "p@10% (95% CI)", "ROC AUC", "ECE (95% CI)",
                      "ECE noise 97.5%", "Brier")  # fmt: skip
    for row in folds.iter_rows(named=True):
        table.add_row(
            escape(row["risk_area"]),
            row["fold"],
            str(row["n"]),
            _fmt(row["base_rate"]),
            _interval_text(
                row["precision_at_10pct"], [row["precision_at_10pct_lower"], row["precision_at_10pct_upper"]]
            ),
            _fmt(row["roc_auc"]),
            _interval_text(row["ece"], [row["ece_lower"], row["ece_upper"]]),
            _fmt(row["ece_noise_upper"]),
            _fmt(row["brier"]),
        )
    console.print(table)


def _print_headline(metrics: pl.DataFrame) -> None:
    """``train``'s one table (random selections, or all inspections when there are none) and verdicts."""
    from models.evaluation import has_population, summary

    if has_population(metrics, "random"):
        console.print(_summary_table(summary(metrics, "random"), RANDOM_TITLE))
    else:
        console.print(f"[yellow]{NO_RANDOM_NOTE}[/]")
        console.print(_summary_table(summary(metrics, "all"), ALL_TITLE))
    _print_verdicts(metrics)


def _print_summaries(metrics: pl.DataFrame) -> None:
    """``evaluate``'s tables: precision and calibration per population (or a note that random is empty)."""
    from models.evaluation import has_population, summary

    populations = [("all", ALL_TITLE)]
    if has_population(metrics, "random"):
        populations.insert(0, ("random", RANDOM_TITLE))
    else:
        console.print(f"[yellow]{NO_RANDOM_NOTE}[/]")
    for population, title in populations:
        result = summary(metrics, population)
        console.print(_summary_table(result, title))
        console.print(_calibration_table(result, f"Calibration, {title[0].lower()}{title[1:]}"))
    _print_verdicts(metrics)


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
    from models.evaluation import WEIGHTED, fold_table, has_population, summary
    from models.prospective import read_record, record_summary
    from models.report import render_report
    from models.tracking import dumps

    tracking, metrics = _tracking_and_metrics(run_id)
    result = summary(metrics, "random")
    record = read_record(tracking, run_id)
    families = _read_families(tracking, run_id)
    if as_json:
        for area, choice in families.items():
            if area in result:
                result[area]["family"] = choice
        for area, entry in summary(metrics, "all").items():
            result[area]["all_inspections"] = entry
        if has_population(metrics, WEIGHTED):  # where π is known: the verdict with its MDD, weighted
            for area, entry in summary(metrics, WEIGHTED).items():
                result[area]["weighted_inspections"] = entry
        for population, key in (("random", None), ("all", "all_inspections")):
            for row in fold_table(metrics, population).iter_rows(named=True):
                target = result[row["risk_area"]] if key is None else result[row["risk_area"]][key]
                target.setdefault("folds", {})[row["fold"]] = {
                    k: v for k, v in row.items() if k not in ("risk_area", "fold")
                }
        if record is not None:
            for area, entry in record_summary(record).items():
                if area in result:
                    result[area]["i_drift_sedan"] = {
                        "since": record["since"],
                        "until": record["until"],
                        **entry,
                    }
        console.print_json(dumps(result))
    else:
        _print_summaries(metrics)
        _print_families(families)
        for population in ("random", "all"):
            _print_folds(metrics, population)
        if record is not None:
            _print_prospective(record)
    if out is not None:
        out.write_text(render_report(tracking, run_id), encoding="utf-8")
        if not as_json:
            console.print(f"report written to {escape(str(out))}")


def _interval_text(value: Any, ci: Any) -> str:
    if not ci or ci[0] is None:
        return _fmt(value)
    return f"{_fmt(value)} ({_fmt(ci[0])}–{_fmt(ci[1])})"


def _print_prospective(record: dict[str, Any]) -> None:
    """The champion's record on inspections decided since it was put in force ("i drift sedan …")."""
    from models.prospective import record_summary, since_label

    table = _compact_table(f"Prospective record: {since_label(record)} (snapshot {record['snapshot_id']})")
    _add_area_columns(table, "population", "n", "base rate", "p@10% (95% CI)", "ROC AUC (95% CI)", "Brier",
                      "ECE")  # fmt: skip
    for area, populations in record_summary(record).items():
        for population in ("random", "all"):
            entry = populations.get(population)
            if entry is None:
                continue
            table.add_row(
                area,
                population,
                str(entry.get("n", 0)),
                _fmt(entry.get("base_rate")),
                _interval_text(entry.get("precision_at_10pct"), entry.get("precision_at_10pct_ci")),
                _interval_text(entry.get("roc_auc"), entry.get("roc_auc_ci")),
                _fmt(entry.get("brier")),
                _fmt(entry.get("ece")),
            )
    console.print(table)
    if not record.get("counts"):
        console.print("no inspection has been decided since the champion was put in force")


def _parse_window_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date YYYY-MM-DD, got {value!r}")


def _load_versions(tracking: Tracking, names: list[str]) -> list[VersionToScore]:
    from models.registry import load_run, load_version

    versions = []
    for name in names:
        try:
            if len(name) == 32 and all(c in "0123456789abcdef" for c in name):
                versions.append(load_run(tracking, name))
            else:
                versions.append(load_version(tracking, name))
        except (LookupError, OSError) as error:
            fail(f"model version {name!r}: {error}")
    return versions


def _label(version: str) -> str:
    """``v3`` for a registry version, the name as it is for a run (``run:d0a21a8b``)."""
    return f"v{version}" if version.isdigit() else version


def _metric_cell(row: dict[str, Any] | None) -> str:
    return _interval_text(row["value"], [row["lower"], row["upper"]]) if row else "–"


def _delta_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "–"
    return f"{row['value']:+.3f} ({row['lower']:+.3f} to {row['upper']:+.3f})"


def _print_backtest(result: BacktestResult, snapshot_id: str) -> None:
    console.print(
        f"[bold]Backtest window:[/] inspections decided {result.window_text()} (snapshot {snapshot_id}); "
        f"every version scores the same inspections, each with features as of its own planning rule."
    )
    if result.regions:
        console.print(
            f"[bold]Regions:[/] only inspections of units in {result.regions_text()} "
            "(the units' region_code in the snapshot)."
        )
    versions = Table(title="Model versions")
    for column in ("version", "run", "trained as of", "lead time (days)", "sample status"):
        versions.add_column(column)
    for v in result.versions:
        status = (
            f"[bold red]IN SAMPLE[/]: {v['in_sample_inspections']} of {v['inspections']} inspections were "
            "in its training data"
            if v["in_sample"]
            else "out of sample (trained before the window)"
        )
        versions.add_row(v["version"], v["run_id"][:8], v["trained_as_of"], str(v["lead_time_days"]), status)
    console.print(versions)
    names = [v["version"] for v in result.versions]
    for population, title in (("random", "Random selections (unbiased)"), ("all", "All inspections")):
        counts = result.counts.filter(pl.col("population") == population)
        if counts.is_empty():
            console.print(f"{title}: no inspection in the window")
            continue
        metrics = {
            (r["risk_area"], r["version"], r["metric"]): r
            for r in result.metrics.filter(pl.col("population") == population).iter_rows(named=True)
        }
        table = Table(title=f"{title}: precision@10 % and ROC AUC (95 % bootstrap CI)")
        for column in ("risk area", "n", "base rate", *[f"{_label(n)} p@10%" for n in names],
                       *[f"{_label(n)} AUC" for n in names]):  # fmt: skip
            table.add_column(column, justify="left" if column == "risk area" else "right")
        for row in counts.iter_rows(named=True):
            area = row["risk_area"]
            table.add_row(
                area,
                str(row["n"]),
                _fmt(row["base_rate"]),
                *[_metric_cell(metrics.get((area, n, "precision_at_10pct"))) for n in names],
                *[_metric_cell(metrics.get((area, n, "roc_auc"))) for n in names],
            )
        console.print(table)
        differences = result.differences.filter(pl.col("population") == population)
        if differences.is_empty():
            continue
        diff_table = Table(
            title=f"{title}: paired differences (version − {_label(result.reference)}, 95 % paired CI)"
        )
        for column in ("risk area", "version", "Δ p@10%", "Δ ROC AUC", "Δ average precision", "Δ Brier"):
            diff_table.add_column(column, justify="left" if column in ("risk area", "version") else "right")
        by_key = {(r["risk_area"], r["version"], r["metric"]): r for r in differences.iter_rows(named=True)}
        for row in counts.iter_rows(named=True):
            for name in names[1:]:
                diff_table.add_row(
                    row["risk_area"],
                    name,
                    *[
                        _delta_cell(by_key.get((row["risk_area"], name, metric)))
                        for metric in ("precision_at_10pct", "roc_auc", "average_precision", "brier")
                    ],
                )
        console.print(diff_table)


def backtest(  # noqa: PLR0917 - typer options are keyword-only by nature, positional by signature
    versions: Annotated[
        list[str],
        typer.Argument(
            help="Model versions to compare (registry version numbers, `champion`, or training run ids); "
            "differences are taken against the first."
        ),
    ],
    since: Annotated[
        str, typer.Option("--since", help="Window start YYYY-MM-DD (decision date, inclusive).")
    ],
    until: Annotated[
        str | None, typer.Option("--until", help="Window end YYYY-MM-DD (decision date, exclusive).")
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="Snapshot id (default: current).")
    ] = None,
    out_of_sample_only: Annotated[
        bool,
        typer.Option("--out-of-sample-only", help="Refuse versions whose training data overlaps the window."),
    ] = False,
    region: Annotated[
        list[str] | None,
        typer.Option(
            "--region",
            help="Only inspections of units in this region (county code, e.g. 01 for Stockholm; the "
            "units' region_code in the snapshot). Repeat or comma-separate for several; default: all.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Score model versions on the same inspections decided in a window; paired bootstrap differences."""
    from models.backtest import checked_regions, in_sample_refusal, run_backtest
    from models.registry import tracking_for
    from models.tracking import dumps

    settings = load_settings()
    config = load_effective_config(settings)
    start = _parse_window_date(since, "--since")
    end = _parse_window_date(until, "--until") if until else None
    try:
        codes = [code.strip() for value in region or [] for code in value.split(",") if code.strip()]
        regions = checked_regions(codes)
    except ValueError as error:
        fail(f"--region: {error}", 2)
    try:
        opened = SnapshotStore(settings.snapshots_dir).open(snapshot)
    except SnapshotNotFoundError as error:
        fail(str(error))
    tracking = tracking_for(settings)
    loaded = _load_versions(tracking, versions)
    with console.status("scoring the window's inspections with every version ..."):
        try:
            result = run_backtest(opened.tables(), config, loaded, since=start, until=end, regions=regions)
        except ValueError as error:
            fail(str(error))
    overlap = in_sample_refusal(result)
    if out_of_sample_only and overlap:
        fail("refused (--out-of-sample-only):\n  - " + "\n  - ".join(overlap))
    if as_json:
        console.print_json(dumps({"snapshot_id": opened.id, **result.to_dict()}))
        return
    _print_backtest(result, opened.id)
    for sentence in overlap:
        console.print(f"[bold red]in sample:[/] {sentence}")


def compare(
    run_a: Annotated[str, typer.Argument(help="Baseline run id.")],
    run_b: Annotated[str, typer.Argument(help="Run id compared against RUN_A.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print deltas and PSI as JSON.")] = False,
) -> None:
    """Metric deltas (B − A) per area and population stability index per feature between training periods."""
    from mlflow.exceptions import MlflowException

    from models.comparison import METRIC_KEY, compare_runs
    from models.tracking import dumps

    tracking, _ = _tracking_and_metrics(run_a)
    _tracking_and_metrics(run_b)
    try:
        comparison = compare_runs(tracking, run_a, run_b)
    except (MlflowException, OSError, KeyError) as error:
        fail(f"runs {run_a!r} and {run_b!r} cannot be compared: {error}")
    if as_json:
        console.print_json(dumps(comparison.to_dict()))
        return
    joined, psi, windows, flagged = comparison.deltas, comparison.psi, comparison.windows, comparison.flagged
    key = list(METRIC_KEY)
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
    console.print(
        "each run is measured on its own test years, so these deltas mix a change of model with a change "
        "of years; `tillsynsrisk backtest` compares versions on the same inspections"
    )
    period = windows.to_dict()
    noise = comparison.psi_noise
    psi_view = Table(
        title="Population stability index of training features: B's rows dated "
        f"{period['after'][0] or '…'} – "
        f"{period['after'][1]} (n {period['n_after']}) against A's {period['before'][0] or '…'} – "
        f"{period['before'][1]} (n {period['n_before']}); > 0.25 major shift ⚑, 0.1–0.25 moderate, "
        f"never within the noise of these row counts ({_fmt(noise)})"
    )
    psi_view.add_column("feature")
    psi_view.add_column("PSI", justify="right")
    psi_view.add_column("shift")
    shifted = psi.filter(pl.col("shift") != "none")
    psi_rows = pl.concat([shifted, psi.filter(pl.col("shift") == "none").head(max(0, 20 - shifted.height))])
    marks = {"major": "[bold red]⚑ major[/]", "moderate": "[yellow]moderate[/]", "none": ""}
    for row in psi_rows.iter_rows(named=True):
        psi_view.add_row(escape(row["feature"]), _fmt(row["psi"]), marks[row["shift"]])
    console.print(psi_view)
    console.print(
        f"{len(flagged['major'])} of {psi.height} features shifted majorly (PSI > 0.25), "
        f"{len(flagged['moderate'])} moderately (0.1–0.25)"
        + (f": {escape(', '.join(flagged['major']))}" if flagged["major"] else "")
    )


def _paired_evidence(
    tracking: Tracking, run_id: str, settings: Settings, config: Config
) -> PairedVerdict | None:
    """The paired comparison with the champion (printed), or None with the reason when there is none."""
    from models.promotion import NoPairedEvidence, paired_evidence

    store = SnapshotStore(settings.snapshots_dir)
    snapshot = store.open() if store.current_id() is not None else None
    with console.status("paired comparison with the champion on the newest common window ..."):
        evidence = paired_evidence(tracking, run_id, snapshot, config)
    if isinstance(evidence, NoPairedEvidence):
        console.print(f"[yellow]no paired comparison with the champion:[/] {escape(evidence.reason)}")
        return None
    assert snapshot is not None
    _print_backtest(evidence.backtest, snapshot.id)
    return evidence.verdict


def promote(
    run_id: Annotated[str, typer.Argument(help="Run id whose model becomes the champion.")],
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if gates fail (reasons are tagged).")
    ] = False,
) -> None:
    """Register a run's model as `tillsynsrisk` and alias it `champion` if it passes the promotion gates.

    A run that did not finish (killed, failed, still running) or lacks its artifacts is refused, even with
    --force.
    """
    from models.registry import promote as promote_run
    from models.registry import tracking_for
    from models.tracking import unfinished_run_problem

    settings = load_settings()
    config = load_effective_config(settings)
    problem = unfinished_run_problem(tracking_for(settings), run_id)
    if problem is not None:
        fail(f"promotion refused (even with --force): {problem}")
    tracking, _ = _tracking_and_metrics(run_id)
    paired = _paired_evidence(tracking, run_id, settings, config)
    decision = promote_run(
        tracking,
        run_id,
        config.model,
        force=force,
        paired=paired,
        events=EventLog(settings.events_db),
        area_names=config.risk_area_names_sv,
    )
    # The command line speaks English to the analyst (Swedish is for planner-facing texts).
    console.print(decision.evidence_en)
    if not decision.promoted:
        fail("promotion refused:\n  - " + "\n  - ".join(decision.reasons))
    for reason in decision.reasons:
        console.print(f"[yellow]forced despite:[/] {escape(reason)}")
    console.print(
        f"promoted run {run_id} as tillsynsrisk version {decision.version} (alias champion; "
        f"previous: {decision.previous_version or 'none'})"
    )
