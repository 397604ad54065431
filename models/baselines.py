# ruff: noqa: N806  (X is the scikit-learn name of a feature matrix)
"""Baselines evaluated in the same run as the model, on the same test rows.

- ``random``: a seeded random ranking (what untargeted selection finds: the base rate).
- ``complaints``: complaints per listed patient, the single feature a desk officer would sort by.
- ``banding``: indicator banding in the style of the UK CQC's *Intelligent Monitoring*: the number
  of indicators beyond a fixed threshold (configured thresholds for shares, a training-period
  quantile for rates without one).
- ``logistic``: logistic regression on the same features (median-imputed, standardised).
- ``oracle`` (synthetic worlds only): the true p_deficiency at the inspection, the ceiling.

Ties (many units with zero complaints, equal band counts) are broken by a seeded random jitter so
that precision@k does not depend on row order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from engine.config import Config
from models.artifact import ModelFeature, category_levels, design_matrix

JITTER = 1e-6


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


def fit_logistic(
    train_rows: pl.DataFrame, features: Sequence[ModelFeature], seed: int
) -> tuple[Pipeline, dict[str, list[str]]]:
    """Logistic regression on the same features (median-imputed, standardised; categories one-hot)."""
    levels = category_levels(train_rows, features)
    numeric = [i for i, f in enumerate(features) if f.kind == "numeric"]
    categorical = [i for i, f in enumerate(features) if f.kind == "categorical"]
    transformers = [
        (
            "numeric",
            make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()),
            numeric,
        )
    ]
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            )
        )
    pipeline = Pipeline(
        [
            ("prepare", ColumnTransformer(transformers)),
            ("logistic", LogisticRegression(C=1.0, max_iter=2000, random_state=seed)),
        ]
    )
    X = design_matrix(train_rows, features, levels)
    y = train_rows.get_column("deficiency").to_numpy()
    weights = train_rows.get_column("weight").to_numpy().astype(float)
    # Mean-one weights keep the penalty C comparable to an unweighted fit (and lbfgs well conditioned).
    pipeline.fit(X, y, logistic__sample_weight=weights / weights.mean())
    return pipeline, levels


def logistic_scores(
    pipeline: Pipeline, levels: dict[str, list[str]], rows: pl.DataFrame, features: Sequence[ModelFeature]
) -> np.ndarray:
    """P(deficiency) from the fitted logistic baseline."""
    return pipeline.predict_proba(design_matrix(rows, features, levels))[:, 1]
