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

When the caller passes a paired comparison (:func:`models.backtest.paired_verdict` on the newest
window of inspections decided after both models' cut-offs), that comparison replaces gate 1: the
challenger must be worse beyond the paired interval in no area and better in at least one. Without
random selections in either run, gate 1 compares the all-inspection figures. Every decision names the
evidence it used, in Swedish and English.

Otherwise the promotion is refused and every failed gate is named.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import mlflow.pyfunc
import polars as pl
from mlflow.exceptions import MlflowException

from engine.config import ModelSettings
from engine.events import EventLog
from engine.settings import Settings
from models.artifact import RiskModel
from models.backtest import PairedVerdict, VersionToScore
from models.evaluation import ALL_FOLDS
from models.refusals import (
    ECE_SV,
    GateRefusal,
    area_sv,
    decimal_sv,
    inspected_sv,
    metric_sv,
    percent_sv,
    reasons_en,
    reasons_sv,
)
from models.tracking import Tracking, unfinished_run_problem

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


def load_version(
    tracking: Tracking, version: str, stored_scores: pl.DataFrame | None = None
) -> VersionToScore:
    """A registered version (number, or ``champion``) with its training cut-off and planning rule."""
    try:
        if version == CHAMPION_ALIAS:
            found = tracking.client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
        else:
            found = tracking.client.get_model_version(MODEL_NAME, version)
    except MlflowException as error:
        raise LookupError(f"no registered version {version!r} of {MODEL_NAME!r}: {error}") from error
    with tracking.activated():
        loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{found.version}")
    run_id = str(found.run_id)
    lineage = tracking.read_json(run_id, "lineage.json")
    config = tracking.read_json(run_id, "config.json")
    return VersionToScore(
        version=str(found.version),
        run_id=run_id,
        as_of=dt.date.fromisoformat(lineage["as_of"]),
        lead_time_days=int(config.get("model", {}).get("lead_time_days", 60)),
        model=loaded.unwrap_python_model().model,
        stored_scores=stored_scores,
    )


def load_run(tracking: Tracking, run_id: str) -> VersionToScore:
    """A training run's model (registered or not) as a backtest version named ``run:<id8>``."""
    with tracking.activated():
        loaded = mlflow.pyfunc.load_model(tracking.model_uri(run_id))
    lineage = tracking.read_json(run_id, "lineage.json")
    config = tracking.read_json(run_id, "config.json")
    return VersionToScore(
        version=f"run:{run_id[:8]}",
        run_id=run_id,
        as_of=dt.date.fromisoformat(lineage["as_of"]),
        lead_time_days=int(config.get("model", {}).get("lead_time_days", 60)),
        model=loaded.unwrap_python_model().model,
    )


def promoted_at(tracking: Tracking, version: str) -> dt.date:
    """The date ``version`` was promoted (tag ``promoted_at``; else its registration date)."""
    found = tracking.client.get_model_version(MODEL_NAME, version)
    tagged = found.tags.get("promoted_at")
    if tagged:
        return dt.date.fromisoformat(tagged[:10])
    return dt.datetime.fromtimestamp(found.creation_timestamp / 1000, tz=dt.UTC).date()


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


def gate_population(candidate: pl.DataFrame, champion: pl.DataFrame | None) -> str:
    """The population the precision gate compares: ``random`` unless neither run has a random subset.

    Without random selections (real data without a random programme) the unbiased figures do not
    exist; when the champion (if any) lacks them too, both are judged on all inspections alike.
    """
    if _gate_values(candidate, GATE_METRIC, GATE_POPULATION):
        return GATE_POPULATION
    if champion is None or not _gate_values(champion, GATE_METRIC, GATE_POPULATION):
        return "all"
    return GATE_POPULATION


def promotion_refusals(
    candidate: pl.DataFrame,
    champion: pl.DataFrame | None,
    settings: ModelSettings,
    area_names: Mapping[str, str] | None = None,
) -> list[GateRefusal]:
    """The gates ``candidate`` fails (metrics tables as logged), in English and Swedish; empty = promote.

    ``area_names`` (risk area id → Swedish name) names the areas in the Swedish sentences; None: by id.
    """
    refusals = []
    population = gate_population(candidate, champion)
    precision = _gate_values(candidate, GATE_METRIC, population)
    if not precision:
        against_champion = population == GATE_POPULATION and champion is not None
        refusals.append(
            GateRefusal(
                f"the candidate has no {population}-subset {GATE_METRIC} to compare"
                + (" while the champion has one" if against_champion else ""),
                f"kandidaten har ingen {metric_sv(GATE_METRIC)} för {inspected_sv(population)} att jämföra"
                + (" med championens" if against_champion else ""),
            )
        )
    if champion is not None:
        for area, current in sorted(_gate_values(champion, GATE_METRIC, population).items()):
            value = precision.get(area, {}).get("value", math.nan)
            bound = current["lower"]
            if math.isnan(value) or (bound is not None and not math.isnan(bound) and value < bound):
                refusals.append(_below_champion(area, value, bound, population, area_names))
    return refusals + _calibration_refusals(candidate, settings, area_names)


def _below_champion(
    area: str, value: float, bound: float, population: str, area_names: Mapping[str, str] | None
) -> GateRefusal:
    name, metric = area_sv(area, area_names), f"{metric_sv(GATE_METRIC)} ({inspected_sv(population)})"
    return GateRefusal(
        f"{area}: {population}-subset {GATE_METRIC} {value:.3f} is below the champion's "
        f"lower confidence bound {bound:.3f}",
        f"{name}: kandidatens {metric} saknas; championens nedre 95 %-gräns är {percent_sv(bound)}"
        if math.isnan(value)
        else f"{name}: kandidatens {metric} är {percent_sv(value)}, under championens nedre 95 %-gräns "
        f"{percent_sv(bound)}",
    )


def _calibration_refusals(
    candidate: pl.DataFrame, settings: ModelSettings, area_names: Mapping[str, str] | None = None
) -> list[GateRefusal]:
    """Areas whose ECE fails the gate (see the module docstring), each with the figures that decided."""
    population = settings.ece_gate_population
    noise = _gate_values(candidate, "ece_noise", population)
    threshold, inspected = settings.ece_threshold, inspected_sv(population)
    refusals = []
    for area, ece in sorted(_gate_values(candidate, "ece", population).items()):
        value = ece["value"]
        if not math.isnan(value) and value <= threshold:
            continue
        name = area_sv(area, area_names)
        band = noise.get(area, {}).get("upper")
        if settings.ece_gate_rule == "noise" and band is not None and not math.isnan(value):
            if value <= band:
                logger.info(
                    "%s: ECE %.3f above %.3f but inside the noise band of a calibrated model (%.3f)",
                    area,
                    value,
                    threshold,
                    band,
                )
                continue
            refusals.append(
                GateRefusal(
                    f"{area}: expected calibration error {value:.3f} ({population} inspections) exceeds the "
                    f"threshold {threshold:.3f} and the noise band of a calibrated model ({band:.3f})",
                    f"{name}: {ECE_SV} {decimal_sv(value)} ({inspected}) är över både gränsvärdet "
                    f"{decimal_sv(threshold)} och brusbandet för en välkalibrerad modell "
                    f"({decimal_sv(band)})",
                )
            )
            continue
        refusals.append(
            GateRefusal(
                f"{area}: expected calibration error {value:.3f} ({population} "
                f"inspections) exceeds the threshold {threshold:.3f}",
                f"{name}: {ECE_SV} ({inspected}) saknas och kan inte prövas mot gränsvärdet "
                f"{decimal_sv(threshold)}"
                if math.isnan(value)
                else f"{name}: {ECE_SV} {decimal_sv(value)} ({inspected}) är över gränsvärdet "
                f"{decimal_sv(threshold)}",
            )
        )
    return refusals


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of ``promote``: the new version, or the reasons it was refused."""

    promoted: bool
    reasons: list[str]
    version: str | None = None
    previous_version: str | None = None
    evidence_sv: str = ""
    evidence_en: str = ""
    reasons_sv: list[str] = field(default_factory=list)
    """The refused gates in Swedish, in the order of ``reasons`` (empty for a refusal that is no gate's)."""


def current_champion_run(tracking: Tracking) -> tuple[str, str] | None:
    """(version, run_id) of the current champion, or None."""
    try:
        version = tracking.client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    except MlflowException:
        return None
    return str(version.version), str(version.run_id)


def _own_folds_evidence(population: str, has_champion: bool) -> tuple[str, str]:
    subset_sv = (
        "slumpvis urval" if population == GATE_POPULATION else "alla tillsyner (inget slumpvis urval finns)"
    )
    subset_en = (
        "random selections" if population == GATE_POPULATION else "all inspections (no random selections)"
    )
    if not has_champion:
        return (
            f"Beslutsunderlag: ingen champion finns; kandidatens egna testår ({subset_sv}) "
            "och kalibreringen.",
            f"Evidence: no champion exists; the candidate's own test folds ({subset_en}) "
            "and its calibration.",
        )
    return (
        "Beslutsunderlag: varje körnings egna testår (olika år, ingen gemensam period med tillsyner "
        f"beslutade efter båda modellernas träningsdatum), {subset_sv}: kandidatens precision@10 % mot "
        "championens nedre 95 %-gräns, samt kalibreringen.",
        "Evidence: each run's own test folds (different years; no common window of inspections decided "
        f"after both models' training cut-offs), {subset_en}: the candidate's precision@10 % against the "
        "champion's lower 95 % bound, and the calibration.",
    )


def promote(
    tracking: Tracking,
    run_id: str,
    settings: ModelSettings,
    *,
    force: bool = False,
    paired: PairedVerdict | None = None,
    events: EventLog | None = None,
    area_names: Mapping[str, str] | None = None,
) -> PromotionDecision:
    """Register ``run_id``'s model and alias it ``champion`` if it passes the gates (or ``force``).

    ``paired`` is the paired comparison with the champion on their newest common window, when one
    exists: it then decides instead of the comparison of each run's own test folds. A run that did not
    finish, or lacks its lineage, evaluation or model (:func:`unfinished_run_problem`), is refused even
    with ``force``. A promotion is recorded in ``events`` (the change feed), if given, once the alias
    points at the new version. A forced version is tagged with the failed gates: ``forced_despite`` in
    English for the analysts, ``forced_despite_sv`` in Swedish for the planners' Modell page (its risk
    areas named by ``area_names``, id → Swedish name; None: by id).
    """
    problem = unfinished_run_problem(tracking, run_id)
    if problem is not None:
        return PromotionDecision(False, [problem])
    candidate = tracking.read_table(run_id, METRICS_ARTIFACT)
    current = current_champion_run(tracking)
    if current is not None and current[1] == run_id:
        return PromotionDecision(
            False, [f"run {run_id} is already the champion (version {current[0]})"], current[0]
        )
    champion = tracking.read_table(current[1], METRICS_ARTIFACT) if current else None
    if paired is not None and current is not None:
        refusals = paired.refusals + _calibration_refusals(candidate, settings, area_names)
        evidence_sv, evidence_en = paired.evidence_sv, paired.evidence_en
    else:
        refusals = promotion_refusals(candidate, champion, settings, area_names)
        evidence_sv, evidence_en = _own_folds_evidence(
            gate_population(candidate, champion), current is not None
        )
    previous = current[0] if current else None
    reasons, swedish = reasons_en(refusals), reasons_sv(refusals)
    if reasons and not force:
        return PromotionDecision(False, reasons, None, previous, evidence_sv, evidence_en, swedish)
    with tracking.activated():
        version = mlflow.register_model(tracking.model_uri(run_id), MODEL_NAME, tags={"run_id": run_id})
    tracking.client.set_registered_model_alias(MODEL_NAME, CHAMPION_ALIAS, version.version)
    tracking.client.set_model_version_tag(
        MODEL_NAME, version.version, "promoted_at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    tracking.client.set_model_version_tag(MODEL_NAME, version.version, "promotion_evidence", evidence_en)
    if reasons:
        tracking.client.set_model_version_tag(
            MODEL_NAME, version.version, "forced_despite", "; ".join(reasons)
        )
        tracking.client.set_model_version_tag(
            MODEL_NAME, version.version, "forced_despite_sv", "; ".join(swedish)
        )
    logger.info("promoted run %s as %s version %s", run_id, MODEL_NAME, version.version)
    if events is not None:
        events.append(
            "model.promoted",
            {
                "model_name": MODEL_NAME,
                "version": str(version.version),
                "previous_version": previous,
                "run_id": run_id,
                "forced": bool(reasons),
            },
        )
    return PromotionDecision(True, reasons, str(version.version), previous, evidence_sv, evidence_en, swedish)
