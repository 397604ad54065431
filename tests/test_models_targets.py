"""Ranking targets: which outcome ranks each area, resolved point in time, evaluated against its label."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.config import ConfigError, LightGBMSettings, ModelSettings, config_from_mapping, load_config
from models.artifact import ModelFeature
from models.evaluation import SCORERS, evaluate_split, metrics_table
from models.targets import resolve_target
from models.training import fit_risk_model
from models.validation import Split
from tests.models_factory import TOY_AREAS_FEATURES, toy_catalog, toy_rows

AREAS = list(TOY_AREAS_FEATURES)
TEST_YEAR = 2022
SPLIT = Split(
    name=str(TEST_YEAR),
    held_out_start=dt.date(TEST_YEAR - 1, 1, 1),
    test_start=dt.date(TEST_YEAR, 1, 1),
    test_end=dt.date(TEST_YEAR + 1, 1, 1),
)


def _settings(**changes: object) -> ModelSettings:
    # Few, small trees: these tests are about which target is chosen, not about the trees.
    fast = LightGBMSettings(n_estimators=20, early_stopping_rounds=5, num_threads=1)
    return ModelSettings(lightgbm=fast, **changes)  # type: ignore[arg-type]


def _catalog() -> list[ModelFeature]:
    return [ModelFeature.from_spec(record) for record in toy_catalog()]


@pytest.mark.parametrize(
    ("base_rate", "expected"),
    [(0.94, "serious"), (0.61, "serious"), (0.60, "deficiency"), (0.10, "deficiency")],
    ids=["far-above", "just-above", "at-threshold", "below"],
)
def test_auto_resolves_to_serious_above_the_threshold_and_deficiency_at_or_below(
    base_rate: float, expected: str
) -> None:
    # given a training base rate and a fitted serious model
    # when auto is resolved with the threshold 0.6
    choice = resolve_target("auto", base_rate=base_rate, serious_rate=0.05, threshold=0.6, serious_model=True)
    # then serious is chosen only above the threshold, and the reason says why
    assert choice.target == expected, f"base rate {base_rate}: got {choice.target}, expected {expected}"
    assert f"{base_rate:.0%}" in choice.reason, f"the reason does not state the base rate: {choice.reason}"


def test_auto_resolution_reads_the_training_rows_only() -> None:
    # given toy rows whose areas have base rates on both sides of a threshold of 0.45
    rows = toy_rows(seed=3)
    settings = _settings(target_auto_threshold=0.45)
    # when the model of the 2022 fold is fitted, and fitted again after every 2022 label became "serious"
    before = fit_risk_model(rows, SPLIT, _catalog(), AREAS, settings)
    in_test_year = pl.col("start_date") >= SPLIT.test_start
    flipped = rows.with_columns(
        pl.when(in_test_year).then(1).otherwise(pl.col(name)).cast(pl.Int8).alias(name)
        for name in ("deficiency", "serious")
    )
    after = fit_risk_model(flipped, SPLIT, _catalog(), AREAS, settings)
    # then the resolution (targets, base rates and reasons) is the same: the test year is never read
    targets = before.metadata["targets"]
    assert {e["target"] for e in targets.values()} == {"deficiency", "serious"}, (
        f"the toy areas should straddle the threshold, got {targets}"
    )
    assert after.metadata["targets"] == targets, "a change of the test year's labels changed the targets"


def test_too_few_serious_findings_fall_back_to_deficiency_and_say_so() -> None:
    # given training rows with only five serious findings, and samverkan configured to rank by serious
    rows = toy_rows(seed=4)
    keep = rows.filter(pl.col("serious") == 1).head(5).get_column("inspection_id").to_list()
    rows = rows.with_columns(
        pl.when(pl.col("inspection_id").is_in(keep)).then(pl.col("serious")).otherwise(0).alias("serious")
    )
    settings = _settings(targets={"samverkan": "serious"})
    # when the model is fitted
    model = fit_risk_model(rows, SPLIT, _catalog(), AREAS, settings)
    # then samverkan is ranked by deficiency, and the reason names the too few serious findings
    choice = model.metadata["targets"]["samverkan"]
    assert choice["target"] == "deficiency", f"no serious model was fitted, yet the target is {choice}"
    assert "too few serious findings" in choice["reason"], f"the fallback is silent: {choice['reason']}"
    assert choice["configured"] == "serious"


def test_an_unknown_area_in_the_targets_is_refused() -> None:
    # given a configuration naming a target for an area that does not exist
    data = load_config().model_dump(mode="json")
    data["model"]["targets"] = {"samverkn": "serious"}
    # when it is loaded, then the typo is named
    with pytest.raises(ConfigError, match="samverkn"):
        config_from_mapping(data)


def _prediction_frame(target: str) -> pl.DataFrame:
    """One fold of 100 random inspections of samverkan where the two labels rank differently.

    The model's score puts rows 0–9 on top; all of them have a deficiency but only 0–2 a serious finding.
    """
    n = 100
    score = np.linspace(1.0, 0.0, n)
    deficiency = np.where(np.arange(n) < 10, 1, np.arange(n) % 2)
    below_top = (np.arange(n) >= 10) & (np.arange(n) % 10 == 5) & (deficiency == 1)
    serious = np.where(np.arange(n) < 3, 1, below_top).astype(int)
    label = serious if target != "deficiency" else deficiency
    rng = np.random.default_rng(0)
    columns = {f"score_{scorer}": rng.random(n) for scorer in SCORERS}
    columns["score_oracle"] = np.full(n, np.nan)
    columns["score_model"] = score
    return pl.DataFrame(
        {
            "fold": ["2022"] * n,
            "inspection_id": [f"I{i:03d}" for i in range(n)],
            "risk_area": ["samverkan"] * n,
            "is_random": [True] * n,
            "deficiency": deficiency,
            "serious": serious,
            "target": [target] * n,
            "label": label,
            "weight": np.ones(n),
            "raw_score": score,
            "p_deficiency": score,
            "p_serious": score / 5,
            **columns,
        }
    )


@pytest.mark.parametrize(
    ("target", "expected"), [("serious", 0.3), ("deficiency", 1.0)], ids=["serious", "deficiency"]
)
def test_precision_is_computed_against_the_areas_target_label(target: str, expected: float) -> None:
    # given a fold whose top tenth all have a deficiency but only three of ten a serious finding
    predictions = _prediction_frame(target)
    # when its metrics are computed
    metrics = metrics_table(predictions, load_config())
    # then the model's precision@10 % and the base rate are of the area's target label
    found = metrics.filter(
        (pl.col("population") == "random")
        & (pl.col("fold") == "all")
        & (pl.col("scorer") == "model")
        & (pl.col("metric") == "precision_at_10pct")
    ).get_column("value")
    assert found.to_list() == [pytest.approx(expected)], f"{target}: precision@10 % {found.to_list()}"
    rates = metrics.filter((pl.col("fold") == "all") & (pl.col("population") == "random"))
    base = rates.filter((pl.col("scorer") == "data") & (pl.col("metric") == "base_rate")).get_column("value")
    deficiency = predictions.get_column("deficiency").mean()
    serious = predictions.get_column("serious").mean()
    assert base.item() == pytest.approx(serious if target == "serious" else deficiency)


def test_the_model_scores_each_test_row_by_its_areas_target() -> None:
    # given a model fitted with samverkan ranked by the expected level and kontinuitet by serious findings
    rows = toy_rows(seed=5)
    config = load_config()
    settings = _settings(
        targets={"samverkan": "ordinal", "kontinuitet": "serious", "personcentrering": "deficiency"}
    )
    config = config.model_copy(update={"model": settings})
    model = fit_risk_model(rows, SPLIT, _catalog(), AREAS, settings)
    # when its test year is evaluated
    _, frame = evaluate_split(rows, SPLIT, _catalog(), config, model)
    # then each area's model score and label are its target's
    by_area = {area: part for (area,), part in frame.group_by("risk_area")}
    ordinal = by_area["samverkan"]
    assert ordinal["score_model"].to_list() == pytest.approx(
        (ordinal["p_deficiency"] + ordinal["p_serious"]).to_list()
    ), "ordinal must rank by P(deficiency) + P(serious)"
    assert ordinal["label"].to_list() == ordinal["serious"].to_list(), "ordinal is evaluated on serious"
    serious = by_area["kontinuitet"]
    assert serious["score_model"].to_list() == pytest.approx(serious["p_serious"].to_list())
    deficiency = by_area["personcentrering"]
    assert deficiency["score_model"].to_list() == pytest.approx(deficiency["p_deficiency"].to_list())
    assert deficiency["label"].to_list() == deficiency["deficiency"].to_list()
