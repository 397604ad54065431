"""The served model learns from every labelled inspection, the most recent year included (issue 10)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from engine.config import load_config
from models.artifact import POOLED, ModelFeature
from models.estimator import RiskClassifier
from models.training import fit_risk_model, fit_risk_models, predict_rows
from models.validation import final_split, yearly_split
from tests.models_factory import TOY_AREAS_FEATURES, toy_catalog, toy_rows

AS_OF = dt.date(2023, 1, 1)


def _rows_with_a_new_pattern_in_the_last_year() -> pl.DataFrame:
    """Toy rows in which, in 2022 only, every inspected private unit had a finding and no public one."""
    rows = toy_rows(seed=4)
    last_year = pl.col("start_date").dt.year() == 2022
    private = (pl.col("ownership") == "private").cast(pl.Int8)
    return rows.with_columns(
        pl.when(last_year).then(private).otherwise(pl.col("deficiency")).cast(pl.Int8).alias("deficiency")
    )


def _private_minus_public(fit_on_all_labelled: bool, rows: pl.DataFrame) -> float:
    config = load_config()
    settings = config.model.model_copy(update={"fit_on_all_labelled": fit_on_all_labelled})
    catalog = [ModelFeature.from_spec(record) for record in toy_catalog()]
    model = fit_risk_model(rows, final_split(AS_OF), catalog, list(TOY_AREAS_FEATURES), settings)
    scored = rows.filter(pl.col("start_date").dt.year() == 2022)
    predicted = predict_rows(model, scored).join(
        scored.select("inspection_id", "risk_area", "ownership"), on=["inspection_id", "risk_area"]
    )
    means = dict(predicted.group_by("ownership").agg(pl.col("p_deficiency").mean()).iter_rows())
    return float(means["private"] - means["public"])


def test_the_final_model_learns_what_only_the_most_recent_year_shows() -> None:
    # given a pattern that appears only in the year before the planning date
    rows = _rows_with_a_new_pattern_in_the_last_year()
    # when the final model is fitted on every labelled inspection, and (before issue 10) without that year
    with_last_year = _private_minus_public(True, rows)
    without_last_year = _private_minus_public(False, rows)
    # then only the model that learnt from the last year scores private units higher
    assert with_last_year > 0.1, f"the last year's pattern was not learnt: {with_last_year:.3f}"
    assert with_last_year - without_last_year > 0.07, (with_last_year, without_last_year)


def test_the_refit_takes_its_rounds_from_early_stopping_and_never_sees_the_test_year() -> None:
    # given toy rows and the test fold 2021
    rows = toy_rows(seed=1)
    config = load_config()
    catalog = [ModelFeature.from_spec(record) for record in toy_catalog()]
    split = yearly_split(2021)
    # when the fold's model is fitted
    model = fit_risk_model(rows, split, catalog, list(TOY_AREAS_FEATURES), config.model)
    # then its trees were grown on every row decided before 2021 and on no later one
    decided_before = rows.filter(pl.col("decision_date") < dt.date(2021, 1, 1)).height
    assert model.metadata["refit_rows"] == decided_before
    assert model.metadata["refit_rows"] > model.metadata["fit_rows"] + model.metadata["held_out_rows"] - 1
    # with as many rounds as early stopping on the held-out year chose (fewer than the maximum)
    rounds = model.metadata["boosting_rounds"][POOLED]
    assert rounds == model.area_models[POOLED].deficiency.booster_.current_iteration()
    assert rounds < config.model.lightgbm.n_estimators


@pytest.mark.parametrize("fit_on_all_labelled", [True, False], ids=["all-labelled", "before-held-out"])
def test_both_schemes_stay_point_in_time(fit_on_all_labelled: bool) -> None:
    rows = toy_rows(seed=2)
    config = load_config()
    settings = config.model.model_copy(update={"fit_on_all_labelled": fit_on_all_labelled})
    catalog = [ModelFeature.from_spec(record) for record in toy_catalog()]
    split = yearly_split(2022)
    # a test-year label flipped must not change the fold's model
    flipped = rows.with_columns(
        pl.when(split.test_filter())
        .then(1 - pl.col("deficiency"))
        .otherwise(pl.col("deficiency"))
        .alias("deficiency")
    )
    test = rows.filter(split.test_filter())
    a = predict_rows(fit_risk_model(rows, split, catalog, list(TOY_AREAS_FEATURES), settings), test)
    b = predict_rows(fit_risk_model(flipped, split, catalog, list(TOY_AREAS_FEATURES), settings), test)
    assert a["p_deficiency"].to_list() == b["p_deficiency"].to_list()


def test_consecutive_splits_share_lightgbm_fits_and_give_the_same_models(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # given toy rows and consecutive splits: each one's refit rows are the next one's fit rows
    rows = toy_rows(seed=1)
    config = load_config()
    catalog = [ModelFeature.from_spec(record) for record in toy_catalog()]
    splits = [yearly_split(2021), yearly_split(2022), final_split(AS_OF)]
    fits: list[int] = []
    original = RiskClassifier.fit

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        fits.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RiskClassifier, "fit", counted)
    # when they are fitted together, and each alone
    together = fit_risk_models(rows, splits, catalog, list(TOY_AREAS_FEATURES), config.model)
    fits_together = len(fits)
    alone = [fit_risk_model(rows, s, catalog, list(TOY_AREAS_FEATURES), config.model) for s in splits]
    fits_alone = len(fits) - fits_together
    # then fitting them together needs fewer LightGBM fits (one per split and label, plus one)
    assert fits_together < fits_alone, (fits_together, fits_alone)
    # and every split's model predicts exactly what the model fitted alone predicts
    scored = rows.filter(pl.col("start_date").dt.year() >= 2021)
    for shared, own in zip(together, alone, strict=True):
        assert shared.metadata == own.metadata
        assert predict_rows(shared, scored).equals(predict_rows(own, scored))
