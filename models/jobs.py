"""The training job: snapshot tables → training set → rolling-origin evaluation → final model → MLflow.

This is the edge where lazy frames are collected. The CLI (``tillsynsrisk train``) and the benchmark
call :func:`build_training_data` and :func:`run_training`; everything they compute is logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import polars as pl

from engine.config import Config
from features.catalog import FEATURE_CODE_VERSION, feature_catalog
from features.pipeline import build_features
from features.store import feature_set_id
from models import plots
from models.artifact import ModelFeature, RiskModel
from models.dataset import training_as_of_dates, training_inspections, training_rows
from models.evaluation import (
    ALL_FOLDS,
    ORACLE_COLUMN,
    SERIOUS_ORACLE_COLUMN,
    WEIGHTED,
    evaluated_targets,
    has_population,
    metrics_table,
    reliability_tables,
    rolling_origin_evaluation,
    subgroup_tables,
    summary,
)
from models.family import FAMILY_ARTIFACT, FINAL, FamilySelection, fitted_lightgbm, select_families
from models.importance import contribution_importance
from models.metrics import population_stability_index, psi_noise_level, psi_shift
from models.targets import TARGETS_ARTIFACT
from models.tracking import RunLogger, Tracking
from models.training import fit_risk_models
from models.validation import Split, final_split, rolling_origin_splits

matplotlib.use("Agg")
logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class TrainingData:
    """Everything the training job needs, collected."""

    rows: pl.DataFrame
    catalog: list[ModelFeature]
    catalog_records: list[dict[str, Any]]
    as_of_dates: list[dt.date]
    feature_set_id: str  # the feature store's id of (snapshot, as_of_dates, configuration)
    latest_features: pl.DataFrame
    has_oracle: bool


def build_training_data(
    tables: Mapping[str, pl.LazyFrame],
    config: Config,
    *,
    as_of: dt.date,
    snapshot_id: str,
    truth_inspections: pl.LazyFrame | None = None,
) -> TrainingData:
    """Labelled inspections decided before ``as_of`` joined to their point-in-time features."""
    settings = config.model
    labelled = training_inspections(tables["inspections"], settings, decided_before=as_of).collect()
    if labelled.is_empty():
        raise ValueError(f"no inspection was decided before {as_of.isoformat()}; nothing to train on")
    dates = training_as_of_dates(labelled)
    scoring_date = as_of.replace(day=1)
    features = build_features(
        tables, [scoring_date], config, pairs=labelled.select("unit_id", "as_of")
    ).collect()
    rows = training_rows(labelled.lazy(), features.lazy()).collect()
    units = tables["units"].select("unit_id", "listed_patients").collect()
    # maintain_order: a join's row order is otherwise unspecified, and the order of the rows a model is
    # fitted on is part of what it learns (bagging samples rows by position).
    rows = rows.join(units, on="unit_id", how="left", suffix="_unit", maintain_order="left")
    if "listed_patients_unit" in rows.columns:
        rows = rows.drop("listed_patients_unit")
    has_oracle = truth_inspections is not None
    if truth_inspections is not None:
        truth = truth_inspections.select(
            pl.col("inspection_id").cast(pl.String),
            pl.col("risk_area").cast(pl.String),
            pl.col("p_deficiency").cast(pl.Float64).alias(ORACLE_COLUMN),
            pl.col("p_serious").cast(pl.Float64).alias(SERIOUS_ORACLE_COLUMN),
        ).collect()
        rows = rows.join(truth, on=["inspection_id", "risk_area"], how="left", maintain_order="left")
    dropped = labelled.height - rows.height
    if dropped:
        logger.warning(
            "%d labelled rows have no feature row (unit not active at as_of) and were dropped", dropped
        )
    specs = feature_catalog(config, has_visits="visits" in tables)
    present = set(features.columns)
    specs = [s for s in specs if s.name in present]
    return TrainingData(
        rows=rows,
        catalog=[ModelFeature.from_spec(s) for s in specs],
        catalog_records=[s.to_dict() for s in specs],
        as_of_dates=dates,
        feature_set_id=feature_set_id(snapshot_id, dates, config.content_hash()),
        latest_features=features.filter(pl.col("as_of") == scoring_date),
        has_oracle=has_oracle,
    )


def code_version() -> str:
    """The git commit of the working tree (``+dirty`` when it has changes), or ``unknown``."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "models", "features", "engine"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


LOGGED_METRICS = (
    "n",
    "base_rate",
    "precision_at_5pct",
    "precision_at_10pct",
    "precision_at_20pct",
    "recall_at_10pct",
    "lift_at_10pct",
    "roc_auc",
    "average_precision",
    "ece",
    "ece_noise",
    "brier",
    "expected_precision_at_10pct",
)


def _flat_metrics(metrics: pl.DataFrame) -> dict[str, float]:
    """Headline MLflow metrics ``<population>/<area>/<scorer>/<metric>`` over all test folds.

    The full table (every fold, every metric, with bounds) is the ``evaluation/metrics.parquet``
    artifact; MLflow metrics stay few because every logged key costs a database round trip.
    """
    flat: dict[str, float] = {}
    headline = metrics.filter((pl.col("fold") == ALL_FOLDS) & pl.col("metric").is_in(LOGGED_METRICS))
    for row in headline.iter_rows(named=True):
        key = f"{row['population']}/{row['risk_area']}/{row['scorer']}/{row['metric']}"
        flat[key] = row["value"]
        for bound in ("lower", "upper"):
            if row[bound] is not None:
                flat[f"{key}_{bound}"] = row[bound]
    return flat


def _params(config: Config, data: TrainingData, as_of: dt.date) -> dict[str, Any]:
    settings = config.model
    params: dict[str, Any] = {k: v for k, v in settings.model_dump(mode="json").items() if k != "lightgbm"}
    params.update({f"lightgbm.{k}": v for k, v in settings.lightgbm.model_dump().items()})
    params.update(
        {
            "as_of": as_of.isoformat(),
            "n_training_rows": data.rows.height,
            "n_features": len(data.catalog),
            "risk_areas": ",".join(config.risk_area_ids),
        }
    )
    # The configured target per area ("auto" where not named); the resolved one is in targets.json.
    params.pop("targets", None)
    params.update({f"target.{area}": settings.targets.get(area, "auto") for area in config.risk_area_ids})
    return params


@dataclass
class TrainingResult:
    """What ``tillsynsrisk train`` prints."""

    run_id: str
    model: RiskModel
    metrics: pl.DataFrame
    summary: dict[str, dict[str, Any]]
    lineage: dict[str, Any] = field(default_factory=dict)
    families: dict[str, Any] = field(default_factory=dict)  # family/choice.json


def evaluation_splits(rows: pl.DataFrame, config: Config, as_of: dt.date) -> list[Split]:
    """The rolling-origin folds over the complete inspection years before ``as_of``."""
    settings = config.model
    complete_years = sorted(
        {d.year for d in rows.get_column("start_date").to_list() if d < as_of.replace(month=1, day=1)}
    )
    splits = rolling_origin_splits(
        complete_years, evaluation_years=settings.evaluation_years, min_train_years=settings.min_train_years
    )
    if not splits:
        raise ValueError(
            f"need at least {settings.min_train_years + 1} complete years of inspections before "
            f"{as_of.isoformat()} for a test fold; found years {complete_years}"
        )
    return splits


def temporal_evaluation(
    data: TrainingData,
    config: Config,
    splits: Sequence[Split],
    progress: Progress | None = None,
    models: Sequence[RiskModel] | None = None,
    *,
    selection: FamilySelection | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Test-fold predictions of the chosen model, each family and every baseline, and their metrics table.

    ``selection``: the splits' models with their families chosen (:func:`models.family.select_families`);
    without it the families are chosen here for ``models`` (the splits' LightGBM models, fitted here when
    not given). The predictions carry the ``family`` of each fold and area.
    """
    step = progress or (lambda _: None)
    if selection is None:
        fitted = models or fit_risk_models(
            data.rows, splits, data.catalog, config.risk_area_ids, config.model
        )
        selection = select_families(data.rows, splits, fitted, data.catalog, config, progress=step)
    predictions = rolling_origin_evaluation(
        data.rows,
        splits,
        data.catalog,
        config,
        progress=lambda n: step(f"fold {n}"),
        models=selection.chosen,
        scorers=selection.scorers,
        logistic=selection.baseline,
    )
    predictions = predictions.join(
        selection.choice_table(), on=["fold", "risk_area"], how="left", maintain_order="left"
    )
    metrics = metrics_table(predictions, config)
    step("metrics")
    return predictions, metrics


def run_training(
    data: TrainingData,
    config: Config,
    tracking: Tracking,
    *,
    as_of: dt.date,
    lineage: Mapping[str, Any],
    progress: Progress | None = None,
) -> TrainingResult:
    """Evaluate on rolling-origin folds, fit the final model, and log everything in one MLflow run."""
    settings = config.model
    step = progress or (lambda _: None)
    rows = data.rows
    splits = evaluation_splits(rows, config, as_of)
    # The folds' models, the final one and the family choice's first validation split in one pass:
    # consecutive splits share LightGBM fits.
    final = final_split(as_of)
    before, fold_trees, final_trees = fitted_lightgbm(rows, splits, final, data.catalog, config)
    step("models")
    selection = select_families(
        rows,
        splits,
        fold_trees,
        data.catalog,
        config,
        final=(final, final_trees),
        progress=step,
        before=before,
    )
    assert selection.final is not None  # a final split was given
    model, fold_models = selection.final, selection.chosen
    predictions, metrics = temporal_evaluation(data, config, splits, progress=step, selection=selection)
    reliability = reliability_tables(predictions, settings.ece_bins)
    subgroups = subgroup_tables(predictions, config)
    importance = contribution_importance(rows, splits, fold_models, data.catalog)
    reference = data.latest_features if not data.latest_features.is_empty() else rows.head(200)
    reference_predictions = model.predict_frame(reference, contributions=False)
    step("final model")
    full_lineage = {
        **lineage,
        "feature_set_id": data.feature_set_id,
        "as_of": as_of.isoformat(),
        "as_of_dates": [d.isoformat() for d in data.as_of_dates],
        "config_hash": config.content_hash(),
        "feature_code_version": FEATURE_CODE_VERSION,
        "code_version": code_version(),
        "folds": [s.name for s in splits],
        "has_oracle": data.has_oracle,
        "seed": settings.seed,
        "layout": settings.layout,
    }
    tags = {
        "snapshot_id": str(full_lineage.get("snapshot_id", "")),
        "feature_set_id": data.feature_set_id,
        "config_hash": full_lineage["config_hash"][:16],
        "code_version": full_lineage["code_version"],
        "as_of": as_of.isoformat(),
    }
    with tracking.run(run_name=f"train-{as_of.isoformat()}", tags=tags) as run:
        # The model first: MLflow links every metric already logged to the model, one query each.
        model_uri = run.log_model(model, reference.head(50))
        _log_run(
            run,
            config,
            data=data,
            metrics=metrics,
            predictions=predictions,
            reliability=reliability,
            subgroups=subgroups,
            importance=importance,
            as_of=as_of,
        )
        run.log_dict(selection.to_dict(), FAMILY_ARTIFACT)
        run.log_params({f"family.{area}": choice.family for area, choice in selection.choices[FINAL].items()})
        full_lineage["model_uri"] = model_uri
        full_lineage["run_id"] = run.run_id
        run.log_dict(full_lineage, "lineage.json")
        run.log_dict(targets_record(model, predictions), TARGETS_ARTIFACT)
        run.log_table(reference, "reference/features.parquet")
        run.log_table(reference_predictions, "reference/predictions.parquet")
        run_id = run.run_id
    step("logged")
    result = with_targets(summary(metrics), evaluated_targets(predictions))
    return TrainingResult(run_id, model, metrics, result, full_lineage, selection.to_dict())


def with_targets(
    result: dict[str, dict[str, Any]], evaluated: Mapping[str, list[str]]
) -> dict[str, dict[str, Any]]:
    """``summary`` entries with the target each area was evaluated against (``mixed`` if folds differ)."""
    for area, entry in result.items():
        targets = evaluated.get(area, ["deficiency"])
        entry["target"] = targets[0] if len(targets) == 1 else "mixed"
    return result


def targets_record(model: RiskModel, predictions: pl.DataFrame) -> dict[str, Any]:
    """What ranks each area: the served model's resolved targets with their reasons, and the targets
    each area's test folds were evaluated against (they can differ where the base rate crossed the
    threshold between folds)."""
    return {"final": model.metadata.get("targets", {}), "evaluated": evaluated_targets(predictions)}


def _log_run(
    run: RunLogger,
    config: Config,
    *,
    data: TrainingData,
    metrics: pl.DataFrame,
    predictions: pl.DataFrame,
    reliability: pl.DataFrame,
    subgroups: pl.DataFrame,
    importance: tuple[pl.DataFrame, pl.DataFrame],
    as_of: dt.date,
) -> None:
    run.log_params(_params(config, data, as_of))
    run.log_metrics(_flat_metrics(metrics))
    run.log_dict(config.model_dump(mode="json"), "config.json")
    run.log_dict(data.catalog_records, "feature_catalog.json")
    evaluated = evaluated_targets(predictions)
    run.log_dict(with_targets(summary(metrics, "random"), evaluated), "evaluation/summary_random.json")
    run.log_dict(with_targets(summary(metrics, "all"), evaluated), "evaluation/summary_all.json")
    if has_population(metrics, WEIGHTED):
        run.log_dict(with_targets(summary(metrics, WEIGHTED), evaluated), "evaluation/summary_weighted.json")
    run.log_table(metrics, "evaluation/metrics.parquet")
    run.log_table(predictions, "evaluation/predictions.parquet")
    run.log_table(reliability, "evaluation/reliability.parquet")
    run.log_table(subgroups, "evaluation/subgroups.parquet")
    run.log_table(importance[0], "evaluation/importance_features.parquet")
    run.log_table(importance[1], "evaluation/importance_families.parquet")
    run.log_table(feature_distribution(data), "evaluation/training_features.parquet")
    for name, figure in plots.run_figures(predictions, reliability, config).items():
        run.log_figure(figure, f"plots/{name}.png")
        plots.close(figure)


def feature_distribution(data: TrainingData, max_rows: int = 20_000) -> pl.DataFrame:
    """The numeric training features (one row per unit × as-of, sampled) for PSI comparisons."""
    numeric = [f.name for f in data.catalog if f.kind == "numeric"]
    # Sorted: the sample below draws by position, and unique's row order is otherwise unspecified.
    frame = (
        data.rows.unique(["unit_id", "as_of"]).select("unit_id", "as_of", *numeric).sort("unit_id", "as_of")
    )
    return frame.sample(max_rows, seed=0) if frame.height > max_rows else frame


def psi_table(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """Population stability index per numeric feature between two periods, largest first.

    ``noise`` is the PSI two samples of one distribution of these sizes exceed 1 % of the time
    (:func:`models.metrics.psi_noise_level`); ``shift`` flags each feature (:func:`models.metrics.psi_shift`):
    ``major`` (PSI > 0.25), ``moderate`` (0.1–0.25) or ``none`` — and ``none`` whenever the PSI is within
    the noise.
    """
    shared = [c for c in before.columns if c in after.columns and c not in ("unit_id", "as_of")]
    noise = psi_noise_level(before.height, after.height)
    rows = [
        {
            "feature": name,
            "psi": population_stability_index(
                before.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy(),
                after.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy(),
            ),
        }
        for name in shared
    ]
    frame = pl.DataFrame(rows, schema={"feature": pl.String, "psi": pl.Float64}).sort("psi", descending=True)
    return frame.with_columns(
        pl.lit(noise).alias("noise"),
        pl.col("psi")
        .map_elements(lambda psi: psi_shift(psi, noise), return_dtype=pl.String)
        .fill_null("none")
        .alias("shift"),
    )


@dataclass(frozen=True)
class DriftWindows:
    """The two periods of training rows a PSI compares (as-of dates, end exclusive)."""

    before: pl.DataFrame
    after: pl.DataFrame
    before_period: tuple[dt.date | None, dt.date | None]
    after_period: tuple[dt.date | None, dt.date | None]

    def to_dict(self) -> dict[str, Any]:
        """Periods and row counts (``--json``)."""

        def iso(period: tuple[dt.date | None, dt.date | None]) -> list[str | None]:
            return [d.isoformat() if d else None for d in period]

        return {
            "before": iso(self.before_period),
            "after": iso(self.after_period),
            "n_before": self.before.height,
            "n_after": self.after.height,
        }


def drift_windows(
    before: pl.DataFrame, after: pl.DataFrame, before_as_of: dt.date, after_as_of: dt.date
) -> DriftWindows:
    """What the later run saw that the earlier did not, against the earlier run's equally long last stretch.

    The later run's training rows dated on or after the earlier run's cut-off, against the earlier
    run's rows in as long a period just before that cut-off: two adjacent periods of one length, so
    neither the later run's overlap with the earlier one nor the first years of the history dilute a
    shift. When the later run is not later, or a period holds no row, the whole tables are compared.
    """
    if after_as_of <= before_as_of:
        return DriftWindows(before, after, (None, before_as_of), (None, after_as_of))
    start = before_as_of - (after_as_of - before_as_of)
    recent = before.filter(pl.col("as_of").is_between(start, before_as_of, closed="left"))
    new = after.filter(pl.col("as_of").is_between(before_as_of, after_as_of, closed="left"))
    if recent.is_empty() or new.is_empty():
        return DriftWindows(before, after, (None, before_as_of), (None, after_as_of))
    return DriftWindows(recent, new, (start, before_as_of), (before_as_of, after_as_of))
