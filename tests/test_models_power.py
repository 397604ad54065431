"""Evaluation with power: the inverse-probability-weighted population, the minimum detectable difference."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from engine.config import Config, load_config
from models.backtest import paired_metrics
from models.dataset import labelled_inspections
from models.evaluation import WEIGHTED, metrics_table, population_filter, probability_sample, verdicts
from models.metrics import (
    bootstrap_counts,
    bootstrap_standard_error,
    minimum_detectable_difference,
    paired_difference_resamples,
    ranking_metrics,
)
from models.verdicts import MDD_PREFIX, PAIRED_PREFIX, area_verdict, sentence_en, sentence_sv
from serving.sampling import pps_probabilities, systematic_sample

Z_SUM = 1.959963984540054 + 0.8416212335729143  # z_0.975 + z_0.8


def _population(seed: int, size: int = 4_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A population with known findings: (risk, finding, score), the score a noisy view of the risk."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=size)
    risk = 1.0 / (1.0 + np.exp(-(-1.2 + 1.2 * latent)))
    finding = (rng.random(size) < risk).astype(float)
    score = latent + rng.normal(scale=1.0, size=size)
    return risk, finding, score


def test_weighted_precision_at_k_of_a_pps_sample_is_unbiased_where_the_unweighted_one_is_not() -> None:
    # Given a population with known findings and a ranking, and a pps design drawing 400 of its 4,000
    # units with probability proportional to their risk (as a plan made with the pps design does)
    risk, finding, score = _population(seed=3)
    truth = ranking_metrics(finding, score, [0.1])["precision_at_10pct"]
    pi = pps_probabilities(risk, 400, floor=0.02)
    rng = np.random.default_rng(11)

    # When 300 samples are drawn and each is scored by precision@10 %, with 1/π weights and without
    weighted, unweighted = [], []
    for _ in range(300):
        drawn = systematic_sample(pi, rng.permutation(pi.size), rng)
        y, s, w = finding[drawn], score[drawn], 1.0 / pi[drawn]
        weighted.append(ranking_metrics(y, s, [0.1], weights=w)["precision_at_10pct"])
        unweighted.append(ranking_metrics(y, s, [0.1])["precision_at_10pct"])

    # Then the weighted estimates average to the population's precision@10 % (Monte Carlo error ~0.004)
    # and the unweighted ones, whose top tenth lies deeper in the risky tail, overstate it
    assert abs(np.mean(weighted) - truth) < 0.015, (
        f"weighted precision@10% averages {np.mean(weighted):.3f}, the population's is {truth:.3f}"
    )
    assert np.mean(unweighted) - truth > 0.05, (
        f"the unweighted estimate averages {np.mean(unweighted):.3f} against {truth:.3f}: the test's "
        "design no longer shows the selection bias the weights remove"
    )


def test_weighted_roc_auc_counts_weighted_pairs() -> None:
    # Given four rows where one negative above a positive carries weight 3
    y = np.array([1.0, 0.0, 1.0, 0.0])
    s = np.array([0.9, 0.8, 0.7, 0.1])
    w = np.array([1.0, 3.0, 1.0, 1.0])

    # When the weighted ROC AUC is computed
    auc = ranking_metrics(y, s, [0.5], weights=w)["roc_auc"]

    # Then it is the weighted share of correctly ordered (positive, negative) pairs: (3 + 1 + 1) / 8
    assert auc == pytest.approx(5 / 8), f"weighted ROC AUC {auc}, expected 5/8 (weighted Mann–Whitney)"


def test_minimum_detectable_difference_is_the_z_sum_times_the_standard_error() -> None:
    # Given resampled differences with a standard deviation of 0.05 (hand-made: ±0.05 alternating)
    resampled = np.array([0.05, -0.05] * 50) + 0.02
    se = bootstrap_standard_error(resampled)

    # When the minimum detectable difference at 95 % and 80 % power is taken
    mdd = minimum_detectable_difference(se)

    # Then it is (1.95996 + 0.84162) × the sample standard deviation, 0.05 × sqrt(100/99) here
    assert se == pytest.approx(0.05 * math.sqrt(100 / 99)), f"standard error {se}"
    assert mdd == pytest.approx(Z_SUM * 0.05 * math.sqrt(100 / 99)), f"MDD {mdd}, expected (z+z)·SE"
    assert minimum_detectable_difference(0.05) == pytest.approx(0.140079, abs=1e-6)


def _paired_mdd(n: int, seed: int) -> float:
    """The MDD of precision@10 % of a good ranking against a worse one on ``n`` rows of one fold."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-latent))).astype(float)
    good = latent + rng.normal(scale=0.5, size=n)
    worse = latent + rng.normal(scale=1.5, size=n)
    groups = np.zeros(n)
    counts = bootstrap_counts(groups, 400, seed)
    _, resampled = paired_difference_resamples(y, good, worse, [0.1], groups=groups, counts=counts)[
        "precision_at_10pct"
    ]
    return minimum_detectable_difference(bootstrap_standard_error(resampled))


def test_the_minimum_detectable_difference_halves_when_the_sample_grows_fourfold() -> None:
    # Given the same two rankings of the same kind of population, on 1,000 and on 4,000 rows
    small = np.mean([_paired_mdd(1_000, seed) for seed in range(3)])
    large = np.mean([_paired_mdd(4_000, seed) for seed in range(3)])

    # Then four times the rows give about half the minimum detectable difference (SE ∝ 1/√n)
    assert 0.4 < large / small < 0.6, f"MDD {small:.3f} on 1,000 rows, {large:.3f} on 4,000: ratio not ~0.5"


def _inspections() -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "inspection_id": ["a", "b", "c", "d", "e"],
            "unit_id": ["u1", "u2", "u3", "u4", "u5"],
            "risk_area": ["tillganglighet"] * 5,
            "start_date": [dt.date(2024, 3, 1)] * 5,
            "decision_date": [dt.date(2024, 4, 1)] * 5,
            "finding": ["deficiency", "none", "serious", "none", "deficiency"],
            "selection": ["random", "random", "risk_based", "complaint_triggered", "risk_based"],
            "inclusion_probability": [0.2, 0.01, None, 0.5, 1.0],
        }
    )


def test_the_weighted_population_keeps_only_rows_with_known_pi_and_truncates_their_weights() -> None:
    # Given inspections with known and unknown inclusion probabilities, one of them tiny (π = 0.01, a
    # pps plan's draw), and a top plan's risk-ranked pick recorded with π = 1
    labelled = labelled_inspections(_inspections(), lead_time_days=60, max_weight=20.0).collect()

    # When the weighted population is taken
    weighted = labelled.with_columns(probability_sample()).filter(population_filter(WEIGHTED))

    # Then the risk-based rows are left out (without π, or π = 1 where the units passed over had π = 0)
    # and π = 0.01 weighs 20 (max_weight), not 100
    assert weighted.get_column("inspection_id").to_list() == ["a", "b", "d"], (
        "rows without a design π are out"
    )
    weights = dict(zip(weighted["inspection_id"], weighted["weight"], strict=True))
    assert weights == {"a": 5.0, "b": 20.0, "d": 2.0}, f"weights 1/π truncated at 20, got {weights}"


def _predictions(rows_per_fold: int, seed: int = 0) -> pl.DataFrame:
    """A prediction frame of one area, two folds: half the rows with known π (random or pps)."""
    rng = np.random.default_rng(seed)
    n = 2 * rows_per_fold
    truth = rng.uniform(0.05, 0.6, size=n)
    deficiency = (rng.random(n) < truth).astype(np.int8)
    known = rng.random(n) < 0.5
    return pl.DataFrame(
        {
            "fold": ["2023"] * rows_per_fold + ["2024"] * rows_per_fold,
            "inspection_id": [f"i{i}" for i in range(n)],
            "risk_area": ["tillganglighet"] * n,
            "is_random": known & (rng.random(n) < 0.5),
            "deficiency": deficiency,
            "serious": (deficiency * (rng.random(n) < 0.2)).astype(np.int8),
            "weight": np.where(known, rng.uniform(1.0, 20.0, size=n), 1.0),
            "probability_sample": known,
            "score_oracle": truth,
            "score_model": np.clip(truth + rng.normal(0, 0.08, n), 0.01, 0.99),
            "score_random": rng.random(n),
            "score_complaints": truth + rng.normal(0, 0.2, n),
            "score_banding": truth + rng.normal(0, 0.3, n),
            "score_logistic": truth + rng.normal(0, 0.12, n),
            "raw_score": truth,
            "p_serious": truth / 5,
        }
    )


def _config() -> Config:
    """The default configuration with fewer resamples (the test's rows are all of one area)."""
    config = load_config()
    return config.model_copy(update={"model": config.model.model_copy(update={"bootstrap_resamples": 100})})


def test_the_metrics_table_has_a_weighted_population_with_an_mdd_beside_every_paired_difference() -> None:
    # Given test-fold predictions where half the rows carry a known inclusion probability
    predictions = _predictions(300)

    # When the metrics table is computed
    table = metrics_table(predictions, _config())

    # Then the weighted population counts only those rows, with a weighted base rate and Kish's n
    weighted = table.filter((pl.col("population") == WEIGHTED) & (pl.col("fold") == "all"))
    data = {
        r["metric"]: r["value"] for r in weighted.filter(pl.col("scorer") == "data").iter_rows(named=True)
    }
    known = predictions.filter(pl.col("probability_sample"))
    assert data["n"] == known.height, f"weighted n {data['n']}, rows with known π {known.height}"
    expected_rate = np.average(known["deficiency"].to_numpy(), weights=known["weight"].to_numpy())
    assert data["base_rate"] == pytest.approx(expected_rate), "the weighted base rate is the Hájek mean"
    assert 0 < data["effective_n"] < known.height, f"effective n {data['effective_n']}"
    # And the verdict's chance test counts the top tenth of the effective number, not of the rows
    assert data["selected_at_10pct"] == round(0.1 * data["effective_n"]), (
        f"selected {data['selected_at_10pct']}"
    )
    # And every paired difference of every population has its MDD beside it, positive and finite
    for population in ("random", "all", WEIGHTED):
        rows = table.filter((pl.col("population") == population) & (pl.col("fold") == "all"))
        paired = set(rows.filter(pl.col("metric").str.starts_with(PAIRED_PREFIX))["scorer"])
        mdd = rows.filter(pl.col("metric") == f"{MDD_PREFIX}precision_at_10pct")
        assert set(mdd["scorer"]) == paired and paired, f"{population}: MDD rows {mdd['scorer'].to_list()}"
        assert (mdd["value"] > 0).all() and mdd["value"].is_finite().all(), f"{population}: {mdd}"


def test_the_verdict_carries_its_mdd_and_says_it_in_swedish_and_english() -> None:
    # Given a run's metrics with a paired difference whose resamples give a known MDD
    table = metrics_table(_predictions(300), _config())

    # When the verdicts of the random and the weighted population are read
    for population in ("random", WEIGHTED):
        verdict = verdicts(table, population)["tillganglighet"]
        stored = table.filter(
            (pl.col("population") == population)
            & (pl.col("fold") == "all")
            & (pl.col("scorer") == verdict.best_baseline)
            & (pl.col("metric") == f"{MDD_PREFIX}precision_at_10pct")
        )["value"][0]

        # Then the verdict holds the stored MDD, and both sentences state it in percentage points
        assert verdict.mdd == pytest.approx(stored), (
            f"{population}: verdict MDD {verdict.mdd}, table {stored}"
        )
        points = f"{100 * stored:.1f}"
        assert f"{points} percentage points" in sentence_en(verdict), sentence_en(verdict)
        swedish = sentence_sv(verdict)
        assert f"{points.replace('.', ',')} procentenheter" in swedish and "inte kunnat ses" in swedish, (
            swedish
        )


def test_a_verdict_of_an_older_run_without_mdd_rows_has_none() -> None:
    # Given metric rows as an older run logged them (a paired difference, no MDD)
    values = {
        ("data", "n"): {"value": 400.0},
        ("data", "base_rate"): {"value": 0.3},
        ("model", "precision_at_10pct"): {"value": 0.5, "lower": 0.4, "upper": 0.6},
        ("logistic", "precision_at_10pct"): {"value": 0.45, "lower": 0.35, "upper": 0.55},
        ("logistic", f"{PAIRED_PREFIX}precision_at_10pct"): {"value": 0.05, "lower": -0.02, "upper": 0.12},
    }

    # When its verdict is read, then it has no MDD and its sentences do not invent one
    verdict = area_verdict("tillganglighet", "random", values)
    assert verdict is not None and verdict.mdd is None
    assert "detectable" not in sentence_en(verdict) and "procentenheter" not in sentence_sv(verdict)


def test_a_weighted_verdict_tests_against_chance_on_the_effective_number_of_inspections() -> None:
    # Given a weighted population where nearly every unit has a deficiency (0.977, as systematiskt
    # kvalitetsarbete in the demo) and the model's top tenth is all deficiencies, 822 rows worth 588
    values = {
        ("data", "n"): {"value": 822.0},
        ("data", "effective_n"): {"value": 588.0},
        ("data", "base_rate"): {"value": 0.977},
        ("data", "selected_at_10pct"): {"value": 59.0},
        ("model", "precision_at_10pct"): {"value": 1.0, "lower": 1.0, "upper": 1.0},
    }

    # When its verdict is read
    verdict = area_verdict("systematiskt_kvalitetsarbete", WEIGHTED, values)

    # Then an interval of 1.000–1.000 above 0.977 is not called better than random: 59 drawn at random
    # from 588 are all deficiencies about a quarter of the time
    assert verdict is not None and verdict.vs_random == "not reliably different", sentence_en(verdict)
    assert verdict.random_chance is not None and 0.2 < verdict.random_chance < 0.3, verdict.random_chance


def test_weighted_metrics_equal_the_unweighted_ones_on_rows_repeated_as_often_as_their_weight() -> None:
    # Given 500 rows in two folds with whole weights, each fold's total weight a multiple of ten
    rng = np.random.default_rng(5)
    y = (rng.random(500) < 0.3).astype(float)
    s = y + rng.normal(size=500)
    w = rng.integers(1, 6, size=500).astype(float)
    groups = np.repeat([0, 1], 250)
    for fold in (0, 1):
        w[np.flatnonzero(groups == fold)[-1]] += -w[groups == fold].sum() % 10
    # (each copy a hair below the one before, so the copies keep their row's place in the ranking)
    copies = np.repeat(np.arange(500), w.astype(int))
    within = np.concatenate([np.arange(int(c)) for c in w])

    # When the weighted metrics are computed, and the unweighted ones on the repeated rows
    weighted = ranking_metrics(y, s, [0.1, 0.2], groups, weights=w)
    repeated = ranking_metrics(y[copies], s[copies] - 1e-9 * within, [0.1, 0.2], groups[copies])

    # Then they agree: a weight is a number of population units each inspection stands for (average
    # precision aside: there a weighted row is one threshold, as tied copies are in scikit-learn)
    for name, value in repeated.items():
        if name == "average_precision":
            continue
        assert weighted[name] == pytest.approx(value), f"{name}: weighted {weighted[name]}, repeated {value}"


def test_the_paired_gate_may_compare_versions_on_the_weighted_population() -> None:
    # Given a configuration whose paired gate reads the weighted population, and two versions' scores
    # on inspections half of which carry a known inclusion probability
    config = _config()
    settings = config.model.model_copy(update={"paired_gate_population": WEIGHTED})
    predictions = _predictions(200)
    frame = predictions.select(
        "risk_area", "is_random", "deficiency", "probability_sample", "weight",
        pl.col("score_model").alias("p_1"), pl.col("score_logistic").clip(0, 1).alias("p_2"),
    )  # fmt: skip

    # When the backtest's paired metrics are computed
    counts, _, differences = paired_metrics(frame, ["1", "2"], settings)

    # Then the weighted population counts the rows with π at their weighted base rate, with differences
    weighted = counts.filter(pl.col("population") == WEIGHTED)
    known = predictions.filter(pl.col("probability_sample"))
    assert weighted["n"].to_list() == [known.height], f"weighted n {weighted['n'].to_list()}"
    assert weighted["base_rate"][0] == pytest.approx(
        np.average(known["deficiency"].to_numpy(), weights=known["weight"].to_numpy())
    ), "the weighted base rate is the Hájek mean"
    assert not differences.filter(pl.col("population") == WEIGHTED).is_empty(), "no weighted differences"


def test_random_selections_drawn_with_unequal_probability_are_weighted_and_equal_ones_are_not() -> None:
    # Given test folds whose random selections came from a pps plan (π differs within a fold), and the
    # same rows as equal-probability draws (one π per fold, different between the folds)
    pps = _predictions(300).with_columns(pl.col("is_random") | pl.col("probability_sample"))
    equal = pps.with_columns(pl.when(pl.col("fold") == "2023").then(50.0).otherwise(40.0).alias("weight"))

    # When the metrics tables are computed
    def random_data(predictions: pl.DataFrame) -> dict[str, float]:
        table = metrics_table(predictions, _config())
        rows = table.filter(
            (pl.col("population") == "random") & (pl.col("fold") == "all") & (pl.col("scorer") == "data")
        )
        return {r["metric"]: r["value"] for r in rows.iter_rows(named=True)}

    # Then the pps draws' base rate is the Hájek mean (unweighted it would over-count the favoured units)
    drawn = pps.filter(pl.col("is_random"))
    hajek = np.average(drawn["deficiency"].to_numpy(), weights=drawn["weight"].to_numpy())
    assert random_data(pps)["base_rate"] == pytest.approx(hajek), (
        "pps draws in the random population unweighted"
    )
    assert "effective_n" in random_data(pps), "the weighted random population states its effective number"
    # And equal-probability draws keep the plain share, whatever their π is between folds
    plain = random_data(equal)
    assert plain["base_rate"] == pytest.approx(drawn["deficiency"].mean()), "equal-π draws were reweighted"
    assert "effective_n" not in plain, "an unweighted population got an effective number"
