"""How well calibrated a model is, and how well calibration *can* be measured on few inspections.

The expected calibration error (ECE, equal-width bins, bin-size weighted mean |observed − predicted|)
is biased upwards on small samples: even the true probabilities show an ECE of 0.02–0.05 on ~900
inspections, because each bin's observed rate is a binomial estimate. Two tools put the figure in
proportion, both vectorised over resamples (linear in resamples × rows):

- :func:`ece_interval`: percentile bootstrap CI of the ECE, rows resampled within folds;
- :func:`ece_noise_band`: *consistency resampling* (Bröcker & Smith 2007): labels drawn from the
  model's own probabilities give the ECE a perfectly calibrated model with exactly these predictions
  would show on this many rows. An observed ECE inside that band is indistinguishable from label
  noise; one above its upper quantile is evidence of miscalibration. Needs no ground truth.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from models.metrics import FloatArray, Interval, bootstrap_counts, expected_calibration_error

# Resamples are processed in chunks so memory stays bounded on national-scale test folds.
_CHUNK = 32


def bin_indicators(probabilities: FloatArray, n_bins: int) -> FloatArray:
    """(n, n_bins) one-hot matrix of each row's equal-width probability bin (as the reliability table)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(probabilities, edges[1:-1], right=False), 0, n_bins - 1)
    return np.eye(n_bins)[bins]


def batch_ece(residuals: FloatArray, counts: FloatArray, indicators: FloatArray) -> FloatArray:
    """ECE of each resample: Σ_bins |Σ counts·(y − p)| / Σ counts.

    ``residuals`` (B, n) or (n,) are y − p per row, ``counts`` (B, n) how often each row is drawn,
    ``indicators`` the rows' bins from :func:`bin_indicators`. Equals
    :func:`models.metrics.expected_calibration_error` for counts of one.
    """
    per_bin = (counts * residuals) @ indicators
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(per_bin).sum(axis=1) / counts.sum(axis=1)


def calibration_error(
    y_true: FloatArray, probabilities: FloatArray, n_bins: int = 10, weights: FloatArray | None = None
) -> float:
    """ECE; with ``weights``, each bin's gap and size are weighted sums (the Hájek form)."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    if weights is None or y.shape[0] == 0:
        return expected_calibration_error(y, p, n_bins)
    w = np.asarray(weights, dtype=np.float64)[None, :]
    return float(batch_ece(y - p, w, bin_indicators(p, n_bins))[0])


def _chunks(total: int) -> Iterator[slice]:
    for start in range(0, total, _CHUNK):
        yield slice(start, min(start + _CHUNK, total))


def _interval(values: FloatArray, estimate: float, level: float) -> Interval:
    alpha = (1.0 - level) / 2.0
    return Interval(estimate, float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)))


def ece_interval(
    y_true: FloatArray,
    probabilities: FloatArray,
    *,
    groups: FloatArray | None = None,
    n_bins: int = 10,
    resamples: int,
    seed: int,
    level: float = 0.95,
    counts: FloatArray | None = None,
    weights: FloatArray | None = None,
) -> Interval:
    """ECE with a percentile bootstrap interval (rows resampled within ``groups``, e.g. test folds).

    ``counts`` may pass resample multiplicities already drawn with the same groups and seed;
    ``weights`` make it the weighted ECE (:func:`calibration_error`), each resampled row carrying its weight.

    The bootstrap distribution of the ECE sits above the estimate (resampling adds noise to every
    bin), so the interval is wide on the upper side; read it with :func:`ece_noise_band`.
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    estimate = calibration_error(y, p, n_bins, weights)
    if y.shape[0] == 0:
        return Interval(estimate, np.nan, np.nan)
    groups = np.zeros(y.shape[0]) if groups is None else np.asarray(groups)
    counts = bootstrap_counts(groups, resamples, seed) if counts is None else counts
    if weights is not None:
        counts = counts * np.asarray(weights, dtype=np.float64)
    indicators = bin_indicators(p, n_bins)
    values = np.concatenate([batch_ece(y - p, counts[chunk], indicators) for chunk in _chunks(resamples)])
    return _interval(values, estimate, level)


def ece_noise_band(
    probabilities: FloatArray,
    *,
    n_bins: int = 10,
    resamples: int,
    seed: int,
    level: float = 0.95,
    weights: FloatArray | None = None,
) -> Interval:
    """The ECE a perfectly calibrated model with these predictions shows on this many rows.

    Labels are drawn ``resamples`` times as Bernoulli(probabilities); returns the mean ECE as the
    estimate and the central ``level`` interval of the draws (its upper bound is the consistency
    threshold: an observed ECE above it is unlikely to be label noise alone). ``weights``: the band of
    the weighted ECE on rows with these weights.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape[0] == 0:
        return Interval(np.nan, np.nan, np.nan)
    if not 10 <= resamples <= 10_000:
        raise ValueError(f"resamples must be between 10 and 10000, got {resamples}")
    rng = np.random.default_rng(seed)
    indicators = bin_indicators(p, n_bins)
    ones = np.ones((1, p.shape[0])) if weights is None else np.asarray(weights, dtype=np.float64)[None, :]
    draws = (rng.random((chunk.stop - chunk.start, p.shape[0])) < p for chunk in _chunks(resamples))
    values = np.concatenate([batch_ece(d.astype(np.float64) - p, ones, indicators) for d in draws])
    return _interval(values, float(values.mean()), level)
