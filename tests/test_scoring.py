"""Scoring: predictions + features → the scores contract, with Swedish explanations."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from engine.config import load_config
from engine.scores import OVERALL, validated_scores
from models.estimator import RiskClassifier
from serving.scoring import (
    default_as_of,
    explanation_sentence,
    formatted_value,
    provider_rollup,
    reasons_that_carry_weight,
    relative_contributions,
    says_something,
    scores_frame,
    top_contributions,
)
from tests.scores_factory import provider_ids, unit_id

AS_OF = dt.date(2026, 1, 1)
AREAS = ("tillganglighet", "kontinuitet")
CATALOG = [
    {
        "name": "complaints_tillganglighet_count_12m",
        "kind": "numeric",
        "unit": "count",
        "template_sv": "Klagomål om tillgänglighet senaste 12 mån: {value}",
    },
    {
        "name": "availability_phone_same_day_share_3m",
        "kind": "numeric",
        "unit": "share",
        "template_sv": "Telefontillgänglighet samma dag senaste 3 mån: {value}",
    },
    {
        "name": "continuity_not_reporting",
        "kind": "numeric",
        "unit": "flag",
        "template_sv": "Rapporterar inte till Kontinuitet: {value}",
    },
    {"name": "ownership", "kind": "categorical", "unit": "category", "template_sv": "Driftsform: {value}"},
]


@pytest.mark.parametrize(
    ("value", "unit", "feature", "expected"),
    [
        (9.0, "count", "complaints_count_12m", "9"),
        (12345.0, "patients", "listed_patients", "12\N{NO-BREAK SPACE}345"),
        (0.384, "share", "availability_phone_same_day_share_3m", "38 %"),
        (
            -0.32,
            "ratio",
            "availability_phone_same_day_share_gap_region_median",
            "\N{MINUS SIGN}32 procentenheter",
        ),
        (17.56, "per_10k", "complaints_per_10k_12m", "17,6"),
        (-0.5, "ratio", "complaints_trend_12m", "\N{MINUS SIGN}0,50"),
        (1.0, "flag", "continuity_not_reporting", "ja"),
        (0.0, "flag", "continuity_not_reporting", "nej"),
        (None, "count", "complaints_count_12m", "uppgift saknas"),
        (math.nan, "share", "availability_phone_same_day_share_3m", "uppgift saknas"),
    ],
    ids=["count", "thousands", "share", "gap", "rate", "ratio", "flag-yes", "flag-no", "null", "nan"],
)
def test_values_are_written_the_way_a_swedish_planner_reads_them(
    value: float | None, unit: str, feature: str, expected: str
) -> None:
    assert formatted_value(value, unit, feature) == expected


def test_sentence_names_the_value_and_the_regional_median() -> None:
    sentence = explanation_sentence(
        "complaints_tillganglighet_count_12m", CATALOG[0]["template_sv"], "count", 9.0, None, 2.0
    )
    assert sentence == "Klagomål om tillgänglighet senaste 12 mån: 9 (regionens median 2)"


@pytest.mark.parametrize(
    ("feature", "unit", "value", "label", "expected"),
    [
        ("continuity_not_reporting", "flag", 1.0, None, "Rapporterar inte: ja"),
        ("ownership", "category", None, "private", "Rapporterar inte: privat"),
        ("region_code", "category", None, "01", "Rapporterar inte: Stockholm"),
        ("availability_x_gap_region_median", "ratio", -0.1, None, "Rapporterar inte: −10 procentenheter"),
    ],
    ids=["flag", "ownership", "region", "gap-to-median"],
)
def test_sentence_leaves_out_a_median_that_says_nothing(
    feature: str, unit: str, value: float | None, label: str | None, expected: str
) -> None:
    assert explanation_sentence(feature, "Rapporterar inte: {value}", unit, value, label, 0.0) == expected


def _contributions(values: dict[str, float]) -> dict[str, float]:
    return {spec["name"]: values.get(str(spec["name"]), 0.0) for spec in CATALOG}


def _world() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Three units in region 01 (one private), two risk areas; unit 0 has the strongest signals."""
    pid = provider_ids(2)
    units = pl.DataFrame(
        {
            "unit_id": [unit_id(i) for i in range(3)],
            "name": ["Vårdcentralen A", "Vårdcentralen B", "Vårdcentralen C"],
            "listed_patients": [9000, 4000, 12000],
        }
    )
    providers = pl.DataFrame({"provider_id": pid, "name": ["Region Stockholm", "Vård AB"]})
    features = pl.DataFrame(
        {
            "unit_id": [unit_id(i) for i in range(3)],
            "as_of": [AS_OF] * 3,
            "provider_id": [pid[0], pid[0], pid[1]],
            "region_code": ["01"] * 3,
            "municipality_code": ["0180"] * 3,
            "unit_type": ["vardcentral"] * 3,
            "ownership": ["public", "public", "private"],
            "complaints_tillganglighet_count_12m": [9.0, 2.0, 1.0],
            "availability_phone_same_day_share_3m": [0.40, 0.90, None],
            "continuity_not_reporting": [0.0, 0.0, 1.0],
        }
    )
    contributions = {
        (0, "tillganglighet"): {
            "complaints_tillganglighet_count_12m": 0.8,
            "availability_phone_same_day_share_3m": 0.5,
        },
        (0, "kontinuitet"): {"continuity_not_reporting": -0.2, "complaints_tillganglighet_count_12m": 0.1},
        (1, "tillganglighet"): {"complaints_tillganglighet_count_12m": -0.3},
        (1, "kontinuitet"): {},
        (2, "tillganglighet"): {"ownership": 0.2, "availability_phone_same_day_share_3m": 0.3},
        (2, "kontinuitet"): {"continuity_not_reporting": 0.9},
    }
    p = {
        (0, "tillganglighet"): (0.8, 0.2),
        (0, "kontinuitet"): (0.3, 0.4),  # serious above deficiency: must be clipped
        (1, "tillganglighet"): (0.1, 0.01),
        (1, "kontinuitet"): (0.2, 0.02),
        (2, "tillganglighet"): (0.5, 0.1),
        (2, "kontinuitet"): (0.9, 0.3),
    }
    predictions = pl.DataFrame(
        [
            {
                "unit_id": unit_id(i),
                "as_of": AS_OF,
                "risk_area": area,
                "p_deficiency": p[(i, area)][0],
                "p_serious": p[(i, area)][1],
                "contributions": _contributions(contributions[(i, area)]),
            }
            for i in range(3)
            for area in AREAS
        ]
    )
    return predictions, features, units, providers


def _scores() -> pl.DataFrame:
    predictions, features, units, providers = _world()
    frame = scores_frame(
        predictions.lazy(), features.lazy(), units.lazy(), providers.lazy(), CATALOG, explanations_per_row=2
    )
    return frame.collect()


def _row(frame: pl.DataFrame, index: int, area: str) -> dict[str, object]:
    return frame.filter((pl.col("unit_id") == unit_id(index)) & (pl.col("risk_area") == area)).row(
        0, named=True
    )


def test_scores_frame_satisfies_the_scores_contract() -> None:
    frame = _scores()
    validated = validated_scores(frame)
    assert validated.height == 3 * (len(AREAS) + 1), "one row per unit and area plus overall"


def test_overall_is_the_mean_over_the_areas_and_ranks_within_itself() -> None:
    frame = _scores()
    # unit 2: (0.5 + 0.9) / 2 = 0.7 beats unit 0: (0.8 + 0.3) / 2 = 0.55
    assert _row(frame, 2, OVERALL)["p_deficiency"] == pytest.approx(0.7)
    assert _row(frame, 2, OVERALL)["rank"] == 1 and _row(frame, 0, OVERALL)["rank"] == 2
    assert _row(frame, 0, "tillganglighet")["rank"] == 1


def test_serious_probability_never_exceeds_deficiency() -> None:
    assert _row(_scores(), 0, "kontinuitet")["p_serious"] == pytest.approx(0.3)


def test_explanations_are_the_strongest_risk_raising_features_in_order() -> None:
    frame = _scores()
    top = _row(frame, 0, "tillganglighet")["explanations"]
    assert [e["feature"] for e in top] == [  # type: ignore[union-attr]
        "complaints_tillganglighet_count_12m",
        "availability_phone_same_day_share_3m",
    ]
    assert top[0]["sentence_sv"] == "Klagomål om tillgänglighet senaste 12 mån: 9 (regionens median 2)"  # type: ignore[index]
    assert top[1]["sentence_sv"] == (  # type: ignore[index]
        "Telefontillgänglighet samma dag senaste 3 mån: 40 % (regionens median 65 %)"
    ), "the median ignores the unit with no report"
    assert _row(frame, 1, "tillganglighet")["explanations"] == [], "a risk-lowering feature is no reason"


def test_explanations_of_a_categorical_feature_carry_its_label_not_a_number() -> None:
    explained = _row(_scores(), 2, "tillganglighet")["explanations"]
    by_feature = {e["feature"]: e for e in explained}  # type: ignore[union-attr]
    assert by_feature["ownership"]["sentence_sv"] == "Driftsform: privat"
    assert by_feature["ownership"]["value"] is None


def test_a_missing_value_is_never_a_reason() -> None:
    # Given unit 2, whose phone share is unknown but pushes its risk up, when it is explained
    explained = _row(_scores(), 2, "tillganglighet")["explanations"]
    # Then "uppgift saknas" is not offered as a reason
    sentences = [e["sentence_sv"] for e in explained]  # type: ignore[union-attr]
    assert not any("uppgift saknas" in sentence for sentence in sentences), sentences


def test_only_contributions_above_the_threshold_become_reasons() -> None:
    # Given contributions of 0.8 and 0.5 (unit 0) and 0.1 (unit 0, kontinuitet)
    predictions, _, _, _ = _world()
    # When the threshold is 0.3, then only the two strong ones remain
    kept = top_contributions(predictions.lazy(), 5, min_contribution=0.3).collect()
    assert sorted(kept["contribution"].to_list()) == [0.3, 0.5, 0.8, 0.9], kept
    assert kept.filter(pl.col("contribution") < 0.3).is_empty(), "a small push is no reason"


def test_a_value_equal_to_its_regional_median_is_no_reason() -> None:
    # Given a feature whose value and regional median read the same
    row = {"feature": "x", "feature_unit": "ratio", "value": 0.001, "label": None, "region_median": 0.0}
    # Then it says nothing about the unit ("0,00 (regionens median 0,00)")
    assert not says_something(row), "a value equal to the median is no reason"
    assert says_something(row | {"value": 0.5}), "a value apart from the median is a reason"
    assert not says_something(row | {"value": None}), "an unknown value is no reason"


def test_a_value_that_rounds_to_zero_is_written_without_a_sign() -> None:
    assert formatted_value(-0.01, "value") == "0,0", "never −0,0"
    assert formatted_value(-0.2, "value") == "\N{MINUS SIGN}0,2"


def test_pages_show_only_stored_reasons_that_carry_weight() -> None:
    # Given reasons stored by an earlier scoring (no threshold then)
    stored = [
        {"sentence_sv": "Klagomål: 9 (regionens median 2)", "contribution": 0.6},
        {"sentence_sv": "Telefontillgänglighet: uppgift saknas", "contribution": 0.4},
        {"sentence_sv": "Kontinuitet: 0,50 (regionens median 0,52)", "contribution": 0.02},
    ]
    # When a page reads them with the configured threshold, then only the first is left
    kept = reasons_that_carry_weight(stored, load_config().scoring.min_contribution)
    assert [reason["sentence_sv"] for reason in kept] == ["Klagomål: 9 (regionens median 2)"], kept


def test_scores_carry_unit_and_provider_names() -> None:
    row = _row(_scores(), 2, OVERALL)
    assert (row["unit_name"], row["provider_name"], row["listed_patients"]) == (
        "Vårdcentralen C",
        "Vård AB",
        12000,
    )


def test_provider_rollup_counts_high_risk_units() -> None:
    rollup = provider_rollup(_scores().lazy(), high_risk_percentile=60.0).collect()
    region = rollup.filter((pl.col("risk_area") == OVERALL) & (pl.col("provider_name") == "Region Stockholm"))
    # overall: unit 0 0.55 (percentile 66.7), unit 1 0.15 (33.3); unit 2 (0.7) belongs to Vård AB
    assert region.select("units", "high_risk_units").row(0) == (2, 1)
    assert region["max_p_deficiency"].item() == pytest.approx(0.55)


def test_default_planning_date_follows_the_newest_record() -> None:
    config = load_config()
    tables = {
        "complaints": pl.LazyFrame({"received_date": [dt.date(2025, 12, 30), dt.date(2025, 3, 1)]}),
        "availability": pl.LazyFrame({"period": [dt.date(2025, 11, 1)]}),
        "inspections": pl.LazyFrame(
            {"decision_date": [dt.date(2025, 10, 1)]}, schema={"decision_date": pl.Date}
        ),
    }
    assert default_as_of(tables, config) == dt.date(2026, 1, 1)
    tables["complaints"] = pl.LazyFrame({"received_date": [dt.date(2025, 6, 2)]})
    assert default_as_of(tables, config) == dt.date(2025, 12, 1), "an indicator month is known when it ends"


def test_default_planning_date_needs_some_dated_record() -> None:
    with pytest.raises(ValueError, match="give --as-of explicitly"):
        default_as_of({}, load_config())


NATIONAL = {
    "name": "national_assessment_3d_share_3m",
    "kind": "numeric",
    "unit": "share",
    "template_sv": "Medicinsk bedömning inom 3 dagar, riket, senaste 3 mån: {value}",
}


def _with_national_signal(raw: list[float]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The three-unit world plus a national signal: one value for every unit, ``raw`` contributions."""
    predictions, features, units, providers = _world()
    predictions = predictions.with_columns(
        pl.col("contributions").struct.with_fields(pl.Series(NATIONAL["name"], raw, dtype=pl.Float64))
    )
    features = features.with_columns(pl.lit(0.62).alias(NATIONAL["name"]))
    return predictions, features, units, providers


def test_a_feature_constant_across_the_units_of_the_planning_date_is_never_a_reason() -> None:
    # given a national value, the same for every unit on the planning date, whose contribution against
    # the training average is the largest of all for every unit and area (and differs between them)
    raw = [1.5, 1.9, 1.2, 2.4, 1.7, 1.1]
    predictions, features, units, providers = _with_national_signal(raw)
    assert set(top_contributions(predictions.lazy(), 1).collect()["feature"]) == {NATIONAL["name"]}, (
        "precondition: against the training average the national value is every row's top reason"
    )
    # when the units are scored
    frame = scores_frame(
        predictions.lazy(),
        features.lazy(),
        units.lazy(),
        providers.lazy(),
        [*CATALOG, NATIONAL],
        explanations_per_row=3,
    ).collect()
    # then it is no unit's reason, in any area or overall
    reasons = {e["feature"] for row in frame["explanations"].to_list() for e in row}
    assert NATIONAL["name"] not in reasons
    assert "complaints_tillganglighet_count_12m" in reasons, "unit-specific signals still explain"


def test_contributions_are_relative_to_the_units_scored_on_the_same_date() -> None:
    # given complaint contributions 0.8, -0.3 and 0.0 for tillgänglighet (mean 1/6)
    predictions, features, _, _ = _world()
    names = [str(spec["name"]) for spec in CATALOG]
    # when they are made relative to the same date
    relative = relative_contributions(predictions.lazy(), features.lazy(), names).collect()
    values = (
        relative.filter(pl.col("risk_area") == "tillganglighet")
        .sort("unit_id")
        .select(pl.col("contributions").struct.field("complaints_tillganglighet_count_12m"))
        .to_series()
        .to_list()
    )
    # then each is its difference from that mean, and they sum to zero over the units
    assert values == pytest.approx([0.8 - 1 / 6, -0.3 - 1 / 6, -1 / 6])
    assert sum(values) == pytest.approx(0.0)


def test_a_season_the_trees_learnt_with_interactions_never_explains_a_score() -> None:
    # given trees that learnt a season signal (varying over training dates) that also interacts with
    # the complaint rate, so path-dependent SHAP gives it a different share for every unit
    rng = np.random.default_rng(3)
    n = 4000
    complaints = rng.gamma(2.0, 1.0, size=n)
    season = rng.choice([0.0, 1.0, 2.0], size=n)
    logit = -2.0 + 0.6 * complaints * (1.0 + season) + 0.8 * season
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = RiskClassifier(n_estimators=80, num_leaves=7).fit(np.column_stack([complaints, season]), y)
    # when 40 units are scored on one date, all in the riskiest season
    scored = np.column_stack([rng.gamma(2.0, 1.0, size=40), np.full(40, 2.0)])
    shap = model.predict_contributions(scored)[:, :2]
    assert np.ptp(shap[:, 1]) > 0.05 and (shap[:, 1] > 0).all(), "precondition: unit-varying season share"
    ids = [unit_id(i) for i in range(40)]
    predictions = pl.DataFrame(
        {
            "unit_id": ids,
            "as_of": [AS_OF] * 40,
            "risk_area": ["tillganglighet"] * 40,
            "p_deficiency": model.predict_proba(scored)[:, 1],
            "p_serious": np.zeros(40),
            "contributions": [{"complaints_per_10k_12m": a, "season": b} for a, b in shap.tolist()],
        }
    )
    features = pl.DataFrame(
        {
            "unit_id": ids,
            "as_of": [AS_OF] * 40,
            "complaints_per_10k_12m": scored[:, 0],
            "season": scored[:, 1],
        }
    )
    relative = relative_contributions(
        predictions.lazy(), features.lazy(), ["complaints_per_10k_12m", "season"]
    )
    explained = top_contributions(relative, 2).collect()
    # then the season is no unit's reason, and the complaint rate explains the units above the average
    assert "season" not in explained["feature"].to_list()
    assert explained.height > 0 and set(explained["feature"]) == {"complaints_per_10k_12m"}
