"""On a small generated world trained once per session (tests/trained_home.py): train → evaluate → promote."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from engine.settings import Settings
from features.store import FeatureStore
from models.registry import tracking_for
from tests.trained_home import TrainedHome

TERMINAL = 120
# Words of the planner-facing Swedish texts that the analyst's commands once mixed into their English lines.
SWEDISH = ("slumpen", "jämförelsemetod", "slumpvis urval", "Beslutsunderlag", "tillsyner")
FAMILY_TITLE = "Model family per area"
TABLE_TITLE = re.compile(r"^(Random-selection inspections|All inspections|Calibration|Model per test year)")


def _faults_in_a_terminal(output: str) -> list[str]:
    """Lines wider than the terminal, cut cells ("…") and lines that speak Swedish."""
    faults = []
    for number, line in enumerate(output.splitlines(), start=1):
        if len(line) > TERMINAL:
            faults.append(f"line {number} is {len(line)} wide: {line!r}")
        if "…" in line:
            faults.append(f"line {number} has a cut cell: {line!r}")
        faults.extend(_swedish_in(line, number))
    return faults


def _swedish_in(line: str, number: int) -> list[str]:
    return [f"line {number} speaks Swedish ({word!r}): {line!r}" for word in SWEDISH if word in line]


def _table_titles(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if TABLE_TITLE.match(line.strip())]


@pytest.mark.slow
def test_train_evaluate_and_promote_on_a_generated_world(trained_copy: TrainedHome, tmp_path: Path) -> None:
    # Given a small synthetic world ingested as the current snapshot, trained on as of 2026-01-01 with a
    # terminal of 120 columns (tests/trained_home.py: the session's home, copied for this test)
    runner = CliRunner(env={"COLUMNS": str(TERMINAL)})
    trained, run_id = trained_copy.latest_output, trained_copy.latest_run

    # Then train prints its one table once, the model's interval whole, every line in English and uncut
    assert _table_titles(trained) == [
        "Random-selection inspections, all test folds (unbiased; only inspected units have labels)"
    ], f"train must print its one table once:\n{trained}"
    assert re.search(r"\d\.\d{3} \(\d\.\d{3}–\d\.\d{3}\)", trained), "no whole interval printed"
    assert _faults_in_a_terminal(trained) == [], "train's output does not read at 120 columns"
    # And it says which model family serves each area, chosen on the validation years
    assert FAMILY_TITLE in trained, f"train must show the model family per area:\n{trained}"

    # And evaluate prints each of its six tables once, uncut and in English, and the family choice
    shown = runner.invoke(app, ["evaluate", run_id])
    assert shown.exit_code == 0, shown.output
    titles = _table_titles(shown.output)
    assert len(titles) == len(set(titles)) == 6, f"evaluate's tables, each once: {titles}"
    assert _faults_in_a_terminal(shown.output) == [], "evaluate's output does not read at 120 columns"
    chosen = tracking_for(Settings()).read_json(run_id, "family/choice.json")["final"]
    assert FAMILY_TITLE in shown.output, "evaluate must show the model family per area"
    for area, choice in chosen.items():
        assert f"{area}: {choice['family']}: " in shown.output, (
            f"evaluate does not say why {area} is served so"
        )

    # And the run names its feature set by the id the feature store gives the same snapshot, dates and
    # configuration: building that set with `features` stores it under the run's id
    tracking = tracking_for(Settings())
    lineage = tracking.read_json(run_id, "lineage.json")
    tag = tracking.run_info(run_id)["tags"]["feature_set_id"]
    assert tag == lineage["feature_set_id"], "the run's tag and lineage name different feature sets"
    built = runner.invoke(app, ["features", "--as-of", ",".join(lineage["as_of_dates"])])
    assert built.exit_code == 0, built.output
    assert FeatureStore(Settings().features_dir).exists(tag), (
        f"the run names feature set {tag}, which `features` on its dates did not store: {built.output}"
    )

    # And evaluate --json reports every scorer per area, the oracle from truth/ included
    evaluated = runner.invoke(app, ["evaluate", run_id, "--json", "--out", str(tmp_path / "report.html")])
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.output)
    assert sorted(result) == sorted(
        ["personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete"]
    )
    area = result["tillganglighet"]
    assert area["family"]["family"] in {"elastic_net", "lightgbm", "blend"}, area.get("family")
    for scorer in ("model", "oracle", "random", "complaints", "banding", "logistic"):
        assert {
            "precision_at_5pct",
            "precision_at_10pct",
            "precision_at_20pct",
            "roc_auc",
            "average_precision",
        } <= set(area[scorer]), f"{scorer} lacks headline metrics"
    assert {"ece", "ece_ci", "ece_noise", "ece_noise_upper", "expected_precision_at_10pct"} <= set(
        area["model"]
    )
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Bara inspekterade enheter har utfall" in report, (
        "the report must say only inspected units have labels"
    )
    assert "data:image/png;base64," in report, "plots must be embedded"
    assert report.count("Modelltyp: ") == 5, "the report must name each area's model family"

    # And promote either registers the champion or names the failed gates, with its evidence in English
    promoted = runner.invoke(app, ["promote", run_id])
    assert promoted.exit_code == 0 or "promotion refused" in promoted.output, promoted.output
    assert "Evidence: " in promoted.output, f"promote must state its evidence: {promoted.output}"
    swedish = [fault for n, line in enumerate(promoted.output.splitlines()) for fault in _swedish_in(line, n)]
    assert swedish == [], "promote speaks English to the analyst"


@pytest.mark.slow
def test_train_and_evaluate_show_the_minimum_detectable_difference_on_both_populations(
    trained_copy: TrainedHome,
) -> None:
    # Given the session's world trained as of 2026-01-01 (random selections and complaint-triggered
    # inspections carry their inclusion probability), read at 120 columns
    runner = CliRunner(env={"COLUMNS": str(TERMINAL)})

    # When evaluate shows the run
    shown = runner.invoke(app, ["evaluate", trained_copy.latest_run])
    assert shown.exit_code == 0, shown.output

    # Then train and evaluate each give a verdict on the random selections and one on the weighted
    # inspections, and every comparison with the best baseline states its minimum detectable difference
    for name, output in (("train", trained_copy.latest_output), ("evaluate", shown.output)):
        flat = " ".join(output.split())
        assert "Verdict (random selections," in flat, f"{name}: no verdict on the random selections"
        assert "Verdict (inspections with known selection probability, weighted," in flat, (
            f"{name}: no verdict on the weighted population:\n{output}"
        )
        baselines = flat.count("model − baseline")
        stated = re.findall(r"minimum detectable difference \d\.\d{3} \(\d+\.\d percentage points", flat)
        assert baselines > 0 and len(stated) == baselines, (
            f"{name}: {baselines} comparisons with the best baseline, {len(stated)} with their MDD"
        )
        assert _faults_in_a_terminal(output) == [], f"{name}'s verdicts do not read at 120 columns"
    # And evaluate --json carries both verdicts' MDD per area
    result = json.loads(runner.invoke(app, ["evaluate", trained_copy.latest_run, "--json"]).output)
    for area, entry in result.items():
        for verdict in (entry["verdict"], entry["weighted_inspections"]["verdict"]):
            assert verdict["mdd"] is not None and verdict["mdd"] >= 0, f"{area}: no MDD in {verdict}"
