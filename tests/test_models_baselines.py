"""The elastic-net baseline: regularisation chosen on the past only (issue 10)."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import roc_auc_score

from models import baselines
from models.artifact import ModelFeature
from tests.models_factory import toy_catalog, toy_rows


def test_time_ordered_folds_validate_each_year_on_what_was_decided_before_it() -> None:
    # given inspections started 2019–2022, each decided 40 days after it started
    starts = [dt.date(year, month, 10) for year in range(2019, 2023) for month in (3, 12)]
    decisions = [d + dt.timedelta(days=40) for d in starts]
    # when the last two years become validation years
    folds = baselines.time_ordered_folds(starts, decisions, 2)
    # then each validates its own year on rows decided before that year began
    assert len(folds) == 2
    for (train, validation), year in zip(folds, (2021, 2022), strict=True):
        assert {starts[i].year for i in validation} == {year}
        assert all(decisions[i] < dt.date(year, 1, 1) for i in train)
        assert len(train) == 2 * (year - 2019) - 1, "the December inspection of the year before is still open"


def test_the_elastic_net_is_chosen_from_the_grid_and_ranks_like_the_truth() -> None:
    # given toy rows from a known logistic truth (tillgänglighet: complaints and the phone share)
    rows = toy_rows(seed=5).filter(pl.col("risk_area") == "tillganglighet")
    features = [
        ModelFeature.from_spec(r) for r in toy_catalog() if r["risk_area"] in (None, "tillganglighet")
    ]
    train = rows.filter(pl.col("decision_date") < dt.date(2022, 1, 1))
    test = rows.filter(pl.col("start_date") >= dt.date(2022, 1, 1))
    # when the baseline is fitted on the training years
    pipeline, levels = baselines.fit_logistic(train, features, seed=0)
    # then its penalty is an elastic net from the grid, chosen by the time-ordered search
    logistic = pipeline.named_steps["logistic"]
    assert logistic.C in baselines.LOGISTIC_CS and logistic.l1_ratio in baselines.LOGISTIC_L1_RATIOS
    assert logistic.solver == "saga"
    # and it ranks the test year close to the truth
    scores = baselines.logistic_scores(pipeline, levels, test, features)
    truth = test.get_column("true_p_deficiency").to_numpy()
    assert np.corrcoef(scores, truth)[0, 1] > 0.8


def test_the_chosen_regularisation_is_the_one_logistic_regression_cv_refits() -> None:
    # Given a time-ordered search over the grid whose scores favour different pairs in each fold
    rng = np.random.default_rng(5)
    features = rng.normal(size=(1_500, 8))
    y = (0.4 * features[:, 0] + rng.normal(size=1_500) > 0.8).astype(np.int64)
    folds = [(np.arange(500), np.arange(500, 1_000)), (np.arange(1_000), np.arange(1_000, 1_500))]
    search = dict(Cs=list(baselines.LOGISTIC_CS), cv=folds, scoring="roc_auc", random_state=0, solver="saga")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refitted = LogisticRegressionCV(
            l1_ratios=list(baselines.LOGISTIC_L1_RATIOS), refit=True, use_legacy_attributes=False, **search
        ).fit(features, y)
        # When the pair is read from the scores of a search that does not refit
        unrefitted = LogisticRegressionCV(
            l1_ratios=np.array(baselines.LOGISTIC_L1_RATIOS),
            refit=False,
            use_legacy_attributes=False,
            **search,
        ).fit(features, y)
    chosen = baselines.best_regularisation(unrefitted.scores_, unrefitted.Cs_, unrefitted.l1_ratios_)

    # Then it is the pair with the best mean score, the one refit=True would have fitted
    assert chosen == (refitted.C_, refitted.l1_ratio_)


def test_the_search_chooses_the_same_regularisation_on_two_threads_as_on_one() -> None:
    # Given a time-ordered search problem (two validation years)
    rng = np.random.default_rng(11)
    features = rng.normal(size=(1_500, 8))
    y = (0.5 * features[:, 0] - 0.3 * features[:, 1] + rng.normal(size=1_500) > 0.7).astype(np.int64)
    weights = np.ones(1_500)
    folds = [(np.arange(500), np.arange(500, 1_000)), (np.arange(1_000), np.arange(1_000, 1_500))]
    # When the (fold, l1_ratio) paths are fitted on one thread and on two
    one = baselines.select_regularisation(features, y, weights, folds, seed=0, n_jobs=1)
    two = baselines.select_regularisation(features, y, weights, folds, seed=0, n_jobs=2)
    # Then the chosen pair is the same: the threads only run the same fits side by side
    assert one == two
    assert one[0] in baselines.LOGISTIC_CS and one[1] in baselines.LOGISTIC_L1_RATIOS


def test_the_search_scorer_is_the_weighted_roc_auc_of_the_linear_scores() -> None:
    # given a fitted logistic regression, weighted validation rows and scores with ties
    rng = np.random.default_rng(7)
    features = np.round(rng.normal(size=(300, 3)), 1)
    features[:, 1:] = 0.0  # one coarse column: many tied scores
    y = (features[:, 0] + rng.normal(size=300) > 0).astype(int)
    weights = rng.uniform(0.2, 3.0, size=300)
    model = LogisticRegression().fit(features, y)
    # when the search's scorer scores them, with and without weights
    weighted = baselines.linear_roc_auc(model, features, y, sample_weight=weights)
    plain = baselines.linear_roc_auc(model, features, y)
    # then it is scikit-learn's ROC AUC of the decision function
    scores = model.decision_function(features)
    assert weighted == pytest.approx(roc_auc_score(y, scores, sample_weight=weights), abs=1e-12)
    assert plain == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
