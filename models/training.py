# ruff: noqa: N806  (X is the scikit-learn name of a feature matrix)
"""Fitting the risk model of one temporal split: per area (or pooled), early stopping, calibration."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import polars as pl

from engine.config import ModelSettings
from models.artifact import (
    AREA_COLUMN,
    POOLED,
    AreaModel,
    ModelFeature,
    RiskModel,
    category_levels,
    design_matrix,
    features_for_area,
)
from models.calibration import Calibrator, fit_calibrator
from models.estimator import RiskClassifier
from models.validation import Split

logger = logging.getLogger(__name__)

# A separate serious-finding model needs this many positives in the fit and held-out rows;
# otherwise P(serious) = P(deficiency) × the training share of serious among deficiencies.
MIN_SERIOUS_POSITIVES = (30, 10)
AREA_FEATURE = ModelFeature(
    name=AREA_COLUMN,
    kind="categorical",
    higher_is_riskier=None,
    risk_area=None,
    source="inspections",
    unit="category",
    window_months=None,
)


def classifier(settings: ModelSettings, constraints: list[int], categorical: list[int]) -> RiskClassifier:
    """An unfitted :class:`RiskClassifier` with the configured LightGBM parameters."""
    lgbm = settings.lightgbm
    return RiskClassifier(
        n_estimators=lgbm.n_estimators,
        learning_rate=lgbm.learning_rate,
        num_leaves=lgbm.num_leaves,
        min_child_samples=lgbm.min_child_samples,
        subsample=lgbm.subsample,
        colsample_bytree=lgbm.colsample_bytree,
        reg_lambda=lgbm.reg_lambda,
        monotone_constraints=constraints,
        categorical_features=categorical or None,
        early_stopping_rounds=lgbm.early_stopping_rounds,
        num_threads=lgbm.num_threads,
        random_state=settings.seed,
    )


def _labels(frame: pl.DataFrame, label: str) -> np.ndarray:
    return frame.get_column(label).to_numpy().astype(np.int64)


def _weights(frame: pl.DataFrame) -> np.ndarray:
    return frame.get_column("weight").to_numpy().astype(np.float64)


def _groups(frame: pl.DataFrame) -> np.ndarray:
    return frame.get_column(AREA_COLUMN).cast(pl.String).to_numpy()


def _has_both_classes(y: np.ndarray) -> bool:
    return bool(y.size) and 0 < y.sum() < y.size


def _fit_label(
    label: str,
    *,
    fit_rows: pl.DataFrame,
    held_out_rows: pl.DataFrame,
    features: list[ModelFeature],
    levels: dict[str, list[str]],
    settings: ModelSettings,
) -> tuple[RiskClassifier, Calibrator]:
    constraints = [f.monotone_constraint for f in features]
    categorical = [i for i, f in enumerate(features) if f.kind == "categorical"]
    X_fit = design_matrix(fit_rows, features, levels)
    y_fit = _labels(fit_rows, label)
    if not _has_both_classes(y_fit):
        raise ValueError(
            f"cannot fit the {label} model: the fit rows hold {y_fit.size} inspections with "
            f"{int(y_fit.sum())} positives; both outcomes are needed"
        )
    X_held = design_matrix(held_out_rows, features, levels)
    y_held = _labels(held_out_rows, label)
    w_held = _weights(held_out_rows)
    g_held = _groups(held_out_rows)
    eval_set = (X_held, y_held, w_held) if _has_both_classes(y_held) else None
    model = classifier(settings, constraints, categorical).fit(
        X_fit, y_fit, sample_weight=_weights(fit_rows), eval_set=eval_set
    )
    if eval_set is None:
        # No usable held-out year: calibrate on the fit rows (optimistic; logged as a warning).
        logger.warning("%s: held-out period lacks both outcomes; calibrating on the fit rows", label)
        X_held, y_held, w_held, g_held = X_fit, y_fit, _weights(fit_rows), _groups(fit_rows)
    calibrator = fit_calibrator(
        model.predict_proba(X_held)[:, 1],
        y_held,
        settings.calibration,
        w_held,
        groups=g_held if settings.calibration_by_area else None,
    )
    return model, calibrator


def fit_area_model(
    area: str,
    fit_rows: pl.DataFrame,
    held_out_rows: pl.DataFrame,
    features: list[ModelFeature],
    settings: ModelSettings,
) -> AreaModel:
    """Fit the deficiency and serious models of one area (or of all areas for ``area=POOLED``)."""
    levels = category_levels(pl.concat([fit_rows, held_out_rows], how="diagonal_relaxed"), features)
    deficiency, deficiency_calibrator = _fit_label(
        "deficiency",
        fit_rows=fit_rows,
        held_out_rows=held_out_rows,
        features=features,
        levels=levels,
        settings=settings,
    )
    fit_serious = int(fit_rows.get_column("serious").sum())
    held_serious = int(held_out_rows.get_column("serious").sum())
    serious: RiskClassifier | None = None
    serious_calibrator: Calibrator | None = None
    if fit_serious >= MIN_SERIOUS_POSITIVES[0] and held_serious >= MIN_SERIOUS_POSITIVES[1]:
        serious, serious_calibrator = _fit_label(
            "serious",
            fit_rows=fit_rows,
            held_out_rows=held_out_rows,
            features=features,
            levels=levels,
            settings=settings,
        )
    all_rows = pl.concat([fit_rows, held_out_rows], how="diagonal_relaxed")
    n_deficient = int(all_rows.get_column("deficiency").sum())
    serious_share = (int(all_rows.get_column("serious").sum()) / n_deficient) if n_deficient else 0.0
    return AreaModel(
        risk_area=area,
        features=features,
        levels=levels,
        deficiency=deficiency,
        deficiency_calibrator=deficiency_calibrator,
        serious=serious,
        serious_calibrator=serious_calibrator,
        serious_share=serious_share,
    )


def fit_risk_model(
    rows: pl.DataFrame,
    split: Split,
    catalog: Sequence[ModelFeature],
    risk_areas: Sequence[str],
    settings: ModelSettings,
) -> RiskModel:
    """Fit every area's model on ``split``'s fit rows, early-stopped and calibrated on its held-out rows."""
    fit_rows = rows.filter(split.fit_filter())
    held_out_rows = rows.filter(split.held_out_filter())
    catalog = list(catalog)
    area_models: dict[str, AreaModel] = {}
    if settings.layout == "pooled":
        area_models[POOLED] = fit_area_model(
            POOLED, fit_rows, held_out_rows, [*catalog, AREA_FEATURE], settings
        )
    else:
        for area in risk_areas:
            area_models[area] = fit_area_model(
                area,
                fit_rows.filter(pl.col(AREA_COLUMN) == area),
                held_out_rows.filter(pl.col(AREA_COLUMN) == area),
                features_for_area(catalog, area),
                settings,
            )
    return RiskModel(
        layout=settings.layout,
        risk_areas=list(risk_areas),
        area_models=area_models,
        catalog=catalog,
        metadata={
            "split": split.name,
            "held_out_start": split.held_out_start.isoformat(),
            "test_start": split.test_start.isoformat(),
            "fit_rows": fit_rows.height,
            "held_out_rows": held_out_rows.height,
        },
    )


def predict_rows(model: RiskModel, rows: pl.DataFrame) -> pl.DataFrame:
    """Score labelled rows (one per inspection × area) with the model of each row's own area.

    Returns ``inspection_id``, ``risk_area``, ``raw_score`` (uncalibrated), ``p_deficiency``, ``p_serious``.
    """
    parts = []
    for area in model.risk_areas:
        area_rows = rows.filter(pl.col(AREA_COLUMN) == area)
        if area_rows.is_empty():
            continue
        area_model = model.model_for(area)
        X = design_matrix(area_rows, area_model.features, area_model.levels)
        p_deficiency, p_serious = area_model.predict(X, area)
        parts.append(
            area_rows.select("inspection_id", AREA_COLUMN).with_columns(
                pl.Series("raw_score", area_model.raw_deficiency(X), dtype=pl.Float64),
                pl.Series("p_deficiency", p_deficiency, dtype=pl.Float64),
                pl.Series("p_serious", p_serious, dtype=pl.Float64),
            )
        )
    schema = {
        "inspection_id": pl.String,
        AREA_COLUMN: pl.String,
        "raw_score": pl.Float64,
        "p_deficiency": pl.Float64,
        "p_serious": pl.Float64,
    }
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)
