"""Plan designs (top, pps, stratified): exact inclusion probabilities, caps, estimates, reproducibility."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import polars as pl
import pytest

from engine.config import PlanningSettings
from serving.estimation import (
    UnknownProbabilitiesError,
    anticipated_standard_error,
    hajek_estimate,
    plan_sample,
    prevalence_table,
)
from serving.planning import plan_parameters, plan_selection, pps_design_probabilities
from serving.sampling import InfeasibleDesignError, pps_probabilities, random_block_order, systematic_sample
from tests.scores_factory import make_scores

NO_INSPECTIONS = pl.DataFrame(schema={"unit_id": pl.String, "last_inspected": pl.Date})
AREA = "tillganglighet"
DEFAULTS = PlanningSettings()  # the packaged [planning] defaults


def _frequencies(
    scores: pl.DataFrame, params: dict[str, object], draws: int
) -> tuple[Counter[str], dict[str, float]]:
    counts: Counter[str] = Counter()
    probabilities: dict[str, float] = {}
    for seed in range(draws):
        plan = plan_selection(scores, NO_INSPECTIONS, plan_parameters(DEFAULTS, seed=seed, **params))  # type: ignore[arg-type]
        counts.update(plan.chosen["unit_id"].to_list())
        if not probabilities:
            probabilities = dict(zip(plan.frame["unit_id"], plan.frame["inclusion_probability"], strict=True))
    return counts, probabilities


def _assert_frequencies_match(counts: Counter[str], probabilities: dict[str, float], draws: int) -> None:
    for unit, probability in probabilities.items():
        se = max(np.sqrt(probability * (1 - probability) / draws), 1e-9)
        assert abs(counts[unit] / draws - probability) <= 4.5 * se + 1e-9, (unit, counts[unit], probability)


def test_pps_probabilities_are_floored_capped_and_sum_to_the_sample_size() -> None:
    # given sizes spanning two orders of magnitude and a floor
    sizes = np.array([0.9, 0.8, 0.5, 0.1, 0.05, 0.01, 0.01, 0.02, 0.03, 0.3])
    # when
    pi = pps_probabilities(sizes, 4, floor=0.1)
    # then every probability is in [floor, 1], they sum to n, and they rise with the size
    assert pi.sum() == pytest.approx(4.0)
    assert pi.min() >= 0.1 - 1e-12 and pi.max() <= 1.0
    assert np.all(np.diff(pi[np.argsort(sizes)]) >= -1e-12)


def test_a_floor_above_the_sample_share_is_refused() -> None:
    with pytest.raises(InfeasibleDesignError, match="lower the floor"):
        pps_probabilities(np.ones(10), 2, floor=0.3)


def test_systematic_sampling_hits_each_unit_at_its_probability() -> None:
    # given probabilities summing to 3 and a random order per draw
    pi = pps_probabilities(np.array([0.9, 0.5, 0.4, 0.2, 0.1, 0.1, 0.05, 0.05]), 3, floor=0.05)
    rng = np.random.default_rng(0)
    draws = 20_000
    counts = np.zeros(len(pi))
    # when
    for _ in range(draws):
        order = random_block_order([[i] for i in range(len(pi))], rng)
        chosen = systematic_sample(pi, order, rng)
        assert len(chosen) == 3
        counts[chosen] += 1
    # then the empirical inclusion frequencies match π within 4.5 standard errors
    se = np.sqrt(pi * (1 - pi) / draws) + 1e-9
    assert np.all(np.abs(counts / draws - pi) <= 4.5 * se)


@pytest.mark.parametrize(
    "params",
    [
        {"design": "pps", "floor": 0.05, "capacity": 8, "risk_area": AREA},
        {"design": "pps", "floor": 0.02, "capacity": 8, "risk_area": AREA, "per_region": 2},
        {"design": "stratified", "capacity": 8, "risk_area": AREA},
        {"design": "top", "capacity": 8, "risk_area": AREA, "exploration": 0.5, "max_per_provider": 2},
    ],
    ids=["pps", "pps-region-cap", "stratified", "top"],
)
def test_empirical_inclusion_frequency_matches_the_recorded_probability(params: dict[str, object]) -> None:
    # given 40 scored units, and 500 plans with different seeds
    scores = make_scores(units=40)
    draws = 500
    # when
    counts, probabilities = _frequencies(scores, params, draws)
    # then every unit is chosen as often as its recorded inclusion probability says
    assert len(probabilities) == 40
    assert sum(probabilities.values()) == pytest.approx(8.0)
    _assert_frequencies_match(counts, probabilities, draws)


def test_pps_never_exceeds_the_region_cap_and_records_probabilities_of_chosen_units() -> None:
    scores = make_scores(units=40)
    for seed in range(60):
        params = plan_parameters(
            DEFAULTS, capacity=8, seed=seed, risk_area=AREA, design="pps", floor=0.02, per_region=2
        )
        plan = plan_selection(scores, NO_INSPECTIONS, params)
        assert plan.chosen.height == 8
        assert max(Counter(plan.chosen["region_code"].to_list()).values()) <= 2
        frame = dict(zip(plan.frame["unit_id"], plan.frame["inclusion_probability"], strict=True))
        for unit, pi in zip(plan.chosen["unit_id"], plan.chosen["inclusion_probability"], strict=True):
            assert pi == frame[unit]


def test_pps_region_cap_bounds_each_regions_probability_mass() -> None:
    scores = make_scores(units=40)
    eligible = scores.filter(pl.col("risk_area") == AREA).sort("unit_id")
    params = plan_parameters(
        DEFAULTS, capacity=8, seed=0, risk_area=AREA, design="pps", floor=0.02, per_region=2
    )
    pi = pps_design_probabilities(eligible, params)
    mass = eligible.with_columns(pi=pl.Series(pi)).group_by("region_code").agg(pl.col("pi").sum())
    assert float(mass["pi"].to_numpy().max()) <= 2.0 + 1e-6
    assert pi.sum() == pytest.approx(8.0)


def test_every_design_is_reproducible_from_its_parameters_and_seed() -> None:
    scores = make_scores(units=40)
    for design, extra in (("top", {}), ("pps", {"floor": 0.05}), ("stratified", {})):
        params = plan_parameters(DEFAULTS, capacity=8, seed=5, risk_area=AREA, design=design, **extra)  # type: ignore[arg-type]
        first = plan_selection(scores, NO_INSPECTIONS, params)
        again = plan_selection(scores, NO_INSPECTIONS, params)
        assert first.chosen.equals(again.chosen)
        assert first.expected_standard_errors == again.expected_standard_errors


def test_design_parameters_change_the_plan_id_but_top_keeps_todays_id() -> None:
    top = plan_parameters(DEFAULTS, capacity=8, seed=5)
    assert "design" not in top.as_dict()
    pps = plan_parameters(DEFAULTS, capacity=8, seed=5, design="pps", floor=0.05)
    assert pps.as_dict()["design"] == "pps" and pps.as_dict()["floor"] == 0.05
    assert plan_parameters(DEFAULTS, capacity=8, seed=5, design="stratified", floor=0.05).floor == 0.0
    with pytest.raises(ValueError, match="unknown design"):
        plan_parameters(DEFAULTS, capacity=8, seed=5, design="best")


def test_top_without_exploration_has_no_anticipated_error_and_pps_has_one() -> None:
    scores = make_scores(units=40)
    top = plan_selection(
        scores, NO_INSPECTIONS, plan_parameters(DEFAULTS, capacity=8, seed=1, exploration=0.0)
    )
    pps = plan_selection(
        scores, NO_INSPECTIONS, plan_parameters(DEFAULTS, capacity=8, seed=1, design="pps", floor=0.05)
    )
    assert top.zero_probability_units == 32
    assert set(top.expected_standard_errors.values()) == {None}
    assert all(v is not None and 0 < v < 0.5 for v in pps.expected_standard_errors.values())


def test_hajek_interval_covers_the_population_share_at_its_nominal_rate() -> None:
    # given a fast synthetic population of 600 units with heterogeneous deficiency probabilities,
    # realised once (the finite population), and 1,000 pps draws of 60 units with a floor
    rng = np.random.default_rng(7)
    p = 1 / (1 + np.exp(-rng.normal(-0.5, 1.3, 600)))
    y = (rng.random(600) < p).astype(float)
    truth = y.mean()
    pi = pps_probabilities(p, 60, floor=0.04)
    draws = 500
    covered = 0
    errors = []
    # when
    for _ in range(draws):
        order = random_block_order([[i] for i in range(600)], rng)
        s = systematic_sample(pi, order, rng)
        estimate = hajek_estimate(y[s], pi[s])
        assert estimate is not None
        covered += estimate.lower <= truth <= estimate.upper
        errors.append(estimate.share - truth)
    # then the 95 % interval covers the truth within simulation error (±3 se of a binomial at 0.95)
    rate = covered / draws
    assert abs(rate - 0.95) <= 3 * np.sqrt(0.95 * 0.05 / draws), rate
    # and the estimator is unbiased within simulation error, and its anticipated error is about right
    assert abs(np.mean(errors)) <= 3 * np.std(errors) / np.sqrt(draws)
    anticipated = anticipated_standard_error(p, pi)
    assert anticipated is not None and 0.7 < np.std(errors) / anticipated < 1.3


def test_prevalence_table_refuses_unknown_probabilities_and_reports_regions() -> None:
    sample = pl.DataFrame(
        {
            "plan_id": ["a"] * 24,
            "unit_id": [f"u{i}" for i in range(24)],
            "risk_area": [AREA] * 24,
            "region_code": ["01"] * 12 + ["03"] * 12,
            "deficiency": [i % 2 for i in range(24)],
            "inclusion_probability": [0.2] * 24,
        }
    )
    table = prevalence_table(sample)
    assert table["domain"].to_list() == ["national", "01", "03"]
    assert table.filter(pl.col("domain") == "national")["share"].item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no inclusion probability"):
        prevalence_table(sample.with_columns(inclusion_probability=pl.lit(None, dtype=pl.Float64)))


def test_a_pps_floor_above_what_the_capacity_allows_is_lowered_with_a_warning() -> None:
    scores = make_scores(units=40)
    plan = plan_selection(
        scores, NO_INSPECTIONS, plan_parameters(DEFAULTS, capacity=8, seed=1, design="pps", floor=0.5)
    )
    assert plan.chosen.height == 8
    assert plan.frame["inclusion_probability"].to_list() == pytest.approx([0.2] * 40)
    assert any("floor" in warning for warning in plan.warnings)


def test_plan_sample_matches_decided_inspections_by_exported_id_or_unit_and_window() -> None:
    plan = {
        "plan_id": "plan-0123456789abcdef",
        "reference_date": "2025-01-01",
        "eligible_units": 10,
        "zero_probability_units": 0,
        "chosen": [
            {"unit_id": "a", "region_code": "01", "inclusion_probability": 0.5},
            {"unit_id": "b", "region_code": "03", "inclusion_probability": 0.25},
            {"unit_id": "c", "region_code": "03", "inclusion_probability": 0.25},
        ],
    }
    inspections = pl.LazyFrame(
        {
            "inspection_id": ["plan-0123456789abcdef-001", "IVO-1", "IVO-2", "IVO-3", "IVO-4"],
            "unit_id": ["a", "b", "b", "c", "z"],
            "start_date": [dt.date(2026, 6, 1), dt.date(2025, 3, 1), dt.date(2024, 6, 1), dt.date(2025, 5, 1),
                           dt.date(2025, 5, 1)],
            "risk_area": [AREA] * 5,
            "finding": ["deficiency", "none", "deficiency", None, "serious"],
        }
    )  # fmt: skip
    sample = plan_sample(plan, inspections, window_months=12)
    # a: exported id (outside the window), b: in the window (the 2024 one is before the plan), c: not decided
    assert sample.select("unit_id", "deficiency", "inclusion_probability").rows() == [
        ("a", 1, 0.5),
        ("b", 0, 0.25),
    ]
    with pytest.raises(UnknownProbabilitiesError, match="made before plan designs"):
        plan_sample({k: v for k, v in plan.items() if k != "eligible_units"}, inspections)
