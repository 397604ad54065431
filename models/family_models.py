# ruff: noqa: N803, N806  (X is the scikit-learn name of a feature matrix)
"""The elastic net and the blend as area models: the :class:`models.artifact.AreaModel` interface.

An area served by the elastic net (:class:`ElasticNetAreaModel`) or by the blend of the elastic net and
LightGBM (:class:`BlendAreaModel`) predicts, calibrates and explains its rows as a LightGBM area does:
``predict_rows`` returns raw and calibrated P(deficiency), P(serious) and per-feature contributions on
the log-odds scale. Which family serves an area is chosen in :mod:`models.family`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import expit, logit
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from models.artifact import AreaPrediction, AreaScorer, ModelFeature, category_levels, design_matrix
from models.baselines import fit_logistic
from models.calibration import Calibrator

PROBABILITY_FLOOR = 1e-6
TIE_BREAK = 1e-9
CALIBRATION_STEP = 1e-3  # log-odds: below it a row is at the cohort point (local slope)


@dataclass(frozen=True)
class ElasticNetFit:
    """One elastic-net fit of one area (the baseline's), with what its explanations need.

    ``cohort_mean``: the mean of each prepared column (standardised numeric, one-hot category) over the
    rows it was fitted on; ``owners``: the feature each prepared column belongs to.
    """

    pipeline: Pipeline
    levels: dict[str, list[str]]
    features: list[ModelFeature]
    cohort_mean: np.ndarray
    owners: np.ndarray

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """``frame``'s design matrix in this fit's features and levels."""
        return design_matrix(frame, self.features, self.levels)

    @property
    def ranks(self) -> bool:
        """Whether any coefficient is non-zero (a net whose penalty removed every feature is a constant)."""
        return bool(np.any(self.pipeline.named_steps["logistic"].coef_ != 0))

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated probability of the label."""
        return np.asarray(self.pipeline.predict_proba(X)[:, 1], dtype=np.float64)

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature contributions (rows × features, log-odds) and the cohort term of each row.

        Contribution of a feature = Σ over its prepared columns of coefficient × (prepared value − the
        cohort's mean); the cohort term is the intercept plus coefficient · cohort mean. Both sum to the
        log-odds the elastic net predicts, as SHAP values and their expected value do for the trees.
        """
        prepared = np.asarray(self.pipeline.named_steps["prepare"].transform(X), dtype=np.float64)
        logistic = self.pipeline.named_steps["logistic"]
        coefficients = np.asarray(logistic.coef_[0], dtype=np.float64)
        per_column = (prepared - self.cohort_mean) * coefficients
        values = np.zeros((X.shape[0], len(self.features)))
        np.add.at(values.T, self.owners, per_column.T)
        base = float(logistic.intercept_[0]) + float(coefficients @ self.cohort_mean)
        return values, np.full(X.shape[0], base)


def prepared_owners(prepare: ColumnTransformer, n_features: int) -> np.ndarray:
    """The feature index of each column the fitted ``prepare`` step outputs (one-hot columns to theirs)."""
    owners: list[int] = []
    for name, transformer, columns in prepare.transformers_:
        if name == "numeric":
            owners += list(columns)
        elif name == "categorical":
            encoder = transformer[-1]
            for column, categories in zip(columns, encoder.categories_, strict=True):
                owners += [column] * len(categories)
    if any(not 0 <= owner < n_features for owner in owners):
        raise ValueError(f"prepared columns name features outside 0..{n_features - 1}")
    return np.asarray(owners, dtype=np.int64)


def fit_elastic_net(
    rows: pl.DataFrame,
    features: Sequence[ModelFeature],
    seed: int,
    n_jobs: int = 1,
    label: str = "deficiency",
) -> ElasticNetFit:
    """The elastic-net baseline fitted on ``rows`` (:func:`models.baselines.fit_logistic`), explainable."""
    pipeline, levels = fit_logistic(rows, features, seed, n_jobs, label=label)
    return _explainable(pipeline, levels, rows, features)


def refitted(fit: ElasticNetFit, rows: pl.DataFrame, label: str = "deficiency") -> ElasticNetFit:
    """``fit``'s elastic net (its C and L1 share, no new search) fitted again on ``rows``.

    What calibrates a served elastic net: the same model one year shorter, as the trees' calibrator is
    fitted on trees of the same size one year shorter. An elastic net with its own search could choose
    another penalty, and so another scale of log-odds, than the one the calibrator then serves.
    """
    levels = category_levels(rows, fit.features)
    weights = rows.get_column("weight").to_numpy().astype(np.float64)
    pipeline = clone(fit.pipeline)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # as in fit_logistic: the ranking is settled
        pipeline.fit(
            design_matrix(rows, fit.features, levels),
            rows.get_column(label).to_numpy().astype(np.int64),
            logistic__sample_weight=weights / weights.mean(),
        )
    return _explainable(pipeline, levels, rows, fit.features)


def _explainable(
    pipeline: Pipeline, levels: dict[str, list[str]], rows: pl.DataFrame, features: Sequence[ModelFeature]
) -> ElasticNetFit:
    prepare = pipeline.named_steps["prepare"]
    prepared = np.asarray(prepare.transform(design_matrix(rows, features, levels)), dtype=np.float64)
    owners = prepared_owners(prepare, len(features))
    if owners.size != prepared.shape[1]:
        raise ValueError(f"{prepared.shape[1]} prepared columns but {owners.size} mapped to features")
    return ElasticNetFit(pipeline, levels, list(features), prepared.mean(axis=0), owners)


def calibrated_contributions(
    values: np.ndarray, cohort: np.ndarray, calibrated_log_odds: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Contributions to the raw log-odds (``values`` + ``cohort`` term) restated on the calibrated scale.

    Each row's contributions are scaled by one factor, so that they sum to the calibrated log-odds of the
    row minus the calibrated log-odds of the cohort point: the push each feature gives the probability the
    page shows. Why: a penalised net's raw log-odds are shrunk (an elastic net of a rare label can vary by
    ±0.3 where its calibrated probability varies by ±1.5), and reasons read on that scale fall under the
    threshold a reason must reach (``[explanations] min_contribution``, log-odds of the served probability)
    however far the unit stands from the others. For a sigmoid calibrator the factor is its slope, the same
    for every row; for a step (isotonic) calibrator the secant from the cohort point (the local slope for a
    row at that point).

    Parameters
    ----------
    values
        Rows × features, contributions to the raw log-odds (:meth:`ElasticNetFit.contributions`).
    cohort
        Each row's cohort term: ``values.sum(axis=1) + cohort`` is the row's raw log-odds.
    calibrated_log_odds
        Raw log-odds to the calibrated probability's log-odds (monotone).

    Returns
    -------
    numpy.ndarray
        ``values`` scaled row by row to the calibrated scale.
    """
    raw = values.sum(axis=1) + cohort
    step = raw - cohort
    near = np.abs(step) < CALIBRATION_STEP
    secant = (calibrated_log_odds(raw) - calibrated_log_odds(cohort)) / np.where(near, 1.0, step)
    local = (calibrated_log_odds(raw + CALIBRATION_STEP) - calibrated_log_odds(raw - CALIBRATION_STEP)) / (
        2 * CALIBRATION_STEP
    )
    return values * np.where(near, local, secant)[:, None]


def _serious_alongside(p_deficiency: np.ndarray, lightgbm: AreaPrediction) -> np.ndarray:
    """P(serious) as the family's P(deficiency) × LightGBM's P(serious | deficiency), never above it."""
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(lightgbm.p_deficiency > 0, lightgbm.p_serious / lightgbm.p_deficiency, 0.0)
    return np.minimum(p_deficiency * np.clip(share, 0.0, 1.0), p_deficiency)


def _deficiency_alongside(p_serious: np.ndarray, lightgbm: AreaPrediction) -> np.ndarray:
    """P(deficiency) beside a family's P(serious): LightGBM's, never below the serious probability."""
    return np.maximum(lightgbm.p_deficiency, p_serious)


@dataclass
class ElasticNetAreaModel:
    """An area served by the elastic net: calibrated probabilities and coefficient × deviation reasons.

    ``label``: what the net models, the area's ranking label (``deficiency``, or ``serious`` where the area
    ranks by serious findings, :mod:`models.targets`). The other probability comes from the LightGBM area
    model (``lightgbm``): with ``deficiency``, P(serious) keeps its share of serious among deficiencies;
    with ``serious``, P(deficiency) is LightGBM's (never below the net's P(serious)).
    """

    risk_area: str
    fit: ElasticNetFit
    calibrator: Calibrator
    lightgbm: AreaScorer
    family: str = "elastic_net"
    label: str = "deficiency"

    @property
    def features(self) -> list[ModelFeature]:
        """The features the contributions are given for: the elastic net's (the area's catalog features);
        of a net of P(serious), LightGBM's first (its P(deficiency) is explained by them), then the net's
        others."""
        if getattr(self, "label", "deficiency") == "serious":
            return features_of_both(self.lightgbm.features, self.fit.features)
        return self.fit.features

    def deficiency(
        self, frame: pl.DataFrame, *, contributions: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Raw and calibrated probability of the net's ``label`` for ``frame``'s rows, and their
        contributions (or None) on the log-odds scale of the calibrated probability
        (:func:`calibrated_contributions`)."""
        X = self.fit.matrix(frame)
        raw = self.fit.raw(X)
        p = self.calibrator.transform(raw, np.full(raw.shape[0], self.risk_area, dtype=object))
        values = None
        if contributions:
            values = calibrated_contributions(*self.fit.contributions(X), self._calibrated_log_odds)
        return raw, ranked_as(np.asarray(p, dtype=np.float64), raw), values

    def _calibrated_log_odds(self, log_odds: np.ndarray) -> np.ndarray:
        areas = np.full(log_odds.shape[0], self.risk_area, dtype=object)
        p = self.calibrator.transform(expit(log_odds), areas)
        return np.asarray(logit(np.clip(p, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)), dtype=np.float64)

    def predict_rows(self, frame: pl.DataFrame, area: str, *, contributions: bool) -> AreaPrediction:
        """Predictions of ``frame``'s rows (the :class:`models.artifact.AreaModel` interface)."""
        raw, p, values = self.deficiency(frame, contributions=contributions)
        if getattr(self, "label", "deficiency") == "serious":
            # P(deficiency) is LightGBM's, and so are its reasons (what the overall row averages)
            trees = self.lightgbm.predict_rows(frame, area, contributions=contributions)
            layout = self.features
            return AreaPrediction(
                raw,
                _deficiency_alongside(p, trees),
                p,
                _in_layout(values, self.fit.features, layout),
                _in_layout(trees.contributions, self.lightgbm.features, layout),
            )
        trees = self.lightgbm.predict_rows(frame, area, contributions=False)
        return AreaPrediction(raw, p, _serious_alongside(p, trees), values)


def features_of_both(first: Sequence[ModelFeature], second: Sequence[ModelFeature]) -> list[ModelFeature]:
    """``first``, then the features of ``second`` it lacks (the columns of a two-family explanation)."""
    names = {f.name for f in first}
    return [*first, *(f for f in second if f.name not in names)]


def _in_layout(
    values: np.ndarray | None, features: Sequence[ModelFeature], layout: Sequence[ModelFeature]
) -> np.ndarray | None:
    """``values`` (rows × ``features``) in the columns of ``layout``; None stays None."""
    return None if values is None else _placed(values, features, layout)


def _placed(
    values: np.ndarray, features: Sequence[ModelFeature], layout: Sequence[ModelFeature]
) -> np.ndarray:
    """``values`` (rows × ``features``) in the columns of ``layout`` (0.0 where ``features`` lacks one)."""
    position = {feature.name: i for i, feature in enumerate(features)}
    out = np.zeros((values.shape[0], len(layout)))
    for j, feature in enumerate(layout):
        if feature.name in position:
            out[:, j] = values[:, position[feature.name]]
    return out


def ranked_as(p: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """``p`` with its ties broken by ``raw``, staying in [0, 1].

    A steep sigmoid calibrator saturates at exactly 1.0 (or 0.0) for the strongest log-odds of an area
    with a base rate near 1, and the clipping of a logit mean does the same: without this, those units
    would tie and lose the ranking the family gave them.
    """
    return (1.0 - TIE_BREAK) * p + TIE_BREAK * np.clip(raw, 0.0, 1.0)


def logit_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The mean of two probabilities on the logit scale."""
    a = np.clip(a, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    b = np.clip(b, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return np.asarray(expit((logit(a) + logit(b)) / 2.0), dtype=np.float64)


@dataclass
class BlendAreaModel:
    """An area served by the blend: the logit mean of LightGBM's and the elastic net's calibrated
    probabilities, explained by half of each family's contributions."""

    risk_area: str
    lightgbm: AreaScorer
    elastic_net: ElasticNetAreaModel
    family: str = "blend"

    @property
    def features(self) -> list[ModelFeature]:
        """LightGBM's features, then the elastic net's that LightGBM does not use."""
        return features_of_both(self.lightgbm.features, self.elastic_net.fit.features)

    def predict_rows(self, frame: pl.DataFrame, area: str, *, contributions: bool) -> AreaPrediction:
        """Predictions of ``frame``'s rows (the :class:`models.artifact.AreaModel` interface)."""
        trees = self.lightgbm.predict_rows(frame, area, contributions=contributions)
        raw, p, linear = self.elastic_net.deficiency(frame, contributions=contributions)
        raw_blend = logit_mean(trees.raw, raw)
        serious = getattr(self.elastic_net, "label", "deficiency") == "serious"
        p_blend = ranked_as(logit_mean(trees.p_serious if serious else trees.p_deficiency, p), raw_blend)
        tree_values = trees.contributions
        if serious and contributions:  # the trees' half of the reasons for P(serious): their serious model
            explainer = getattr(self.lightgbm, "serious_contributions", None)
            serious_values = explainer(frame) if explainer is not None else None
            tree_values = tree_values if serious_values is None else serious_values
        values = None
        if tree_values is not None and linear is not None:
            # positions: LightGBM's features first, then the elastic net's others (self.features)
            values = 0.5 * _placed(tree_values, self.lightgbm.features, self.features)
            values += 0.5 * _placed(linear, self.elastic_net.fit.features, self.features)
        if serious:  # the blend of the two P(serious); P(deficiency) and its reasons LightGBM's
            deficiency_values = _in_layout(trees.contributions, self.lightgbm.features, self.features)
            return AreaPrediction(
                raw_blend, _deficiency_alongside(p_blend, trees), p_blend, values, deficiency_values
            )
        return AreaPrediction(raw_blend, p_blend, _serious_alongside(p_blend, trees), values)
