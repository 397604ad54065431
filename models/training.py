# ruff: noqa: N806  (X is the scikit-learn name of a feature matrix)
"""Fitting the risk model of one temporal split: per area (or pooled), early stopping, calibration.

With ``fit_on_all_labelled`` (default) each model is fitted in two steps, the way a model meant for
the next year should be (issue 10: on real data the most recent year is the most informative):

1. **validate**: trees grown on the split's fit rows (decided before the held-out year), early-stopped
   on the held-out year; the calibrator is fitted on that model's out-of-sample predictions of the
   held-out year. This fixes the number of boosting rounds and the calibration.
2. **refit**: the trees are grown again, with exactly that number of rounds, on *every* inspection
   decided before the split's cut-off (fit + held-out + the rest decided before it) and served with
   the calibrator of step 1.

The evaluation folds run the same two steps (test year Y: validate on Y−1, refit on everything decided
before Y), so the figures in docs/models.md measure the method that produces the served model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl

from engine.config import ModelSettings
from models.artifact import (
    AREA_COLUMN,
    INSPECTION_COVARIATES,
    POOLED,
    AreaModel,
    ModelFeature,
    RiskModel,
    category_levels,
    covariate_mix,
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


def covariate_feature(name: str) -> ModelFeature:
    """An inspection covariate (``team``, ``method``) as a categorical model feature."""
    return ModelFeature(
        name=name,
        kind="categorical",
        higher_is_riskier=None,
        risk_area=None,
        source="inspections",
        unit="category",
        window_months=None,
    )


def inspection_covariates(rows: pl.DataFrame) -> list[str]:
    """The inspection covariates ``rows`` carry with at least two distinct known values."""
    return [
        name
        for name in INSPECTION_COVARIATES
        if name in rows.columns and rows.get_column(name).drop_nulls().n_unique() >= 2
    ]


def classifier(
    settings: ModelSettings,
    constraints: list[int],
    categorical: list[int],
    n_estimators: int | None = None,
) -> RiskClassifier:
    """An unfitted :class:`RiskClassifier` with the configured LightGBM parameters.

    ``n_estimators`` overrides the configured maximum (the refit uses the early-stopped count).
    """
    lgbm = settings.lightgbm
    return RiskClassifier(
        n_estimators=lgbm.n_estimators if n_estimators is None else n_estimators,
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
    refit_rows: pl.DataFrame | None,
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
    if refit_rows is None:
        return model, calibrator
    # The rounds early stopping chose and the calibrator of the held-out year serve trees grown on every
    # labelled inspection: the held-out year is validated on, then learnt from.
    refit = classifier(settings, constraints, categorical, n_estimators=model.best_iteration_).fit(
        design_matrix(refit_rows, features, levels),
        _labels(refit_rows, label),
        sample_weight=_weights(refit_rows),
    )
    return refit, calibrator


def fit_area_model(  # noqa: PLR0917 - the rows of each role, the features and the settings
    area: str,
    fit_rows: pl.DataFrame,
    held_out_rows: pl.DataFrame,
    features: list[ModelFeature],
    settings: ModelSettings,
    refit_rows: pl.DataFrame | None = None,
    covariates: Sequence[str] = (),
) -> AreaModel:
    """Fit the deficiency and serious models of one area (or of all areas for ``area=POOLED``).

    With ``refit_rows`` the served trees are grown on them with the early-stopped number of rounds
    (see the module docstring). ``covariates`` name the inspection covariates among ``features``;
    their training mix is kept for team-neutral scoring.
    """
    all_rows = pl.concat(
        [fit_rows, held_out_rows] if refit_rows is None else [fit_rows, held_out_rows, refit_rows],
        how="diagonal_relaxed",
    )
    levels = category_levels(all_rows, features)
    deficiency, deficiency_calibrator = _fit_label(
        "deficiency",
        fit_rows=fit_rows,
        held_out_rows=held_out_rows,
        refit_rows=refit_rows,
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
            refit_rows=refit_rows,
            features=features,
            levels=levels,
            settings=settings,
        )
    trained_on = all_rows if refit_rows is None else refit_rows
    n_deficient = int(trained_on.get_column("deficiency").sum())
    serious_share = (int(trained_on.get_column("serious").sum()) / n_deficient) if n_deficient else 0.0
    return AreaModel(
        risk_area=area,
        features=features,
        levels=levels,
        deficiency=deficiency,
        deficiency_calibrator=deficiency_calibrator,
        serious=serious,
        serious_calibrator=serious_calibrator,
        serious_share=serious_share,
        covariate_mix=covariate_mix(trained_on, list(covariates)),
    )


def fit_risk_model(
    rows: pl.DataFrame,
    split: Split,
    catalog: Sequence[ModelFeature],
    risk_areas: Sequence[str],
    settings: ModelSettings,
) -> RiskModel:
    """Fit every area's model for ``split``: early-stopped and calibrated on its held-out rows, and
    (with ``fit_on_all_labelled``) grown on every row decided before its test period.

    Inspection covariates (``team``, ``method``) in ``rows`` become categorical features of the model.
    """
    fit_rows = rows.filter(split.fit_filter())
    held_out_rows = rows.filter(split.held_out_filter())
    refit_rows = rows.filter(split.refit_filter()) if settings.fit_on_all_labelled else None
    catalog = list(catalog)
    covariates = inspection_covariates(fit_rows if refit_rows is None else refit_rows)
    extra = [covariate_feature(name) for name in covariates]
    area_models: dict[str, AreaModel] = {}
    if settings.layout == "pooled":
        area_models[POOLED] = fit_area_model(
            POOLED,
            fit_rows,
            held_out_rows,
            [*catalog, AREA_FEATURE, *extra],
            settings,
            refit_rows=refit_rows,
            covariates=covariates,
        )
    else:
        for area in risk_areas:
            in_area = pl.col(AREA_COLUMN) == area
            area_models[area] = fit_area_model(
                area,
                fit_rows.filter(in_area),
                held_out_rows.filter(in_area),
                [*features_for_area(catalog, area), *extra],
                settings,
                refit_rows=None if refit_rows is None else refit_rows.filter(in_area),
                covariates=covariates,
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
            "refit_rows": None if refit_rows is None else refit_rows.height,
            "boosting_rounds": {
                name: model.deficiency.best_iteration_ for name, model in area_models.items()
            },
            "inspection_covariates": covariates,
        },
    )


def predict_rows(
    model: RiskModel, rows: pl.DataFrame, *, covariates: Literal["mix", "actual"] = "mix"
) -> pl.DataFrame:
    """Score labelled rows (one per inspection × area) with the model of each row's own area.

    ``covariates``: ``"mix"`` scores every row the way ``tillsynsrisk score`` does when the plan does
    not name the team and method (averaged over their training mix: the unit's own risk); ``"actual"``
    uses the team and method that really inspected.

    Returns ``inspection_id``, ``risk_area``, ``raw_score`` (uncalibrated), ``p_deficiency``, ``p_serious``.
    """
    if covariates == "mix":
        rows = rows.drop([name for name in INSPECTION_COVARIATES if name in rows.columns])
    parts = []
    for area in model.risk_areas:
        area_rows = rows.filter(pl.col(AREA_COLUMN) == area)
        if area_rows.is_empty():
            continue
        prediction = model.model_for(area).predict_rows(area_rows, area, contributions=False)
        parts.append(
            area_rows.select("inspection_id", AREA_COLUMN).with_columns(
                pl.Series("raw_score", prediction.raw, dtype=pl.Float64),
                pl.Series("p_deficiency", prediction.p_deficiency, dtype=pl.Float64),
                pl.Series("p_serious", prediction.p_serious, dtype=pl.Float64),
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
