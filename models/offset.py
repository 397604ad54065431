# ruff: noqa: N803  (X is the scikit-learn name of the input)
"""The inspecting team's (and method's) effect as a regularised fixed effect: the trees' offset.

Who inspects changes what an inspection finds (a strict department finds more), but not the unit's own
risk. Given to LightGBM as a categorical feature, the team took most of the trees' gain on real data
(59 %), capacity that team-neutral scoring then averages away. Here the team and method are fitted
apart, as an L2-penalised logistic GLM on their one-hot levels, adjusted for the risk area (pooled
layout) and a few strong unit covariates, so that a strict department that happens to visit riskier
units is not credited with their risk. The fitted team and method coefficients, centred on their
training mix, are the *effect* of an inspection's team and method on the log-odds; the trees are grown
on top of it (``init_score``) and learn the unit's own risk.

An inspection with no recorded team gets no team effect (the average team), and the neutral mix holds
only known values: P(finding | unit) = Σ_c share_c · cal(σ(f(x) + base + effect_c)).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

logger = logging.getLogger(__name__)

_EPS = 1e-6
MAX_LEVELS_SHOWN = 20


class UnknownCovariateError(ValueError):
    """A planned team or method the model was not trained with (the message lists the known ones)."""


def known_values_message(column: str, value: str, known: Sequence[str]) -> str:
    """``unknown team 'x'; known: [...]`` with at most :data:`MAX_LEVELS_SHOWN` levels listed."""
    shown = list(known)[:MAX_LEVELS_SHOWN]
    more = f" and {len(known) - len(shown)} more" if len(known) > len(shown) else ""
    return f"unknown {column} {value!r}; known: {shown}{more}"


@dataclass(frozen=True)
class NeutralMix:
    """The training mix of the effect columns: each combination of *known* values and its share.

    Rows with any of the columns unknown are left out, so "no team" is never a team of its own.
    """

    columns: tuple[str, ...]
    combinations: tuple[tuple[str, ...], ...]
    shares: tuple[float, ...]


def neutral_mix(rows: pl.DataFrame, columns: Sequence[str]) -> NeutralMix | None:
    """The share of each combination of known values of ``columns`` in ``rows`` (None without columns).

    The joint mix of the rows where every column is known; when no row knows them all, the product of
    each column's own mix of known values.
    """
    if not columns:
        return None
    values = rows.select(pl.col(name).cast(pl.String) for name in columns)
    known = values.drop_nulls()
    if known.height:
        counts = known.group_by(list(columns)).len().sort(list(columns))
        total = float(counts.get_column("len").sum())
        return NeutralMix(
            columns=tuple(columns),
            combinations=tuple(tuple(row[: len(columns)]) for row in counts.iter_rows()),
            shares=tuple(float(n) / total for n in counts.get_column("len").to_list()),
        )
    margins = [_shares(values.get_column(name)) for name in columns]
    combinations: list[tuple[str, ...]] = [()]
    shares = [1.0]
    for margin in margins:
        combinations = [(*c, level) for c in combinations for level in margin]
        shares = [s * p for s in shares for p in margin.values()]
    return NeutralMix(tuple(columns), tuple(combinations), tuple(shares))


def _median(column: pl.Series) -> float:
    median = column.median()
    return float(median) if isinstance(median, int | float) else 0.0


def _shares(column: pl.Series) -> dict[str, float]:
    counts = column.drop_nulls().value_counts().sort(column.name)
    total = float(counts.get_column("count").sum())
    return {
        str(level): float(n) / total
        for level, n in zip(counts.get_column(column.name), counts.get_column("count"), strict=True)
    }


class InspectionEffect(BaseEstimator):
    """L2-penalised logistic GLM of a finding on the inspection's team and method (one-hot).

    Parameters
    ----------
    effect_columns : sequence of str
        The inspection columns whose effect is the offset (``team``, ``method``); null = unknown.
    adjust_categorical : sequence of str
        Categorical columns fitted alongside but not part of the effect (the pooled layout's risk area).
    adjust_numeric : sequence of str
        Numeric unit columns fitted alongside (median-imputed, standardised) so the effect is not
        confounded by which units a team visits; not part of the effect.
    C : float
        Inverse L2 penalty (scikit-learn's ``C``; weights are scaled to mean one, so ``C = 1`` is a
        prior standard deviation of about one logit on each coefficient).

    Attributes
    ----------
    effects_ : dict of str to dict of str to float
        Per effect column, each level's log-odds effect, centred on the column's training mix.
    mix_ : NeutralMix
        The training mix of known combinations (what team-neutral scoring averages over).
    base_ : float
        Log-odds of the weighted training rate of findings (where the trees start from).

    Examples
    --------
    >>> frame = pl.DataFrame({"team": ["a", "b"] * 50})
    >>> y = np.array([1, 0] * 25 + [0, 1] * 25)
    >>> effect = InspectionEffect(effect_columns=["team"]).fit(frame, y)
    >>> sorted(effect.effects_["team"])
    ['a', 'b']
    """

    def __init__(
        self,
        *,
        effect_columns: Sequence[str] = ("team", "method"),
        adjust_categorical: Sequence[str] = (),
        adjust_numeric: Sequence[str] = (),
        C: float = 1.0,
    ) -> None:
        self.effect_columns = effect_columns
        self.adjust_categorical = adjust_categorical
        self.adjust_numeric = adjust_numeric
        self.C = C

    def fit(self, X: pl.DataFrame, y: Any, sample_weight: Any = None) -> InspectionEffect:
        """Fit the GLM on the rows of ``X`` (a frame with the named columns) with labels ``y``.

        Returns
        -------
        self
        """
        if self.C <= 0:
            raise ValueError(f"C must be positive, got {self.C}")
        effect_columns = list(self.effect_columns)
        if not effect_columns:
            raise ValueError("effect_columns must name at least one column")
        missing = sorted(set(effect_columns) - set(X.columns))
        if missing:
            raise ValueError(f"X lacks the effect columns {missing}")
        y = np.asarray(y, dtype=np.float64)
        if y.shape[0] != X.height or not 0 < y.sum() < y.size:
            raise ValueError(f"y must hold both outcomes for the {X.height} rows of X")
        weight = np.ones(X.height) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        weight = weight / weight.mean()
        self.levels_ = {
            name: sorted(str(v) for v in X.get_column(name).cast(pl.String).drop_nulls().unique().to_list())
            for name in [*effect_columns, *self.adjust_categorical]
        }
        numeric = X.select(pl.col(name).cast(pl.Float64).fill_nan(None) for name in self.adjust_numeric)
        self.medians_ = [_median(numeric.get_column(c)) for c in numeric.columns]
        filled = numeric.fill_null(strategy="zero").to_numpy() if numeric.width else np.empty((X.height, 0))
        for i, name in enumerate(numeric.columns):
            nulls = numeric.get_column(name).is_null().to_numpy()
            filled[nulls, i] = self.medians_[i]
        self.means_ = filled.mean(axis=0) if filled.size else np.zeros(0)
        scales = filled.std(axis=0) if filled.size else np.zeros(0)
        self.scales_ = np.where(scales > 0, scales, 1.0)
        design = np.hstack([self._one_hot(X), (filled - self.means_) / self.scales_])
        glm = LogisticRegression(C=self.C, max_iter=1000, tol=1e-6)
        glm.fit(design, y, sample_weight=weight)
        self.mix_ = neutral_mix(X, effect_columns)
        self.effects_ = self._centred_effects(glm.coef_[0], effect_columns)
        rate = float(np.clip(np.average(y, weights=weight), _EPS, 1 - _EPS))
        self.base_ = float(np.log(rate / (1 - rate)))
        return self

    def _one_hot(self, X: pl.DataFrame) -> np.ndarray:
        blocks = [
            X.get_column(name).cast(pl.String).to_numpy()[:, None]
            == np.asarray(levels, dtype=object)[None, :]
            for name, levels in self.levels_.items()
        ]
        return np.hstack(blocks).astype(np.float64) if blocks else np.empty((X.height, 0))

    def _centred_effects(self, coef: np.ndarray, effect_columns: list[str]) -> dict[str, dict[str, float]]:
        """The effect columns' coefficients, each centred on the column's share of known values."""
        assert self.mix_ is not None
        effects: dict[str, dict[str, float]] = {}
        start = 0
        for name, levels in self.levels_.items():
            block = coef[start : start + len(levels)]
            start += len(levels)
            if name not in effect_columns:
                continue
            position = self.mix_.columns.index(name)
            share = dict.fromkeys(levels, 0.0)
            for combination, weight in zip(self.mix_.combinations, self.mix_.shares, strict=True):
                share[combination[position]] += weight
            mean = sum(share[level] * float(b) for level, b in zip(levels, block, strict=True))
            effects[name] = {level: float(b) - mean for level, b in zip(levels, block, strict=True)}
        return effects

    def known(self, column: str) -> list[str]:
        """The levels of ``column`` seen in training (empty for a column without an effect)."""
        check_is_fitted(self)
        return sorted(self.effects_.get(column, {}))

    def offset(self, X: pl.DataFrame) -> np.ndarray:
        """Per row, ``base_`` plus the effect of its recorded team and method (unknown or null → 0).

        This is the ``init_score`` the trees are grown on.
        """
        check_is_fitted(self)
        total = np.full(X.height, self.base_)
        for name, effect in self.effects_.items():
            if name in X.columns:
                values = X.get_column(name).cast(pl.String)
                total += values.replace_strict(effect, default=0.0, return_dtype=pl.Float64).to_numpy()
        return total

    def mix_offsets(self, X: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The offsets of every row under each combination of the neutral mix, and the shares.

        Returns an (rows × combinations) matrix: a row that plans a team (a non-null ``team``) keeps
        its team's effect in every column and only what it leaves open varies; a row that plans
        nothing gets ``base_`` plus each combination's effect. A planned value not seen in training
        counts as the average (0; the surfaces refuse it first, :meth:`check_known`). Averaging the
        probabilities over the columns with the shares gives the team-neutral risk.
        """
        check_is_fitted(self)
        mix = self.mix_
        assert mix is not None  # fit has at least one effect column
        shares = np.asarray(mix.shares, dtype=np.float64)
        total = np.full((X.height, len(shares)), self.base_)
        for position, name in enumerate(mix.columns):
            effect = self.effects_[name]
            by_combination = np.array([effect.get(c[position], 0.0) for c in mix.combinations])
            if name in X.columns:
                values = X.get_column(name).cast(pl.String)
                planned = values.replace_strict(effect, default=0.0, return_dtype=pl.Float64).to_numpy()
                is_planned = values.is_not_null().to_numpy()
                column = np.where(is_planned[:, None], planned[:, None], by_combination[None, :])
            else:
                column = np.broadcast_to(by_combination[None, :], total.shape)
            total += column
        return total, shares

    def check_known(self, X: pl.DataFrame) -> None:
        """Raise :class:`UnknownCovariateError` when ``X`` plans a team or method not seen in training."""
        check_is_fitted(self)
        for name, effect in self.effects_.items():
            if name not in X.columns:
                continue
            planned = X.get_column(name).cast(pl.String).drop_nulls().unique().sort().to_list()
            unknown = [value for value in planned if value not in effect]
            if unknown:
                raise UnknownCovariateError(known_values_message(name, unknown[0], sorted(effect)))


def strongest_unit_columns(
    X: np.ndarray, y: np.ndarray, weight: np.ndarray, candidates: Mapping[int, str], k: int
) -> list[str]:
    """The names of the ``k`` ``candidates`` (column of ``X`` → name) whose weighted correlation with ``y``
    is largest in size.

    Columns without variation are skipped; missing values are ignored column by column. The candidates are
    read in place: a copy of the candidate columns of a national design matrix was 0.5 GB per fit.
    """
    scored = []
    for i, name in candidates.items():
        column = X[:, i]
        present = ~np.isnan(column)
        if present.sum() < 2:
            continue
        c, w, t = column[present], weight[present], y[present]
        c_mean, t_mean = np.average(c, weights=w), np.average(t, weights=w)
        spread = np.sqrt(np.average((c - c_mean) ** 2, weights=w) * np.average((t - t_mean) ** 2, weights=w))
        if spread <= 0:
            continue
        scored.append((abs(float(np.average((c - c_mean) * (t - t_mean), weights=w) / spread)), name))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [name for _, name in scored[:k]]
