"""The evaluation says in words whether the model beats random selection and the best baseline.

Read from the intervals the evaluation computed: on a world without signal the model must be "not
reliably different" from random selection; on a world with a clear signal "better than random".
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from engine.config import load_config
from models.evaluation import fold_table, summary, verdicts
from models.jobs import TrainingResult
from models.metrics import random_selection_tail, selected_count
from models.report import render_report
from models.tracking import Tracking
from models.verdicts import BETTER, UNCLEAR, WORSE, area_verdict, overall_sv, sentence_en, sentence_sv

AREAS = ["personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete"]


def _values(
    model: tuple[float, float, float],
    base_rate: float,
    baselines: dict[str, tuple[float, float, float]],
    paired: dict[str, tuple[float, float, float]] | None = None,
) -> dict[tuple[str, str], dict[str, float]]:
    def row(v: tuple[float, float, float]) -> dict[str, float]:
        return {"value": v[0], "lower": v[1], "upper": v[2]}

    values = {
        ("data", "n"): {"value": 200.0},
        ("data", "base_rate"): {"value": base_rate},
        ("data", "selected_at_10pct"): {"value": 20.0},
        ("model", "precision_at_10pct"): row(model),
    }
    values |= {(name, "precision_at_10pct"): row(v) for name, v in baselines.items()}
    values |= {(name, "paired_difference_precision_at_10pct"): row(v) for name, v in (paired or {}).items()}
    return values


@pytest.mark.parametrize(
    ("model", "base_rate", "baselines", "paired", "expected"),
    [
        # The interval holds the base rate; the paired difference with the best baseline holds zero
        ((0.34, 0.22, 0.46), 0.30, {"complaints": (0.32, 0.2, 0.44), "banding": (0.28, 0.16, 0.4)},
         {"complaints": (0.02, -0.08, 0.12), "banding": (0.06, -0.05, 0.17)},
         (UNCLEAR, "complaints", UNCLEAR)),
        # Wholly above the base rate; the paired difference with the best baseline wholly above zero
        ((0.70, 0.58, 0.82), 0.30, {"complaints": (0.45, 0.33, 0.57), "logistic": (0.50, 0.38, 0.62)},
         {"complaints": (0.25, 0.12, 0.38), "logistic": (0.20, 0.05, 0.33)}, (BETTER, "logistic", BETTER)),
        # Wholly below the base rate, and below the best baseline beyond the paired interval
        ((0.05, 0.00, 0.15), 0.30, {"logistic": (0.40, 0.30, 0.50)},
         {"logistic": (-0.30, -0.42, -0.18)}, (WORSE, "logistic", WORSE)),
        # An older run without paired rows: the separate intervals overlap, so not reliably different
        ((0.60, 0.48, 0.72), 0.30, {"complaints": (0.50, 0.40, 0.60)}, None, (BETTER, "complaints", UNCLEAR)),
        # ... and when they do not overlap, better
        ((0.80, 0.70, 0.90), 0.30, {"complaints": (0.50, 0.40, 0.60)}, None, (BETTER, "complaints", BETTER)),
        # A base rate of 0.985: the top 10 % is all deficiencies for the model and a random choice alike
        ((1.0, 1.0, 1.0), 0.985, {"complaints": (1.0, 1.0, 1.0)},
         {"complaints": (0.0, 0.0, 0.0)}, (UNCLEAR, "complaints", UNCLEAR)),
    ],
    ids=["noise", "clear", "worse", "unpaired-overlap", "unpaired-apart", "base-rate-near-one"],
)  # fmt: skip
def test_a_verdict_is_read_from_the_intervals(
    model: tuple[float, float, float],
    base_rate: float,
    baselines: dict[str, tuple[float, float, float]],
    paired: dict[str, tuple[float, float, float]] | None,
    expected: tuple[str, str, str],
) -> None:
    # When the verdict of one area is read from its metric rows
    verdict = area_verdict("tillganglighet", "random", _values(model, base_rate, baselines, paired))

    # Then it compares the model with the random level and the best baseline (by point estimate)
    assert verdict is not None
    assert (verdict.vs_random, verdict.best_baseline, verdict.vs_baseline) == expected
    assert verdict.paired is (paired is not None)
    # And the model's hits are weighed against a random selection of as many (hypergeometric)
    assert verdict.selected == 20 and verdict.random_chance is not None
    assert (verdict.random_chance < 0.025) is (expected[0] != UNCLEAR)
    # And the sentences carry the intervals they were read from, in English and in Swedish
    assert f"({model[1]:.3f}–{model[2]:.3f})".replace("(", "(95% CI ") in sentence_en(verdict)
    swedish = sentence_sv(verdict)
    assert f"{model[1]:.3f}–{model[2]:.3f}".replace(".", ",") in swedish
    if expected[0] == UNCLEAR:
        assert "modellen skiljer sig inte säkert från slumpen" in swedish
    assert "ett slumpvis urval av lika många (20) hittar" in swedish
    if expected[2] == UNCLEAR:
        assert "modellen skiljer sig inte säkert från bästa jämförelsemetod" in swedish
    if expected[0] == BETTER:
        assert "modellen är bättre än slumpen" in swedish


def test_without_the_model_or_a_baseline_the_verdict_says_only_what_it_can() -> None:
    assert area_verdict("a", "random", {("data", "n"): {"value": 0.0}}) is None
    only_random = area_verdict("a", "random", _values((0.6, 0.45, 0.75), 0.3, {}))
    assert only_random is not None and only_random.vs_baseline is None and only_random.vs_random == BETTER
    nan_bounds = area_verdict("a", "random", _values((0.5, math.nan, math.nan), 0.3, {}))
    assert nan_bounds is not None and nan_bounds.vs_random == UNCLEAR, "no interval decides nothing"


@pytest.mark.slow
def test_on_a_world_without_signal_the_evaluation_says_so_and_with_a_clear_signal_it_does_not(
    champion_run: TrainingResult, no_signal_run: TrainingResult, models_tracking: Tracking
) -> None:
    # Given a toy world with a clear signal and the same world with its labels shuffled (no signal)
    clear = verdicts(champion_run.metrics, "random")
    absent = verdicts(no_signal_run.metrics, "random")
    assert sorted(clear) == sorted(absent) == sorted(AREAS)

    # Then with the signal the model is better than random selection in every area
    assert all(v.vs_random == BETTER for v in clear.values()), [sentence_en(v) for v in clear.values()]
    # And without it the model is not reliably different from random in (nearly) every area — one area
    # in five may cross the base rate by chance at 95 % — and better than the best baseline in none
    unclear = [a for a, v in absent.items() if v.vs_random == UNCLEAR]
    assert len(unclear) >= 4, [sentence_en(v) for v in absent.values()]
    assert not any(v.vs_baseline == BETTER for v in absent.values())
    # And every baseline comparison is paired (read from the difference's own interval)
    assert all(v.paired for v in (*clear.values(), *absent.values()))

    # And the verdicts travel with the summary (`evaluate --json`) and the HTML report, in Swedish
    in_summary = summary(no_signal_run.metrics)["samverkan"]["verdict"]
    assert in_summary["vs_random"] == absent["samverkan"].vs_random and in_summary["sentence_sv"]
    weak_report = render_report(models_tracking, no_signal_run.run_id)
    clear_report = render_report(models_tracking, champion_run.run_id)
    names = {area.id: area.name_sv for area in load_config().risk_areas}  # the report names areas in Swedish
    assert overall_sv(absent, names) in weak_report and overall_sv(clear, names) in clear_report
    assert weak_report.count("modellen skiljer sig inte säkert från slumpen") >= len(unclear)
    assert "skiljer sig inte säkert från slumpen" not in clear_report.split("Alla tillsyner (partisk")[0]
    assert clear_report.count("modellen är bättre än slumpen") >= len(AREAS)


def test_the_fold_table_has_one_row_per_area_and_test_year(champion_run: TrainingResult) -> None:
    # When the per-year table is read from a run's metrics
    table = fold_table(champion_run.metrics, "all")
    folds = sorted(set(champion_run.metrics.get_column("fold").to_list()) - {"all"})
    # Then every area has every test year, with the model's precision interval and its ECE beside the band
    assert table.height == len(AREAS) * len(folds)
    assert table.filter(pl.col("risk_area") == "kontinuitet").get_column("fold").to_list() == folds
    assert (table["precision_at_10pct_lower"] <= table["precision_at_10pct"]).all()
    assert (table["ece_noise_upper"] > 0).all() and table["n"].sum() > 0


def test_the_random_selection_tail_is_the_hypergeometric_one() -> None:
    # Given 10 rows of which 5 positive, a random pair holds 2 positives with probability C(5,2)/C(10,2)
    assert math.isclose(random_selection_tail(10, 5, 2, 2), 10 / 45)
    # And at least none with certainty, at most one with the complement
    assert math.isclose(random_selection_tail(10, 5, 2, 0), 1.0)
    assert math.isclose(random_selection_tail(10, 5, 2, 1, upper=False), 1 - 10 / 45)
    # And the folds' selections add up: ceil(10 % of 95) + ceil(10 % of 100)
    assert selected_count(np.array([0] * 95 + [1] * 100), 0.10) == 10 + 10


def test_the_swedish_summary_says_in_words_when_no_area_beats_the_best_baseline() -> None:
    # Given two areas where the model beats random selection, one of them also the best baseline
    beats_both = area_verdict(
        "a",
        "random",
        _values((0.6, 0.5, 0.7), 0.2, {"complaints": (0.3, 0.2, 0.4)}, {"complaints": (0.3, 0.2, 0.4)}),
    )
    beats_random = area_verdict(
        "b",
        "random",
        _values((0.6, 0.5, 0.7), 0.2, {"complaints": (0.55, 0.4, 0.7)}, {"complaints": (0.05, -0.1, 0.2)}),
    )
    assert beats_both is not None and beats_random is not None
    names = {"a": "Samverkan", "b": "Kontinuitet"}

    # When the run is summed up in Swedish, then a count of zero is said in words, never "i 0"
    none = overall_sv({"b": beats_random}, names)
    assert none.endswith("men i inget av dem säkert bättre än bästa jämförelsemetod."), none
    some = overall_sv({"a": beats_both, "b": beats_random}, names)
    assert "säkert bättre än bästa jämförelsemetod i 1 (Samverkan)." in some, some
