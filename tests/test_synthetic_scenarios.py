"""Scenarios: named parameter sets that make the world harder without losing its calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from cli import app
from engine.config import load_config
from synthetic import WorldParams, generate_world
from synthetic.calibration import complaint_ranking_auc, expected_auc
from synthetic.scenarios import SCENARIOS, scenario_params


def _complaint_auc(name: str) -> pl.DataFrame:
    config = load_config()
    world = generate_world(scenario_params(name, seed=7, n_units=600, years=3), config)
    return complaint_ranking_auc(world, dict(config.event_sources["complaints"].categories))


def test_default_scenario_is_todays_world_table_for_table() -> None:
    # given the default scenario and plain parameters with the same seed
    config = load_config()
    plain = generate_world(WorldParams(seed=5, n_units=120, years=2), config)
    named = generate_world(scenario_params("default", seed=5, n_units=120, years=2), config)
    # then every table and the truth are identical (the scenario adds no draw to today's streams)
    assert plain.tables.keys() == named.tables.keys()
    for name, frame in plain.tables.items():
        assert frame.equals(named.tables[name]), name
    assert plain.truth["risk"].equals(named.truth["risk"])


def test_unknown_scenario_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown scenario 'easy'; known: \['default'"):
        scenario_params("easy")


def test_scenario_overrides_lose_to_explicit_parameters() -> None:
    params = scenario_params("realistic", seed=3, complaint_unit_noise=0.1)
    assert params.scenario == "realistic" and params.seed == 3 and params.complaint_unit_noise == 0.1
    assert params.team_effects == SCENARIOS["realistic"]["team_effects"]


def test_expected_auc_of_the_truth_against_itself_beats_a_constant() -> None:
    p = np.array([0.1, 0.2, 0.8, 0.9])
    assert expected_auc(np.zeros(4), p) == pytest.approx(0.5)
    assert expected_auc(p, p) > 0.7
    assert expected_auc(-p, p) == pytest.approx(1 - expected_auc(p, p))


def test_complaints_rank_weakly_in_realistic_and_barely_in_weak() -> None:
    # given the same seed in three scenarios
    default, realistic, weak = (_complaint_auc(name) for name in ("default", "realistic", "weak"))
    # then complaints rank risk well by default, weakly when realistic and hardly at all when weak
    assert (default["complaint_auc"] > 0.63).all(), default
    assert realistic["complaint_auc"].is_between(0.52, 0.66).all(), realistic
    assert (weak["complaint_auc"] < 0.57).all(), weak
    assert (realistic["complaint_auc"] < default["complaint_auc"]).all()
    # while the truth ranks as well as ever: the world is not easier or harder to *know*, only to see
    assert (realistic["oracle_auc"] > 0.8).all()


def test_shifted_complaints_jump_at_the_new_reporting_standard() -> None:
    # given the realistic and the shifted world with the same seed (the shift from 2023-07)
    config = load_config()
    per_half: dict[str, pl.DataFrame] = {}
    for name in ("realistic", "shifted"):
        world = generate_world(scenario_params(name, seed=4, n_units=300, years=4), config)
        per_half[name] = (
            world.tables["complaints"]
            .group_by(after=pl.col("event_date") >= pl.date(2023, 7, 1))
            .len()
            .sort("after")
        )
    before = per_half["shifted"]["len"][0] / per_half["realistic"]["len"][0]
    after = per_half["shifted"]["len"][1] / per_half["realistic"]["len"][1]
    # then complaints before the change are alike and 80 % more after it
    assert 0.9 < before < 1.1, per_half
    assert 1.6 < after < 2.0, per_half


def test_realistic_team_effects_are_about_ten_points_around_the_mean() -> None:
    world = generate_world(scenario_params("realistic", seed=9, n_units=600, years=6), load_config())
    # when the team's shift is taken off every inspection's true probability
    logit = (pl.col("p_deficiency") / (1 - pl.col("p_deficiency"))).log()
    truth = world.truth["inspections"].with_columns(without=1 / (1 + (pl.col("team_effect") - logit).exp()))
    points = truth.group_by("team_effect").agg(
        (pl.col("p_deficiency") - pl.col("without")).mean().alias("pp")
    )
    # then the teams move findings by up to about ten percentage points either way
    assert 0.06 < points["pp"].max() < 0.15, points  # type: ignore[operator]
    assert -0.15 < points["pp"].min() < -0.06, points  # type: ignore[operator]


def test_cli_generates_a_named_scenario(tmp_path: Path) -> None:
    out = tmp_path / "w"
    result = CliRunner().invoke(
        app,
        ["generate", "--seed", "1", "--out", str(out), "--units", "60", "--years", "1", "--scenario", "weak"],
    )
    assert result.exit_code == 0, result.output
    assert '"scenario": "weak"' in (out / "truth" / "params.json").read_text(encoding="utf-8")
    bad = CliRunner().invoke(app, ["generate", "--seed", "1", "--out", str(out), "--scenario", "easy"])
    assert bad.exit_code != 0 and "unknown scenario" in bad.output


def test_shifted_region_reports_a_higher_phone_share_after_its_reporting_change() -> None:
    # given the realistic and the shifted world with the same seed (Östergötland's new counting from 2023-07)
    config = load_config()
    levels: dict[str, dict[tuple[bool, bool], float]] = {}
    for name in ("realistic", "shifted"):
        world = generate_world(scenario_params(name, seed=4, n_units=600, years=4), config)
        phone = (
            world.tables["availability"]
            .filter(pl.col("measure") == "phone_same_day_share")
            .join(world.tables["units"].select("unit_id", "region_code"), on="unit_id")
            .group_by(region=pl.col("region_code") == "05", after=pl.col("period") >= pl.date(2023, 7, 1))
            .agg(share=pl.col("numerator").sum() / pl.col("denominator").sum())
        )
        levels[name] = {(r, a): s for r, a, s in phone.iter_rows()}
    # then the region's reported share jumps after the change, while other regions and the region's
    # earlier months stay as they were (the true risk is the same)
    assert levels["shifted"][(True, True)] - levels["realistic"][(True, True)] > 0.04, levels
    assert abs(levels["shifted"][(True, False)] - levels["realistic"][(True, False)]) < 0.01, levels
    assert abs(levels["shifted"][(False, True)] - levels["realistic"][(False, True)]) < 0.01, levels


def test_weak_risk_has_little_memory_so_history_says_little() -> None:
    # given a realistic and a weak world with the same seed
    config = load_config()
    correlations = {}
    for name in ("realistic", "weak"):
        risk = generate_world(scenario_params(name, seed=6, n_units=300, years=3), config).truth["risk"]
        # when each unit's latent risk in personcentrering is compared between months two years apart
        personal = risk.filter(pl.col("risk_area") == "personcentrering")
        early = personal.filter(pl.col("month") == pl.date(2023, 1, 1)).select("unit_id", early="latent")
        late = personal.filter(pl.col("month") == pl.date(2025, 1, 1)).select("unit_id", late="latent")
        both = early.join(late, on="unit_id")
        correlations[name] = float(np.corrcoef(both["early"], both["late"])[0, 1])
    # then the realistic unit stays what it was and the weak one has mostly forgotten
    assert correlations["realistic"] > 0.8, correlations
    assert correlations["weak"] < 0.5, correlations


def _phone_risk_rank_correlation(scenario: str, regions: list[str]) -> dict[bool, float]:
    """Spearman correlation, over the units of ``regions``, between each unit's reported same-day phone
    share and its true tillgänglighet risk (truth), before (False) and from (True) 2023-07."""
    world = generate_world(scenario_params(scenario, seed=4, n_units=400, years=4), load_config())
    after = pl.col("period") >= pl.date(2023, 7, 1)
    risk = (
        world.truth["risk"]
        .filter(pl.col("risk_area") == "tillganglighet")
        .group_by("unit_id", after=pl.col("month") >= pl.date(2023, 7, 1))
        .agg(latent=pl.col("latent").mean())
    )
    phone = (
        world.tables["availability"]
        .filter(pl.col("measure") == "phone_same_day_share")
        .join(world.tables["units"].select("unit_id", "region_code"), on="unit_id")
        .filter(pl.col("region_code").is_in(regions))
        .group_by("unit_id", after=after)
        .agg(share=pl.col("numerator").sum() / pl.col("denominator").sum())
    )
    rho = (
        phone.join(risk, on=["unit_id", "after"])
        .group_by("after")
        .agg(rho=pl.corr("share", "latent", method="spearman"))
    )
    return {a: r for a, r in rho.iter_rows()}


def test_shifted_phone_share_stops_ranking_availability_in_the_call_back_regions() -> None:
    # given the realistic and the shifted world with the same seed, and the regions that move to the
    # call-back telephony platform in shifted from 2023-07
    regions = list(SCENARIOS["shifted"]["availability_reporting_regions"])
    # when the units' reported phone share is ranked against their true risk before and after the change
    realistic = _phone_risk_rank_correlation("realistic", regions)
    shifted = _phone_risk_rank_correlation("shifted", regions)
    # then before it the reported share tracks the true availability in both worlds (more risk, fewer
    # calls answered the same day) ...
    assert realistic[False] < -0.6 and shifted[False] < -0.6, (realistic, shifted)
    # ... after it the realistic world's still does, while the shifted world's ranking is gone or
    # inverted: a model that learnt the old relation ranks these units wrongly (true risk unchanged)
    assert realistic[True] < -0.6, realistic
    assert shifted[True] > 0.0, shifted
    assert shifted[True] - shifted[False] > 0.6, shifted
