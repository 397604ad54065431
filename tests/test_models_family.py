"""The model family per risk area, chosen on validation years: which family, never on the test year, and
explanations that work for every family."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.config import Config
from engine.scores import DEFICIENCY_CONTRIBUTIONS, OVERALL
from models.artifact import AreaModel, ModelFeature, RiskModel
from models.family import (
    FINAL,
    RANKING_LABEL,
    ElasticNets,
    FamilyChoice,
    FamilySelection,
    baseline_rows,
    choose_family,
    family_models,
    fitted_lightgbm,
    select_families,
    validation_frame,
    validation_rows,
    with_families,
    without_a_net,
)
from models.family_models import (
    BlendAreaModel,
    ElasticNetAreaModel,
    ElasticNetFit,
    fit_elastic_net,
    ranked_as,
    refitted,
)
from models.targets import label_column, target_of
from models.training import fit_risk_models
from models.validation import final_split, yearly_split
from serving.scoring import scores_frame
from tests.scores_factory import provider_ids, unit_id

AREA = "tillganglighet"
AS_OF = dt.date(2023, 1, 1)
SPLITS = [yearly_split(2021), yearly_split(2022)]
CATALOG_RECORDS: list[dict[str, object]] = [
    {"name": "complaints_tillganglighet_count_12m", "kind": "numeric", "higher_is_riskier": None,
     "risk_area": None, "source": "complaints", "unit": "count", "window_months": 12,
     "template_sv": "Klagomål om tillgänglighet senaste 12 mån: {value}"},
    {"name": "availability_phone_same_day_share_3m", "kind": "numeric", "higher_is_riskier": None,
     "risk_area": None, "source": "availability", "unit": "share", "window_months": 3,
     "template_sv": "Telefontillgänglighet samma dag senaste 3 mån: {value}"},
    {"name": "ownership", "kind": "categorical", "higher_is_riskier": None, "risk_area": None,
     "source": "providers", "unit": "category", "window_months": None, "template_sv": "Driftsform: {value}"},
]  # fmt: skip
CATALOG = [ModelFeature.from_spec(record) for record in CATALOG_RECORDS]
N_UNITS = 500


def generated_rows(truth: str, seed: int = 0) -> pl.DataFrame:
    """Randomly selected inspections of one area, 2016–2022, behind a ``linear`` or ``interaction`` truth.

    Two unit signals a and b (stable per unit, a little noise per year) are reported as a complaint count
    and a telephone share. Linear: the log-odds rise with a, fall with b. Interaction: they follow a × b
    alone, which no model additive in the features can rank by.
    """
    rng = np.random.default_rng(seed)
    level = rng.normal(size=(N_UNITS, 2))
    ownership = rng.choice(["public", "private"], size=N_UNITS)
    records = []
    for year in range(2016, 2023):
        signal = level + rng.normal(scale=0.2, size=level.shape)
        for unit in rng.choice(N_UNITS, size=320, replace=False):
            a, b = signal[unit]
            if truth == "linear":
                logit = -0.2 + 1.4 * a - 0.9 * b + (0.3 if ownership[unit] == "private" else 0.0)
            else:
                logit = -0.2 + 3.0 * a * b
            deficient = rng.random() < 1 / (1 + np.exp(-logit))
            start = dt.date(year, int(rng.integers(1, 11)), int(rng.integers(1, 28)))
            records.append({
                "inspection_id": f"I{len(records):05d}", "unit_id": unit_id(int(unit)), "risk_area": AREA,
                "start_date": start, "decision_date": start + dt.timedelta(days=40),
                "as_of": start.replace(day=1), "is_random": True, "weight": 1.0,
                "deficiency": int(deficient), "serious": int(deficient and rng.random() < 0.2),
                "ownership": str(ownership[unit]),
                "complaints_tillganglighet_count_12m": float(5 + 2 * a),
                "availability_phone_same_day_share_3m": float(0.8 - 0.05 * b),
            })  # fmt: skip
    return pl.DataFrame(records).with_columns(pl.col("deficiency", "serious").cast(pl.Int8))


def selection_of(rows: pl.DataFrame, config: Config) -> FamilySelection:
    """Every split's LightGBM and the final one, and the families chosen for them."""
    final = final_split(AS_OF)
    *folds, trees = fit_risk_models(rows, [*SPLITS, final], CATALOG, config.risk_area_ids, config.model)
    return select_families(rows, SPLITS, folds, CATALOG, config, final=(final, trees))


@pytest.fixture(scope="module")
def linear_rows() -> pl.DataFrame:
    return generated_rows("linear")


@pytest.fixture(scope="module")
def linear_selection(linear_rows: pl.DataFrame, models_config: Config) -> FamilySelection:
    return selection_of(linear_rows, models_config)


def test_a_linear_truth_is_served_by_the_elastic_net_or_the_blend(linear_selection: FamilySelection) -> None:
    # given a world whose log-odds are linear in the features (fixture)
    # when the families are chosen on the validation years
    choice = linear_selection.choices[FINAL][AREA]
    # then the trees alone are not chosen: they add nothing the elastic net lacks
    assert choice.family in {"elastic_net", "blend"}, choice.reason
    assert choice.validation_years == ["2020", "2021", "2022"], "the final choice reads every validation year"
    assert linear_selection.final is not None
    assert linear_selection.final.metadata["families"][AREA] == choice.family


@pytest.mark.slow
def test_a_strong_interaction_is_served_by_lightgbm_or_the_blend(models_config: Config) -> None:
    # given a world whose risk follows the product of two signals
    selection = selection_of(generated_rows("interaction"), models_config)
    # when the families are chosen, then the elastic net (additive in the features) is not kept
    choice = selection.choices[FINAL][AREA]
    assert choice.family in {"lightgbm", "blend"}, choice.reason
    lightgbm = next(row for row in choice.evidence if row["family"] == "lightgbm")
    assert lightgbm["roc_auc"]["value"] > 0.05, f"the trees should rank far better here: {lightgbm}"


@pytest.mark.slow
def test_the_choice_for_a_test_year_never_reads_that_year(
    linear_rows: pl.DataFrame, linear_selection: FamilySelection, models_config: Config
) -> None:
    # given the same world with every label of the last test year (2022) turned round
    poisoned = linear_rows.with_columns(
        pl.when(pl.col("start_date").dt.year() == 2022)
        .then(1 - pl.col("deficiency"))
        .otherwise(pl.col("deficiency"))
        .alias("deficiency")
    )
    # when the families are chosen again
    again = selection_of(poisoned, models_config)
    # then the choice and its evidence for test year 2022 are exactly what they were
    before, after = linear_selection.choices["2022"][AREA], again.choices["2022"][AREA]
    assert before.validation_years == after.validation_years == ["2020", "2021"]
    assert after.to_dict() == before.to_dict(), "the 2022 choice read 2022's labels"
    # while the final model's choice, which may read 2022, did see the change
    assert again.choices[FINAL][AREA].evidence != linear_selection.choices[FINAL][AREA].evidence


def _differences(**families: tuple[float, float, float]) -> pl.DataFrame:
    """Paired differences against the elastic net: family → (gate point, gate lower, ROC AUC point)."""
    rows = []
    for family, (value, lower, auc) in families.items():
        rows += [
            {"version": family, "metric": "precision_at_10pct", "value": value, "lower": lower, "upper": 0.2},
            {"version": family, "metric": "roc_auc", "value": auc, "lower": auc - 0.05, "upper": auc + 0.05},
        ]
    return pl.DataFrame(rows)


@pytest.mark.parametrize(
    ("differences", "expected"),
    [
        (_differences(lightgbm=(0.02, -0.01, 0.01), blend=(0.01, -0.02, 0.01)), "lightgbm"),
        (_differences(lightgbm=(0.02, -0.01, 0.01), blend=(0.02, -0.02, 0.005)), "blend"),
        (_differences(lightgbm=(0.02, -0.01, -0.001), blend=(0.0, -0.02, 0.01)), "elastic_net"),
        (_differences(lightgbm=(-0.01, -0.05, 0.02), blend=(0.01, -0.02, 0.0)), "blend"),
    ],
    ids=["lightgbm-better", "blend-at-least-lightgbm", "auc-lower-keeps-elastic-net", "only-blend"],
)
def test_the_rule_keeps_the_simplest_family_unless_a_complex_one_finds_more_and_ranks_no_worse(
    differences: pl.DataFrame, expected: str
) -> None:
    choice = choose_family(
        AREA,
        differences,
        candidates=["lightgbm", "elastic_net", "blend"],
        metric="precision_at_10pct",
        n=400,
        min_n=30,
        years=["2021"],
    )
    assert choice.family == expected, choice.reason
    assert expected not in choice.runners_up


def test_too_few_validation_inspections_or_one_configured_family_decide_without_a_comparison() -> None:
    better = _differences(lightgbm=(0.2, 0.1, 0.1), blend=(0.1, 0.05, 0.05))
    few = choose_family(AREA, better, candidates=["lightgbm", "elastic_net", "blend"],
                        metric="precision_at_10pct", n=10, min_n=30, years=["2021"])  # fmt: skip
    forced = choose_family(AREA, better, candidates=["elastic_net"], metric="precision_at_10pct", n=400,
                           min_n=30, years=["2021"])  # fmt: skip
    assert few.family == "elastic_net" and "fewer than the 30" in few.reason
    assert forced.family == "elastic_net" and forced.reason == "the only configured family"
    assert "För få valideringstillsyner (10)" in few.why_sv()


def test_one_configured_family_trains_and_serves_it_without_a_validation_comparison(
    linear_rows: pl.DataFrame, models_config: Config
) -> None:
    # Given a configuration that allows LightGBM alone (no validation frame is built for one family)
    config = models_config.model_copy(
        update={"model": models_config.model.model_copy(update={"families": ["lightgbm"]})}
    )
    # When the families are selected for every split and the final model
    selection = selection_of(linear_rows, config)
    # Then every split and the served model choose LightGBM, for the stated reason, with no runner-up
    for fold, areas in selection.choices.items():
        choice = areas[AREA]
        assert (choice.family, choice.reason) == ("lightgbm", "the only configured family"), (
            f"{fold}: {choice.family!r} for {choice.reason!r}"
        )
        assert choice.runners_up == [], f"{fold}: nothing was compared, yet runners-up {choice.runners_up}"


def test_elastic_net_contributions_sum_to_its_log_odds_and_name_catalog_features(
    linear_rows: pl.DataFrame,
) -> None:
    # given the elastic net fitted on a catalog with a category (ownership, one-hot in the model)
    fit = fit_elastic_net(linear_rows, CATALOG, seed=3)
    X = fit.matrix(linear_rows.head(200))  # noqa: N806 - the scikit-learn name of a feature matrix
    # when the rows are explained
    values, base = fit.contributions(X)
    # then there is one column per catalog feature, and with the cohort term they sum to the log-odds
    assert values.shape == (200, len(CATALOG)), "one contribution per catalog feature"
    log_odds = fit.pipeline.decision_function(X)
    assert np.allclose(values.sum(axis=1) + base, log_odds), "contributions + cohort term ≠ log-odds"
    # and the rows' mean contribution of each feature is small: they are deviations from the cohort mean
    assert np.abs(fit.contributions(fit.matrix(linear_rows))[0].mean(axis=0)).max() < 1e-9
    # and the category's one-hot columns are summed into ownership: private and public units differ there
    ownership = values[:, 2]
    private = linear_rows.head(200).get_column("ownership").to_numpy() == "private"
    assert ownership[private].mean() > ownership[~private].mean(), "private units carry the ownership risk"


def test_the_elastic_net_that_calibrates_keeps_the_served_nets_penalty(linear_rows: pl.DataFrame) -> None:
    # given an elastic net whose penalty its own search chose, and the rows one year shorter
    fit = fit_elastic_net(linear_rows, CATALOG, seed=3)
    shorter = linear_rows.filter(pl.col("decision_date") < dt.date(2022, 1, 1))
    # when it is fitted again for calibration
    again = refitted(fit, shorter)
    # then it has the same penalty (no new search: the same scale of log-odds the calibrator will serve)
    served, calibrating = fit.pipeline.named_steps["logistic"], again.pipeline.named_steps["logistic"]
    assert (calibrating.C, calibrating.l1_ratio) == (served.C, served.l1_ratio)
    # and on the same rows it is the same model
    same = refitted(fit, linear_rows)
    X = fit.matrix(linear_rows)  # noqa: N806 - the scikit-learn name of a feature matrix
    assert np.allclose(same.raw(X), fit.raw(X)), "a refit on the same rows must reproduce the net"


def test_nets_fitted_side_by_side_are_the_nets_fitted_one_at_a_time(
    linear_rows: pl.DataFrame, linear_selection: FamilySelection, models_config: Config
) -> None:
    # given the nets of every split and of the final model, fitted on two threads at once
    splits = [*SPLITS, final_split(AS_OF)]
    assert linear_selection.final is not None
    models = [*(scorers["lightgbm"] for scorers in linear_selection.scorers), linear_selection.final]
    assert models_config.model.lightgbm.num_threads >= 2, "the test needs more than one thread"
    together = ElasticNets(linear_rows, CATALOG, models_config, "deficiency")
    together.fit_all([(split, [AREA]) for split in splits])
    # when the same nets are fitted one after the other
    alone = ElasticNets(linear_rows, CATALOG, models_config, "deficiency")
    # then each split's served net (its fit and the calibrating net one year shorter) predicts the same bits
    for split, lightgbm in zip(splits, models, strict=True):
        trees = {AREA: lightgbm.model_for(AREA)}
        frame = lightgbm.area_frame(linear_rows, AREA)
        served = [nets.served(split, trees)[AREA].predict_rows(frame, AREA, contributions=False)
                  for nets in (together, alone)]  # fmt: skip
        assert np.array_equal(served[0].p_deficiency, served[1].p_deficiency), f"{split.name}: nets differ"


def test_the_first_validation_split_fitted_with_the_others_is_the_one_fitted_alone(
    linear_rows: pl.DataFrame, linear_selection: FamilySelection, models_config: Config
) -> None:
    # given the evaluation splits, the final split and the family choice's first validation split
    final = final_split(AS_OF)
    # when all are fitted in one pass, sharing the fits of consecutive splits
    before, folds, trees = fitted_lightgbm(linear_rows, SPLITS, final, CATALOG, models_config)
    # then the validation split is the year before the first split's held-out year
    assert before is not None and before[0] == yearly_split(2020), before
    # and its model, and the family choice made with it, are those of the split fitted on its own
    alone = fit_risk_models(
        linear_rows, [before[0]], CATALOG, models_config.risk_area_ids, models_config.model
    )[0]
    frame = alone.area_frame(linear_rows, AREA)
    shared_trees, own_trees = (
        model.model_for(AREA).predict_rows(frame, AREA, contributions=False).p_deficiency
        for model in (before[1], alone)
    )
    assert np.array_equal(shared_trees, own_trees), (
        "the validation split's trees differ from those fitted alone"
    )
    shared = select_families(
        linear_rows, SPLITS, folds, CATALOG, models_config, final=(final, trees), before=before
    )
    assert shared.to_dict() == linear_selection.to_dict(), "the choice differs from the one fitted apart"


def test_a_first_validation_year_without_both_outcomes_leaves_the_choice_without_it(
    linear_rows: pl.DataFrame, models_config: Config
) -> None:
    # given rows whose inspections decided before 2019 (the first validation split's fit rows) found nothing
    quiet = pl.col("decision_date") < dt.date(2019, 1, 1)
    rows = linear_rows.with_columns(
        pl.when(quiet).then(0).otherwise(pl.col(label)).cast(pl.Int8).alias(label)
        for label in ("deficiency", "serious")
    )
    final = final_split(AS_OF)
    # when the splits are fitted for training
    before, folds, trees = fitted_lightgbm(rows, SPLITS, final, CATALOG, models_config)
    # then the evaluation splits and the final model are, and the validation split is not
    assert before is None and len(folds) == len(SPLITS)
    # and the family choice reads the validation years that remain
    selection = select_families(rows, SPLITS, folds, CATALOG, models_config, final=(final, trees))
    assert selection.choices[FINAL][AREA].validation_years == ["2021", "2022"]


def test_probabilities_a_calibrator_saturates_keep_the_familys_ranking() -> None:
    # given calibrated probabilities that saturate at exactly 1.0 (and 0.0) for differently ranked rows
    p, raw = np.array([1.0, 1.0, 1.0, 0.0, 0.0]), np.array([0.93, 0.99, 0.96, 0.02, 0.01])
    # when ties are broken by the raw scores
    ranked = ranked_as(p, raw)
    # then the order is the raw one, and every value stays a probability
    assert np.argsort(-ranked).tolist() == np.argsort(-raw).tolist()
    assert ((ranked >= 0) & (ranked <= 1)).all()


def test_a_served_elastic_net_area_gives_swedish_reasons_through_scoring(
    linear_rows: pl.DataFrame, linear_selection: FamilySelection
) -> None:
    # given the final model with the area forced to the elastic net
    final = final_split(AS_OF)
    assert linear_selection.final is not None
    # (the world has one area: the model scores only it)
    trees = dataclasses.replace(linear_selection.final, family_models={}, risk_areas=[AREA])
    choice = FamilyChoice(AREA, "elastic_net", "forced for the test", ["2022"], 100)
    served = with_families(trees, family_models(trees, final, linear_selection.nets), {AREA: choice})
    assert type(served.model_for(AREA)).__name__ == "ElasticNetAreaModel"
    # when units are scored the way `tillsynsrisk score` does
    latest = linear_rows.filter(pl.col("start_date").dt.year() == 2022).unique("unit_id", keep="first")
    latest = latest.sort("unit_id").head(40)
    pid = provider_ids(1)[0]
    features = latest.select(
        "unit_id",
        pl.lit(AS_OF).alias("as_of"),
        pl.lit(pid).alias("provider_id"),
        pl.lit("01").alias("region_code"),
        pl.lit("0180").alias("municipality_code"),
        pl.lit("vardcentral").alias("unit_type"),
        *[record["name"] for record in CATALOG_RECORDS],
    )
    predictions = served.predict_frame(features).filter(pl.col("risk_area") == AREA)
    units = latest.select("unit_id", pl.col("unit_id").alias("name"), pl.lit(5000).alias("listed_patients"))
    providers = pl.DataFrame({"provider_id": [pid], "name": ["Region Stockholm"]})
    frame = scores_frame(
        predictions.lazy(), features.lazy(), units.lazy(), providers.lazy(), CATALOG_RECORDS,
        explanations_per_row=2,
    ).collect()  # fmt: skip
    # then the riskiest units are explained in the catalog's Swedish sentences
    top = frame.filter(pl.col("risk_area") == AREA).sort("p_deficiency", descending=True).head(5)
    sentences = [e["sentence_sv"] for row in top.get_column("explanations").to_list() for e in row]
    assert sentences, "the elastic net's contributions gave no reason for the riskiest units"
    assert all(
        s.startswith(("Klagomål om tillgänglighet", "Telefontillgänglighet", "Driftsform")) for s in sentences
    )
    assert (predictions["p_serious"] <= predictions["p_deficiency"]).all(), "P(serious) above P(deficiency)"


def test_the_training_run_logs_the_choice_its_evidence_and_a_param_per_area(  # type: ignore[no-untyped-def]
    champion_run, models_tracking
) -> None:
    # Given the toy training run (tests/conftest.py: evaluated on 2020–2022, served as of 2023)
    # When its family choice is read back from MLflow
    choices = models_tracking.read_json(champion_run.run_id, "family/choice.json")
    params = models_tracking.run_info(champion_run.run_id)["params"]
    # Then every test year and the served model have a choice per area, each with its evidence
    assert set(choices) == {"2020", "2021", "2022", FINAL}, sorted(choices)
    final = choices[FINAL]
    assert set(final) == set(champion_run.model.risk_areas)
    targets = {area: target_of(champion_run.model.metadata, area) for area in final}
    assert len(set(targets.values())) > 1, f"the toy run needs areas ranked by different targets: {targets}"
    for area, choice in final.items():
        # (areas ranked by serious findings too: their families are compared on the serious label)
        assert params[f"family.{area}"] == choice["family"], f"{area}: the param and the artifact disagree"
        assert champion_run.model.metadata["families"][area] == choice["family"], "the served model differs"
        assert {row["family"] for row in choice["evidence"]} == {"lightgbm", "blend"}, choice
        assert all(row["lower"] <= row["value"] <= row["upper"] for row in choice["evidence"]), choice
        assert choice["why_sv"].startswith("Vald på valideringsåren"), choice["why_sv"]
        # And each says which label the families were compared on: the one that ranks the area
        assert choice["label"] == label_column(targets[area]), f"{area}: compared on {choice['label']}"
        if choice["label"] == "serious":
            assert "jämförda på allvarliga brister" in choice["why_sv"], choice["why_sv"]
    # And the test folds keep each family's own scores beside the chosen model's
    scorers = set(champion_run.metrics.get_column("scorer").unique().to_list())
    assert {"model", "logistic", "elastic_net", "lightgbm", "blend"} <= scorers, scorers


def test_an_area_ranked_by_serious_findings_compares_and_serves_families_of_the_serious_label(
    linear_rows: pl.DataFrame, linear_selection: FamilySelection, models_config: Config
) -> None:
    # Given the final LightGBM of a world whose area its model ranks by serious findings
    final = final_split(AS_OF)
    assert linear_selection.final is not None
    trees = dataclasses.replace(
        linear_selection.final,
        family_models={},
        risk_areas=[AREA],
        metadata={**linear_selection.final.metadata, "targets": {AREA: {"target": "serious"}}},
    )
    nets = ElasticNets(linear_rows, CATALOG, models_config, "deficiency")

    # When its elastic nets are fitted for the area's ranking target
    nets.use_targets_of(final, trees)
    served = nets.served(final, {AREA: trees.model_for(AREA)})[AREA]

    # Then the net is the baseline's fit of the serious label (same seed, same rows)
    seed = models_config.model.seed + 10 * models_config.risk_area_ids.index(AREA)
    direct = fit_elastic_net(
        baseline_rows(linear_rows, final),
        CATALOG,
        seed,
        models_config.model.lightgbm.num_threads,
        label="serious",
    )
    X = direct.matrix(linear_rows)  # noqa: N806 - the scikit-learn name of a feature matrix
    assert served.label == "serious" and np.allclose(served.fit.raw(X), direct.raw(X)), "not the serious net"
    # And it serves P(serious) from that net, with P(deficiency) never below it
    frame = trees.area_frame(linear_rows.drop("team", "method", strict=False), AREA)
    prediction = served.predict_rows(frame, AREA, contributions=False)
    _, p_net, _ = served.deficiency(frame, contributions=False)
    assert np.allclose(prediction.p_serious, p_net), "P(serious) is not the serious net's"
    assert (prediction.p_deficiency >= prediction.p_serious).all(), "P(deficiency) below P(serious)"
    # And the validation rows the choice reads carry the serious label and each family's P(serious)
    models = family_models(trees, final, nets)
    validation = validation_frame(linear_rows, yearly_split(2022), trees, models, RANKING_LABEL)
    year = validation_rows(linear_rows, yearly_split(2022))
    assert (
        validation.get_column(RANKING_LABEL).to_list() == year.get_column("serious").cast(pl.Int64).to_list()
    )


@pytest.fixture(scope="module")
def serious_trees(linear_selection: FamilySelection) -> RiskModel:
    """The linear world's final LightGBM, its area ranked by serious findings."""
    assert linear_selection.final is not None
    final = linear_selection.final
    targets = {AREA: {"target": "serious"}}
    return dataclasses.replace(
        final, family_models={}, risk_areas=[AREA], metadata={**final.metadata, "targets": targets}
    )


@pytest.fixture(scope="module")
def serious_net(linear_rows: pl.DataFrame, serious_trees: RiskModel, models_config: Config) -> RiskModel:
    """``serious_trees`` with its area served by the elastic net of P(serious)."""
    final = final_split(AS_OF)
    nets = ElasticNets(linear_rows, CATALOG, models_config, "deficiency")
    nets.use_targets_of(final, serious_trees)
    choice = FamilyChoice(AREA, "elastic_net", "forced for the test", ["2022"], 100)
    return with_families(serious_trees, family_models(serious_trees, final, nets), {AREA: choice})


def _unit_features(rows: pl.DataFrame) -> pl.DataFrame:
    """One feature row per unit inspected in 2022, as `tillsynsrisk score` reads them."""
    latest = rows.filter(pl.col("start_date").dt.year() == 2022).unique("unit_id", keep="first")
    return latest.sort("unit_id").select(
        "unit_id",
        pl.lit(AS_OF).alias("as_of"),
        pl.lit(provider_ids(1)[0]).alias("provider_id"),
        pl.lit("01").alias("region_code"),
        pl.lit("0180").alias("municipality_code"),
        pl.lit("vardcentral").alias("unit_type"),
        *[str(record["name"]) for record in CATALOG_RECORDS],
    )


def _scores(model: RiskModel, features: pl.DataFrame) -> pl.DataFrame:
    """``model``'s scores of ``features`` the way `tillsynsrisk score` makes them (no reason threshold)."""
    units = features.select("unit_id", pl.col("unit_id").alias("name"), pl.lit(5000).alias("listed_patients"))
    providers = pl.DataFrame({"provider_id": [provider_ids(1)[0]], "name": ["Region Stockholm"]})
    predictions = model.predict_frame(features).lazy()
    return scores_frame(
        predictions, features.lazy(), units.lazy(), providers.lazy(), CATALOG_RECORDS,
        explanations_per_row=3, targets={AREA: "serious"},
    ).collect()  # fmt: skip


def test_a_served_nets_reasons_are_on_the_log_odds_scale_of_the_probability_it_serves(
    linear_rows: pl.DataFrame, serious_net: RiskModel
) -> None:
    # Given the elastic net of P(serious) serving an area: a penalised net whose raw log-odds its
    # calibrator stretches (a rare label)
    served = serious_net.model_for(AREA)
    frame = serious_net.area_frame(_unit_features(linear_rows), AREA)
    # When its rows are explained
    prediction = served.predict_rows(frame, AREA, contributions=True)
    assert prediction.contributions is not None
    # Then each row's reasons add up to how far its served probability's log-odds stand from the others'
    # (relative to the cohort, as the pages read them), not to the uncalibrated net's shrunk log-odds
    served_log_odds = np.log(prediction.p_serious / (1 - prediction.p_serious))
    reasons = prediction.contributions.sum(axis=1)
    assert np.allclose(reasons - reasons.mean(), served_log_odds - served_log_odds.mean(), atol=1e-6), (
        "the net's reasons do not add up to the log-odds of the P(serious) it serves"
    )


def test_the_overall_reasons_explain_p_deficiency_whichever_family_serves_p_serious(
    linear_rows: pl.DataFrame, serious_trees: RiskModel, serious_net: RiskModel
) -> None:
    # Given an area ranked by serious findings, served once by LightGBM and once by the net of P(serious)
    features = _unit_features(linear_rows)
    # When both are scored
    by_net, by_trees = _scores(serious_net, features), _scores(serious_trees, features)
    # Then the overall row (the mean P(deficiency), which both take from LightGBM) gives the same reasons
    overall = [
        frame.filter(pl.col("risk_area") == OVERALL).sort("unit_id").get_column("explanations").to_list()
        for frame in (by_net, by_trees)
    ]
    assert overall[0] == overall[1], "the overall reasons depend on which family serves P(serious)"
    assert any(overall[0]), "the overall rows carry no reasons at all"
    # And the area's own row is explained by the net (its reasons differ from the trees')
    area = [frame.filter(pl.col("risk_area") == AREA).sort("unit_id") for frame in (by_net, by_trees)]
    assert area[0].get_column("explanations").to_list() != area[1].get_column("explanations").to_list()


def test_a_lightgbm_area_ranked_by_serious_findings_is_explained_by_its_serious_finding_model(
    linear_rows: pl.DataFrame, serious_trees: RiskModel
) -> None:
    # Given a LightGBM area ranked by serious findings, with a serious-finding model
    trees = serious_trees.model_for(AREA)
    assert isinstance(trees, AreaModel) and trees.serious is not None, "the toy world needs a serious model"
    features = _unit_features(linear_rows)
    frame = serious_trees.area_frame(features, AREA)
    # When the model predicts with contributions
    predicted = serious_trees.predict_frame(features)
    # Then the area's contributions are the serious-finding model's, and its deficiency model's are kept
    # beside them for the overall row
    serious = trees.serious_contributions(frame)
    deficiency = trees.predict_rows(frame, AREA, contributions=True).contributions
    assert serious is not None and deficiency is not None
    names = [
        feature.name for feature in trees.features if feature.name in predicted["contributions"].struct.fields
    ]
    columns = [trees.features.index(next(f for f in trees.features if f.name == name)) for name in names]
    got = predicted["contributions"].struct.unnest().select(names).to_numpy()
    kept = predicted[DEFICIENCY_CONTRIBUTIONS].struct.unnest().select(names).to_numpy()
    assert np.allclose(got, serious[:, columns]), "the area's reasons are not its serious-finding model's"
    assert np.allclose(kept, deficiency[:, columns]), "the deficiency model's contributions are lost"
    # And a model ranking the area by deficiency keeps one set of contributions, the deficiency model's
    by_deficiency = dataclasses.replace(serious_trees, metadata={**serious_trees.metadata, "targets": {}})
    plain = by_deficiency.predict_frame(features)
    assert DEFICIENCY_CONTRIBUTIONS not in plain.columns
    assert np.allclose(
        plain["contributions"].struct.unnest().select(names).to_numpy(), deficiency[:, columns]
    )


def test_an_elastic_net_whose_penalty_removed_every_feature_is_no_candidate(
    linear_rows: pl.DataFrame,
    linear_selection: FamilySelection,
    models_config: Config,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an area whose elastic net is a constant: its penalty removed every feature
    def constant(*args: object, **kwargs: object) -> ElasticNetFit:
        fit = fit_elastic_net(*args, **kwargs)  # type: ignore[arg-type]
        fit.pipeline.named_steps["logistic"].coef_[:] = 0.0
        return fit

    monkeypatch.setattr("models.family.fit_elastic_net", constant)
    assert linear_selection.final is not None
    trees = dataclasses.replace(linear_selection.final, family_models={}, risk_areas=[AREA])
    nets = ElasticNets(linear_rows, CATALOG, models_config, "deficiency")
    # When the families of the area are made
    models = family_models(trees, final_split(AS_OF), nets)
    # Then neither the net nor the blend is a candidate (a constant ties every unit and gives no reason)
    assert AREA not in models["elastic_net"] and AREA not in models["blend"], "a constant net is served"
    # And a choice that kept the net (ties on the validation years) is LightGBM, saying why
    kept = FamilyChoice(AREA, "elastic_net", "no more complex family beat elastic_net", ["2022"], 200)
    choice = without_a_net({AREA: kept}, models)[AREA]
    assert choice.family == "lightgbm" and choice.runners_up == [], choice
    assert choice.why_sv().startswith("Inget elastiskt nät för området"), choice.why_sv()
    assert with_families(trees, models, {AREA: choice}).metadata["families"][AREA] == "lightgbm"


def test_a_blend_of_p_serious_is_explained_by_half_of_each_familys_serious_reasons(
    linear_rows: pl.DataFrame, serious_net: RiskModel
) -> None:
    # Given the blend of the net of P(serious) and LightGBM, in an area ranked by serious findings
    net = serious_net.model_for(AREA)
    assert isinstance(net, ElasticNetAreaModel) and isinstance(net.lightgbm, AreaModel)
    blend = BlendAreaModel(AREA, net.lightgbm, net)
    frame = serious_net.area_frame(_unit_features(linear_rows), AREA)
    # When its rows are explained
    prediction = blend.predict_rows(frame, AREA, contributions=True)
    # Then half of the reasons are LightGBM's serious-finding model's and half the net's (both of P(serious))
    trees_serious = net.lightgbm.serious_contributions(frame)
    _, _, linear = net.deficiency(frame, contributions=True)
    assert trees_serious is not None and linear is not None and prediction.contributions is not None
    names = [feature.name for feature in blend.features]
    expected = np.zeros_like(prediction.contributions)
    for i, feature in enumerate(net.lightgbm.features):
        expected[:, names.index(feature.name)] += 0.5 * trees_serious[:, i]
    for i, feature in enumerate(net.fit.features):
        expected[:, names.index(feature.name)] += 0.5 * linear[:, i]
    assert np.allclose(prediction.contributions, expected), "the blend's reasons are not of P(serious)"
    # And its P(deficiency), LightGBM's, keeps LightGBM's deficiency reasons for the overall row
    deficiency = net.lightgbm.predict_rows(frame, AREA, contributions=True).contributions
    assert prediction.deficiency_contributions is not None and deficiency is not None
    width = deficiency.shape[1]
    assert np.allclose(prediction.deficiency_contributions[:, :width], deficiency)
