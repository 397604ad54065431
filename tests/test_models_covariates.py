"""Inspection covariates (who inspected, how): learnt at training, neutralised at scoring (issue 10)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.config import load_config
from models.artifact import ModelFeature
from models.dataset import labelled_inspections
from models.training import fit_risk_model, predict_rows, unit_features
from models.validation import final_split
from tests.models_factory import TOY_AREAS_FEATURES, toy_catalog, toy_rows

AS_OF = dt.date(2023, 1, 1)
# Very different finding rates by team, as in the real data set behind issue 10 (3 % to 43 %).
TEAM_EFFECT = {"avdelning_nord": -2.5, "avdelning_syd": 0.0, "avdelning_vast": 2.0}


def _rows_with_teams(seed: int = 0) -> pl.DataFrame:
    """Toy rows whose findings also depend on a team drawn at random for each inspection."""
    rng = np.random.default_rng(seed)
    rows = toy_rows(seed=seed)
    inspections = rows.get_column("inspection_id").unique().sort()
    teams = pl.DataFrame(
        {
            "inspection_id": inspections,
            "team": rng.choice(list(TEAM_EFFECT), size=inspections.len(), p=[0.5, 0.3, 0.2]),
            "method": rng.choice(["platsbesok", "dokumentgranskning"], size=inspections.len()),
        }
    )
    rows = rows.join(teams, on="inspection_id", how="left")
    p = rows.get_column("true_p_deficiency").to_numpy()
    shift = rows.get_column("team").replace_strict(TEAM_EFFECT, return_dtype=pl.Float64).to_numpy()
    p_team = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + shift)))
    finding = (rng.random(rows.height) < p_team).astype(np.int8)
    return rows.with_columns(
        pl.Series("deficiency", finding, dtype=pl.Int8),
        pl.Series("serious", finding * (rng.random(rows.height) < 0.15), dtype=pl.Int8),
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[object, pl.DataFrame]:
    config = load_config()
    settings = config.model.model_copy(
        update={"lightgbm": config.model.lightgbm.model_copy(update={"n_estimators": 200})}
    )
    rows = _rows_with_teams()
    catalog = [ModelFeature.from_spec(record) for record in toy_catalog()]
    model = fit_risk_model(rows, final_split(AS_OF), catalog, list(TOY_AREAS_FEATURES), settings)
    return model, rows


def _scored(model: object, rows: pl.DataFrame, team: str | None) -> np.ndarray:
    frame = rows.with_columns(pl.lit(team, dtype=pl.String).alias("team"))
    covariates = "mix" if team is None else "actual"
    predicted = predict_rows(model, frame, covariates=covariates)  # type: ignore[arg-type]
    return predicted.sort("inspection_id", "risk_area").get_column("p_deficiency").to_numpy()


def test_the_team_effect_is_learnt(fitted: tuple[object, pl.DataFrame]) -> None:
    # given a model trained on inspections whose finding rate depends strongly on the team
    model, rows = fitted
    last_year = rows.filter(pl.col("start_date") >= dt.date(2022, 1, 1))
    # when the same units are scored as if each team had inspected them
    by_team = {team: _scored(model, last_year, team) for team in TEAM_EFFECT}
    # then the predicted finding rate follows the teams' rates
    means = {team: float(p.mean()) for team, p in by_team.items()}
    assert means["avdelning_nord"] < means["avdelning_syd"] < means["avdelning_vast"], means
    assert means["avdelning_vast"] - means["avdelning_nord"] > 0.3, f"team effect too weak: {means}"
    assert model.metadata["inspection_covariates"] == ["team", "method"]  # type: ignore[attr-defined]


def test_a_units_score_does_not_depend_on_which_team_happened_to_inspect_it(
    fitted: tuple[object, pl.DataFrame],
) -> None:
    # given the same units, once recorded as inspected by the strictest team and once by the mildest
    model, rows = fitted
    last_year = rows.filter(pl.col("start_date") >= dt.date(2022, 1, 1))
    strict = last_year.with_columns(pl.lit("avdelning_vast").alias("team"))
    mild = last_year.with_columns(pl.lit("avdelning_nord").alias("team"))
    # when they are scored the way `tillsynsrisk score` does without a planned team
    p_strict = predict_rows(model, strict, covariates="mix")  # type: ignore[arg-type]
    p_mild = predict_rows(model, mild, covariates="mix")  # type: ignore[arg-type]
    # then the scores are identical: the team is neutralised, not taken from the history
    np.testing.assert_array_equal(p_strict["p_deficiency"].to_numpy(), p_mild["p_deficiency"].to_numpy())
    # and the neutral score is the training-mix average of the per-team scores
    by_team = {team: _scored(model, last_year, team) for team in TEAM_EFFECT}
    neutral = _scored(model, last_year, None)
    assert ((neutral > by_team["avdelning_nord"]) & (neutral < by_team["avdelning_vast"])).all()


def test_scoring_uses_the_planned_team_when_the_plan_names_it(fitted: tuple[object, pl.DataFrame]) -> None:
    # given unit features (no inspection columns) at one planning date
    model, rows = fitted
    features = (
        rows.filter(pl.col("start_date") >= dt.date(2022, 1, 1)).unique("unit_id").drop("team", "method")
    )
    # when the plan names the team, and when it does not
    planned = model.predict_frame(features.with_columns(team=pl.lit("avdelning_vast")), contributions=False)  # type: ignore[attr-defined]
    unplanned = model.predict_frame(features, contributions=True)  # type: ignore[attr-defined]
    # then the planned team raises every unit's risk above its team-neutral risk
    joined = planned.join(unplanned, on=["unit_id", "risk_area"], suffix="_neutral")
    assert (joined["p_deficiency"] > joined["p_deficiency_neutral"]).all()
    # and the team and method are never among the contributions (they are not properties of the unit)
    assert not {"team", "method"} & set(unplanned.schema["contributions"].to_schema())  # type: ignore[union-attr]


def test_labelled_inspections_carry_team_and_method_when_the_table_has_them() -> None:
    # given an inspections table with the optional contract-v2 columns
    inspections = pl.LazyFrame(
        {
            "inspection_id": ["I1"],
            "unit_id": ["U1"],
            "risk_area": ["tillganglighet"],
            "start_date": [dt.date(2024, 5, 2)],
            "decision_date": [dt.date(2024, 6, 1)],
            "selection": ["random"],
            "inclusion_probability": [0.1],
            "finding": ["deficiency"],
            "team": ["avdelning_syd"],
            "method": ["platsbesok"],
        }
    )
    # when labelled, with and without them
    with_columns = labelled_inspections(inspections, lead_time_days=60).collect()
    without = labelled_inspections(inspections.drop("team", "method"), lead_time_days=60).collect()
    # then they are carried as strings, and absent when the table lacks them
    assert with_columns.select("team", "method").row(0) == ("avdelning_syd", "platsbesok")
    assert not {"team", "method"} & set(without.columns)


# The department that inspects each toy region most of the time, and how strict it is (logit shift).
HOME_TEAM = {"01": "avdelning_vast", "12": "avdelning_syd", "14": "avdelning_nord"}
# Share of a region's inspections made by its own department: 0.9 ties team and region closely enough
# for the leak to stand well clear of the noise on 300 toy units (at 0.8 it is 0.1 logit, at 0.95 0.5).
HOME_SHARE = 0.9


def _rows_with_home_teams(seed: int = 3) -> pl.DataFrame:
    """Toy rows where a region's own department inspects 90 % of its units (the others the rest), and
    findings depend on the team; the regions themselves carry no risk of their own."""
    rng = np.random.default_rng(seed)
    rows = toy_rows(seed=seed)
    visits = rows.select("inspection_id", "region_code").unique("inspection_id").sort("inspection_id")
    home = visits.get_column("region_code").replace_strict(HOME_TEAM).to_numpy()
    other = rng.choice(list(TEAM_EFFECT), size=visits.height)
    team = np.where(rng.random(visits.height) < HOME_SHARE, home, other)
    rows = rows.join(visits.select("inspection_id", pl.Series("team", team)), on="inspection_id")
    p = rows.get_column("true_p_deficiency").to_numpy()
    shift = rows.get_column("team").replace_strict(TEAM_EFFECT, return_dtype=pl.Float64).to_numpy()
    finding = (rng.random(rows.height) < 1 / (1 + np.exp(-(np.log(p / (1 - p)) + shift)))).astype(np.int8)
    return rows.with_columns(
        pl.Series("deficiency", finding, dtype=pl.Int8),
        pl.Series("serious", finding * (rng.random(rows.height) < 0.15), dtype=pl.Int8),
    )


def _region_leak(region_with_team: str) -> float:
    """Team-neutral score of the strict department's region minus the lenient one's, in logits, beyond
    what the units' own risk says (0 when the neutral score carries no department effect)."""
    config = load_config()
    settings = config.model.model_copy(
        update={
            "region_with_team": region_with_team,
            "lightgbm": config.model.lightgbm.model_copy(update={"n_estimators": 200}),
        }
    )
    rows = _rows_with_home_teams()
    region = {"name": "region_code", "kind": "categorical", "higher_is_riskier": None, "risk_area": None,
              "source": "units", "unit": "category", "window_months": None}  # fmt: skip
    catalog = [ModelFeature.from_spec(record) for record in [*toy_catalog(), region]]
    model = fit_risk_model(rows, final_split(AS_OF), catalog, list(TOY_AREAS_FEATURES), settings)
    last_year = rows.filter(pl.col("start_date") >= dt.date(2022, 1, 1)).with_columns(
        pl.lit(None, dtype=pl.String).alias("team")
    )
    scored = predict_rows(model, last_year, covariates="mix").join(  # type: ignore[arg-type]
        last_year.select("inspection_id", "risk_area", "region_code", "true_p_deficiency"),
        on=["inspection_id", "risk_area"],
    )

    def logit(column: str) -> pl.Expr:
        return (pl.col(column) / (1 - pl.col(column))).log()

    means = scored.group_by("region_code").agg(
        logit("p_deficiency").mean().alias("score"), logit("true_p_deficiency").mean().alias("own")
    )
    by_region = {r["region_code"]: r["score"] - r["own"] for r in means.iter_rows(named=True)}
    return by_region["01"] - by_region["14"]


def test_without_the_region_the_home_departments_strictness_stays_out_of_the_neutral_score() -> None:
    # given inspections where each region's own department (strict in 01, lenient in 14) inspects 90 %
    # of its units, and regions without any risk of their own
    # when the model may split on the region, and when it is grown without it (region_with_team="drop")
    kept, dropped = _region_leak("keep"), _region_leak("drop")
    # then with the region the strict department's units score higher team-neutral than their own risk
    # warrants, and without it far less of that difference is left
    assert kept > 0.15, f"expected the region to carry the department effect, got {kept:.2f} logits"
    assert abs(dropped) < kept / 3, f"keep {kept:.2f} vs drop {dropped:.2f} logits"


def test_the_region_is_left_out_only_when_asked_and_a_team_is_there() -> None:
    # given the toy catalog with the region among its features
    region = {"name": "region_code", "kind": "categorical", "higher_is_riskier": None, "risk_area": None,
              "source": "units", "unit": "category", "window_months": None}  # fmt: skip
    catalog = [ModelFeature.from_spec(record) for record in [*toy_catalog(), region]]
    keep = load_config().model.model_copy(update={"region_with_team": "keep"})
    drop = keep.model_copy(update={"region_with_team": "drop"})
    # when the features beside the covariates are chosen
    names = {
        label: [f.name for f in unit_features(catalog, covariates, chosen)]
        for label, covariates, chosen in (
            ("keep, team", ["team", "method"], keep),
            ("drop, team", ["team", "method"], drop),
            ("drop, method only", ["method"], drop),
        )
    }
    # then only "drop" with a team covariate loses the region, and nothing else
    assert "region_code" in names["keep, team"]
    assert names["drop, team"] == [n for n in names["keep, team"] if n != "region_code"]
    assert names["drop, method only"] == names["keep, team"]
