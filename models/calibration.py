"""Probability calibration on a held-out period (isotonic or sigmoid, scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

CalibrationMethod = Literal["isotonic", "sigmoid"]
# Isotonic calibration is a step function: many units share one probability. Adding this multiple of
# the raw score keeps the ranking of the raw model without moving any probability measurably.
TIE_BREAK = 1e-9
_EPS = 1e-6


@dataclass(frozen=True)
class Calibrator:
    """A fitted monotone map from raw model probabilities to calibrated ones."""

    method: CalibrationMethod
    model: IsotonicRegression | LogisticRegression

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw probabilities ``raw`` (same order, ties broken by ``raw``)."""
        raw = np.asarray(raw, dtype=np.float64)
        if isinstance(self.model, IsotonicRegression):
            calibrated = self.model.predict(raw)
        else:
            calibrated = self.model.predict_proba(_logit(raw).reshape(-1, 1))[:, 1]
        return np.clip(calibrated + TIE_BREAK * raw, 0.0, 1.0)


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, _EPS, 1 - _EPS)
    return np.log(clipped / (1 - clipped))


def fit_calibrator(
    raw: np.ndarray,
    y: np.ndarray,
    method: CalibrationMethod,
    sample_weight: np.ndarray | None = None,
) -> Calibrator:
    """Fit an isotonic or sigmoid (Platt) calibrator of ``raw`` probabilities to labels ``y``."""
    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if method == "isotonic":
        model: IsotonicRegression | LogisticRegression = IsotonicRegression(
            y_min=0.0, y_max=1.0, out_of_bounds="clip"
        ).fit(raw, y, sample_weight=sample_weight)
    elif method == "sigmoid":
        model = LogisticRegression(C=1e6, max_iter=1000).fit(
            _logit(raw).reshape(-1, 1), y.astype(int), sample_weight=sample_weight
        )
    else:
        raise ValueError(f"calibration method must be 'isotonic' or 'sigmoid', got {method!r}")
    return Calibrator(method=method, model=model)
