"""The elastic nets' median imputer: scikit-learn's median imputation, bit for bit, without masked arrays."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.utils.estimator_checks import parametrize_with_checks

from models.preprocessing import MedianImputer


def _matrix_with_gaps(seed: int) -> np.ndarray:
    """Columns of different scales with ties, missing values at a random share, and one column all missing."""
    rng = np.random.default_rng(seed)
    rows, columns = int(rng.integers(1, 300)), int(rng.integers(3, 20))
    matrix = np.round(rng.normal(size=(rows, columns)) * rng.choice([1e-3, 1.0, 1e6], size=columns), 2)
    matrix[rng.random(size=matrix.shape) < rng.random()] = np.nan
    matrix[:, 1] = np.nan
    return matrix


@pytest.mark.parametrize("seed", range(40))
def test_the_medians_and_imputed_values_are_scikit_learns_exactly(seed: int) -> None:
    # given a matrix with gaps, ties, even and odd counts of present values, and an empty column
    matrix = _matrix_with_gaps(seed)
    unseen = _matrix_with_gaps(seed + 1000)[:, : matrix.shape[1]]
    if unseen.shape[1] < matrix.shape[1]:
        unseen = np.pad(unseen, ((0, 0), (0, matrix.shape[1] - unseen.shape[1])), constant_values=np.nan)
    # when both imputers are fitted on it
    ours = MedianImputer().fit(matrix)
    theirs = SimpleImputer(strategy="median", keep_empty_features=True).fit(matrix)
    # then the medians and what they fill in, on the fitted rows and on new ones, are the same bits
    assert np.array_equal(ours.statistics_, theirs.statistics_), "a column's median differs"
    assert np.array_equal(ours.transform(matrix), theirs.transform(matrix)), "the fitted rows differ"
    assert np.array_equal(ours.transform(unseen), theirs.transform(unseen)), "new rows are filled differently"


def test_an_empty_column_is_kept_and_filled_with_zero() -> None:
    # given a column with no value at all
    matrix = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan]])
    # when it is imputed, then the column stays and reads 0, and the other column its median 2
    assert MedianImputer().fit_transform(matrix).tolist() == [[1.0, 0.0], [3.0, 0.0], [2.0, 0.0]]


def test_the_imputer_does_not_change_the_matrix_it_is_given() -> None:
    # given a matrix with a gap
    matrix = np.array([[1.0], [np.nan], [5.0]])
    # when it is transformed, then the caller's matrix still has its gap
    MedianImputer().fit(matrix).transform(matrix)
    assert np.isnan(matrix[1, 0]), "transform wrote into its input"


@parametrize_with_checks([MedianImputer()])
def test_the_imputer_follows_scikit_learns_estimator_conventions(estimator, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)
