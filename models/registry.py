"""Model registry: promotion gates and loading the champion for scoring.

A run is promoted by registering its model as a new version of ``tillsynsrisk`` and pointing the
alias ``champion`` at it — only if it passes the gates:

1. for every risk area, the candidate's precision@10 % on random-selection inspections (all test
   folds) is not below the current champion's lower 95 % bootstrap bound for the same figure;
2. every area's expected calibration error is at most ``model.ece_threshold`` — with
   ``ece_gate_rule = "noise"`` (the default) an ECE above the threshold is tolerated only while it
   also lies inside the band a perfectly calibrated model with the same predictions shows on the
   same rows (the 97.5th percentile of :func:`models.calibration_metrics.ece_noise_band`): on a few
   hundred inspections even the true probabilities exceed 0.03 about half the time. With
   ``"point"`` the raw ECE alone decides.

Otherwise the promotion is refused and every failed gate is named.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import mlflow.pyfunc
import polars as pl
from mlflow.exceptions import MlflowException

from engine.config import ModelSettings
from engine.settings import Settings
from models.artifact import RiskModel
from models.evaluation import ALL_FOLDS
from models.tracking import Tracking

logger = logging.getLogger(__name__)

MODEL_NAME = "tillsynsrisk"
CHAMPION_ALIAS = "champion"
GATE_METRIC = "precision_at_10pct"
GATE_POPULATION = "random"
METRICS_ARTIFACT = "evaluation/metrics.parquet"


class NoChampionError(LookupError):
    """Raised when no model version carries the ``champion`` alias."""


@dataclass
class Champion:
    """The promoted model with its lineage, ready to score a feature frame."""

    model: RiskModel
    version: str
    run_id: str
    feature_set_id: str | None
    snapshot_id: str | None
    catalog: list[dict[str, Any]]
    lineage: dict[str, Any] = field(default_factory=dict)

    def predict_frame(self, features: pl.DataFrame) -> pl.DataFrame:
        """unit_id, as_of, risk_area, p_deficiency, p_serious, contributions (struct of floats)."""
        return self.model.predict_frame(features)


def tracking_for(settings: Settings) -> Tracking:
    """The MLflow store named by ``settings``."""
    return Tracking(settings.mlflow_tracking_uri, settings.mlflow_artifact_root)


def load_champion(settings: Settings) -> Champion:
    """Load the model version aliased ``champion`` (raises :class:`NoChampionError` when there is none)."""
    tracking = tracking_for(settings)
    try:
        version = tracking.client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    except MlflowException as error:
        raise NoChampionError(
            f"no model version of {MODEL_NAME!r} has the alias {CHAMPION_ALIAS!r}; "
            "run `tillsynsrisk train` and `tillsynsrisk promote RUN_ID` first"
        ) from error
    with tracking.activated():
        loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}")
    model: RiskModel = loaded.unwrap_python_model().model
    run_id = str(version.run_id)
    lineage = tracking.read_json(run_id, "lineage.json")
    return Champion(
        model=model,
        version=str(version.version),
        run_id=run_id,
        feature_set_id=lineage.get("feature_set_id"),
        snapshot_id=lineage.get("snapshot_id"),
        catalog=tracking.read_json(run_id, "feature_catalog.json"),
        lineage=lineage,
    )


def _gate_values(metrics: pl.DataFrame, metric: str, population: str) -> dict[str, dict[str, Any]]:
    rows = metrics.filter(
        (pl.col("population") == population)
        & (pl.col("fold") == ALL_FOLDS)
        & (pl.col("scorer") == "model")
        & (pl.col("metric") == metric)
    )
    return {
        r["risk_area"]: {"value": r["value"], "lower": r["lower"], "upper": r["upper"]}
        for r in rows.iter_rows(named=True)
    }


def promotion_refusals(
    candidate: pl.DataFrame, champion: pl.DataFrame | None, settings: ModelSettings
) -> list[str]:
    """Reasons to refuse promoting ``candidate`` (metrics tables as logged); empty = promote."""
    reasons = []
    precision = _gate_values(candidate, GATE_METRIC, GATE_POPULATION)
    if not precision:
        reasons.append(f"the candidate has no {GATE_POPULATION}-subset {GATE_METRIC} to compare")
    if champion is not None:
        for area, current in sorted(_gate_values(champion, GATE_METRIC, GATE_POPULATION).items()):
            value = precision.get(area, {}).get("value", math.nan)
            bound = current["lower"]
            if math.isnan(value) or (bound is not None and not math.isnan(bound) and value < bound):
                reasons.append(
                    f"{area}: {GATE_POPULATION}-subset {GATE_METRIC} {value:.3f} is below the champion's "
                    f"lower confidence bound {bound:.3f}"
                )
    reasons += _calibration_refusals(candidate, settings)
    return reasons


def _calibration_refusals(candidate: pl.DataFrame, settings: ModelSettings) -> list[str]:
    """Areas whose ECE fails the gate (see the module docstring), each with the figures that decided."""
    population = settings.ece_gate_population
    noise = _gate_values(candidate, "ece_noise", population)
    reasons = []
    for area, ece in sorted(_gate_values(candidate, "ece", population).items()):
        value = ece["value"]
        if not math.isnan(value) and value <= settings.ece_threshold:
            continue
        band = noise.get(area, {}).get("upper")
        if settings.ece_gate_rule == "noise" and band is not None and not math.isnan(value):
            if value <= band:
                logger.info(
                    "%s: ECE %.3f above %.3f but inside the noise band of a calibrated model (%.3f)",
                    area,
                    value,
                    settings.ece_threshold,
                    band,
                )
                continue
            reasons.append(
                f"{area}: expected calibration error {value:.3f} ({population} inspections) exceeds the "
                f"threshold {settings.ece_threshold:.3f} and the noise band of a calibrated model "
                f"({band:.3f})"
            )
            continue
        reasons.append(
            f"{area}: expected calibration error {value:.3f} ({population} "
            f"inspections) exceeds the threshold {settings.ece_threshold:.3f}"
        )
    return reasons


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of ``promote``: the new version, or the reasons it was refused."""

    promoted: bool
    reasons: list[str]
    version: str | None = None
    previous_version: str | None = None


def current_champion_run(tracking: Tracking) -> tuple[str, str] | None:
    """(version, run_id) of the current champion, or None."""
    try:
        version = tracking.client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    except MlflowException:
        return None
    return str(version.version), str(version.run_id)


def promote(
    tracking: Tracking, run_id: str, settings: ModelSettings, *, force: bool = False
) -> PromotionDecision:
    """Register ``run_id``'s model and alias it ``champion`` if it passes the gates (or ``force``)."""
    candidate = tracking.read_table(run_id, METRICS_ARTIFACT)
    current = current_champion_run(tracking)
    if current is not None and current[1] == run_id:
        return PromotionDecision(
            False, [f"run {run_id} is already the champion (version {current[0]})"], current[0]
        )
    champion = tracking.read_table(current[1], METRICS_ARTIFACT) if current else None
    reasons = promotion_refusals(candidate, champion, settings)
    if reasons and not force:
        return PromotionDecision(False, reasons, None, current[0] if current else None)
    with tracking.activated():
        version = mlflow.register_model(tracking.model_uri(run_id), MODEL_NAME, tags={"run_id": run_id})
    tracking.client.set_registered_model_alias(MODEL_NAME, CHAMPION_ALIAS, version.version)
    if reasons:
        tracking.client.set_model_version_tag(
            MODEL_NAME, version.version, "forced_despite", "; ".join(reasons)
        )
    logger.info("promoted run %s as %s version %s", run_id, MODEL_NAME, version.version)
    return PromotionDecision(True, reasons, str(version.version), current[0] if current else None)
