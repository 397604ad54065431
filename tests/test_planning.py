"""Inspection plans: greedy risk picks under caps and cooldown, stratified exploration, reproducibility."""

from __future__ import annotations

import datetime as dt
import itertools
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.config import PlanningSettings
from engine.contract import InspectionModel
from engine.scores import OVERALL, ScoreStore
from serving.planning import (
    _systematic_rounding,
    cooldown_units,
    inspections_template,
    plan_parameters,
    plan_selection,
)
from serving.plans import CooldownUnavailableError, PlanNotFoundError, PlanStore, make_plan
from tests.scores_factory import make_scores, write_published

NO_INSPECTIONS = pl.DataFrame(schema={"unit_id": pl.String, "last_inspected": pl.Date})
DEFAULTS = PlanningSettings()  # the packaged [planning] defaults


def _top_ids(scores: pl.DataFrame, area: str, count: int) -> list[str]:
    return scores.filter(pl.col("risk_area") == area).sort("rank")["unit_id"].head(count).to_list()


def _inspections(rows: list[tuple[str, dt.date, dt.date]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "inspection_id": [f"i{i}" for i in range(len(rows))],
            "unit_id": [row[0] for row in rows],
            "start_date": [row[1] for row in rows],
            "decision_date": [row[2] for row in rows],
            "risk_area": ["tillganglighet"] * len(rows),
        },
        schema_overrides={"start_date": pl.Date, "decision_date": pl.Date},
    )


def test_plan_without_constraints_takes_the_top_ranks_and_a_random_share() -> None:
    # given 40 units and a plan of 10 with 20 % exploration
    scores = make_scores(units=40)
    params = plan_parameters(DEFAULTS, capacity=10, seed=1, risk_area="tillganglighet", exploration=0.2)
    # when
    plan = plan_selection(scores, NO_INSPECTIONS, params)
    # then 8 risk picks are exactly the top 8 and 2 random picks come from outside them
    risk = plan.chosen.filter(pl.col("reason") == "risk_rank")
    random = plan.chosen.filter(pl.col("reason") == "random")
    assert risk["unit_id"].to_list() == _top_ids(scores, "tillganglighet", 8)
    assert random.height == 2
    assert set(random["unit_id"]).isdisjoint(risk["unit_id"]), "a unit must not be picked twice"
    assert set(risk["selection"]) == {"risk_based"} and set(random["selection"]) == {"random"}
    assert risk["inclusion_probability"].to_list() == [1.0] * 8
    assert random["inclusion_probability"].to_list() == pytest.approx([2 / 32] * 2)
    assert plan.skipped.is_empty()
    assert plan.chosen["plan_position"].to_list() == list(range(1, 11))


@pytest.mark.parametrize(
    ("capacity", "share", "expected"),
    [(10, 0.15, 2), (20, 0.15, 3), (7, 0.5, 4), (5, 0.0, 0), (4, 1.0, 4)],
    ids=["1.5-rounds-up", "3.0", "3.5-rounds-up", "no-exploration", "all-random"],
)
def test_random_count_is_round_half_up_of_capacity_times_share(
    capacity: int, share: float, expected: int
) -> None:
    assert plan_parameters(DEFAULTS, capacity=capacity, seed=0, exploration=share).random_count == expected


def test_provider_cap_skips_units_and_says_why() -> None:
    # given a cap of one unit per provider and no exploration
    scores = make_scores(units=40, providers=3)
    params = plan_parameters(DEFAULTS, capacity=3, seed=0, max_per_provider=1, exploration=0.0)
    # when
    plan = plan_selection(scores, NO_INSPECTIONS, params)
    # then three different providers, and every higher-ranked unit passed over names the cap
    assert plan.chosen["provider_id"].n_unique() == 3
    assert set(plan.skipped["reason"]) == {"provider_cap"}
    last_rank = plan.chosen["rank"].max()
    ranked_above = scores.filter((pl.col("risk_area") == OVERALL) & (pl.col("rank") < last_rank))
    assert plan.skipped.height + 2 == ranked_above.height, (
        "every unit above the last pick is chosen or skipped"
    )
    assert plan.skipped["detail"][0].endswith("already has 1 units in the plan (max 1)")


def test_region_cap_limits_units_per_region() -> None:
    scores = make_scores(units=40)
    plan = plan_selection(
        scores, NO_INSPECTIONS, plan_parameters(DEFAULTS, capacity=10, seed=0, per_region=2, exploration=0)
    )
    counts = plan.chosen.group_by("region_code").len()
    assert counts["len"].max() == 2, "no region may have more than its cap"
    assert plan.chosen.height == 10
    assert "region_cap" in set(plan.skipped["reason"])


def test_cooldown_skips_recently_inspected_units_by_start_or_decision_date() -> None:
    # given the top three units: one decided 3 months ago, one started 11 months ago, one 14 months ago
    scores = make_scores(units=20)
    top = _top_ids(scores, OVERALL, 3)
    as_of = dt.date(2025, 6, 1)
    inspections = _inspections(
        [
            (top[0], dt.date(2024, 12, 1), dt.date(2025, 3, 1)),
            (top[1], dt.date(2024, 7, 1), dt.date(2024, 5, 1) + dt.timedelta(days=400)),
            (top[2], dt.date(2024, 3, 1), dt.date(2024, 4, 1)),
        ]
    )
    # when
    recent = cooldown_units(inspections, as_of, 12).collect()
    plan = plan_selection(scores, recent, plan_parameters(DEFAULTS, capacity=2, seed=0, exploration=0.0))
    # then the first two are in cooldown, the third is eligible again
    assert recent["unit_id"].to_list() == sorted(top[:2])
    assert plan.skipped["unit_id"].to_list() == top[:2]
    assert plan.skipped["reason"].to_list() == ["cooldown", "cooldown"]
    assert plan.chosen["unit_id"][0] == top[2]


def test_random_picks_never_come_from_units_in_cooldown() -> None:
    scores = make_scores(units=30)
    cooling_ids = scores["unit_id"].unique().sort().head(25).to_list()
    recent = pl.DataFrame({"unit_id": cooling_ids, "last_inspected": [dt.date(2025, 1, 1)] * 25})
    plan = plan_selection(scores, recent, plan_parameters(DEFAULTS, capacity=4, seed=3, exploration=0.5))
    assert set(plan.chosen["unit_id"]).isdisjoint(cooling_ids)
    assert plan.chosen.height == 4
    assert (
        plan.chosen.filter(pl.col("reason") == "random")["inclusion_probability"].to_list()
        == [pytest.approx(2 / 3)] * 2
    ), "2 random picks among the 3 eligible units not chosen by risk"


def test_shortfall_is_reported_when_too_few_units_are_eligible() -> None:
    scores = make_scores(units=5)
    plan = plan_selection(
        scores, NO_INSPECTIONS, plan_parameters(DEFAULTS, capacity=8, seed=0, max_per_provider=1)
    )
    assert plan.chosen.height == 5
    assert any("could be chosen" in warning for warning in plan.warnings), plan.warnings


def test_plan_is_deterministic_per_seed_and_varies_with_it() -> None:
    scores = make_scores(units=60)
    params = plan_parameters(DEFAULTS, capacity=12, seed=7, exploration=0.5)
    first = plan_selection(scores, NO_INSPECTIONS, params)
    again = plan_selection(scores, NO_INSPECTIONS, params)
    assert first.chosen.equals(again.chosen), "the same seed must give the same plan"
    others = {
        tuple(
            plan_selection(
                scores, NO_INSPECTIONS, plan_parameters(DEFAULTS, capacity=12, seed=s, exploration=0.5)
            )
            .chosen["unit_id"]
            .to_list()
        )
        for s in range(5)
    }
    assert len(others) > 1, "different seeds should draw different exploration units"


def test_systematic_rounding_keeps_the_total_and_the_expected_counts() -> None:
    # given expected allocations with fractional parts summing to an integer
    expected = [Fraction(7, 10), Fraction(13, 10), Fraction(1, 2), Fraction(3, 2)]
    rng = np.random.default_rng(0)
    # when drawn many times
    draws = np.array([_systematic_rounding(expected, rng) for _ in range(4000)])
    # then every draw sums to 4 and each stratum's mean is its expected count
    assert set(draws.sum(axis=1).tolist()) == {4}
    assert draws.mean(axis=0) == pytest.approx([0.7, 1.3, 0.5, 1.5], abs=0.04)
    assert (
        (draws >= np.floor(np.array(expected, dtype=float)))
        & (draws <= np.ceil(np.array(expected, dtype=float)))
    ).all()


def test_random_share_inclusion_probabilities_match_empirical_frequencies() -> None:
    # given one plan design, repeated over many seeds
    scores = make_scores(units=25)
    counts: dict[str, int] = {}
    runs = 600
    for seed in range(runs):
        plan = plan_selection(
            scores, NO_INSPECTIONS, plan_parameters(DEFAULTS, capacity=5, seed=seed, exploration=0.6)
        )
        for unit in plan.chosen.filter(pl.col("reason") == "random")["unit_id"]:
            counts[unit] = counts.get(unit, 0) + 1
    stated = plan.chosen.filter(pl.col("reason") == "random")["inclusion_probability"][0]
    # then the stated probability (3 of 23 eligible) matches how often each unit was drawn
    assert stated == pytest.approx(3 / 23)
    assert len(counts) == 23, "every eligible unit must have a chance to be drawn"
    frequencies = np.array(list(counts.values())) / runs
    assert abs(frequencies.mean() - stated) < 0.01
    assert np.abs(frequencies - stated).max() < 0.07, (
        "each unit's frequency should be near the stated probability"
    )


def test_greedy_is_optimal_with_only_a_provider_cap() -> None:
    # given a small instance where brute force is possible
    scores = make_scores(units=12, providers=3, seed=5)
    params = plan_parameters(DEFAULTS, capacity=5, seed=0, max_per_provider=2, exploration=0.0)
    area = scores.filter(pl.col("risk_area") == OVERALL)
    rows = list(area.select("unit_id", "provider_id", "p_deficiency").iter_rows())
    # when
    greedy = plan_selection(scores, NO_INSPECTIONS, params).expected_findings
    best = max(
        sum(row[2] for row in combo)
        for combo in itertools.combinations(rows, 5)
        if max(sum(1 for row in combo if row[1] == provider) for provider in {r[1] for r in combo}) <= 2
    )
    # then
    assert greedy == pytest.approx(best), "greedy under one cap family must reach the optimum"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 0}, "capacity must be at least 1, got 0"),
        ({"exploration": 1.5}, "exploration must be a share between 0 and 1, got 1.5"),
        ({"cooldown_months": -1}, "cooldown_months must be 0 or more"),
        ({"per_region": 0}, "per_region must be at least 1"),
    ],
    ids=["capacity", "exploration", "cooldown", "per-region"],
)
def test_plan_parameters_reject_bad_values(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_parameters(DEFAULTS, **({"capacity": 5, "seed": 0} | kwargs))  # type: ignore[arg-type]


def test_unknown_risk_area_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown risk area 'nope'; the scores have \['kontinuitet'"):
        plan_selection(
            make_scores(units=5),
            NO_INSPECTIONS,
            plan_parameters(DEFAULTS, capacity=2, seed=0, risk_area="nope"),
        )


def test_make_plan_is_reproducible_and_stored(tmp_path: Path) -> None:
    # given a published scoring snapshot and an inspections table
    store = ScoreStore(tmp_path / "scores")
    write_published(store, make_scores(units=30))
    scores = store.open()
    inspections = _inspections([(scores.frame["unit_id"][0], dt.date(2025, 1, 1), dt.date(2025, 2, 1))])
    params = plan_parameters(DEFAULTS, capacity=6, seed=11, risk_area="samverkan", max_per_provider=2)
    # when planned twice
    first = make_plan(scores, params, inspections=inspections, inspections_snapshot_id="snap1")
    second = make_plan(scores, params, inspections=inspections, inspections_snapshot_id="snap1")
    plans = PlanStore(tmp_path / "plans")
    plans.save(first)
    # then
    assert first["plan_id"] == second["plan_id"] and first["chosen"] == second["chosen"]
    stored = plans.open(first["plan_id"])
    assert stored["parameters"] == params.as_dict() and stored["seed"] == 11
    assert stored["score_id"] == scores.id and stored["inspections_snapshot_id"] == "snap1"
    assert stored["units_in_cooldown"] == 1
    assert plans.ids() == [first["plan_id"]]
    other = make_plan(scores, params, inspections=inspections, inspections_snapshot_id="snap2")
    assert other["plan_id"] != first["plan_id"], "another inspections snapshot is another plan"


def test_make_plan_refuses_cooldown_without_inspections(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path)
    write_published(store, make_scores(units=5))
    with pytest.raises(CooldownUnavailableError, match="set cooldown_months=0"):
        make_plan(
            store.open(),
            plan_parameters(DEFAULTS, capacity=2, seed=0),
            inspections=None,
            inspections_snapshot_id=None,
        )


def test_plan_store_rejects_unknown_and_malformed_ids(tmp_path: Path) -> None:
    with pytest.raises(PlanNotFoundError, match="no plan 'plan-0000000000000000'"):
        PlanStore(tmp_path).open("plan-0000000000000000")
    with pytest.raises(PlanNotFoundError, match="invalid plan id"):
        PlanStore(tmp_path).open("../secrets")


def test_inspections_template_has_the_contract_columns() -> None:
    scores = make_scores(units=10)
    plan = plan_selection(
        scores, NO_INSPECTIONS, plan_parameters(DEFAULTS, capacity=4, seed=0, exploration=0.5)
    )
    rows = inspections_template(plan.chosen, "plan-abc", ["tillganglighet", "kontinuitet"])
    assert rows.columns == list(InspectionModel.to_schema().columns)
    assert rows.height == 8
    assert rows["inspection_id"].unique().sort().to_list() == [f"plan-abc-00{i}" for i in range(1, 5)]
    assert set(rows["selection"]) == {"risk_based", "random"}
