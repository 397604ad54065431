"""The tools on the hard scenarios (issue 11): a weak world and a world with a change part way through.

- ``weak``: promoting a second model that is not better than the champion is refused, on the paired
  interval of the difference, and the evaluation says per area what the intervals allow it to say.
- ``shifted`` (four reporting changes from 2023-07, among them every complaint rate × 1.8 and a
  complaint e-service at half the providers; docs/synthetic-world.md): ``compare`` of a run trained
  before the change with one trained after flags the complaint features, which the same run's periods
  before the change do not.

Small worlds and one test fold per run keep each test bounded; docs/models.md ("Scenarios: weak and
shifted") has the same commands at the default scale.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli import app
from engine.settings import Settings
from models.jobs import drift_windows, psi_table
from models.registry import tracking_for
from tests.cli_support import configured

AREAS = ["personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete"]


def _invoke(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, f"{args[0]} failed: {result.output[-3000:]}"
    return result.output


def _run_id(output: str) -> str:
    found = re.search(r"run id: ([0-9a-f]{32})", output)
    assert found, f"train did not print a run id: {output[-2000:]}"
    return found.group(1)


def _scenario_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: str, *, units: int, years: int
) -> CliRunner:
    """A generated and ingested world of ``scenario``, its own MLflow store, one test fold per run."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("TILLSYNSRISK_MLFLOW_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    # What these tests read (the promotion gate's verdict, the drift of the features) does not depend on
    # the model family, so LightGBM alone serves every area: the family choice is half of a training here.
    quick = configured(
        tmp_path / "config.toml", evaluation_years="1", bootstrap_resamples="50", families='["lightgbm"]'
    )
    monkeypatch.setenv("TILLSYNSRISK_CONFIG", str(quick))
    runner = CliRunner(env={"COLUMNS": "250"})
    world = tmp_path / "world"
    generate = ["generate", "--scenario", scenario, "--seed", "3", "--units", str(units)]
    _invoke(runner, [*generate, "--years", str(years), "--out", str(world)])
    _invoke(runner, ["ingest", str(world), "--reference-date", "2026-01-15"])
    return runner


@pytest.mark.slow
@pytest.mark.usefixtures("cli_home_with_models")
def test_on_a_weak_world_a_challenger_that_is_not_better_is_refused_on_the_paired_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a weak world (2020–2025), a champion trained at 2024-01-01 and a challenger at 2025-01-01
    runner = _scenario_world(tmp_path, monkeypatch, "weak", units=240, years=6)
    champion = _run_id(_invoke(runner, ["train", "--as-of", "2024-01-01"]))
    _invoke(runner, ["promote", champion, "--force"])
    trained = _invoke(runner, ["train", "--as-of", "2025-01-01"])
    challenger = _run_id(trained)

    # Then the evaluation gives every area a verdict in words, read from the intervals it prints
    assert "Verdict (random selections, precision@10 %" in trained
    result = json.loads(_invoke(runner, ["evaluate", challenger, "--json"]))
    for area in AREAS:
        verdict = result[area]["verdict"]
        model = verdict["model"]
        above = model["lower"] > verdict["base_rate"]
        assert (verdict["vs_random"] == "better") <= above, verdict["sentence_en"]
        assert verdict["best_baseline"] in ("complaints", "banding", "logistic") and verdict["paired"]
        assert "random level (base rate)" in verdict["sentence_en"]
        assert "slumpnivån" in verdict["sentence_sv"]
        assert sorted(result[area]["folds"]) == ["2024"]

    # When promoting the challenger (2025's inspections: both models are out of sample there)
    outcome = runner.invoke(app, ["promote", challenger])
    text = " ".join(outcome.output.split())

    # Then it is refused because no area's paired interval of challenger − champion lies above zero
    assert outcome.exit_code != 0, text[-3000:]
    assert "Evidence: paired comparison" in text and "2025-01-01" in text
    rule = (
        "better than the champion in no area on paired all precision_at_10pct (rule 'interval': the whole "
        "95 % interval of the difference above zero); challenger − champion: "
    )
    assert rule in text, text[-3000:]
    differences = re.findall(
        r"(\w+) ([+-]\d\.\d{3}) \(([+-]\d\.\d{3}) to ([+-]\d\.\d{3})\)", text.split(rule)[1]
    )
    assert sorted(d[0] for d in differences) == sorted(AREAS)
    assert all(float(lower) <= 0.0 for _, _, lower, _ in differences), differences
    assert all(float(lower) <= float(value) <= float(upper) for _, value, lower, upper in differences)


def _flagged_share(psi: pl.DataFrame) -> dict[bool, float]:
    """Share of the complaint features (True) and of the others (False) flagged as shifted."""
    shares = psi.group_by(pl.col("feature").str.contains("complaints").alias("complaint")).agg(
        (pl.col("shift") != "none").mean().alias("flagged")
    )
    return dict(zip(shares["complaint"].to_list(), shares["flagged"].to_list(), strict=True))


@pytest.mark.slow
@pytest.mark.usefixtures("cli_home_with_models")
def test_on_a_shifted_world_compare_flags_the_complaint_features(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the shifted world (2018–2025; complaints × 1.8 from 2023-07), a run trained at 2023-07-01
    # (before the change) and one trained at 2026-01-01
    runner = _scenario_world(tmp_path, monkeypatch, "shifted", units=300, years=8)
    before = _run_id(_invoke(runner, ["train", "--as-of", "2023-07-01"]))
    after = _run_id(_invoke(runner, ["train", "--as-of", "2026-01-01"]))

    # When comparing them
    result = json.loads(_invoke(runner, ["compare", before, after, "--json"]))

    # Then the PSI compares what the later run saw after the change with as long a stretch before it
    windows = result["psi_windows"]
    assert windows["after"] == ["2023-07-01", "2026-01-01"] and windows["before"][1] == "2023-07-01"
    assert min(windows["n_before"], windows["n_after"]) > 100
    # And the complaint features are flagged, far more often than the others
    psi = pl.DataFrame(result["psi"])
    shares = _flagged_share(psi)
    flagged = [*result["flagged"]["major"], *result["flagged"]["moderate"]]
    assert sum("complaints" in name for name in flagged) >= 5, flagged
    assert shares[True] >= 0.25 and shares[True] >= 2 * shares[False], shares
    # And nothing is flagged that lies within the noise of these row counts
    assert (psi.filter(pl.col("shift") != "none")["psi"] > psi["noise"][0]).all()
    printed = _invoke(runner, ["compare", before, after])
    assert "⚑ major" in printed and "features shifted majorly" in printed

    # And the same run's two periods before the change (a control) flag the complaint features far less
    tracking = tracking_for(Settings())
    features = tracking.read_table(after, "evaluation/training_features.parquet")
    control = drift_windows(features, features, dt.date(2021, 7, 1), dt.date(2023, 7, 1))
    assert control.to_dict()["after"] == ["2021-07-01", "2023-07-01"]
    assert _flagged_share(psi_table(control.before, control.after))[True] * 2 <= shares[True]

    # And evaluate shows the model per test year, with ECE beside its noise band
    evaluated = _invoke(runner, ["evaluate", after])
    assert "Model per test year, all inspections" in evaluated and "ECE noise 97.5%" in evaluated
