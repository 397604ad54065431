"""Ranking, calibration, subgroup and drift metrics for inspection-targeting models.

All functions take plain numpy arrays (labels 0/1, scores in [0, 1]) and return floats or small
frames, so they serve the model, every baseline and the oracle alike. Only inspected units have
labels: every figure here describes inspected units, never the whole population.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

FloatArray = np.ndarray


def top_k_count(n_rows: int, fraction: float) -> int:
    """How many rows "the top ``fraction``" means: ``ceil(fraction * n_rows)``, at least 1."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return max(1, math.ceil(fraction * n_rows))


def _top_k_mask(scores: FloatArray, k: int) -> FloatArray:
    # Stable sort on -score: ties keep input order, so callers break ties explicitly (seeded jitter).
    order = np.argsort(-scores, kind="stable")
    mask = np.zeros(scores.shape[0], dtype=bool)
    mask[order[:k]] = True
    return mask


def precision_at_k(y_true: FloatArray, scores: FloatArray, fraction: float) -> float:
    """Share of positives among the ``fraction`` highest-scored rows."""
    if y_true.shape[0] == 0:
        return math.nan
    k = top_k_count(y_true.shape[0], fraction)
    return float(y_true[_top_k_mask(scores, k)].mean())


def recall_at_k(y_true: FloatArray, scores: FloatArray, fraction: float) -> float:
    """Share of all positives found among the ``fraction`` highest-scored rows."""
    positives = y_true.sum()
    if y_true.shape[0] == 0 or positives == 0:
        return math.nan
    k = top_k_count(y_true.shape[0], fraction)
    return float(y_true[_top_k_mask(scores, k)].sum() / positives)


def lift_at_k(y_true: FloatArray, scores: FloatArray, fraction: float) -> float:
    """precision@k divided by the base rate (what choosing at random would find)."""
    base_rate = float(y_true.mean()) if y_true.shape[0] else math.nan
    if not base_rate:
        return math.nan
    return precision_at_k(y_true, scores, fraction) / base_rate


def roc_auc(y_true: FloatArray, scores: FloatArray) -> float:
    """ROC AUC, NaN when only one class is present."""
    if np.unique(y_true).shape[0] < 2:
        return math.nan
    return float(roc_auc_score(y_true, scores))


def average_precision(y_true: FloatArray, scores: FloatArray) -> float:
    """Average precision (area under the precision-recall curve), NaN without positives."""
    if y_true.sum() == 0:
        return math.nan
    return float(average_precision_score(y_true, scores))


def brier_score(y_true: FloatArray, probabilities: FloatArray) -> float:
    """Mean squared error of the predicted probabilities."""
    return float(np.mean((probabilities - y_true) ** 2)) if y_true.shape[0] else math.nan


def reliability_table(y_true: FloatArray, probabilities: FloatArray, n_bins: int = 10) -> pl.DataFrame:
    """Observed vs predicted rate in ``n_bins`` equal-width probability bins (empty bins dropped)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(probabilities, edges[1:-1], right=False), 0, n_bins - 1)
    rows = [
        {
            "bin_lower": float(edges[b]),
            "bin_upper": float(edges[b + 1]),
            "n": int((bins == b).sum()),
            "mean_predicted": float(probabilities[bins == b].mean()),
            "observed_rate": float(y_true[bins == b].mean()),
        }
        for b in range(n_bins)
        if (bins == b).any()
    ]
    schema = {
        "bin_lower": pl.Float64,
        "bin_upper": pl.Float64,
        "n": pl.Int64,
        "mean_predicted": pl.Float64,
        "observed_rate": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def expected_calibration_error(y_true: FloatArray, probabilities: FloatArray, n_bins: int = 10) -> float:
    """ECE: bin-size weighted mean |observed − predicted| over ``n_bins`` equal-width bins."""
    if y_true.shape[0] == 0:
        return math.nan
    table = reliability_table(y_true, probabilities, n_bins)
    gaps = np.abs(table["observed_rate"].to_numpy() - table["mean_predicted"].to_numpy())
    counts = table["n"].to_numpy().astype(np.float64)
    return float((gaps * counts).sum() / counts.sum())


def fraction_tag(fraction: float) -> str:
    """``0.1`` → ``"10pct"`` (metric names stay valid MLflow keys)."""
    return f"{round(fraction * 100):d}pct"


def _batch_precision_recall(y: FloatArray, s: FloatArray, fraction: float) -> tuple[FloatArray, FloatArray]:
    """Hits among the top ``fraction`` of each row of (B, n) matrices; returns (hits, positives) sums."""
    k = top_k_count(y.shape[1], fraction)
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(y, top, axis=1).sum(axis=1)
    return hits, np.full(y.shape[0], float(k))


def _batch_auc(y: FloatArray, s: FloatArray) -> FloatArray:
    """ROC AUC per row via the Mann–Whitney statistic (scores are tie-broken continuous values)."""
    ranks = np.argsort(np.argsort(s, axis=1, kind="stable"), axis=1, kind="stable") + 1.0
    positives = y.sum(axis=1)
    negatives = y.shape[1] - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * y).sum(axis=1) - positives * (positives + 1) / 2) / (positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auc, np.nan)


def _batch_average_precision(y: FloatArray, s: FloatArray) -> FloatArray:
    """Average precision per row: mean precision at the rank of each positive."""
    order = np.argsort(-s, axis=1, kind="stable")
    hits = np.take_along_axis(y, order, axis=1)
    precision = np.cumsum(hits, axis=1) / np.arange(1, y.shape[1] + 1)
    positives = y.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(positives > 0, (precision * hits).sum(axis=1) / positives, np.nan)


def batch_ranking_metrics(
    y: FloatArray, s: FloatArray, groups: FloatArray, fractions: Sequence[float]
) -> dict[str, FloatArray]:
    """Ranking metrics for each row of (B, n) label/score matrices, top-k taken within each group.

    ``groups`` (length n) names each column's fold: every fold selects its own top ``fraction`` of
    inspected units, and precision@k = all hits / all selected, recall@k = all hits / all positives.
    ROC AUC and average precision are computed over all columns together.
    """
    out: dict[str, FloatArray] = {}
    labels = np.unique(groups)
    positives = y.sum(axis=1)
    base_rate = positives / y.shape[1] if y.shape[1] else np.full(y.shape[0], np.nan)
    for fraction in fractions:
        hits = np.zeros(y.shape[0])
        selected = np.zeros(y.shape[0])
        for label in labels:
            member = groups == label
            h, k = _batch_precision_recall(y[:, member], s[:, member], fraction)
            hits += h
            selected += k
        tag = fraction_tag(fraction)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"precision_at_{tag}"] = hits / selected
            out[f"recall_at_{tag}"] = np.where(positives > 0, hits / positives, np.nan)
            out[f"lift_at_{tag}"] = np.where(base_rate > 0, hits / selected / base_rate, np.nan)
    out["roc_auc"] = _batch_auc(y, s)
    out["average_precision"] = _batch_average_precision(y, s)
    return out


def ranking_metrics(
    y_true: FloatArray, scores: FloatArray, fractions: Sequence[float], groups: FloatArray | None = None
) -> dict[str, float]:
    """precision@k, recall@k, lift@k per fraction, ROC AUC and average precision (point estimates)."""
    if y_true.shape[0] == 0:
        return {}
    groups = np.zeros(y_true.shape[0]) if groups is None else np.asarray(groups)
    batch = batch_ranking_metrics(
        y_true.astype(float).reshape(1, -1), scores.astype(float).reshape(1, -1), groups, fractions
    )
    return {name: float(values[0]) for name, values in batch.items()}


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap confidence interval."""

    estimate: float
    lower: float
    upper: float


def bootstrap_resample_index(groups: FloatArray, resamples: int, seed: int) -> FloatArray:
    """(resamples, n) row indices, resampled with replacement *within* each group (fold)."""
    if not 10 <= resamples <= 10_000:
        raise ValueError(f"resamples must be between 10 and 10000, got {resamples}")
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    index = np.empty((resamples, groups.shape[0]), dtype=np.int64)
    for label in np.unique(groups):
        members = np.flatnonzero(groups == label)
        index[:, members] = members[rng.integers(0, members.size, size=(resamples, members.size))]
    return index


def bootstrap_ranking_intervals(
    y_true: FloatArray,
    scores: FloatArray,
    fractions: Sequence[float],
    *,
    groups: FloatArray | None = None,
    resamples: int,
    seed: int,
    level: float = 0.95,
) -> dict[str, Interval]:
    """Percentile bootstrap CIs (rows resampled within folds) for every ranking metric."""
    n = y_true.shape[0]
    groups = np.zeros(n) if groups is None else np.asarray(groups)
    point = ranking_metrics(y_true, scores, fractions, groups)
    if n == 0:
        return {}
    index = bootstrap_resample_index(groups, resamples, seed)
    batch = batch_ranking_metrics(y_true.astype(float)[index], scores.astype(float)[index], groups, fractions)
    alpha = (1.0 - level) / 2.0
    intervals = {}
    for name, values in batch.items():
        finite = values[~np.isnan(values)]
        lower, upper = (
            (float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha)))
            if finite.size
            else (math.nan, math.nan)
        )
        intervals[name] = Interval(point[name], lower, upper)
    return intervals


def subgroup_audit(
    y_true: FloatArray,
    selected: FloatArray,
    groups: Mapping[str, Sequence[str]],
    bounds: tuple[float, float] = (0.8, 1.25),
) -> pl.DataFrame:
    """Precision, recall and selection rate per group, with disparity ratios against the largest group.

    As in Aequitas: each group's metric divided by the reference group's (the largest group of the
    attribute); a ratio outside ``bounds`` is flagged.
    """
    rows = []
    for attribute, values in groups.items():
        labels = np.asarray(values, dtype=object)
        names, counts = np.unique(labels, return_counts=True)
        reference = str(names[int(np.argmax(counts))])
        stats = {str(name): _group_stats(y_true[labels == name], selected[labels == name]) for name in names}
        for name, (n, precision, recall, selection_rate) in stats.items():
            ref = stats[reference]
            row = {
                "attribute": attribute,
                "group": name,
                "reference": reference,
                "n": n,
                "precision": precision,
                "recall": recall,
                "selection_rate": selection_rate,
            }
            for metric, value, ref_value in zip(
                ("precision", "recall", "selection_rate"),
                (precision, recall, selection_rate),
                ref[1:],
                strict=True,
            ):
                ratio = value / ref_value if ref_value and not math.isnan(ref_value) else math.nan
                row[f"{metric}_disparity"] = ratio
                row[f"{metric}_flagged"] = bool(not math.isnan(ratio) and not bounds[0] <= ratio <= bounds[1])
            rows.append(row)
    return pl.DataFrame(rows)


def _group_stats(y_true: FloatArray, selected: FloatArray) -> tuple[int, float, float, float]:
    n = int(y_true.shape[0])
    chosen = selected.astype(bool)
    precision = float(y_true[chosen].mean()) if chosen.any() else math.nan
    recall = float(y_true[chosen].sum() / y_true.sum()) if y_true.sum() else math.nan
    selection_rate = float(chosen.mean()) if n else math.nan
    return n, precision, recall, selection_rate


def population_stability_index(expected: FloatArray, actual: FloatArray, n_bins: int = 10) -> float:
    """PSI of ``actual`` against ``expected`` over the expected distribution's quantile bins.

    Missing values form their own bin; empty bins get a 1e-4 floor so the log stays finite.
    Rule of thumb: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift.
    """
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    finite = expected[~np.isnan(expected)]
    edges = (
        np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1])) if finite.size else np.array([])
    )

    def shares(values: FloatArray) -> FloatArray:
        missing = np.isnan(values)
        counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=edges.size + 1)
        counts = np.append(counts, missing.sum()).astype(float)
        return np.maximum(counts / max(values.size, 1), 1e-4)

    e, a = shares(expected), shares(actual)
    return float(np.sum((a - e) * np.log(a / e)))
