"""The analyst's yearly retrain through the CLI (on the session's trained home, tests/trained_home.py), and
every tool on a world without random selections."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli import app
from engine.contract import REGIONS
from tests.cli_support import configured
from tests.trained_home import TrainedHome

AREAS = ["personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete"]


def _run_id(output: str) -> str:
    found = re.search(r"run id: ([0-9a-f]{32})", output)
    assert found, f"train did not print a run id: {output[-2000:]}"
    return found.group(1)


def _invoke(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, f"{args[0]} failed: {result.output[-3000:]}"
    return result.output


@pytest.mark.slow
def test_backtest_prospective_record_and_promotion_evidence_on_a_generated_world(
    trained_copy: TrainedHome, tmp_path: Path
) -> None:
    # Given a small world (2020–2025) and an MLflow store of its own (tests/trained_home.py, copied for
    # this test), where a model trained at 2025-01-01 was promoted as champion into the empty registry,
    # and one was trained at 2026-01-01
    runner = CliRunner(env={"COLUMNS": "250"})
    world = trained_copy.world
    first, promoted = trained_copy.champion_run, trained_copy.promoted_output
    assert "Evidence: no champion exists" in promoted and "Beslutsunderlag" not in promoted
    version = re.search(r"as tillsynsrisk version (\d+)", promoted)
    assert version, promoted
    second = trained_copy.latest_run

    # When both are backtested on the inspections decided in 2025
    args = ["backtest", version.group(1), second, "--since", "2025-01-01", "--until", "2026-01-01"]
    result = json.loads(_invoke(runner, [*args, "--json"]))

    # Then the window, the n per area and the paired differences with intervals are reported
    assert (result["since"], result["until"]) == ("2025-01-01", "2026-01-01")
    all_counts = {r["risk_area"]: r["n"] for r in result["counts"] if r["population"] == "all"}
    assert sorted(all_counts) == sorted(AREAS) and min(all_counts.values()) > 0
    diffs = [d for d in result["differences"] if d["metric"] == "precision_at_10pct"]
    populations = {d["population"] for d in diffs}
    assert populations == {"random", "all", "weighted"}, f"backtest populations {sorted(populations)}"
    assert len(diffs) == len(populations) * len(AREAS), (
        f"{len(diffs)} differences: one per population and area"
    )
    assert all(d["lower"] <= d["value"] <= d["upper"] for d in diffs), diffs
    # And only the 2026 model is marked in sample (it was trained on 2025's decisions)
    status = {v["version"]: v["in_sample"] for v in result["versions"]}
    assert status == {version.group(1): False, f"run:{second[:8]}": True}
    printed = _invoke(runner, args)
    assert "inspections decided 2025-01-01 – 2025-12-31" in printed and "IN SAMPLE" in printed
    refused = runner.invoke(app, [*args, "--out-of-sample-only"])
    assert refused.exit_code != 0 and "in sample" in refused.output

    # When the same backtest is restricted to the metropolitan regions and to every other region
    metro = ["--region", "01", "--region", "12,14"]
    others = ",".join(sorted(set(REGIONS) - {"01", "12", "14"}))
    in_metro = json.loads(_invoke(runner, [*args, *metro, "--json"]))
    outside = json.loads(_invoke(runner, [*args, "--region", others, "--json"]))

    # Then each counts only its own units' inspections: together exactly the unrestricted n, per area
    assert [r["region_code"] for r in in_metro["regions"]] == ["01", "12", "14"] and "regions" not in result
    for part in (in_metro, outside):
        assert all(v["inspections"] < result["versions"][0]["inspections"] for v in part["versions"])
    split = {(r["population"], r["risk_area"]): r["n"] for r in in_metro["counts"]}
    for r in outside["counts"]:
        split[(r["population"], r["risk_area"])] = split.get((r["population"], r["risk_area"]), 0) + r["n"]
    assert split == {(r["population"], r["risk_area"]): r["n"] for r in result["counts"]}
    printed_metro = _invoke(runner, [*args, *metro])
    assert "Regions: only inspections of units in 01 Stockholm, 12 Skåne, 14 Västra Götaland" in printed_metro
    assert "Regions:" not in printed
    unknown = runner.invoke(app, [*args, "--region", "01,99"])
    assert unknown.exit_code == 2 and "unknown region code(s) 99" in unknown.output
    assert "25 (Norrbotten)" in unknown.output

    # When the world is ingested again, the champion's prospective record is kept with its version
    ingested = _invoke(runner, ["ingest", str(world), "--reference-date", "2026-01-15"])
    assert "i drift sedan 2025-01-01" in ingested, ingested[-2000:]
    evaluated = json.loads(_invoke(runner, ["evaluate", first, "--json", "--out", str(tmp_path / "r.html")]))
    record = evaluated["tillganglighet"]["i_drift_sedan"]
    assert record["since"] == "2025-01-01" and record["all"]["n"] == all_counts["tillganglighet"]
    assert 0.0 <= record["all"]["precision_at_10pct"] <= 1.0
    report = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "i drift sedan 2025-01-01" in report and "<details>" in report

    # And promoting the 2026 model says which evidence it used (no common window after both cut-offs)
    outcome = runner.invoke(app, ["promote", second])
    assert "Evidence: each run's own test folds" in outcome.output, outcome.output


def _fresh_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An MLflow store for this test alone: the session's shared store may hold another champion."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("TILLSYNSRISK_MLFLOW_ARTIFACT_ROOT", str(tmp_path / "artifacts"))


def _without_random_selections(world: Path) -> None:
    """Rewrite the world's inspections as if no unit had been chosen at random (no π known either)."""
    path = world / "inspections.csv"
    frame = pl.read_csv(path, separator=";", infer_schema=False)
    frame = frame.with_columns(
        pl.when(pl.col("selection") == "random")
        .then(pl.lit("risk_based"))
        .otherwise(pl.col("selection"))
        .alias("selection"),
        pl.lit(None, dtype=pl.String).alias("inclusion_probability"),
    )
    frame.write_csv(path, separator=";")


@pytest.mark.slow
@pytest.mark.usefixtures("cli_home_with_models")
def test_train_evaluate_and_promote_work_without_random_selections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a world whose inspections include no random selection, and a fresh MLflow store (no champion)
    _fresh_store(tmp_path, monkeypatch)
    # (one test fold: the tables, the empty random block and the all-inspection gates do not need three)
    lenient = configured(tmp_path / "config.toml", ece_threshold="0.5", evaluation_years="1")
    monkeypatch.setenv("TILLSYNSRISK_CONFIG", str(lenient))
    runner = CliRunner(env={"COLUMNS": "250"})
    world = tmp_path / "world"
    _invoke(runner, ["generate", "--seed", "4", "--units", "300", "--years", "6", "--out", str(world)])
    _without_random_selections(world)
    _invoke(runner, ["ingest", str(world), "--reference-date", "2026-01-15"])

    # When training, train prints the all-inspection table and says the unbiased subset is empty
    trained = _invoke(runner, ["train", "--as-of", "2026-01-01"])
    assert "selection = random" in trained and "subset is empty" in trained
    assert "All inspections, all test folds" in trained
    run_id = _run_id(trained)

    # Then evaluate --json returns the all-inspection figures with the random block empty
    result = json.loads(_invoke(runner, ["evaluate", run_id, "--json"]))
    assert sorted(result) == sorted(AREAS)
    for area in AREAS:
        assert result[area]["n"] == 0 and result[area]["model"] is None, "random block is empty"
        assert result[area]["all_inspections"]["n"] > 0
        assert 0.0 <= result[area]["all_inspections"]["model"]["precision_at_10pct"] <= 1.0

    # And the first version is promoted without --force on the all-inspection gates
    promoted = runner.invoke(app, ["promote", run_id])
    assert promoted.exit_code == 0, promoted.output
    assert "forced despite" not in promoted.output
    assert "all inspections (no random selections)" in promoted.output
