"""Issue 10: on a small real-shaped history built by hand (tests/history_factory.py), every new feature
has the value worked out by hand, and is point-in-time correct: at each date a record becomes known,
the features equal those of the history cut to what was known strictly before. With a panel of units
inspected by two teams with very different finding rates, a model trained on the same history learns
the team effect, and scoring neutralises it (the last two tests)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.config import Config, load_config
from features.catalog import feature_catalog
from features.pipeline import build_features
from tests.history_factory import (
    CHANGED,
    LENIENT_TEAM,
    MANAGER_CHANGE,
    OWNERSHIP_CHANGE,
    QUIET,
    REPEAT,
    STEADY,
    STRICT_TEAM,
    TEAM_FINDING_RATES,
    attribute_rows,
    real_shaped_history,
    repeat_offender_inspections,
    team_inspections,
)

AS_OF = dt.date(2023, 1, 1)
SURVEY = "patient_survey_participation_index"
ATTRIBUTES = "unit_attributes"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def history(config: Config) -> dict[str, pl.DataFrame]:
    return {name: frame.collect() for name, frame in real_shaped_history(config).items()}


def features_at(tables: dict[str, pl.DataFrame], dates: list[dt.date], config: Config) -> pl.DataFrame:
    return build_features({name: frame.lazy() for name, frame in tables.items()}, dates, config).collect()


def value(frame: pl.DataFrame, unit: str, feature: str, as_of: dt.date = AS_OF) -> object:
    return frame.filter((pl.col("unit_id") == unit) & (pl.col("as_of") == as_of))[feature].item()


def test_the_teams_find_deficiencies_at_their_stated_rates(history: dict[str, pl.DataFrame]) -> None:
    # given the team-alternating inspections of the history (the model side learns this effect)
    rows = history["inspections"].filter(pl.col("inspection_id").str.starts_with("T-"))
    rates = dict(rows.group_by("team").agg((pl.col("finding") != "none").mean()).iter_rows())
    # then the strict team finds four times as often as the lenient one
    assert rates == pytest.approx(TEAM_FINDING_RATES)
    assert rates[STRICT_TEAM] == pytest.approx(4 * rates[LENIENT_TEAM])


# Worked out by hand from tests/history_factory.py at 2023-01-01 (decisions strictly before it).
HAND_COMPUTED: list[tuple[str, str, object]] = [
    # REPEAT: five decisions, the last (2022-12-19) a follow-up with no finding
    (REPEAT, "history_inspections", 5.0),
    (REPEAT, "history_days_since_inspection", 13.0),
    (REPEAT, "history_days_since_finding", 200.0),  # R-2022, decided 2022-06-15
    (REPEAT, "history_last_finding_level", 0.0),
    (REPEAT, "history_last_was_follow_up", 1.0),
    # [2022-01-01, 2023-01-01): R-2022 reports 4 deficiencies, 1 serious; the follow-up none
    (REPEAT, "history_deficiencies_12m", 4.0),
    (REPEAT, "history_serious_12m", 1.0),
    # [2020-01-01, 2023-01-01): counts where reported (3+1, 2+0, 4), one per finding where not (R-2020-U)
    (REPEAT, "history_deficiencies_36m", 11.0),
    (REPEAT, "history_serious_36m", 4.0),
    (REPEAT, "history_kontinuitet_deficiencies_36m", 10.0),
    (REPEAT, "history_kontinuitet_serious_36m", 4.0),
    (REPEAT, "history_tillganglighet_deficiencies_36m", 1.0),
    (REPEAT, "history_tillganglighet_last_finding_level", 1.0),
    (REPEAT, "history_kontinuitet_last_finding_level", 0.0),
    # STEADY: inspected twice a year, alternately 4 of 5 and 1 of 5 areas deficient; last 2022-07-05 + 60
    (STEADY, "history_inspections", 8.0),
    (STEADY, "history_deficiencies_12m", 5.0),
    (STEADY, "history_serious_36m", 0.0),
    (STEADY, "history_last_finding_level", 1.0),
    (STEADY, "history_last_was_follow_up", 0.0),
    # QUIET was never inspected
    (QUIET, "history_last_finding_level", None),
    (QUIET, "history_days_since_finding", None),
    (QUIET, "history_deficiencies_36m", 0.0),
    # CHANGED: new owner 2022-03-15 (292 days), new verksamhetschef only in 2023-05, hyrläkare 0.10
    # (the 0.40 valid from 2023-01-01 is not known at 2023-01-01 itself)
    (CHANGED, f"{ATTRIBUTES}_ownership_change_days_since", 292.0),
    (CHANGED, f"{ATTRIBUTES}_ownership_change_count_24m", 1.0),
    (CHANGED, f"{ATTRIBUTES}_manager_change_days_since", None),
    (CHANGED, f"{ATTRIBUTES}_manager_change_count_24m", 0.0),
    (CHANGED, f"{ATTRIBUTES}_temporary_doctor_share", 0.10),
    (STEADY, f"{ATTRIBUTES}_temporary_doctor_share", 0.05),
    (QUIET, f"{ATTRIBUTES}_temporary_doctor_share", None),
    # Survey (lag 1 month + 14 days): at 2023-01-01 the latest published month is October 2022, when
    # CHANGED's index had fallen to 70; the 3 months Aug-Oct average 71; region 12 = CHANGED and QUIET
    (CHANGED, f"{SURVEY}_latest", 70.0),
    (CHANGED, f"{SURVEY}_3m", 71.0),
    (CHANGED, f"{SURVEY}_gap_region_median", 70.0 - 80.0),  # median of 70 and 90
    (CHANGED, f"{SURVEY}_gap_national", 70.0 - (90.0 + 82.0 + 70.0 + 70.0) / 4),
    (CHANGED, f"{SURVEY}_months_below_threshold_12m", 0.0),  # threshold 70: "below" is < 70
    (QUIET, f"{SURVEY}_slope_12m", 0.0),
]


@pytest.fixture(scope="module")
def at_as_of(history: dict[str, pl.DataFrame], config: Config) -> pl.DataFrame:
    return features_at(history, [AS_OF], config)


@pytest.mark.parametrize(("unit", "feature", "expected"), HAND_COMPUTED, ids=lambda x: str(x)[-28:])
def test_each_new_feature_has_its_hand_computed_value(
    at_as_of: pl.DataFrame, unit: str, feature: str, expected: object
) -> None:
    got = value(at_as_of, unit, feature)
    assert got == (pytest.approx(expected) if isinstance(expected, float) else expected)


def test_every_new_feature_family_is_in_the_catalog_with_a_sentence(config: Config) -> None:
    new = [
        spec
        for spec in feature_catalog(config)
        if spec.source in (ATTRIBUTES, "patient_survey")
        or (
            spec.name.startswith("history_")
            and spec.name.endswith(("_12m", "_36m", "finding_level", "follow_up", "since_finding"))
        )
    ]
    assert len(new) >= 40
    for spec in new:
        assert spec.description_sv and spec.description_en, spec.name
        assert "{value}" in spec.template_sv, spec.name


def publication_date(month: dt.date, config: Config) -> dt.date:
    """The day a survey month is published: lag months after it ends, plus lag days."""
    source = config.indicator_sources["patient_survey"]
    index = month.year * 12 + month.month - 1 + 1 + source.publication_lag_months
    return dt.date(index // 12, index % 12 + 1, 1) + dt.timedelta(days=source.publication_lag_days)


def known_before(tables: dict[str, pl.DataFrame], as_of: dt.date, config: Config) -> dict[str, pl.DataFrame]:
    """The history cut to what IVO knew strictly before ``as_of`` (written independently of features/)."""
    cut = dict(tables)
    cut["inspections"] = tables["inspections"].filter(pl.col("decision_date") < as_of)
    survey = config.indicator_sources["patient_survey"]
    months = tables[survey.file]["period"].unique().to_list()
    published = [month for month in months if publication_date(month, config) <= as_of]
    cut[survey.file] = tables[survey.file].filter(pl.col("period").is_in(published))
    lag = config.attribute_sources[ATTRIBUTES].publication_lag_days
    attributes = config.attribute_sources[ATTRIBUTES].file
    cut[attributes] = tables[attributes].filter(pl.col("valid_from") + dt.timedelta(days=lag) < as_of)
    return cut


def boundary_dates(config: Config) -> list[dt.date]:
    """Days records of every kind become known, and the day after each: every decision of the
    repeat offender, two team decisions, every attribute and two survey publications (bounded:
    each date is one feature build)."""
    inspections = [inspection.decision for inspection in repeat_offender_inspections()]
    inspections += [inspection.decision for inspection in team_inspections()[5:8:2]]
    attributes = [valid_from for _, valid_from, _, _ in attribute_rows()]
    survey = [publication_date(dt.date(2022, month, 1), config) for month in (3, 10)]
    days = {day + dt.timedelta(days=shift) for day in inspections + attributes + survey for shift in (0, 1)}
    return sorted(days)


@pytest.mark.slow
def test_at_every_boundary_the_features_equal_those_of_the_history_known_before_it(
    history: dict[str, pl.DataFrame], config: Config
) -> None:
    # given features on the full history at every day a record becomes known (and the days around it)
    dates = boundary_dates(config)
    full = features_at(history, dates, config)
    # then at each date they equal the features of the history cut to what was known before that date
    for as_of in dates:
        expected = features_at(known_before(history, as_of, config), [as_of], config)
        assert_frame_equal(full.filter(pl.col("as_of") == as_of), expected, check_exact=False)


BOUNDARY_CASES: list[tuple[str, str, dt.date, object, object]] = [
    # a decision counts from the day after it: R-2022-U (2022-12-19) was a follow-up
    (REPEAT, "history_last_was_follow_up", dt.date(2022, 12, 19), 0.0, 1.0),
    # R-2022, decided 2022-06-15: before it the last decision was R-2021 (2021-05-31, 380 days)
    (REPEAT, "history_days_since_inspection", dt.date(2022, 6, 15), 380.0, 1.0),
    # ... and R-2021's serious finding has left the 12-month window by then
    (REPEAT, "history_serious_12m", dt.date(2022, 6, 15), 0.0, 1.0),
    # an attribute counts from the day after valid_from (lag 0)
    (CHANGED, f"{ATTRIBUTES}_temporary_doctor_share", dt.date(2023, 1, 1), 0.10, 0.40),
    (CHANGED, f"{ATTRIBUTES}_manager_change_count_24m", MANAGER_CHANGE, 0.0, 1.0),
    (CHANGED, f"{ATTRIBUTES}_ownership_change_days_since", OWNERSHIP_CHANGE, None, 1.0),
]


@pytest.mark.parametrize("case", BOUNDARY_CASES, ids=lambda case: case[1])
def test_a_record_changes_its_feature_from_the_day_after_it_is_known(
    history: dict[str, pl.DataFrame], config: Config, case: tuple[str, str, dt.date, object, object]
) -> None:
    unit, feature, day, before, after = case
    next_day = day + dt.timedelta(days=1)
    frame = features_at(history, [day, next_day], config)
    assert value(frame, unit, feature, day) == before
    assert value(frame, unit, feature, next_day) == after


def test_a_survey_month_counts_from_its_publication_day(
    history: dict[str, pl.DataFrame], config: Config
) -> None:
    # October 2022 is published 1 month after it ends plus 14 days: on 2022-12-15
    published = publication_date(dt.date(2022, 10, 1), config)
    assert published == dt.date(2022, 12, 15)
    frame = features_at(history, [published - dt.timedelta(days=1), published], config)
    assert value(frame, CHANGED, f"{SURVEY}_latest", published - dt.timedelta(days=1)) == 71.0  # September
    assert value(frame, CHANGED, f"{SURVEY}_latest", published) == 70.0


def test_a_version_1_history_is_read_with_the_new_columns_empty(
    history: dict[str, pl.DataFrame], config: Config
) -> None:
    # given the same history as a version-1 snapshot holds it: no covariates or counts, no new sources
    version_1 = {
        name: frame
        for name, frame in history.items()
        if name not in ("patient_survey", config.attribute_sources[ATTRIBUTES].file)
    }
    version_1["inspections"] = history["inspections"].drop(
        "team", "method", "deficiency_count", "serious_count"
    )
    # when features are built
    frame = features_at(version_1, [AS_OF], config)
    # then the columns are the same, counts fall back to one per finding, and the new sources are empty
    assert frame.columns == features_at(history, [AS_OF], config).columns
    assert value(frame, REPEAT, "history_deficiencies_36m") == 5.0  # 2 + 1 + 1 + 1 assessed with a finding
    assert value(frame, REPEAT, "history_serious_36m") == 3.0
    assert value(frame, CHANGED, f"{ATTRIBUTES}_temporary_doctor_share") is None
    assert value(frame, CHANGED, f"{SURVEY}_latest") is None


def test_a_value_source_without_count_columns_builds_on_its_own(
    history: dict[str, pl.DataFrame], config: Config
) -> None:
    # given the survey table as a value-only export holds it (no numerator/denominator columns)
    from features.context import active_units, unit_keys
    from features.indicators import indicator_features

    survey = history["patient_survey"].drop("numerator", "denominator")
    units_at = active_units(history["units"].lazy(), history["providers"].lazy(), [AS_OF])
    # when its family is built alone, then it gives the same latest value as the full build
    frame = indicator_features(
        survey.lazy(),
        units_at,
        history["units"].lazy(),
        unit_keys(history["units"].lazy()),
        name="patient_survey",
        source=config.indicator_sources["patient_survey"],
        stop_reporting_months=config.quality.stop_reporting_months,
    ).collect()
    assert frame[f"{SURVEY}_latest"].drop_nulls().sort().to_list() == [70.0, 70.0, 82.0, 90.0]


# --- the team effect: learnt from the history, neutralised at scoring --------------------------------

PLANNING_DATE = dt.date(2024, 1, 1)
PANEL_UNITS = 40


@pytest.fixture(scope="module")
def trained_on_history(config: Config) -> tuple[Any, Any]:
    """The history with a panel of team-inspected units, through the training path of `train`."""
    from models.jobs import build_training_data
    from models.training import fit_risk_model
    from models.validation import final_split

    tables = real_shaped_history(config, team_panel_units=PANEL_UNITS)
    data = build_training_data(tables, config, as_of=PLANNING_DATE, snapshot_id="hand-built")
    lightgbm = config.model.lightgbm.model_copy(update={"n_estimators": 150, "min_child_samples": 20})
    settings = config.model.model_copy(update={"lightgbm": lightgbm})
    split = final_split(PLANNING_DATE)
    model = fit_risk_model(data.rows, split, data.catalog, config.risk_area_ids, settings)
    return data, model


def mean_risk(model: Any, rows: pl.DataFrame, team: str, covariates: str) -> float:
    from models.training import predict_rows

    recorded = rows.with_columns(pl.lit(team, dtype=pl.String).alias("team"))
    return float(predict_rows(model, recorded, covariates=covariates)["p_deficiency"].mean())  # type: ignore[arg-type]


def test_the_team_effect_in_the_history_is_learnt_and_neutralised_at_scoring(
    trained_on_history: tuple[Any, Any],
) -> None:
    # given a model trained on the hand-built history, whose team panel finds 80 % vs 20 % by team
    data, model = trained_on_history
    assert model.metadata["inspection_covariates"] == ["team", "method"]
    last_year = data.rows.filter(pl.col("start_date") >= dt.date(2023, 1, 1))
    # when last year's inspections are scored as if the strict, then the lenient team had inspected
    strict = mean_risk(model, last_year, STRICT_TEAM, "actual")
    lenient = mean_risk(model, last_year, LENIENT_TEAM, "actual")
    # then the model has learnt most of the teams' 60-point difference
    assert strict - lenient > 0.3, (strict, lenient)
    # when the same rows are scored as `tillsynsrisk score` does (no planned team)
    neutral_if_strict = mean_risk(model, last_year, STRICT_TEAM, "mix")
    neutral_if_lenient = mean_risk(model, last_year, LENIENT_TEAM, "mix")
    # then which team happened to inspect changes nothing, and the score lies between the teams'
    assert neutral_if_strict == neutral_if_lenient
    assert lenient < neutral_if_strict < strict


def test_the_planning_date_scores_name_no_team_and_follow_a_planned_one(
    trained_on_history: tuple[Any, Any],
) -> None:
    # given the unit features on the planning date (they carry no team: no inspection is planned yet)
    data, model = trained_on_history
    features = data.latest_features
    assert not {"team", "method"} & set(features.columns)
    # when scored without a plan, and with the strict and the lenient team planned
    neutral = model.predict_frame(features, contributions=True)
    planned = {
        team: model.predict_frame(features.with_columns(team=pl.lit(team)), contributions=False)
        for team in (STRICT_TEAM, LENIENT_TEAM)
    }
    # then every unit's team-neutral risk lies between its risks under the two teams
    key = ["unit_id", "risk_area"]
    joined = neutral.join(planned[STRICT_TEAM], on=key, suffix="_strict").join(
        planned[LENIENT_TEAM], on=key, suffix="_lenient"
    )
    assert (joined["p_deficiency_lenient"] < joined["p_deficiency"]).all()
    assert (joined["p_deficiency"] < joined["p_deficiency_strict"]).all()
    # and no reason given to a planner names the team or the method
    assert not {"team", "method"} & set(neutral.schema["contributions"].to_schema())  # type: ignore[union-attr]
