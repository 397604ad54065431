# ruff: noqa: N803, N806  (X is the scikit-learn name of a feature matrix)
"""Baselines evaluated in the same run as the model, on the same test rows.

- ``random``: a seeded random ranking (what untargeted selection finds: the base rate).
- ``complaints``: complaints per listed patient, the single feature a desk officer would sort by.
- ``banding``: indicator banding in the style of the UK CQC's *Intelligent Monitoring*: the number
  of indicators beyond a fixed threshold (configured thresholds for shares, a training-period
  quantile for rates without one).
- ``logistic``: an elastic-net logistic regression on the same features (median-imputed, standardised,
  categories one-hot), its regularisation (C and the L1 share) chosen by time-ordered
  cross-validation on the training years (:func:`fit_logistic`).
- ``oracle`` (synthetic worlds only): the true p_deficiency at the inspection, the ceiling.

Ties (many units with zero complaints, equal band counts) are broken by a seeded random jitter so
that precision@k does not depend on row order.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from engine.config import Config
from models.artifact import ModelFeature, category_levels, design_matrix
from models.preprocessing import MedianImputer

JITTER = 1e-6
# Elastic-net grid searched by time-ordered cross-validation: inverse penalty strength C (on standardised
# features) and the L1 share of the penalty (0 = ridge, 1 = lasso).
LOGISTIC_CS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
LOGISTIC_L1_RATIOS = (0.1, 0.5, 0.9)
# The last this many complete inspection years of the training rows are validation years.
LOGISTIC_CV_YEARS = 2
# The search runs on at most this many rows (a seeded sample; the chosen model is refitted on all rows):
# at national scale (~50,000 rows per area) the full search would cost minutes per fold.
LOGISTIC_CV_MAX_ROWS = 5_000
# A loose tolerance: the ranking is settled long before saga converges tightly (measured: same test ROC AUC
# to 0.002 at 1/6 of the time of tol 1e-3, max_iter 300).
LOGISTIC_TOL = 1e-2
LOGISTIC_MAX_ITER = 50

logger = logging.getLogger(__name__)


def tie_break_jitter(n: int, seed: int) -> np.ndarray:
    """Seeded jitter in [0, JITTER) that orders ties without reordering distinct scores."""
    return np.random.default_rng(seed).random(n) * JITTER


def random_scores(n: int, seed: int) -> np.ndarray:
    """A seeded random ranking."""
    return np.random.default_rng(seed).random(n)


def complaints_feature(catalog: Sequence[ModelFeature], area: str) -> ModelFeature | None:
    """The complaints-per-listed-patient feature for ``area`` (area-specific first, then general).

    Among candidates (source ``complaints``, unit ``per_10k``) the 12-month window is preferred.
    """
    candidates = [
        f for f in catalog if f.source == "complaints" and f.unit == "per_10k" and f.kind == "numeric"
    ]
    for scope in (area, None):
        scoped = [f for f in candidates if f.risk_area == scope]
        if scoped:
            return min(scoped, key=lambda f: ("shrunk" in f.name, abs((f.window_months or 12) - 12), f.name))
    return None


def complaints_scores(rows: pl.DataFrame, feature: ModelFeature | None, seed: int) -> np.ndarray:
    """Complaint rate per listed patient (missing → lowest), ties broken by jitter."""
    jitter = tie_break_jitter(rows.height, seed)
    if feature is None:
        return jitter
    values = rows.get_column(feature.name).cast(pl.Float64).fill_nan(None).fill_null(-1.0).to_numpy()
    return values + jitter


@dataclass(frozen=True)
class BandingRule:
    """One indicator and the level beyond which it counts as a risk signal."""

    feature: str
    threshold: float
    higher_is_riskier: bool

    def beyond(self, values: np.ndarray) -> np.ndarray:
        """True where ``values`` lie beyond the threshold in the risky direction (missing → False)."""
        with np.errstate(invalid="ignore"):
            flagged = values > self.threshold if self.higher_is_riskier else values < self.threshold
        return np.where(np.isnan(values), False, flagged)


def _configured_measure_threshold(feature: ModelFeature, config: Config) -> float | None:
    """The configured threshold when ``feature`` is a share of a configured indicator measure."""
    if feature.unit != "share":
        return None
    for source_name, source in config.indicator_sources.items():
        for measure_name, measure in source.measures.items():
            if feature.source == source_name and measure_name in feature.name:
                return measure.threshold
    return None


def _is_banding_indicator(feature: ModelFeature, catalog: Sequence[ModelFeature], config: Config) -> bool:
    """One indicator per signal: a measure's 12-month share, an event rate (shrunk when available)."""
    if feature.kind != "numeric" or feature.higher_is_riskier is None:
        return False
    if _configured_measure_threshold(feature, config) is not None:
        return feature.window_months == 12
    if feature.unit == "per_10k":
        shrunk_exists = any("shrunk" in f.name and f.unit == "per_10k" for f in catalog)
        return ("shrunk" in feature.name) or not shrunk_exists
    return feature.unit == "share"


def banding_rules(
    catalog: Sequence[ModelFeature], area: str, train_rows: pl.DataFrame, config: Config, quantile: float
) -> list[BandingRule]:
    """Banding rules for ``area``: every directed numeric indicator of the area or general.

    Indicators: each configured measure's 12-month share (configured threshold), each event rate
    per 10,000 listed (shrunk when available) and other directed shares such as earlier deficiency
    shares (the ``quantile``, risky side, of the training rows, fixed before the test period).
    """
    rules = []
    for feature in catalog:
        if feature.risk_area not in (None, area) or not _is_banding_indicator(feature, catalog, config):
            continue
        threshold = _configured_measure_threshold(feature, config)
        if threshold is None:
            values = train_rows.get_column(feature.name).cast(pl.Float64).fill_nan(None).drop_nulls()
            if values.is_empty():
                continue
            level = quantile if feature.higher_is_riskier else 1.0 - quantile
            threshold = float(np.quantile(values.to_numpy(), level))
        rules.append(BandingRule(feature.name, threshold, bool(feature.higher_is_riskier)))
    return rules


def banding_scores(rows: pl.DataFrame, rules: Sequence[BandingRule], seed: int) -> np.ndarray:
    """Number of indicators beyond their threshold, ties broken by jitter."""
    count = np.zeros(rows.height)
    for rule in rules:
        count += rule.beyond(rows.get_column(rule.feature).cast(pl.Float64).fill_nan(None).to_numpy())
    return count + tie_break_jitter(rows.height, seed)


def time_ordered_folds(
    start_dates: Sequence[dt.date], decision_dates: Sequence[dt.date], n_years: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) row indices, one pair per validation year, oldest first.

    Validation year V: rows that started in V, trained on rows decided before 1 January V (what was
    known when V began). The last ``n_years`` start years with at least one earlier year are used.
    """
    starts = np.array([d.year for d in start_dates])
    decided = np.array(decision_dates, dtype="datetime64[D]")
    years = sorted(set(starts.tolist()))
    folds = []
    for year in [y for y in years if y > years[0]][-n_years:]:
        train = np.flatnonzero(decided < np.datetime64(f"{year}-01-01"))
        validation = np.flatnonzero(starts == year)
        if train.size and validation.size:
            folds.append((train, validation))
    return folds


def _usable(folds: list[tuple[np.ndarray, np.ndarray]], y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds whose training and validation rows both hold both outcomes (ROC AUC needs them)."""
    return [
        (train, valid)
        for train, valid in folds
        if np.unique(y[train]).size == 2 and np.unique(y[valid]).size == 2
    ]


def _subsampled(
    folds: list[tuple[np.ndarray, np.ndarray]], n_rows: int, max_rows: int, seed: int
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """At most ``max_rows`` rows (seeded sample) and the folds re-indexed into them."""
    if n_rows <= max_rows:
        return np.arange(n_rows), folds
    keep = np.sort(np.random.default_rng(seed).choice(n_rows, size=max_rows, replace=False))
    position = np.full(n_rows, -1)
    position[keep] = np.arange(keep.size)
    return keep, [(position[t][position[t] >= 0], position[v][position[v] >= 0]) for t, v in folds]


def linear_roc_auc(
    estimator: LogisticRegression, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    """Weighted ROC AUC of a fitted linear ``estimator``'s log-odds on ``X`` against ``y`` (the search's
    scorer; ``LogisticRegressionCV`` passes the validation rows' weights).

    The probability that a positive outranks a negative, ties counting half, each pair weighted by the
    product of its weights: ``sklearn.metrics.roc_auc_score`` of the same scores and weights up to the last
    bits of a float. The generic ``"roc_auc"`` scorer spent most of its time checking its inputs (15 % of
    the search).
    """
    scores = X @ np.ravel(estimator.coef_) + float(np.ravel(estimator.intercept_)[0])
    weight = np.ones(scores.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    positive = (np.asarray(y) == estimator.classes_[-1])[order]
    positive_weight = np.where(positive, weight[order], 0.0)
    negative_weight = np.where(positive, 0.0, weight[order])
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # first row of each tied score
    tied_positive = np.add.reduceat(positive_weight, starts)
    tied_negative = np.add.reduceat(negative_weight, starts)
    below = np.cumsum(tied_negative) - tied_negative
    pairs = positive_weight.sum() * negative_weight.sum()
    if pairs <= 0:
        return float("nan")
    return float((tied_positive * (below + 0.5 * tied_negative)).sum() / pairs)


def select_regularisation(  # noqa: PLR0917 - the data, its folds, the seed and the threads
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    n_jobs: int = 1,
) -> tuple[float, float]:
    """(C, l1_ratio) with the best mean ROC AUC over the time-ordered ``folds`` (prepared ``X``).

    ROC AUC, because the baseline is judged on how it ranks. Without a usable fold (one outcome only)
    the middle of the grid is returned. ``n_jobs`` threads fit the (fold, l1_ratio) paths side by side
    (saga releases the GIL); the choice does not depend on it.
    """
    rows, folds = _subsampled(folds, X.shape[0], LOGISTIC_CV_MAX_ROWS, seed)
    folds = _usable(folds, y[rows])
    if not folds:
        logger.warning("elastic-net baseline: no validation year holds both outcomes; C=0.1, l1_ratio=0.5")
        return 0.1, 0.5
    search = LogisticRegressionCV(
        Cs=list(LOGISTIC_CS),
        l1_ratios=np.array(LOGISTIC_L1_RATIOS),  # an array: refit=False indexes it with an array
        cv=folds,
        scoring=linear_roc_auc,
        refit=False,  # the chosen model is refitted on every row by the caller, not on the sample
        random_state=seed,
        use_legacy_attributes=False,
        solver="saga",
        tol=LOGISTIC_TOL,
        max_iter=LOGISTIC_MAX_ITER,
        n_jobs=n_jobs,
    )
    with warnings.catch_warnings():
        # saga stops at max_iter on the weakest penalties; the ranking it scores is settled by then.
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X[rows], y[rows], sample_weight=weights[rows])
    return best_regularisation(search.scores_, search.Cs_, search.l1_ratios_)


def best_regularisation(scores: np.ndarray, cs: np.ndarray, l1_ratios: np.ndarray) -> tuple[float, float]:
    """(C, l1_ratio) with the best mean score over the folds (``scores``: folds × l1_ratios × Cs).

    What ``LogisticRegressionCV(refit=True)`` chooses (the first of tied pairs in C-major order),
    without its refit on the search sample (the caller refits on every row); with ``refit=False`` the
    estimator itself would average each fold's best pair instead.
    """
    total = np.asarray(scores).sum(axis=0).T  # Cs × l1_ratios, the order refit=True breaks ties in
    c_index, l1_index = np.unravel_index(np.argmax(total), total.shape)
    return float(cs[c_index]), float(l1_ratios[l1_index])


def fit_logistic(
    train_rows: pl.DataFrame,
    features: Sequence[ModelFeature],
    seed: int,
    n_jobs: int = 1,
    *,
    label: str = "deficiency",
) -> tuple[Pipeline, dict[str, list[str]]]:
    """Elastic-net logistic regression on the catalog's features, regularisation chosen on the past.

    ``label`` is the 0/1 column it learns: ``deficiency``, or ``serious`` where the area's ranking
    target is evaluated against serious findings (:mod:`models.targets`), so the baseline competes on
    the outcome the model is judged by.

    ``region_code`` stays in ``features`` even where the model leaves it out (``region_with_team =
    "drop"``) and team and method are not given: the baseline is what an analyst would fit on the unit's
    features alone (docs/models.md, "Baselines").

    Numeric features are median-imputed and standardised, categories one-hot. C and the L1 share come
    from a grid search (:data:`LOGISTIC_CS` × :data:`LOGISTIC_L1_RATIOS`) scored by ROC AUC on the
    last :data:`LOGISTIC_CV_YEARS` years of ``train_rows``, each validated by a model fitted on what
    was decided before that year began; the chosen model is then fitted on every row. Weights are
    scaled to mean one so that C means the same with and without inverse-probability weights.
    The imputer and scaler see every training row (no labels), which keeps the search one path of fits.
    ``n_jobs``: threads of the search; ``label``: the outcome column it predicts.
    """
    levels = category_levels(train_rows, features)
    numeric = [i for i, f in enumerate(features) if f.kind == "numeric"]
    categorical = [i for i, f in enumerate(features) if f.kind == "categorical"]
    transformers = [
        (
            "numeric",
            make_pipeline(MedianImputer(), StandardScaler()),
            numeric,
        )
    ]
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            )
        )
    prepare = ColumnTransformer(transformers)
    X = design_matrix(train_rows, features, levels)
    y = train_rows.get_column(label).to_numpy().astype(np.int64)
    weights = train_rows.get_column("weight").to_numpy().astype(float)
    weights = weights / weights.mean()
    folds = time_ordered_folds(
        train_rows.get_column("start_date").to_list(),
        train_rows.get_column("decision_date").to_list(),
        LOGISTIC_CV_YEARS,
    )
    c, l1_ratio = select_regularisation(prepare.fit_transform(X), y, weights, folds, seed, n_jobs)
    pipeline = Pipeline(
        [
            ("prepare", prepare),
            (
                "logistic",
                LogisticRegression(
                    C=c,
                    l1_ratio=l1_ratio,
                    solver="saga",
                    tol=LOGISTIC_TOL,
                    max_iter=LOGISTIC_MAX_ITER,
                    random_state=seed,
                ),
            ),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X, y, logistic__sample_weight=weights)
    return pipeline, levels


def logistic_scores(
    pipeline: Pipeline, levels: dict[str, list[str]], rows: pl.DataFrame, features: Sequence[ModelFeature]
) -> np.ndarray:
    """P(label) (the label it was fitted on) from the fitted logistic baseline."""
    return pipeline.predict_proba(design_matrix(rows, features, levels))[:, 1]
