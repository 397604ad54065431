"""Small numeric helpers shared by the world's modules (logistic link and intercept calibration)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def sigmoid(x: FloatArray | float) -> FloatArray:
    """The logistic function."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))))


def logit(p: FloatArray | float) -> FloatArray:
    """The log-odds of ``p``."""
    q = np.asarray(p, dtype=np.float64)
    return np.asarray(np.log(q / (1.0 - q)))


def shift_log_odds(p: FloatArray | float, shift: FloatArray | float) -> FloatArray:
    """``p`` moved by ``shift`` on the log-odds scale (``p`` clipped away from 0 and 1 first): an
    inspecting team's effect on a unit's risk, or (with ``-shift``) that effect taken out again."""
    return sigmoid(logit(np.clip(p, 1e-12, 1 - 1e-12)) + shift)


def solve_intercepts(
    offsets: FloatArray,
    groups: IntArray,
    targets: FloatArray,
    weights: FloatArray | None = None,
    iterations: int = 30,
) -> FloatArray:
    """Per-group intercepts ``c`` with weighted mean of ``sigmoid(c[g] + offset)`` equal to ``targets[g]``.

    Vectorised Newton iterations over all groups at once; groups without members keep ``logit(target)``.
    """
    n_groups = len(targets)
    w = np.ones_like(offsets) if weights is None else weights
    total = np.bincount(groups, weights=w, minlength=n_groups)
    intercepts = logit(np.clip(targets, 1e-6, 1 - 1e-6)).astype(np.float64)
    populated = total > 0
    for _ in range(iterations):
        p = sigmoid(intercepts[groups] + offsets)
        mean = np.bincount(groups, weights=w * p, minlength=n_groups)
        slope = np.bincount(groups, weights=w * p * (1.0 - p), minlength=n_groups)
        step = np.zeros(n_groups)
        step[populated] = (mean[populated] / total[populated] - targets[populated]) / np.maximum(
            slope[populated] / total[populated], 1e-9
        )
        intercepts = intercepts - np.clip(step, -2.0, 2.0)
        if np.max(np.abs(step)) < 1e-8:  # Newton: about five iterations from logit(target)
            break
    return intercepts


def correlated_normals(
    rng: np.random.Generator, shape: tuple[int, ...], n_areas: int, loading: float
) -> FloatArray:
    """Standard normals over a trailing area axis with pairwise correlation ``loading**2``.

    One common factor per leading index plus an area-specific part: ``loading * c + sqrt(1 - loading²) * e``.
    """
    common = rng.standard_normal((*shape, 1))
    specific = rng.standard_normal((*shape, n_areas))
    return np.asarray(loading * common + np.sqrt(1.0 - loading**2) * specific)
