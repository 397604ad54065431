"""A plan limited to regions or kommuner, and a pps floor that leaves no room for risk (a random plan)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.config import PlanningSettings
from engine.scores import ScoreStore
from serving.planning import (
    equal_probability,
    floor_makes_random,
    largest_useful_floor,
    plan_parameters,
    plan_selection,
    pps_design_probabilities,
)
from serving.plans import make_plan, plan_id_for
from tests.scores_factory import make_scores, write_published

NO_INSPECTIONS = pl.DataFrame(schema={"unit_id": pl.String, "last_inspected": pl.Date})
DEFAULTS = PlanningSettings()
AREA = "tillganglighet"
# make_scores: unit i is in region REGION_CODES[i % 5] and kommun f"{region}80" (0180 Stockholm, 0380 Uppsala)
SCORES = make_scores(units=100)


def _area_units(scores: pl.DataFrame, regions: set[str], kommuner: set[str]) -> pl.DataFrame:
    rows = scores.filter(pl.col("risk_area") == AREA)
    return rows.filter(
        pl.col("region_code").is_in(list(regions)) | pl.col("municipality_code").is_in(list(kommuner))
    )


@pytest.mark.parametrize("design", ["top", "pps", "stratified"])
def test_a_plan_limited_to_regions_and_kommuner_chooses_and_weighs_only_units_there(design: str) -> None:
    # given a plan limited to region 01 and kommun 0380 (Uppsala)
    params = plan_parameters(
        DEFAULTS, capacity=8, seed=3, risk_area=AREA, design=design, regions=["01"], municipalities=["0380"]
    )
    # when it is planned
    plan = plan_selection(SCORES, NO_INSPECTIONS, params)
    # then every chosen unit, and every unit given a probability, is inside the area
    inside = set(_area_units(SCORES, {"01"}, {"0380"})["unit_id"].to_list())
    assert set(plan.chosen["unit_id"].to_list()) <= inside, "a unit outside the plan's area was chosen"
    assert set(plan.frame["unit_id"].to_list()) == inside, "the design's frame is not the plan's area"
    assert plan.chosen.height == 8


def test_pps_probabilities_of_a_limited_plan_are_computed_within_its_area() -> None:
    # given a pps plan limited to two regions
    params = plan_parameters(DEFAULTS, capacity=6, seed=1, risk_area=AREA, design="pps", regions=["12", "14"])
    # when it is planned
    plan = plan_selection(SCORES, NO_INSPECTIONS, params)
    # then its probabilities are the pps design over the area's units alone, summing to the capacity there
    area = _area_units(SCORES, {"12", "14"}, set()).sort("unit_id")
    expected = pps_design_probabilities(area, params)
    got = plan.frame.sort("unit_id")["inclusion_probability"].to_numpy()
    assert got.sum() == pytest.approx(6.0), "π does not sum to K within the area"
    np.testing.assert_allclose(got, expected, err_msg="π is not the pps design on the restricted frame")
    national = plan_selection(
        SCORES, NO_INSPECTIONS, plan_parameters(DEFAULTS, capacity=6, seed=1, risk_area=AREA, design="pps")
    )
    in_area = national.frame.filter(pl.col("unit_id").is_in(area["unit_id"].implode())).sort("unit_id")
    assert not np.allclose(in_area["inclusion_probability"].to_numpy(), got), "π ignores the restriction"


def test_a_stratified_plan_limited_to_a_region_gives_each_of_its_units_k_over_n() -> None:
    params = plan_parameters(
        DEFAULTS, capacity=5, seed=2, risk_area=AREA, design="stratified", regions=["25"]
    )
    plan = plan_selection(SCORES, NO_INSPECTIONS, params)
    units = _area_units(SCORES, {"25"}, set()).height
    assert plan.frame["inclusion_probability"].to_list() == pytest.approx([5 / units] * units)


@pytest.mark.parametrize(
    ("places", "message"),
    [
        ({"regions": ["99"]}, "unknown region codes \\['99'\\]"),
        ({"municipalities": ["0199"]}, "unknown kommun"),
    ],
)
def test_unknown_place_codes_are_refused(places: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_parameters(DEFAULTS, capacity=5, seed=2, **places)  # type: ignore[arg-type]


def test_a_national_plan_keeps_its_id_and_a_limited_one_stores_its_sorted_places() -> None:
    national = plan_parameters(DEFAULTS, capacity=5, seed=2)
    limited = plan_parameters(
        DEFAULTS, capacity=5, seed=2, regions=["03", "01", "03"], municipalities=["0180"]
    )
    assert "regions" not in national.as_dict() and "municipalities" not in national.as_dict()
    assert limited.as_dict()["regions"] == ["01", "03"] and limited.as_dict()["municipalities"] == ["0180"]
    assert plan_id_for(national, "s", None) != plan_id_for(limited, "s", None)


def test_a_floor_at_capacity_over_eligible_makes_a_random_plan_and_says_which_floor_is_useful() -> None:
    # given 100 eligible units and 10 inspections: K/N = 0.1
    units = SCORES.filter(pl.col("risk_area") == AREA).height
    assert units == 100
    at = plan_parameters(DEFAULTS, capacity=10, seed=4, risk_area=AREA, design="pps", floor=0.1)
    below = plan_parameters(DEFAULTS, capacity=10, seed=4, risk_area=AREA, design="pps", floor=0.099)
    # when planned with the floor at K/N and just below it
    random_plan = plan_selection(SCORES, NO_INSPECTIONS, at)
    risk_plan = plan_selection(SCORES, NO_INSPECTIONS, below)
    # then at K/N every π is equal and the plan says so, naming the largest floor that still follows risk
    assert np.ptp(random_plan.frame["inclusion_probability"].to_numpy()) < 1e-9
    assert random_plan.largest_useful_floor == pytest.approx(0.099)
    assert any("random plan" in w and "largest useful floor is 0.099" in w for w in random_plan.warnings), (
        random_plan.warnings
    )
    # and just below it risk still matters and nothing is said
    assert np.ptp(risk_plan.frame["inclusion_probability"].to_numpy()) > 1e-3
    assert risk_plan.largest_useful_floor is None and not any("random plan" in w for w in risk_plan.warnings)


@pytest.mark.parametrize(
    ("capacity", "eligible", "largest"),
    [(10, 100, 0.099), (60, 770, 0.077), (150, 900, 0.166), (1, 3000, 0.0)],
)
def test_the_largest_useful_floor_is_just_below_capacity_over_eligible(
    capacity: int, eligible: int, largest: float
) -> None:
    assert largest_useful_floor(capacity, eligible) == pytest.approx(largest)
    assert largest_useful_floor(capacity, eligible) < equal_probability(capacity, eligible)
    assert floor_makes_random(capacity / eligible, capacity, eligible)
    assert not floor_makes_random(largest_useful_floor(capacity, eligible), capacity, eligible)


def test_a_plan_keeps_each_chosen_units_reasons_that_carry_weight(tmp_path: Path) -> None:
    # given a published scoring whose units have one reason each, of contribution p - 0.3
    store = ScoreStore(tmp_path / "scores")
    write_published(store, SCORES)
    snapshot = store.open()
    params = plan_parameters(DEFAULTS, capacity=30, seed=1, risk_area=AREA, cooldown_months=0)
    # when a plan is made with the threshold 0.1
    document = make_plan(
        snapshot, params, inspections=None, inspections_snapshot_id=None, min_contribution=0.1
    )
    # then a chosen unit keeps its Swedish reason exactly when it carries weight
    for unit in document["chosen"]:
        weighty = unit["p_deficiency"] - 0.3 >= 0.1
        assert (unit["reasons_sv"] != []) == weighty, unit
        assert all(reason.startswith("Klagomål senaste 12 mån") for reason in unit["reasons_sv"]), unit
    assert any(unit["reasons_sv"] for unit in document["chosen"]) and any(
        not unit["reasons_sv"] for unit in document["chosen"]
    ), "the test needs units on both sides of the threshold"


def test_a_floor_of_zero_never_makes_a_random_plan() -> None:
    assert not floor_makes_random(0.0, 100, 100)
    assert equal_probability(5, 0) == 0.0, "no eligible units: no probability at all"
