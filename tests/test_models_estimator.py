# ruff: noqa: N806  (X is the scikit-learn name of a feature matrix)
"""The LightGBM wrapper is a scikit-learn estimator that honours monotone constraints."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from models.estimator import BinnedRows, RiskClassifier

EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "LightGBM's min_child_samples and bagging count rows, not weights: weighting a row by 2 is "
        "not the same as repeating it"
    ),
}


@parametrize_with_checks(
    [RiskClassifier(n_estimators=20, min_child_samples=5)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_risk_classifier_passes_scikit_learn_checks(estimator, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def test_monotone_constraint_keeps_risk_non_decreasing_in_the_feature() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2))
    # A non-monotone truth in feature 0: the constraint must still force a non-decreasing response.
    y = (np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + rng.normal(scale=0.3, size=600) > 0).astype(int)
    model = RiskClassifier(n_estimators=60, monotone_constraints=[1, 0], min_child_samples=5).fit(X, y)
    grid = np.column_stack([np.linspace(-3, 3, 200), np.zeros(200)])
    p = model.predict_proba(grid)[:, 1]
    assert np.all(np.diff(p) >= -1e-12), "prediction decreased where the constraint says it never may"


def test_constraints_of_the_wrong_length_are_rejected() -> None:
    X = np.random.default_rng(0).normal(size=(50, 3))
    y = np.arange(50) % 2
    with pytest.raises(ValueError, match="monotone_constraints has 2 entries but X has 3 features"):
        RiskClassifier(monotone_constraints=[1, 0]).fit(X, y)


def test_early_stopping_uses_the_validation_fold() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    model = RiskClassifier(n_estimators=500, early_stopping_rounds=10).fit(
        X[:300], y[:300], eval_set=(X[300:], y[300:], None)
    )
    assert model.best_iteration_ < 500, "early stopping on the held-out rows should stop before 500 rounds"
    contributions = model.predict_contributions(X[:5])
    assert contributions.shape == (5, 4), "one SHAP value per feature plus the expected value"


def test_min_rounds_grows_on_past_early_stopping_and_with_rounds_equals_a_shorter_fit() -> None:
    # given a fit that early stopping ends early, asked to grow at least 120 rounds
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    held_out = (X[300:], y[300:], None)
    stopped = RiskClassifier(n_estimators=500, early_stopping_rounds=10).fit(
        X[:300], y[:300], eval_set=held_out
    )
    grown = RiskClassifier(n_estimators=500, early_stopping_rounds=10, min_rounds=120).fit(
        X[:300], y[:300], eval_set=held_out
    )
    assert stopped.booster_.current_iteration() < 120, "the example needs early stopping before 120 rounds"
    # then early stopping's choice is unchanged, the trees grown on are kept
    assert grown.best_iteration_ == stopped.best_iteration_
    assert grown.booster_.current_iteration() == 120
    np.testing.assert_array_equal(grown.predict_proba(X), stopped.predict_proba(X))
    # and its first 120 trees are exactly a fit of 120 rounds without early stopping
    shorter = RiskClassifier(n_estimators=120).fit(X[:300], y[:300])
    np.testing.assert_array_equal(grown.with_rounds(120).predict_proba(X), shorter.predict_proba(X))
    with pytest.raises(ValueError, match=r"n_rounds must be in 1\.\.120"):
        grown.with_rounds(121)


def test_max_bin_limits_the_split_points_lightgbm_may_use() -> None:
    # Given one continuous feature whose risk rises smoothly
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(2_000, 1))
    y = (rng.uniform(size=2_000) < X[:, 0]).astype(int)

    def thresholds(model: RiskClassifier) -> set[float]:
        trees = model.booster_.dump_model()["tree_info"]

        def walk(node: dict) -> set[float]:  # type: ignore[type-arg]
            if "split_feature" not in node:
                return set()
            return {node["threshold"]} | walk(node["left_child"]) | walk(node["right_child"])

        return set().union(*(walk(tree["tree_structure"]) for tree in trees))

    # When the trees are grown with 4 histogram bins and with LightGBM's default 255
    coarse = RiskClassifier(n_estimators=30, max_bin=4).fit(X, y)
    fine = RiskClassifier(n_estimators=30).fit(X, y)
    # Then the coarse trees split at no more than 3 points (bin edges), the fine ones at many
    assert len(thresholds(coarse)) <= 3
    assert len(thresholds(fine)) > 10


def test_a_fit_uses_a_thread_per_two_thousand_rows_up_to_the_configured_threads() -> None:
    from models.estimator import fit_threads

    # Given two configured threads
    # When fits of different sizes ask how many to use
    # Then small fits stay on one thread (start-up would cost more than it saves), large ones use both
    assert [fit_threads(n, 2) for n in (300, 3_999, 4_000, 263_000)] == [1, 1, 2, 2]
    assert fit_threads(263_000, 1) == 1


def test_fits_sharing_binned_rows_grow_the_trees_of_fits_on_fresh_datasets() -> None:
    # given two labels of the same rows (as the deficiency and serious fits), with offsets and a held-out fold
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    first = (X[:, 0] + rng.normal(size=600) > 0).astype(int)
    second = (X[:, 1] - X[:, 2] + rng.normal(size=600) > 1).astype(int)
    weight = rng.uniform(0.5, 2.0, size=600)
    offset = rng.normal(scale=0.3, size=600)

    def fit(y: np.ndarray, bins: BinnedRows | None) -> RiskClassifier:
        return RiskClassifier(n_estimators=200, early_stopping_rounds=10, subsample=0.7).fit(
            X[:450],
            y[:450],
            sample_weight=weight[:450],
            eval_set=(X[450:], y[450:], weight[450:], offset[450:]),
            init_score=offset[:450],
            bins=bins,
        )

    # when the second fit reuses the first one's binned rows
    bins = BinnedRows()
    fit(first, bins)
    binned = bins.train
    shared = fit(second, bins)
    # then it used them, and grew exactly the trees a fit on fresh Datasets grows
    assert bins.train is binned, "the second fit should reuse the binned rows, not bin again"
    fresh = fit(second, None)
    assert shared.best_iteration_ == fresh.best_iteration_
    assert shared.booster_.model_to_string() == fresh.booster_.model_to_string()


def test_binned_rows_of_another_shape_are_not_reused() -> None:
    # given binned rows of 300 rows
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] > 0).astype(int)
    bins = BinnedRows()
    RiskClassifier(n_estimators=20).fit(X[:300], y[:300], bins=bins)
    binned = bins.train
    # when a fit on 400 rows is given them
    model = RiskClassifier(n_estimators=20).fit(X, y, bins=bins)
    # then it bins its own rows (and fits them all)
    assert bins.train is not binned, "binned rows of another shape must not be reused"
    assert model.booster_.num_trees() == 20
