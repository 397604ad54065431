"""Training logs a reproducible model; promotion passes gates or refuses a worse model with reasons."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import mlflow.models
import mlflow.pyfunc
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.config import Config
from engine.scores import DEFICIENCY_CONTRIBUTIONS
from engine.settings import Settings
from models.backtest import PairedVerdict
from models.jobs import TrainingResult, run_training
from models.refusals import GateRefusal, reasons_en
from models.registry import (
    current_champion_run,
    gate_population,
    load_champion,
    promote,
    promotion_refusals,
)
from models.tracking import Tracking
from tests.models_factory import AS_OF, training_data


def _lenient(config: Config) -> Config:
    # The toy world is small: these tests are about the precision gate and reproducibility, not ECE.
    return config.model_copy(update={"model": config.model.model_copy(update={"ece_threshold": 0.5})})


@pytest.mark.slow
def test_training_logs_metrics_for_model_oracle_and_every_baseline(champion_run: TrainingResult) -> None:
    areas = champion_run.summary
    assert len(areas) == 5, f"one summary per risk area, got {sorted(areas)}"
    entry = areas["tillganglighet"]
    for scorer in ("model", "oracle", "random", "complaints", "banding", "logistic"):
        assert entry[scorer] is not None, f"{scorer} missing from the evaluation"
        assert 0.0 <= entry[scorer]["precision_at_10pct"] <= 1.0
    assert entry["model"]["roc_auc"] > 0.6, "the toy truth is learnable: AUC should beat chance clearly"
    assert entry["oracle"]["roc_auc"] >= entry["random"]["roc_auc"]
    # The toy truth gives every row its probability: expected precision is reported for every scorer
    for scorer in ("model", "oracle", "complaints"):
        low, high = entry[scorer]["expected_precision_at_10pct_ci"]
        assert low <= entry[scorer]["expected_precision_at_10pct"] <= high, f"{scorer} expected p@10 CI"
    assert entry["oracle"]["expected_precision_at_10pct"] >= entry["random"]["expected_precision_at_10pct"]
    model = entry["model"]
    assert 0.0 < model["ece_noise"] <= model["ece_noise_upper"], "noise band of a calibrated model"


@pytest.mark.slow
def test_champion_reloads_and_reproduces_logged_predictions_exactly(
    champion_run: TrainingResult, models_tracking: Tracking, models_config: Config
) -> None:
    # The session's MLflow store may already hold a champion (the CLI test promotes one, the change-feed
    # test promotes this very run): force, since this test is about reproduction, not the gates.
    current = current_champion_run(models_tracking)
    if current is None or current[1] != champion_run.run_id:
        decision = promote(models_tracking, champion_run.run_id, _lenient(models_config).model, force=True)
        assert decision.promoted, f"the toy model should be promoted, refused: {decision.reasons}"
    settings = Settings(
        mlflow_tracking_uri=models_tracking.tracking_uri, mlflow_artifact_root=models_tracking.artifact_root
    )
    champion = load_champion(settings)
    assert champion.run_id == champion_run.run_id
    assert champion.snapshot_id == "toy-snapshot"
    reference = models_tracking.read_table(champion.run_id, "reference/features.parquet")
    logged = models_tracking.read_table(champion.run_id, "reference/predictions.parquet")
    predicted = champion.predict_frame(reference)
    # (the logged predictions carry no contributions, neither the ranking score's nor P(deficiency)'s)
    explained = ["contributions", DEFICIENCY_CONTRIBUTIONS]
    assert_frame_equal(predicted.drop(explained, strict=False), logged, check_exact=True)
    assert predicted["contributions"].struct.fields[:1] == [champion.catalog[0]["name"]]


@pytest.mark.slow
def test_promotion_refuses_a_worse_model(
    champion_run: TrainingResult,
    no_signal_run: TrainingResult,
    models_tracking: Tracking,
    models_config: Config,
) -> None:
    # Given a champion, and a candidate trained on labels shuffled within each area (no signal)
    worse = no_signal_run
    # Given the toy model as champion (force: the shared store may hold another champion already)
    promote(models_tracking, champion_run.run_id, _lenient(models_config).model, force=True)
    # When promoting the worse candidate
    decision = promote(models_tracking, worse.run_id, _lenient(models_config).model)
    # Then it is refused with the failed gate named
    assert not decision.promoted, "a model without signal must not replace the champion"
    assert any("below the champion's lower confidence bound" in r for r in decision.reasons), decision.reasons


def test_ece_gate_refuses_a_badly_calibrated_candidate(models_config: Config) -> None:
    metrics = pl.DataFrame(
        {
            "population": ["random", "all"],
            "fold": ["all", "all"],
            "risk_area": ["tillganglighet", "tillganglighet"],
            "scorer": ["model", "model"],
            "metric": ["precision_at_10pct", "ece"],
            "value": [0.8, 0.12],
            "lower": [0.7, None],
            "upper": [0.9, None],
        }
    )
    reasons = reasons_en(promotion_refusals(metrics, None, models_config.model))
    assert reasons == [
        "tillganglighet: expected calibration error 0.120 (all inspections) exceeds the threshold 0.030"
    ]


def _ece_metrics(ece: float, noise_upper: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "population": ["random", "all", "all"],
            "fold": ["all", "all", "all"],
            "risk_area": ["tillganglighet"] * 3,
            "scorer": ["model"] * 3,
            "metric": ["precision_at_10pct", "ece", "ece_noise"],
            "value": [0.8, ece, noise_upper - 0.015],
            "lower": [0.7, ece - 0.01, noise_upper - 0.03],
            "upper": [0.9, ece + 0.03, noise_upper],
        }
    )


@pytest.mark.parametrize(
    ("rule", "ece", "noise_upper", "refused"),
    [
        ("noise", 0.042, 0.051, False),
        ("point", 0.042, 0.051, True),
        ("noise", 0.080, 0.051, True),
        ("noise", 0.025, 0.051, False),
    ],
    ids=["noise-rule-inside-band", "point-rule", "noise-rule-above-band", "under-threshold"],
)
def test_ece_gate_rule_decides_on_the_threshold_and_the_noise_band(
    models_config: Config, rule: str, ece: float, noise_upper: float, refused: bool
) -> None:
    # Given an ECE of `ece` where a calibrated model would show up to `noise_upper`
    settings = models_config.model.model_copy(update={"ece_gate_rule": rule})
    # When checking the gates
    reasons = reasons_en(promotion_refusals(_ece_metrics(ece, noise_upper), None, settings))
    # Then the candidate is refused exactly when the rule says so, with the figures that decided
    assert bool(reasons) == refused, reasons
    if refused and rule == "noise":
        assert reasons == [
            f"tillganglighet: expected calibration error {ece:.3f} (all inspections) exceeds the threshold "
            f"0.030 and the noise band of a calibrated model ({noise_upper:.3f})"
        ]


def test_tracking_leaves_the_environment_as_it_found_it(
    models_tracking: Tracking, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no MLFLOW_TRACKING_URI in the environment (Settings would read it)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # When a block runs against the store
    with models_tracking.activated():
        pass
    # Then the variable is not left pointing at MLflow's resolved default
    assert "MLFLOW_TRACKING_URI" not in os.environ, os.environ.get("MLFLOW_TRACKING_URI")


@pytest.mark.slow
def test_a_paired_comparison_decides_instead_of_the_own_test_folds(
    champion_run: TrainingResult,
    models_tracking: Tracking,
    models_config: Config,
    toy_training_rows: pl.DataFrame,
    toy_catalog_records: list[dict[str, object]],
) -> None:
    # Given a champion, and a candidate trained on the same data (it passes the own-fold gates)
    settings = _lenient(models_config).model
    promote(models_tracking, champion_run.run_id, settings, force=True)
    candidate = run_training(
        training_data(toy_training_rows, toy_catalog_records),
        models_config,
        models_tracking,
        as_of=AS_OF,
        lineage={"snapshot_id": "toy-candidate"},
    )
    assert promotion_refusals(candidate.metrics, champion_run.metrics, settings) == [], (
        "the own-fold gates alone would promote it"
    )
    worse = PairedVerdict(
        replace=False,
        refusals=[
            GateRefusal(
                "tillganglighet: paired all precision_at_10pct difference -0.100 is worse",
                "Tillgänglighet: sämre än championen i den parade jämförelsen",
            )
        ],
        evidence_sv="Beslutsunderlag: parad jämförelse X",
        evidence_en="Evidence: paired comparison X",
        per_area={"tillganglighet": "worse"},
    )
    # When the paired comparison says it is worse beyond the interval
    refused = promote(models_tracking, candidate.run_id, settings, paired=worse)
    # Then it is refused on that evidence, named in both languages
    assert not refused.promoted and refused.reasons[0].startswith("tillganglighet: paired")
    assert (refused.evidence_sv, refused.evidence_en) == (worse.evidence_sv, worse.evidence_en)
    # And when the paired comparison says better somewhere and worse nowhere, it is promoted and tagged
    better = PairedVerdict(
        True, [], "Beslutsunderlag: parad Y", "Evidence: paired Y", {"tillganglighet": "better"}
    )
    accepted = promote(models_tracking, candidate.run_id, settings, paired=better)
    assert accepted.promoted, accepted.reasons
    version = models_tracking.client.get_model_version("tillsynsrisk", str(accepted.version))
    assert version.tags["promotion_evidence"] == "Evidence: paired Y"
    assert "promoted_at" in version.tags


def test_without_random_selections_the_gates_compare_all_inspections(models_config: Config) -> None:
    # Given a candidate and a champion whose metrics hold no random-selection subset
    def metrics(precision: float, lower: float) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "population": ["all", "all"],
                "fold": ["all", "all"],
                "risk_area": ["tillganglighet"] * 2,
                "scorer": ["model"] * 2,
                "metric": ["precision_at_10pct", "ece"],
                "value": [precision, 0.01],
                "lower": [lower, None],
                "upper": [0.95, None],
            }
        )

    # Then a first version passes with no champion, and a worse one is refused on all inspections
    assert gate_population(metrics(0.6, 0.5), None) == "all"
    assert promotion_refusals(metrics(0.6, 0.5), None, models_config.model) == []
    reasons = reasons_en(promotion_refusals(metrics(0.4, 0.3), metrics(0.6, 0.5), models_config.model))
    assert reasons == [
        "tillganglighet: all-subset precision_at_10pct 0.400 is below the champion's lower "
        "confidence bound 0.500"
    ]
    # And a candidate without random figures is refused when the champion has them
    champion = metrics(0.6, 0.5).with_columns(pl.lit("random").alias("population"))
    assert (
        "while the champion has one"
        in promotion_refusals(metrics(0.6, 0.5), champion, models_config.model)[0].en
    )


# The English gate wording: none of it may reach the planners' Swedish sentences.
ENGLISH_GATE_TEXT = (
    "expected calibration error", "exceeds", "threshold", "noise band", "below", "champion's",
    "confidence bound", "subset", "inspections", "precision_at_10pct", "candidate", "compare",
)  # fmt: skip


def _precision_metrics(
    population: str, precision: float | None, lower: float, area: str = "tillganglighet"
) -> pl.DataFrame:
    """An area's gate figures: precision@10 % on ``population`` (None: not measured), a calibrated ECE."""
    rows = [("all", "ece", 0.01, None, None)]
    if precision is not None:
        rows.append((population, "precision_at_10pct", precision, lower, 0.95))
    return pl.DataFrame(
        {
            "population": [row[0] for row in rows],
            "fold": ["all"] * len(rows),
            "risk_area": [area] * len(rows),
            "scorer": ["model"] * len(rows),
            "metric": [row[1] for row in rows],
            "value": [row[2] for row in rows],
            "lower": [row[3] for row in rows],
            "upper": [row[4] for row in rows],
        },
        schema_overrides={"lower": pl.Float64, "upper": pl.Float64},
    )


@pytest.mark.parametrize(
    ("candidate", "champion", "rule", "swedish"),
    [
        (_ece_metrics(0.095, 0.051), None, "point",
         "Tillgänglighet: förväntat kalibreringsfel (ECE) 0,095 (alla inspekterade enheter) är över "
         "gränsvärdet 0,030"),
        (_ece_metrics(0.080, 0.051), None, "noise",
         "Tillgänglighet: förväntat kalibreringsfel (ECE) 0,080 (alla inspekterade enheter) är över både "
         "gränsvärdet 0,030 och brusbandet för en välkalibrerad modell (0,051)"),
        (_precision_metrics("random", 0.4, 0.3), _precision_metrics("random", 0.6, 0.5), "noise",
         "Tillgänglighet: kandidatens precision bland de 10 % högst rankade (slumpvis inspekterade enheter) "
         "är 40,0\u00a0%, under championens nedre 95 %-gräns 50,0\u00a0%"),
        (_precision_metrics("random", None, 0.0), _precision_metrics("random", 0.6, 0.5), "noise",
         "kandidaten har ingen precision bland de 10 % högst rankade för slumpvis inspekterade enheter att "
         "jämföra med championens"),
        (_precision_metrics("random", 0.6, 0.5, "samverkan"), _precision_metrics("random", 0.6, 0.5), "noise",
         "Tillgänglighet: kandidatens precision bland de 10 % högst rankade (slumpvis inspekterade enheter) "
         "saknas; championens nedre 95 %-gräns är 50,0\u00a0%"),
        (_ece_metrics(math.nan, 0.051), None, "noise",
         "Tillgänglighet: förväntat kalibreringsfel (ECE) (alla inspekterade enheter) saknas och kan inte "
         "prövas mot gränsvärdet 0,030"),
    ],
    ids=["ece-over-threshold", "ece-over-noise-band", "precision-below-champion", "no-gate-metric",
         "no-precision-in-an-area", "ece-not-measured"],
)  # fmt: skip
def test_each_failed_gate_reads_in_swedish_with_its_figures_and_the_areas_swedish_name(
    models_config: Config,
    candidate: pl.DataFrame,
    champion: pl.DataFrame | None,
    rule: str,
    swedish: str,
) -> None:
    # Given a candidate that fails one gate, and the configured areas' Swedish names
    settings = models_config.model.model_copy(update={"ece_gate_rule": rule})
    # When the gates are checked
    refusals = promotion_refusals(candidate, champion, settings, models_config.risk_area_names_sv)
    # Then the failed gate reads in Swedish, with its figures in decimal commas, and no English in it
    assert [refusal.sv for refusal in refusals][:1] == [swedish], refusals
    leaked = [text for text in ENGLISH_GATE_TEXT if text in refusals[0].sv.lower()]
    assert not leaked, f"English gate text in the Swedish refusal: {leaked}: {refusals[0].sv}"
    # And the analyst's English sentence is there beside it
    assert refusals[0].en.startswith(("tillganglighet: ", "the candidate has no random-subset")), refusals[0]


class _Echo(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: list[str], params: Any = None) -> list[str]:
        return model_input


def _finished_run(tracking: Tracking, metrics: pl.DataFrame) -> str:
    """A complete training run as far as promotion reads one: metrics, lineage and a (trivial) model."""
    with tracking.run("forced") as run:
        run.log_table(metrics, "evaluation/metrics.parquet")
        uri = mlflow.pyfunc.log_model(
            name="model", python_model=_Echo(), pip_requirements=["mlflow"]
        ).model_uri
        run.log_dict({"model_uri": uri, "as_of": "2025-01-01"}, "lineage.json")
        return run.run_id


def test_a_forced_promotion_tags_the_failed_gates_in_english_and_in_swedish(
    tmp_path: Path, models_config: Config
) -> None:
    # Given a complete run whose calibration fails the gate, in a store of its own: promoted, this stand-in
    # (no configuration, no trees) would be the champion every later test of the session's store compares with
    tracking = Tracking(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts")
    run_id = _finished_run(tracking, _ece_metrics(0.095, 0.051))
    settings = models_config.model.model_copy(update={"ece_gate_rule": "point"})
    # When it is promoted with force, the areas named as configured
    decision = promote(tracking, run_id, settings, force=True, area_names=models_config.risk_area_names_sv)
    # Then the version carries the analyst's English reasons as before and the planners' Swedish ones
    assert decision.promoted, decision.reasons
    tags = tracking.client.get_model_version("tillsynsrisk", str(decision.version)).tags
    english = "tillganglighet: expected calibration error 0.095 (all inspections) exceeds the threshold 0.030"
    assert english in tags["forced_despite"], tags
    assert (
        "Tillgänglighet: förväntat kalibreringsfel (ECE) 0,095 (alla inspekterade enheter) är över "
        "gränsvärdet 0,030" in tags["forced_despite_sv"]
    ), tags
    assert tags["forced_despite_sv"] == "; ".join(decision.reasons_sv), "the tag is the decision's reasons"
    assert len(decision.reasons_sv) == len(decision.reasons), "one Swedish sentence per English one"


@pytest.mark.slow
def test_logging_the_model_gives_mlflow_nothing_to_warn_about(  # noqa: PLR0917 (fixtures)
    champion_run: TrainingResult,
    models_tracking: Tracking,
    toy_training_rows: pl.DataFrame,
    toy_catalog_records: list[dict[str, object]],
    caplog: pytest.LogCaptureFixture,
    recwarn: pytest.WarningsRecorder,
) -> None:
    # Given a fitted model and rows of its features
    example = training_data(toy_training_rows, toy_catalog_records).latest_features.head(10)
    # When it is logged as the training job does
    with caplog.at_level(logging.INFO, logger="mlflow"), models_tracking.run("log-model") as run:
        uri = run.log_model(champion_run.model, example)
    # Then it carries an input example and a signature, and MLflow warned about neither nor CloudPickle
    with models_tracking.activated():
        info = mlflow.models.get_model_info(uri)
    assert info.signature is not None and info.saved_input_example_info is not None
    said = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    said += [
        str(warning.message)
        for warning in recwarn
        if "mlflow" in warning.filename and not issubclass(warning.category, DeprecationWarning)
    ]  # DeprecationWarnings from library code are not shown by Python (nor in the demo)
    assert said == [], f"MLflow warned while the model was logged: {said}"
