"""The same command on one snapshot and configuration gives the same bytes (docs/models.md, Determinism)."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from cli import app
from engine.config import load_config
from engine.order_free import order_free_mean, order_free_sum
from engine.scores import ScoreStore
from engine.settings import Settings
from features.pipeline import build_features
from models.estimator import ROWS_PER_THREAD, RiskClassifier
from models.registry import tracking_for
from serving.scoring import overall_predictions, relative_contributions
from synthetic.params import WorldParams
from synthetic.world import generate_world
from tests.cli_support import generated_and_ingested

# What a training run logs that must repeat: the test folds' predictions of the model and of every
# baseline (the elastic net among them), their metrics, the training features kept for drift checks and
# the final model's predictions.
REPEATED_ARTIFACTS = (
    "evaluation/predictions.parquet",
    "evaluation/metrics.parquet",
    "evaluation/training_features.parquet",
    "reference/predictions.parquet",
)


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _invoke(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, f"{args[0]} failed: {result.output[-2000:]}"
    return result.output


def _trained_run(runner: CliRunner) -> str:
    found = re.search(r"run id: ([0-9a-f]{32})", _invoke(runner, ["train", "--as-of", "2026-01-01"]))
    assert found, "train did not print a run id"
    return found.group(1)


def _scored(runner: CliRunner, settings: Settings) -> tuple[str, bytes, bytes]:
    """Score with the champion from freshly built features: (score id, scores file, feature table file)."""
    shutil.rmtree(settings.features_dir, ignore_errors=True)  # the next score builds its features again
    output = _invoke(runner, ["score"])
    (score_file,) = settings.scores_dir.glob("*.parquet")
    score_id = score_file.stem
    assert score_id in output, f"score did not print its id {score_id}"
    (feature_file,) = settings.features_dir.glob("*/features.parquet")
    scores, features = score_file.read_bytes(), feature_file.read_bytes()
    shutil.rmtree(settings.scores_dir)
    return score_id, scores, features


def _scored_for_team(runner: CliRunner, settings: Settings, team: str) -> tuple[str, bytes, dict[str, str]]:
    """Score for ``team`` (not published): (score id, scores file, the team its lineage records)."""
    output = _invoke(runner, ["score", "--team", team])
    (score_file,) = settings.scores_dir.glob("*.parquet")
    assert score_file.stem in output, f"score --team did not print its id {score_file.stem}"
    assert "stored, not published" in output, "a team's scoring was published by default"
    planned = ScoreStore(settings.scores_dir).metadata(score_file.stem).planned_inspection
    scores = score_file.read_bytes()
    shutil.rmtree(settings.scores_dir)
    return score_file.stem, scores, planned


@pytest.mark.slow
@pytest.mark.usefixtures("cli_home_with_models")
def test_training_and_scoring_twice_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one ingested snapshot, trained twice with the same configuration (one test fold, to stay quick)
    default = (Path(__file__).parent.parent / "engine" / "default_config.toml").read_text(encoding="utf-8")
    quick = default.replace("evaluation_years = 3", "evaluation_years = 1")
    assert quick != default, "the default configuration no longer sets evaluation_years = 3"
    (tmp_path / "config.toml").write_text(quick, encoding="utf-8")
    monkeypatch.setenv("TILLSYNSRISK_CONFIG", str(tmp_path / "config.toml"))
    runner = CliRunner()
    generated_and_ingested(runner, tmp_path / "world", seed=5, units=120, years=5)
    settings = Settings()
    tracking = tracking_for(settings)
    first, second = _trained_run(runner), _trained_run(runner)

    # When the first run is the champion and scores twice, then the second run scores
    _invoke(runner, ["promote", first, "--force"])
    first_id, first_scores, first_features = _scored(runner, settings)
    again_id, again_scores, again_features = _scored(runner, settings)
    team_id, team_scores, planned = _scored_for_team(runner, settings, "nord")
    team_again_id, team_again_scores, _ = _scored_for_team(runner, settings, "nord")
    unknown = runner.invoke(app, ["score", "--team", "nosuchteam"])
    _invoke(runner, ["promote", second, "--force"])
    _, second_scores, _ = _scored(runner, settings)

    # Then both runs logged the same predictions and metrics, byte for byte
    for artifact in REPEATED_ARTIFACTS:
        assert tracking.read_bytes(first, artifact) == tracking.read_bytes(second, artifact), (
            f"two training runs on one snapshot logged different {artifact}"
        )
    # And the feature table, the scores file and so the score id repeat
    assert again_features == first_features, "building the same feature set twice gave different bytes"
    assert again_scores == first_scores, "scoring twice with one champion gave different score files"
    assert again_id == first_id, "scoring twice with one champion gave different score ids"
    # And the second run's model scores every unit exactly as the first run's
    assert second_scores == first_scores, "two models trained on one snapshot scored differently"
    # And scoring for a named team repeats too, under an id of its own that records the team
    assert (team_again_id, team_again_scores) == (team_id, team_scores), "score --team did not repeat"
    assert team_id != first_id and team_scores != first_scores, "score --team scored team-neutral"
    assert planned == {"team": "nord"}, planned
    # And a team the champion does not know is a usage error that lists the known ones
    assert unknown.exit_code == 2, unknown.output
    assert "unknown team 'nosuchteam'; known: [" in " ".join(unknown.output.split()), unknown.output


def test_order_free_sums_do_not_depend_on_row_order() -> None:
    # Given many floats in a few groups, and the same rows in another order
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"group": rng.integers(0, 5, 50_000), "value": rng.random(50_000) * 1e3})
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)

    # When summed and averaged per group, and per group as a window
    def aggregated(rows: pl.DataFrame) -> pl.DataFrame:
        return (
            rows.group_by("group")
            .agg(total=order_free_sum(pl.col("value")), mean=order_free_mean(pl.col("value")))
            .sort("group")
        )

    def windowed(rows: pl.DataFrame) -> pl.DataFrame:
        return (
            rows.select("group", total=order_free_sum(pl.col("value")).over("group")).unique().sort("group")
        )

    # Then the results are the same bits (a plain sum in another order differs in the last bits)
    assert aggregated(frame).equals(aggregated(shuffled)), "order_free sums changed with the row order"
    assert windowed(frame).equals(windowed(shuffled)), (
        "order_free sums over a window changed with the row order"
    )
    assert np.allclose(
        aggregated(frame)["total"], frame.group_by("group").agg(pl.col("value").sum()).sort("group")["value"]
    )


def test_lightgbm_grows_the_same_trees_on_one_thread_and_on_two() -> None:
    # Given data large enough that a fit really uses two threads, with NaNs, a category and bagging
    rng = np.random.default_rng(3)
    n = 2 * ROWS_PER_THREAD
    x = rng.normal(size=(n, 8))
    x[:, 7] = rng.integers(0, 6, n)
    x[rng.random((n, 8)) < 0.05] = np.nan
    y = (np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1]) + rng.normal(size=n) > 0.3).astype(int)
    weights = rng.uniform(0.5, 2.0, n)

    # When the same model is fitted with one and with two threads
    def fitted(threads: int) -> RiskClassifier:
        return RiskClassifier(
            n_estimators=30, num_threads=threads, categorical_features=[7], monotone_constraints=[1] + [0] * 7
        ).fit(x, y, sample_weight=weights)

    one, two = fitted(1), fitted(2)

    # Then the trees and so every prediction and contribution are the same bits
    def trees(model: RiskClassifier) -> str:
        text = model.booster_.model_to_string()
        return text[: text.index("parameters:")]  # the parameters section names the thread count

    assert trees(one) == trees(two), "LightGBM grew different trees on one and on two threads"
    assert np.array_equal(one.predict_contributions(x), two.predict_contributions(x))


@pytest.mark.slow
def test_the_feature_table_repeats_bit_for_bit() -> None:
    # Given a generated world and a year of monthly planning dates
    config = load_config()
    world = generate_world(WorldParams(seed=5, n_units=300, years=4), config)
    tables = {name: frame.lazy() for name, frame in world.tables.items()}
    dates = [dt.date(2024, month, 1) for month in range(1, 13)]

    # When the feature table is built three times
    built = [_parquet_bytes(build_features(tables, dates, config).collect()) for _ in range(3)]

    # Then every build is the same bytes (the provider roll-ups and national shares sum floats in groups)
    assert built[1] == built[0] and built[2] == built[0], "the same feature table came out different"


def test_scoring_means_do_not_depend_on_row_order() -> None:
    # Given one planning date's predictions for many units in five areas, and the same rows shuffled
    rng = np.random.default_rng(4)
    units, areas, names = 4_000, ["a", "b", "c", "d", "e"], ["f1", "f2", "f3"]
    n = units * len(areas)
    unit_ids = [f"u{i:05d}" for i in range(units)]
    predictions = pl.DataFrame(
        {
            "unit_id": unit_ids * len(areas),
            "as_of": [dt.date(2026, 1, 1)] * n,
            "risk_area": [area for area in areas for _ in range(units)],
            "p_deficiency": rng.random(n),
            "p_serious": rng.random(n) * 0.1,
            "contributions": pl.DataFrame({name: rng.normal(size=n) for name in names}).to_struct(),
        }
    )
    features = pl.DataFrame(
        {
            "unit_id": unit_ids,
            "as_of": [dt.date(2026, 1, 1)] * units,
            **{name: rng.random(units) for name in names},
        }
    )
    shuffled = predictions.sample(fraction=1.0, shuffle=True, seed=2)
    key = ["unit_id", "risk_area"]

    # When contributions are made relative to the date's units, and averaged over the areas per unit
    def relative(rows: pl.DataFrame) -> pl.DataFrame:
        return relative_contributions(rows.lazy(), features.lazy(), names).collect().sort(key)

    def overall(rows: pl.DataFrame) -> pl.DataFrame:
        return overall_predictions(rows.lazy(), names).collect().sort(key)

    # Then the rows in either order give the same bits
    assert relative(predictions).equals(relative(shuffled)), (
        "relative contributions changed with the row order"
    )
    assert overall(predictions).equals(overall(shuffled)), "the overall means changed with the row order"
