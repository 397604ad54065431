# ruff: noqa: N803, N806  (X is the scikit-learn name of a feature matrix)
"""Preprocessing steps of the elastic-net pipelines that scikit-learn has, but slowly.

:class:`MedianImputer` is ``SimpleImputer(strategy="median", keep_empty_features=True)`` for dense
float matrices with NaN as the missing value, and gives the same medians bit for bit. scikit-learn
computes the median over a masked array, which sorts every column through ``numpy.ma``: at national scale
(about 50,000 rows × 100 features per area) that was 0.4 s a fit and a third of the elastic nets'
single-threaded time. Here each column's present values are partitioned with ``numpy.median``.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted, validate_data


def column_medians(X: np.ndarray) -> np.ndarray:
    """The median of each column's non-NaN values; 0 for a column with none (as ``keep_empty_features``)."""
    medians = np.zeros(X.shape[1], dtype=np.float64)
    for column in range(X.shape[1]):
        values = X[:, column]
        present = values[~np.isnan(values)]
        if present.size:
            medians[column] = np.median(present)
    return medians


class MedianImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Replace NaN by the column's median over the rows it was fitted on (empty columns: 0, kept)."""

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN is what it fills; infinities are still refused
        return tags

    def fit(self, X: np.ndarray, y: object = None) -> Self:
        """Learn each column's median (``statistics_``, as scikit-learn's imputers name it)."""
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        self.statistics_ = column_medians(X)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``X`` with every NaN replaced by its column's fitted median."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64, copy=True)
        missing = np.isnan(X)
        X[missing] = np.broadcast_to(self.statistics_, X.shape)[missing]
        return X
