"""`tillsynsrisk plan --design` and `tillsynsrisk estimate`: from a plan to a design-based share."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli import app
from engine.scores import ScoreStore
from engine.settings import Settings
from tests.scores_factory import make_scores, write_published

runner = CliRunner()
AREA = "tillganglighet"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path))
    write_published(ScoreStore(Settings().scores_dir), make_scores(units=60))
    return tmp_path


def _plan(*args: str) -> dict[str, object]:
    result = runner.invoke(
        app, ["plan", "--capacity", "20", "--seed", "3", "--risk-area", AREA, "--cooldown-months", "0",
              "--json", *args],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def _filled_export(home: Path, plan_id: str) -> Path:
    out = home / "plan.csv"
    exported = runner.invoke(app, ["plan", "export", plan_id, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = pl.read_csv(out, separator=";", decimal_comma=True, infer_schema_length=0)
    filled = rows.with_columns(
        start_date=pl.lit("2025-07-01"),
        decision_date=pl.lit("2025-09-01"),
        finding=pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.lit("deficiency")).otherwise(pl.lit("none")),
    )
    filled.write_csv(out, separator=";")
    return out


def test_a_pps_plan_is_stored_with_its_design_and_reproducible(home: Path) -> None:
    first = _plan("--design", "pps", "--floor", "0.1")
    again = _plan("--design", "pps", "--floor", "0.1")
    other = _plan("--design", "pps", "--floor", "0.2")
    assert first["plan_id"] == again["plan_id"] and first["chosen"] == again["chosen"]
    assert other["plan_id"] != first["plan_id"], "the floor is part of the plan id"
    assert first["design"] == "pps" and first["zero_probability_units"] == 0
    chosen = first["chosen"]
    assert isinstance(chosen, list) and len(chosen) == 20
    assert all(unit["inclusion_probability"] >= 0.1 - 1e-9 for unit in chosen)
    assert isinstance(first["expected_standard_errors"], dict) and first["expected_standard_errors"][AREA] > 0


def test_estimate_reports_a_share_with_an_interval_from_the_filled_export(home: Path) -> None:
    plan = _plan("--design", "stratified")
    out = _filled_export(home, str(plan["plan_id"]))
    result = runner.invoke(app, ["estimate", str(plan["plan_id"]), "--inspections", str(out), "--json"])
    assert result.exit_code == 0, result.output
    estimates = json.loads(result.stdout)["estimates"]
    national = next(e for e in estimates if e["domain"] == "national" and e["risk_area"] == AREA)
    assert national["n"] == 20
    assert 0 < national["lower"] < national["share"] < national["upper"] < 1
    assert national["share"] == pytest.approx(7 / 20), "equal probabilities: the sample share"


def test_estimate_refuses_a_plan_whose_probabilities_are_unknown(home: Path) -> None:
    plan = _plan("--exploration", "0")
    out = _filled_export(home, str(plan["plan_id"]))
    result = runner.invoke(app, ["estimate", str(plan["plan_id"]), "--inspections", str(out)])
    assert result.exit_code == 2
    assert "inclusion probability 0" in result.stderr


def test_floor_with_another_design_is_a_usage_error(home: Path) -> None:
    result = runner.invoke(app, ["plan", "--capacity", "5", "--seed", "1", "--floor", "0.1"])
    assert result.exit_code == 2 and "--design pps only" in result.stderr
