"""Ranking, calibration, subgroup and drift metrics for inspection-targeting models.

All functions take plain numpy arrays (labels 0/1, scores in [0, 1]) and return floats or small
frames, so they serve the model, every baseline and the oracle alike. Only inspected units have
labels: every figure here describes inspected units, never the whole population.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

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


def _hits_in_top_k(
    y_desc: FloatArray, drawn: FloatArray, hits: FloatArray, k: int | FloatArray
) -> FloatArray:
    """Positives among the first ``k`` draws, from the running totals of draws and hits.

    Rows are sorted by descending score and repeat as often as they were drawn; ``drawn`` and
    ``hits`` are their cumulative sums (B, n). ``k`` is one count for every resample or, for weighted
    rows, one (fractional) weight per resample (B,); the row on the boundary counts in part.
    """
    bound = np.reshape(k, (-1, 1)) if np.ndim(k) else k
    full = (drawn < bound).sum(axis=1)  # rows entirely inside the top k
    rows = np.arange(drawn.shape[0])
    before_drawn = np.where(full > 0, drawn[rows, np.maximum(full - 1, 0)], 0.0)
    before_hits = np.where(full > 0, hits[rows, np.maximum(full - 1, 0)], 0.0)
    boundary = np.minimum(full, y_desc.shape[0] - 1)
    return before_hits + (k - before_drawn) * y_desc[boundary]


def _auc_and_average_precision(y_asc: FloatArray, counts_asc: FloatArray) -> tuple[FloatArray, FloatArray]:
    """ROC AUC (Mann–Whitney) and average precision (as scikit-learn defines it; copies of one row form one
    tied threshold) of rows sorted by ascending score, each repeated ``counts`` times.

    One gathered array serves both: average precision reads it backwards (a view, not a copy).
    """
    positives = counts_asc * y_asc
    negatives = counts_asc * (1.0 - y_asc)
    negatives_below = np.cumsum(negatives, axis=1) - negatives
    n_pos, n_neg = positives.sum(axis=1), negatives.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (positives * negatives_below).sum(axis=1) / (n_pos * n_neg)
    auc = np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)
    positives_desc = positives[:, ::-1]
    hits = np.cumsum(positives_desc, axis=1)
    drawn = np.cumsum(counts_asc[:, ::-1], axis=1)
    n_hits = hits[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(drawn > 0, hits / drawn, 0.0)
        ap = (positives_desc * precision).sum(axis=1) / n_hits
    return auc, np.where(n_hits > 0, ap, np.nan)


def _top_rows(order: FloatArray, needed: float) -> FloatArray:
    """The first rows of ``order`` (a fold's rows by descending score) that a resample's top ``needed``
    draws lie within in all but rare resamples: the count of draws among them is binomial, and the margin
    is 4.6 (one row needed) to 6 (thousands) of its standard deviations. Callers check every resample and
    fall back to the whole fold, so the figures never depend on the margin, only the time does."""
    return order[: min(order.size, math.ceil(needed + 6.0 * math.sqrt(needed) + 16.0))]


def batch_ranking_metrics(
    y: FloatArray,
    s: FloatArray,
    groups: FloatArray,
    fractions: Sequence[float],
    counts: FloatArray,
    *,
    with_auc: bool = True,
    weights: FloatArray | None = None,
) -> dict[str, FloatArray]:
    """Ranking metrics for each row of ``counts`` (B, n): how often each of the n rows is drawn.

    ``counts`` of ones give the point estimates; bootstrap resamples are multiplicities, so every
    metric is a cumulative sum over rows sorted once — linear in B × n, no per-resample sort.
    ``groups`` (length n) names each row's fold: each fold selects its own top ``fraction`` of
    inspected units, and precision@k = all hits / all selected, recall@k = all hits / all positives.
    ROC AUC and average precision are computed over all rows together. Scores must be tie-free
    (the callers break ties with a seeded jitter). ``with_auc=False`` skips ROC AUC and average
    precision (a sort of every resample's rows) when only the top-k figures are wanted.

    ``weights`` (length n, e.g. inverse inclusion probabilities) make every figure a Hájek estimate:
    each drawn row stands for ``weight`` rows of the population, the top ``fraction`` of a fold is the
    first ``fraction`` of its drawn weight (the boundary row counting in part), precision@k is the
    weighted share of positives in it, and ROC AUC and average precision count weighted pairs.
    """
    if weights is not None:
        return _weighted_ranking_metrics(
            y, s, groups, fractions, counts * weights, weights=weights, with_auc=with_auc
        )
    out: dict[str, FloatArray] = {}
    n_pos = (counts * y).sum(axis=1)
    n_all = counts.sum(axis=1)
    hits_by_fraction = {fraction: np.zeros(counts.shape[0]) for fraction in fractions}
    selected_by_fraction = dict.fromkeys(fractions, 0.0)
    for label in np.unique(groups):
        member = np.flatnonzero(groups == label)
        order = member[np.argsort(-s[member], kind="stable")]
        # Only the top of the ranking matters: the largest fraction bounds the rows to accumulate.
        top = _top_rows(order, top_k_count(member.size, max(fractions)))
        group_counts = counts[:, top]
        drawn = np.cumsum(group_counts, axis=1)
        if (drawn[:, -1] < top_k_count(member.size, max(fractions))).any():
            top = order  # a resample drew too few of the top rows: use the whole fold (exact either way)
            group_counts = counts[:, top]
            drawn = np.cumsum(group_counts, axis=1)
        running_hits = np.cumsum(group_counts * y[top], axis=1)
        for fraction in fractions:
            k = top_k_count(member.size, fraction)
            hits_by_fraction[fraction] += _hits_in_top_k(y[top], drawn, running_hits, k)
            selected_by_fraction[fraction] += k
    return _metrics_from_hits(
        out, hits_by_fraction, selected_by_fraction, (n_pos, n_all), y, s, counts, with_auc=with_auc
    )


def _metrics_from_hits(  # noqa: PLR0917 - the running sums of one batch and what they rank
    out: dict[str, FloatArray],
    hits_by_fraction: dict[float, FloatArray],
    selected_by_fraction: Mapping[float, FloatArray | float],
    totals: tuple[FloatArray, FloatArray],
    y: FloatArray,
    s: FloatArray,
    mass: FloatArray,
    *,
    with_auc: bool,
) -> dict[str, FloatArray]:
    """``out`` with precision, recall and lift per top fraction from its hits and selected (B,) sums, and
    ROC AUC and average precision from the rows' ``mass`` (multiplicity, or multiplicity × weight)."""
    n_pos, n_all = totals
    for fraction, hits in hits_by_fraction.items():
        tag = fraction_tag(fraction)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = hits / selected_by_fraction[fraction]
            out[f"precision_at_{tag}"] = precision
            out[f"recall_at_{tag}"] = np.where(n_pos > 0, hits / n_pos, np.nan)
            out[f"lift_at_{tag}"] = np.where(n_pos > 0, precision / (n_pos / n_all), np.nan)
    if not with_auc:
        return out
    ascending = np.argsort(s, kind="stable")
    out["roc_auc"], out["average_precision"] = _auc_and_average_precision(y[ascending], mass[:, ascending])
    return out


def _weighted_ranking_metrics(
    y: FloatArray,
    s: FloatArray,
    groups: FloatArray,
    fractions: Sequence[float],
    mass: FloatArray,
    *,
    weights: FloatArray,
    with_auc: bool,
) -> dict[str, FloatArray]:
    """:func:`batch_ranking_metrics` of rows drawn with ``mass`` = multiplicity × ``weights`` (B, n)."""
    out: dict[str, FloatArray] = {}
    n_pos = (mass * y).sum(axis=1)
    n_all = mass.sum(axis=1)
    hits_by_fraction = {fraction: np.zeros(mass.shape[0]) for fraction in fractions}
    selected_by_fraction = {fraction: np.zeros(mass.shape[0]) for fraction in fractions}
    for label in np.unique(groups):
        member = np.flatnonzero(groups == label)
        order = member[np.argsort(-s[member], kind="stable")]
        total = mass[:, member].sum(axis=1)
        # As unweighted: only the top of the ranking matters; the whole fold when a resample needs more.
        # The rows that hold the top fraction of the fold's weight unresampled, with _top_rows' margin.
        point = np.cumsum(weights[order])
        top = _top_rows(order, int(np.searchsorted(point, max(fractions) * point[-1])) + 1)
        top_mass = mass[:, top]
        drawn = np.cumsum(top_mass, axis=1)
        if (drawn[:, -1] < max(fractions) * total).any():
            top = order
            top_mass = mass[:, top]
            drawn = np.cumsum(top_mass, axis=1)
        running_hits = np.cumsum(top_mass * y[top], axis=1)
        for fraction in fractions:
            k = fraction * total  # the fold's top fraction of the (resampled) population weight
            hits_by_fraction[fraction] += _hits_in_top_k(y[top], drawn, running_hits, k)
            selected_by_fraction[fraction] += k
    return _metrics_from_hits(
        out, hits_by_fraction, selected_by_fraction, (n_pos, n_all), y, s, mass, with_auc=with_auc
    )


def ranking_metrics(
    y_true: FloatArray,
    scores: FloatArray,
    fractions: Sequence[float],
    groups: FloatArray | None = None,
    *,
    with_auc: bool = True,
    weights: FloatArray | None = None,
) -> dict[str, float]:
    """precision@k, recall@k, lift@k per fraction, ROC AUC and average precision (point estimates).

    ``weights``: Hájek estimates with these row weights (:func:`batch_ranking_metrics`).
    """
    if y_true.shape[0] == 0:
        return {}
    groups = np.zeros(y_true.shape[0]) if groups is None else np.asarray(groups)
    batch = batch_ranking_metrics(
        y_true.astype(float),
        scores.astype(float),
        groups,
        fractions,
        np.ones((1, y_true.shape[0])),
        with_auc=with_auc,
        weights=None if weights is None else np.asarray(weights, dtype=float),
    )
    return {name: float(values[0]) for name, values in batch.items()}


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap confidence interval."""

    estimate: float
    lower: float
    upper: float


def bootstrap_counts(groups: FloatArray, resamples: int, seed: int) -> FloatArray:
    """(resamples, n) multiplicities of each row, resampled with replacement *within* each group (fold)."""
    if not 10 <= resamples <= 10_000:
        raise ValueError(f"resamples must be between 10 and 10000, got {resamples}")
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    counts = np.zeros((resamples, groups.shape[0]))
    offsets = np.arange(resamples)[:, None] * groups.shape[0]
    for label in np.unique(groups):
        members = np.flatnonzero(groups == label)
        drawn = members[rng.integers(0, members.size, size=(resamples, members.size))]
        counts += np.bincount((offsets + drawn).ravel(), minlength=counts.size).reshape(counts.shape)
    return counts


@dataclass(frozen=True)
class ScorerResamples:
    """One scorer's ranking metrics on the rows (``point``) and on each bootstrap resample (``resampled``).

    Measured once, they give the scorer's intervals and its paired differences with every other scorer
    measured on the same resamples.
    """

    point: dict[str, float]
    resampled: dict[str, FloatArray]

    def intervals(self, level: float = 0.95) -> dict[str, Interval]:
        """Each metric's point estimate with its percentile bootstrap interval."""
        return {
            name: percentile_interval(self.point[name], values, level)
            for name, values in self.resampled.items()
        }

    def minus(
        self, other: ScorerResamples, fractions: Sequence[float]
    ) -> dict[str, tuple[float, FloatArray]]:
        """precision@k of this scorer minus ``other``'s: the point difference and the resampled ones."""
        names = [f"precision_at_{fraction_tag(fraction)}" for fraction in fractions]
        return {name: (self.point[name] - other.point[name], self.resampled[name] - other.resampled[name])
                for name in names}  # fmt: skip


def scorer_resamples(
    y_true: FloatArray,
    scores: FloatArray,
    fractions: Sequence[float],
    *,
    groups: FloatArray,
    counts: FloatArray,
    with_auc: bool = True,
    weights: FloatArray | None = None,
) -> ScorerResamples:
    """``scores``' ranking metrics on the rows and on each resample of ``counts`` (:func:`bootstrap_counts`
    with the same ``groups``); ``weights``: Hájek estimates (:func:`batch_ranking_metrics`)."""
    y, s = np.asarray(y_true, dtype=float), np.asarray(scores, dtype=float)
    w = None if weights is None else np.asarray(weights, dtype=float)
    groups = np.asarray(groups)
    point = ranking_metrics(y, s, fractions, groups, with_auc=with_auc, weights=w)
    resampled = batch_ranking_metrics(y, s, groups, fractions, counts, with_auc=with_auc, weights=w)
    return ScorerResamples(point, resampled)


def bootstrap_ranking_intervals(
    y_true: FloatArray,
    scores: FloatArray,
    fractions: Sequence[float],
    *,
    groups: FloatArray | None = None,
    resamples: int,
    seed: int,
    level: float = 0.95,
    counts: FloatArray | None = None,
    with_auc: bool = True,
    weights: FloatArray | None = None,
) -> dict[str, Interval]:
    """Percentile bootstrap CIs (rows resampled within folds) for every ranking metric.

    ``counts`` (from :func:`bootstrap_counts` with the same groups, resamples and seed) lets callers
    scoring several scorers on the same rows draw the resamples once. ``weights``: Hájek estimates,
    each resampled row carrying its weight (:func:`batch_ranking_metrics`).
    """
    n = y_true.shape[0]
    if n == 0:
        return {}
    groups = np.zeros(n) if groups is None else np.asarray(groups)
    counts = bootstrap_counts(groups, resamples, seed) if counts is None else counts
    measured = scorer_resamples(
        y_true, scores, fractions, groups=groups, counts=counts, with_auc=with_auc, weights=weights
    )
    return measured.intervals(level)


def selected_count(groups: FloatArray, fraction: float) -> int:
    """How many rows the top ``fraction`` selects over all groups (folds): the sum of each fold's k."""
    _, sizes = np.unique(np.asarray(groups), return_counts=True)
    return int(sum(top_k_count(int(size), fraction) for size in sizes))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def random_selection_tail(n: int, positives: int, selected: int, hits: int, *, upper: bool = True) -> float:
    """P(a random selection of ``selected`` of ``n`` rows holds ≥ ``hits`` positives); ≤ if not ``upper``.

    Hypergeometric: ``positives`` of the ``n`` rows are positive and the selection is drawn without
    replacement — what choosing the same number of units at random finds by chance.
    """
    low, high = max(0, selected - (n - positives)), min(selected, positives)
    support = range(max(hits, low), high + 1) if upper else range(low, min(hits, high) + 1)
    total = _log_comb(n, selected)
    return float(
        sum(
            math.exp(_log_comb(positives, x) + _log_comb(n - positives, selected - x) - total)
            for x in support
        )
    )


def paired_difference_resamples(
    y_true: FloatArray,
    scores_a: FloatArray,
    scores_b: FloatArray,
    fractions: Sequence[float],
    *,
    groups: FloatArray,
    counts: FloatArray,
    weights: FloatArray | None = None,
) -> dict[str, tuple[float, FloatArray]]:
    """precision@k of ``scores_a`` minus that of ``scores_b``: the point difference and its resamples.

    Both scorers are measured on every resample of ``counts`` (from :func:`bootstrap_counts`), so the
    resampled differences carry only the uncertainty of the difference. Keys are
    ``precision_at_<tag>`` per fraction; ``weights`` as in :func:`batch_ranking_metrics`.
    """
    measured = [
        scorer_resamples(
            y_true, scores, fractions, groups=groups, counts=counts, with_auc=False, weights=weights
        )
        for scores in (scores_a, scores_b)
    ]
    return measured[0].minus(measured[1], fractions)


def percentile_interval(estimate: float, resampled: FloatArray, level: float = 0.95) -> Interval:
    """``estimate`` with the central ``level`` interval of its bootstrap ``resampled`` values (NaNs
    dropped; NaN bounds when none is left)."""
    finite = resampled[~np.isnan(resampled)]
    if not finite.size:
        return Interval(estimate, math.nan, math.nan)
    alpha = (1.0 - level) / 2.0
    return Interval(estimate, float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha)))


def paired_difference_intervals(
    y_true: FloatArray,
    scores_a: FloatArray,
    scores_b: FloatArray,
    fractions: Sequence[float],
    *,
    groups: FloatArray,
    counts: FloatArray,
    level: float = 0.95,
    weights: FloatArray | None = None,
) -> dict[str, Interval]:
    """precision@k of ``scores_a`` minus that of ``scores_b`` on the same rows, with a paired interval.

    The interval is that of the difference itself (:func:`paired_difference_resamples`), narrower than
    two separate intervals when the two rankings agree on many rows. Keys are ``precision_at_<tag>``.
    """
    differences = paired_difference_resamples(
        y_true, scores_a, scores_b, fractions, groups=groups, counts=counts, weights=weights
    )
    return {
        name: percentile_interval(point, resampled, level) for name, (point, resampled) in differences.items()
    }


DETECTION_POWER = 0.8


def minimum_detectable_difference(
    standard_error: float, *, level: float = 0.95, power: float = DETECTION_POWER
) -> float:
    """The smallest true difference a two-sided test at ``level`` detects with probability ``power``.

    (z_{1 − (1 − level)/2} + z_{power}) × ``standard_error``: 2.80 standard errors at 95 % and 80 %
    power. A verdict "not reliably different" on a sample whose minimum detectable difference is 0.15
    says nothing about smaller differences: the sample could not have shown them.

    Examples
    --------
    >>> round(minimum_detectable_difference(0.05), 4)
    0.1401
    """
    if not 0.0 < level < 1.0 or not 0.0 < power < 1.0:
        raise ValueError(f"level and power must be in (0, 1), got {level} and {power}")
    normal = NormalDist()
    return (normal.inv_cdf(1.0 - (1.0 - level) / 2.0) + normal.inv_cdf(power)) * standard_error


def bootstrap_standard_error(resampled: FloatArray) -> float:
    """The standard deviation of bootstrap ``resampled`` values (NaNs dropped; NaN below two values)."""
    finite = resampled[~np.isnan(resampled)]
    return float(np.std(finite, ddof=1)) if finite.size >= 2 else math.nan


def effective_sample_size(weights: FloatArray) -> float:
    """Kish's effective sample size (Σw)² / Σw²: how many unweighted rows the weighted ones are worth."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / (w**2).sum()) if w.size else 0.0


AUDIT_METRICS = ("precision", "recall", "selection_rate")


def _group_rates(counts: FloatArray, member: FloatArray, y: FloatArray, chosen: FloatArray) -> FloatArray:
    """(3, B) precision, recall and selection rate of one group under each row of ``counts``."""
    n = counts @ member
    selected = counts @ (member * chosen)
    hits = counts @ (member * chosen * y)
    positives = counts @ (member * y)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.vstack(
            [
                np.where(selected > 0, hits / selected, np.nan),
                np.where(positives > 0, hits / positives, np.nan),
                np.where(n > 0, selected / n, np.nan),
            ]
        )


def subgroup_audit(
    y_true: FloatArray,
    selected: FloatArray,
    groups: Mapping[str, Sequence[str]],
    bounds: tuple[float, float] = (0.8, 1.25),
    *,
    min_size: int = 1,
    resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
    strata: FloatArray | None = None,
) -> pl.DataFrame:
    """Precision, recall and selection rate per group, with disparity ratios and their intervals.

    As in Aequitas, each group's metric is divided by the reference group's (the largest group of the
    attribute). Every ratio gets a percentile bootstrap interval (rows resampled within ``strata``,
    e.g. the test folds, the selection held fixed; group and reference resampled together), and a ratio
    is flagged only when its whole interval lies outside ``bounds`` and the group has at least
    ``min_size`` rows: a small group's ratio of 3.0 whose interval reaches 1.0 is noise, not disparity.
    """
    y = np.asarray(y_true, dtype=float)
    chosen = np.asarray(selected, dtype=float)
    counts = bootstrap_counts(np.zeros(y.shape[0]) if strata is None else strata, resamples, seed)
    ones = np.ones((1, y.shape[0]))
    alpha = (1.0 - level) / 2.0
    rows = []
    for attribute, values in groups.items():
        labels = np.asarray(values, dtype=object)
        names, sizes = np.unique(labels, return_counts=True)
        reference = str(names[int(np.argmax(sizes))])
        ref_member = (labels == reference).astype(float)
        ref_point = _group_rates(ones, ref_member, y, chosen)[:, 0]
        ref_boot = _group_rates(counts, ref_member, y, chosen)
        for name, size in zip(names, sizes, strict=True):
            member = (labels == name).astype(float)
            point = _group_rates(ones, member, y, chosen)[:, 0]
            boot = _group_rates(counts, member, y, chosen)
            row: dict[str, Any] = {
                "attribute": attribute,
                "group": str(name),
                "reference": reference,
                "n": int(size),
                "too_small": bool(size < min_size),
                "base_rate": float(y[member > 0].mean()),
                "reference_base_rate": float(y[ref_member > 0].mean()),
            }
            for index, metric in enumerate(AUDIT_METRICS):
                row[metric] = float(point[index])
                with np.errstate(invalid="ignore", divide="ignore"):
                    ratio = point[index] / ref_point[index] if ref_point[index] else math.nan
                    ratios = boot[index] / ref_boot[index]
                finite = ratios[np.isfinite(ratios)]
                lower, upper = (
                    (float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha)))
                    if finite.size
                    else (math.nan, math.nan)
                )
                row[f"{metric}_disparity"] = float(ratio)
                row[f"{metric}_lower"] = lower
                row[f"{metric}_upper"] = upper
                outside = (lower > bounds[1]) or (upper < bounds[0])  # NaN compares False: never flagged
                row[f"{metric}_flagged"] = bool(size >= min_size and not math.isnan(ratio) and outside)
            rows.append(row)
    return pl.DataFrame(rows)


PSI_MODERATE = 0.1
PSI_MAJOR = 0.25


PSI_BINS = 10


def psi_noise_level(n_expected: int, n_actual: int, n_bins: int = PSI_BINS, quantile: float = 0.99) -> float:
    """The PSI that sampling noise alone exceeds with probability ``1 − quantile``: no shift at all.

    Between two samples of one distribution, PSI × n_eff is approximately χ² with (bins − 1) degrees of
    freedom, n_eff = 1 / (1/n_expected + 1/n_actual) (PSI is the symmetrised Kullback–Leibler
    divergence, twice the G statistic's per-row share); the missing-value bin counts as one more bin.
    On 170 rows per period that is 0.27 — above the 0.25 rule of thumb — on 2,000 about 0.02.
    """
    if n_expected <= 0 or n_actual <= 0:
        return math.inf
    n_eff = 1.0 / (1.0 / n_expected + 1.0 / n_actual)
    return chi_square_quantile(quantile, n_bins) / n_eff  # n_bins + 1 bins (with missing) → n_bins df


def chi_square_quantile(quantile: float, df: int) -> float:
    """The χ² quantile by Wilson–Hilferty (within 1 % for df ≥ 3; scipy is not a dependency)."""
    z = NormalDist().inv_cdf(quantile)
    k = float(df)
    return k * (1.0 - 2.0 / (9.0 * k) + z * math.sqrt(2.0 / (9.0 * k))) ** 3


def psi_shift(psi: float, noise: float = 0.0) -> str:
    """The reading of a PSI: ``major`` above 0.25, ``moderate`` above 0.1, else ``none``.

    A PSI that does not exceed ``noise`` (:func:`psi_noise_level`) is ``none`` whatever its size: at a
    few hundred rows the rule of thumb's thresholds lie inside what two samples of one distribution show.
    """
    if math.isnan(psi) or psi <= noise:
        return "none"
    if psi > PSI_MAJOR:
        return "major"
    if psi > PSI_MODERATE:
        return "moderate"
    return "none"


def population_stability_index(expected: FloatArray, actual: FloatArray, n_bins: int = PSI_BINS) -> float:
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
