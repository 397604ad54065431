"""Ranking, calibration, subgroup and drift metrics give the textbook answers on small cases."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from models import metrics
from models.metrics import (
    batch_ranking_metrics,
    bootstrap_counts,
    bootstrap_ranking_intervals,
    expected_calibration_error,
    population_stability_index,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    subgroup_audit,
)


def test_precision_and_recall_at_k_count_hits_among_the_top_rows() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1], dtype=float)
    scores = np.linspace(1.0, 0.1, 10)  # row 0 highest
    assert precision_at_k(y, scores, 0.2) == 0.5, "top 2 rows hold one positive"
    assert recall_at_k(y, scores, 0.3) == pytest.approx(2 / 3), "top 3 rows hold 2 of 3 positives"


def test_batch_auc_and_average_precision_match_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.3).astype(float)
    scores = rng.random(300) + 0.5 * y
    metrics = ranking_metrics(y, scores, [0.1])
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert metrics["average_precision"] == pytest.approx(average_precision_score(y, scores))


def test_fold_wise_precision_selects_the_top_share_of_each_fold() -> None:
    # Fold a has all the high scores; pooled top-k would take only fold a's rows.
    y = np.array([0, 0, 0, 0, 1, 1, 0, 0, 0, 0], dtype=float)
    scores = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.2, 0.1, 0.1, 0.1, 0.1])
    groups = np.array(["a"] * 5 + ["b"] * 5)
    metrics = ranking_metrics(y, scores, [0.2], groups)
    assert metrics["precision_at_20pct"] == 0.5, "fold b's top row (a positive) must be selected"


def test_expected_calibration_error_is_zero_when_rates_match_predictions() -> None:
    p = np.array([0.25] * 4 + [0.75] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=float)
    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(8, 0.9), n_bins=10) == pytest.approx(0.4)


def test_bootstrap_interval_contains_the_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(2)
    y = (rng.random(200) < 0.3).astype(float)
    scores = rng.random(200) + y
    first = bootstrap_ranking_intervals(y, scores, [0.1], resamples=100, seed=7)
    second = bootstrap_ranking_intervals(y, scores, [0.1], resamples=100, seed=7)
    interval = first["precision_at_10pct"]
    assert interval.lower <= interval.estimate <= interval.upper
    assert first == second, "the same seed must give the same intervals"


def test_bootstrap_refuses_unbounded_resamples() -> None:
    with pytest.raises(ValueError, match="resamples must be between 10 and 10000, got 50000"):
        bootstrap_ranking_intervals(np.ones(3), np.ones(3), [0.1], resamples=50_000, seed=0)


def test_subgroup_audit_flags_disparity_only_when_the_interval_excludes_the_bounds() -> None:
    # Given a private group selected at 1.5 times the public group's rate
    y = np.array([1, 1, 0, 0, 1, 0, 1, 0, 1, 0], dtype=float)
    selected = np.array([1, 1, 0, 0, 0, 0, 1, 1, 0, 0], dtype=float)
    groups = {"ownership": ["public"] * 6 + ["private"] * 4}

    # When audited on ten inspections
    small = subgroup_audit(y, selected, groups, (0.8, 1.25), resamples=200, seed=0)
    private = small.filter(small["group"] == "private").row(0, named=True)

    # Then the ratio is reported against the largest group, with an interval that reaches parity: no flag
    assert private["reference"] == "public", "the largest group is the reference"
    assert private["selection_rate_disparity"] == pytest.approx((2 / 4) / (2 / 6))
    assert private["precision_disparity"] == pytest.approx(0.5)
    assert private["selection_rate_lower"] <= 1.0 <= private["selection_rate_upper"]
    assert not private["selection_rate_flagged"], "four inspections cannot show a disparity"

    # And the same pattern on 400 times as many inspections is flagged (interval wholly above 1.25)
    big = subgroup_audit(
        np.tile(y, 400), np.tile(selected, 400), {"ownership": groups["ownership"] * 400}, resamples=200
    )
    private = big.filter(big["group"] == "private").row(0, named=True)
    assert private["selection_rate_lower"] > 1.25, private
    assert private["selection_rate_flagged"]


def test_subgroup_audit_never_flags_groups_below_the_minimum_size() -> None:
    # Given a tiny group that is never selected while the large group is selected half the time
    y = np.zeros(1010)
    selected = np.r_[np.tile([1.0, 0.0], 500), np.zeros(10)]
    groups = {"region": ["a"] * 1000 + ["b"] * 10}

    # When the minimum group size is 30
    table = subgroup_audit(y, selected, groups, min_size=30, resamples=100)

    # Then the tiny group is marked too small and not flagged, whatever its ratio
    tiny = table.filter(table["group"] == "b").row(0, named=True)
    assert tiny["selection_rate_disparity"] == 0.0
    assert tiny["too_small"]
    assert not tiny["selection_rate_flagged"]


@pytest.mark.parametrize(("shift", "stable"), [(0.0, True), (2.0, False)], ids=["same", "shifted"])
def test_population_stability_index_separates_stable_from_shifted(shift: float, stable: bool) -> None:
    rng = np.random.default_rng(3)
    psi = population_stability_index(rng.normal(size=2000), rng.normal(size=2000) + shift)
    assert (psi < 0.1) is stable, f"PSI {psi:.3f} for a shift of {shift}"
    assert not math.isnan(psi)


def test_metrics_from_resample_counts_equal_metrics_on_the_explicit_resample() -> None:
    # Given one bootstrap resample expressed as multiplicities
    rng = np.random.default_rng(4)
    y = (rng.random(120) < 0.4).astype(float)
    scores = rng.random(120) + 0.3 * y
    groups = np.zeros(120)
    counts = bootstrap_counts(groups, resamples=10, seed=1)
    batch = batch_ranking_metrics(y, scores, groups, [0.1], counts)
    # When the same resample is materialised row by row
    index = np.repeat(np.arange(120), counts[0].astype(int))
    y_res, s_res = y[index], scores[index]
    # Then every metric agrees with the direct computation
    top = np.argsort(-s_res, kind="stable")[:12]
    assert batch["precision_at_10pct"][0] == pytest.approx(y_res[top].mean())
    assert batch["roc_auc"][0] == pytest.approx(roc_auc_score(y_res, s_res))
    assert batch["average_precision"][0] == pytest.approx(average_precision_score(y_res, s_res))


def test_psi_flags_a_shift_only_beyond_the_rule_of_thumb_and_the_noise_of_the_row_counts() -> None:
    from models.jobs import drift_windows, psi_table
    from models.metrics import psi_noise_level

    # Given two periods of 2,000 rows: one feature multiplied by 1.8 in the second, one unchanged
    rng = np.random.default_rng(0)
    dates = [dt.date(2022, 1, 1)] * 2000 + [dt.date(2023, 1, 1)] * 2000
    base = rng.gamma(2.0, 1.0, 4000)
    frame = pl.DataFrame(
        {
            "unit_id": [str(i) for i in range(4000)],
            "as_of": dates,
            "shifted": np.where(np.arange(4000) >= 2000, base * 1.8, base),
            "stable": rng.normal(size=4000),
        }
    )
    # When the adjacent periods are compared
    windows = drift_windows(frame, frame, dt.date(2023, 1, 1), dt.date(2024, 1, 1))
    psi = {r["feature"]: r for r in psi_table(windows.before, windows.after).iter_rows(named=True)}
    # Then only the shifted feature is flagged, beyond the noise level of 2,000 rows per period
    assert windows.to_dict() == {
        "before": ["2022-01-01", "2023-01-01"], "after": ["2023-01-01", "2024-01-01"],
        "n_before": 2000, "n_after": 2000,
    }  # fmt: skip
    assert psi["shifted"]["shift"] == "major" and psi["stable"]["shift"] == "none"
    assert psi["stable"]["psi"] < psi["stable"]["noise"] == psi_noise_level(2000, 2000) < 0.03
    # And on 40 rows per period the same shift is within the noise: not flagged
    few = psi_table(windows.before.head(40), windows.after.head(40))
    assert few.filter(pl.col("feature") == "shifted")["shift"].item() == "none"
    assert few["noise"][0] > 1.0


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_the_top_of_the_ranking_alone_gives_the_bits_of_the_whole_fold(
    weighted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two folds of 3,000 rows, the top-scored rows light where weighted, and resamples of which the
    # last draws nothing from the top half of the first fold (only the whole fold holds its top 20 %)
    rng = np.random.default_rng(11)
    n = 6000
    scores = rng.random(n)
    y = (rng.random(n) < 0.2 + 0.3 * scores).astype(float)
    groups = np.repeat([0, 1], n // 2)
    weights = np.where(scores > 0.8, 1.0, rng.uniform(1.0, 8.0, n)) if weighted else None
    counts = bootstrap_counts(groups, resamples=20, seed=3)
    first_fold_top = (groups == 0) & (scores > np.median(scores[groups == 0]))
    counts[-1, first_fold_top] = 0.0
    counts[-1, (groups == 0) & ~first_fold_top] = 2.0
    # When the metrics are measured from the top of each fold's ranking, and from every row of it
    shortcut = batch_ranking_metrics(y, scores, groups, [0.05, 0.1, 0.2], counts, weights=weights)
    monkeypatch.setattr(metrics, "_top_rows", lambda order, _needed: order)
    whole = batch_ranking_metrics(y, scores, groups, [0.05, 0.1, 0.2], counts, weights=weights)
    # Then every figure of every resample is the same to the last bit
    assert shortcut.keys() == whole.keys()
    for name in whole:
        assert np.array_equal(shortcut[name], whole[name], equal_nan=True), name
