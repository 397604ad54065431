"""The inspecting team as an offset: a GLM of team and method under the trees (models/offset.py)."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone

from engine.config import load_config
from models.artifact import POOLED, ModelFeature, RiskModel, covariate_mix, design_matrix
from models.estimator import RiskClassifier, sigmoid
from models.offset import InspectionEffect, UnknownCovariateError, neutral_mix
from models.training import fit_risk_model, fit_risk_models, predict_rows
from models.validation import final_split, yearly_split
from tests.models_factory import TOY_AREAS_FEATURES, toy_catalog, toy_rows

AS_OF = dt.date(2023, 1, 1)
# Six departments whose strictness spans six logits: the inspector explains more of a finding than most
# of the unit's own signals (on real data the team took 59 % of the trees' gain).
STRONG_TEAMS = {"a": -3.0, "b": -2.0, "c": -1.0, "d": 1.0, "e": 2.0, "f": 3.0}


def _rows_with_strong_teams(seed: int = 0) -> pl.DataFrame:
    """Toy rows (a known unit risk, ``true_p_deficiency``) inspected by teams drawn at random, whose
    strictness shifts every finding's log-odds by :data:`STRONG_TEAMS`."""
    rng = np.random.default_rng(seed)
    rows = toy_rows(seed=seed)
    inspections = rows.get_column("inspection_id").unique().sort()
    teams = pl.DataFrame(
        {"inspection_id": inspections, "team": rng.choice(list(STRONG_TEAMS), size=inspections.len())}
    )
    rows = rows.join(teams, on="inspection_id")
    p = rows.get_column("true_p_deficiency").to_numpy()
    shift = rows.get_column("team").replace_strict(STRONG_TEAMS, return_dtype=pl.Float64).to_numpy()
    finding = (rng.random(rows.height) < sigmoid(np.log(p / (1 - p)) + shift)).astype(np.int8)
    return rows.with_columns(
        pl.Series("deficiency", finding, dtype=pl.Int8),
        pl.Series("serious", finding * (rng.random(rows.height) < 0.15), dtype=pl.Int8),
    )


def _fitted(rows: pl.DataFrame, team_effect: str) -> RiskModel:
    config = load_config()
    settings = config.model.model_copy(
        update={
            "team_effect": team_effect,
            "lightgbm": config.model.lightgbm.model_copy(update={"n_estimators": 200}),
        }
    )
    catalog = [ModelFeature.from_spec(record) for record in toy_catalog()]
    return fit_risk_model(rows, final_split(AS_OF), catalog, list(TOY_AREAS_FEATURES), settings)


@pytest.fixture(scope="module")
def strong() -> tuple[pl.DataFrame, RiskModel, RiskModel]:
    """The strong-team rows and the models grown on them with the team as an offset and as a feature."""
    rows = _rows_with_strong_teams()
    return rows, _fitted(rows, "offset"), _fitted(rows, "feature")


def _last_year(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.filter(pl.col("start_date") >= dt.date(2022, 1, 1))


def _rank_correlation(model: RiskModel, rows: pl.DataFrame) -> float:
    """Mean over the areas of the Spearman correlation of the team-neutral score with the unit's own risk."""
    scored = predict_rows(model, rows).join(
        rows.select("inspection_id", "risk_area", "true_p_deficiency"), on=["inspection_id", "risk_area"]
    )
    return float(
        np.mean(
            [
                spearmanr(area["p_deficiency"], area["true_p_deficiency"]).statistic
                for _, area in scored.group_by("risk_area", maintain_order=True)
            ]
        )
    )


def test_trees_on_the_offset_rank_units_closer_to_their_own_risk_than_with_the_team_as_a_feature(
    strong: tuple[pl.DataFrame, RiskModel, RiskModel],
) -> None:
    # given inspections whose findings depend strongly on the team and on the unit's own risk
    rows, offset, feature = strong
    # when both models score the last year's inspections team-neutral
    with_offset = _rank_correlation(offset, _last_year(rows))
    with_feature = _rank_correlation(feature, _last_year(rows))
    # then the trees grown on the team's offset rank the units' own risk better
    assert with_offset > with_feature + 0.01, f"offset {with_offset:.3f} vs feature {with_feature:.3f}"
    # and the trees never split on the team: it is not among the offset model's features
    assert "team" not in [f.name for f in offset.model_for(POOLED).features]
    assert "team" in [f.name for f in feature.model_for(POOLED).features]


def test_the_neutral_score_does_not_depend_on_the_team_recorded_for_the_unit(
    strong: tuple[pl.DataFrame, RiskModel, RiskModel],
) -> None:
    # given the same inspections, once recorded as made by the strictest team and once by the mildest
    rows, offset, _ = strong
    strict = _last_year(rows).with_columns(team=pl.lit("f"))
    mild = _last_year(rows).with_columns(team=pl.lit("a"))
    # when they are scored team-neutral
    # then the scores are identical
    assert predict_rows(offset, strict).equals(predict_rows(offset, mild)), (
        "the recorded team moved the score"
    )


def test_a_named_team_is_its_glm_effect_on_top_of_the_same_trees(
    strong: tuple[pl.DataFrame, RiskModel, RiskModel],
) -> None:
    # given the offset model and unit features at one planning date
    rows, offset, _ = strong
    features = _last_year(rows).unique("unit_id", keep="first", maintain_order=True).drop("team")
    area = "tillganglighet"
    model = offset.model_for(area)
    effect = model.deficiency_offset
    assert effect is not None
    # when every unit is scored for the strict team "e"
    planned = offset.predict_frame(features.with_columns(team=pl.lit("e")), contributions=False)
    p_planned = planned.filter(pl.col("risk_area") == area).get_column("p_deficiency").to_numpy()
    # then it is the calibrated probability of the trees plus the base rate plus team e's effect
    frame = offset.area_frame(features, area)
    raw = model.deficiency.predict_raw(design_matrix(frame, model.features, model.levels))
    expected = model.deficiency_calibrator.transform(
        sigmoid(raw + effect.base_ + effect.effects_["team"]["e"]), np.full(frame.height, area, dtype=object)
    )
    np.testing.assert_allclose(p_planned, expected, rtol=1e-12, atol=0)
    # and the GLM learnt the teams' order
    learnt = effect.effects_["team"]
    assert sorted(learnt, key=learnt.__getitem__) == list(STRONG_TEAMS), learnt
    # and the team-neutral score is the mix's average of the teams' scores, between the mildest and strictest
    neutral = offset.predict_frame(features, contributions=False).filter(pl.col("risk_area") == area)
    by_team = {
        team: offset.predict_frame(features.with_columns(team=pl.lit(team)), contributions=False)
        .filter(pl.col("risk_area") == area)
        .get_column("p_deficiency")
        .to_numpy()
        for team in STRONG_TEAMS
    }
    shares = dict(zip([c[0] for c in effect.mix_.combinations], effect.mix_.shares, strict=True))
    averaged = sum(shares[team] * p for team, p in by_team.items())
    np.testing.assert_allclose(neutral.get_column("p_deficiency").to_numpy(), averaged, rtol=1e-12)


def test_an_unknown_team_is_refused_with_the_known_teams(
    strong: tuple[pl.DataFrame, RiskModel, RiskModel],
) -> None:
    # given models trained with teams a–f and no method
    _, offset, feature = strong
    for model in (offset, feature):
        # when a plan names a team the model never saw, or a method it was trained without
        # then it is refused with the teams it knows
        with pytest.raises(
            UnknownCovariateError, match=r"unknown team 'x'; known: \['a', 'b', 'c', 'd', 'e', 'f'\]"
        ):
            model.check_planned({"team": "x"})
        with pytest.raises(UnknownCovariateError, match="trained without a method"):
            model.check_planned({"team": "a", "method": "platsbesok"})
        model.check_planned({"team": "a", "method": None})  # a known team passes


def test_no_team_is_not_a_team_of_its_own_in_the_neutral_mix() -> None:
    # given inspections of which a sixth have no recorded team
    rows = pl.DataFrame({"team": ["nord", "syd", None, "nord", "syd", "nord"], "method": ["platsbesok"] * 6})
    # when the neutral mix is taken, for the trees' features and for the offset
    mix = covariate_mix(rows, ["team", "method"])
    offset_mix = neutral_mix(rows, ["team", "method"])
    # then only known teams are in it, with their shares among the inspections with a known team
    assert mix is not None and offset_mix is not None
    assert mix.combinations == (("nord", "platsbesok"), ("syd", "platsbesok")), mix.combinations
    assert mix.shares == pytest.approx((0.6, 0.4)), mix.shares
    assert offset_mix.combinations == mix.combinations and offset_mix.shares == mix.shares


def test_an_inspection_without_a_team_gets_the_average_teams_effect() -> None:
    # given a GLM fitted on teams of different strictness, some inspections without a team
    rng = np.random.default_rng(0)
    team = rng.choice(["mild", "strict", None], size=3000, p=[0.5, 0.3, 0.2])
    shift = np.select([team == "mild", team == "strict"], [-1.0, 1.0], 0.0)
    y = (rng.random(3000) < sigmoid(shift)).astype(int)
    effect = InspectionEffect(effect_columns=["team"]).fit(pl.DataFrame({"team": team}), y)
    # when the offsets are read
    offsets = effect.offset(pl.DataFrame({"team": ["mild", "strict", None]}))
    # then the effects are centred on the mix of known teams, and no team means no effect
    learnt = effect.effects_["team"]
    shares = {
        combination[0]: share
        for combination, share in zip(effect.mix_.combinations, effect.mix_.shares, strict=True)
    }
    assert set(shares) == {"mild", "strict"}, f"the mix holds {sorted(shares)}"
    assert sum(shares[t] * learnt[t] for t in shares) == pytest.approx(0.0, abs=1e-12), (learnt, shares)
    assert learnt["strict"] - learnt["mild"] == pytest.approx(2.0, abs=0.3), learnt
    assert offsets[2] == effect.base_, "an inspection without a team got a team effect"
    # and the estimator follows scikit-learn's conventions (parameters only in __init__)
    assert clone(effect).get_params() == effect.get_params()
    assert not hasattr(clone(effect), "effects_")


def test_consecutive_splits_share_fits_on_the_offset_and_give_the_same_models() -> None:
    # given rows with teams and consecutive splits (each one's refit rows are the next one's fit rows)
    rows = _rows_with_strong_teams(seed=1)
    config = load_config()
    catalog = [ModelFeature.from_spec(record) for record in toy_catalog()]
    splits = [yearly_split(2021), yearly_split(2022), final_split(AS_OF)]
    # when they are fitted together (one fit serving two splits) and each alone
    together = fit_risk_models(rows, splits, catalog, list(TOY_AREAS_FEATURES), config.model)
    alone = [fit_risk_model(rows, s, catalog, list(TOY_AREAS_FEATURES), config.model) for s in splits]
    # then every split's model, its offset GLM included, predicts exactly what the model fitted alone does
    scored = rows.filter(pl.col("start_date").dt.year() >= 2021)
    for shared, own in zip(together, alone, strict=True):
        assert shared.model_for(POOLED).deficiency_offset is not None, "no offset with a team column"
        assert predict_rows(shared, scored).equals(predict_rows(own, scored))
        assert predict_rows(shared, scored, covariates="actual").equals(
            predict_rows(own, scored, covariates="actual")
        )


def test_a_model_pickled_before_the_offset_still_scores(
    strong: tuple[pl.DataFrame, RiskModel, RiskModel],
) -> None:
    # given a team-as-feature model whose area models were pickled before they had offsets
    rows, _, feature = strong
    before = feature.predict_frame(_last_year(rows).drop("team"), contributions=True)
    old = pickle.loads(pickle.dumps(feature))
    for model in old.area_models.values():
        del model.__dict__["deficiency_offset"], model.__dict__["serious_offset"]
    restored = pickle.loads(pickle.dumps(old))
    # when it scores
    after = restored.predict_frame(_last_year(rows).drop("team"), contributions=True)
    # then it scores as before
    assert after.equals(before)


def test_the_trees_grow_on_the_init_score_and_predict_with_it_added_back() -> None:
    # given rows whose log-odds are a known offset plus a feature's effect
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 2))  # noqa: N806 - scikit-learn's name of a feature matrix
    offset = rng.choice([-2.0, 2.0], size=2000)
    y = (rng.random(2000) < sigmoid(offset + X[:, 0])).astype(int)
    model = RiskClassifier(n_estimators=50, min_child_samples=20)
    # when the trees are grown on the offset
    model.fit(X, y, init_score=offset)
    # then the predicted probability is σ(trees + offset)
    np.testing.assert_allclose(
        model.predict_proba(X, init_score=offset)[:, 1], sigmoid(model.predict_raw(X) + offset), rtol=1e-12
    )
    # and the trees did not learn the offset again: their log-odds barely differ between its two values
    raw = model.predict_raw(X)
    assert abs(raw[offset > 0].mean() - raw[offset < 0].mean()) < 0.3
    # and an eval set must carry its rows' offsets when the fit has one
    with pytest.raises(ValueError, match="given together"):
        model.fit(X, y, init_score=offset, eval_set=(X, y, None))
