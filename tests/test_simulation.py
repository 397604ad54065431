"""`tillsynsrisk simulate` and simulation.loop: the planning loop on a tiny synthetic world (bounded)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli import app
from engine.config import load_config
from simulation.loop import SimulationSettings, interval, simulate, summary_table
from synthetic.scenarios import scenario_params

runner = CliRunner()


@pytest.fixture(scope="module")
def result() -> object:
    settings = SimulationSettings(n_units=300, years=2, seeds=(3,), capacity=40, floor=0.05)
    return simulate(load_config(), settings)


def test_the_loop_plans_every_design_every_year(result: object) -> None:
    metrics = result.metrics  # type: ignore[attr-defined]
    assert metrics.group_by("design").len().sort("design")["len"].to_list() == [2] * 5
    assert (metrics["planned"] == 40).all()
    first = metrics.filter(pl.col("year") == metrics["year"].min())
    best = first.filter(pl.col("design") == "oracle")["true_expected_findings"].item()
    assert best >= first["true_expected_findings"].max() - 1e-9, "the oracle bounds every design in year 1"
    assert first.filter(pl.col("design") == "top")["expected_findings"].item() > 0


def test_estimates_exist_for_probability_designs_only(result: object) -> None:
    estimates = result.estimates  # type: ignore[attr-defined]
    designs = set(estimates["design"].to_list())
    assert {"pps", "stratified", "random", "top"} <= designs and "oracle" not in designs
    assert set(estimates.filter(pl.col("design") == "top")["estimator"]) == {"design", "exploration_only"}
    assert estimates["truth"].is_between(0, 1).all()


def test_the_loop_takes_the_configured_exploration_and_cooldown(result: object) -> None:
    # Given settings that name neither, then the run used (and reports) the configuration's [planning] ones
    planning = load_config().planning
    used = result.settings  # type: ignore[attr-defined]
    assert (used.exploration, used.cooldown_months) == (planning.exploration, planning.cooldown_months)
    curve = result.curve  # type: ignore[attr-defined]
    shares = set(curve.filter(pl.col("design") == "top")["setting"].to_list())
    assert planning.exploration in shares, "the trade-off curve includes the top arm's own share"


def test_summary_has_intervals_and_cumulative_rows(result: object) -> None:
    summary = summary_table(result)  # type: ignore[arg-type]
    assert set(summary["period"].to_list()) >= {"all"}
    row = summary.filter((pl.col("design") == "pps") & (pl.col("period") == "all")).row(0, named=True)
    assert row["findings_lower"] <= row["findings"] <= row["findings_upper"]


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        SimulationSettings(scenario="utopia")
    result = runner.invoke(app, ["simulate", "--scenario", "utopia"])
    assert result.exit_code == 2 and "unknown scenario" in result.stderr


def test_a_scenario_names_the_world_the_loop_runs_in() -> None:
    # Given the realistic scenario, when the simulation asks for a seed's world
    params = SimulationSettings(scenario="realistic", n_units=300).world_params(3)
    # Then it is that scenario's world (synthetic.scenarios), at the asked size and seed
    assert (params.scenario, params.seed, params.n_units) == ("realistic", 3, 300)
    assert params == scenario_params("realistic", seed=3, n_units=300)


def test_simulate_command_writes_the_report_and_an_mlflow_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "var"))
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["simulate", "--units", "300", "--years", "1", "--seeds", "5", "--capacity", "30",
              "--designs", "pps,random", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "Urvalsdesigner" in html and "data:image/png;base64" in html
    assert "MLflow run" in result.output


def test_interval_over_seeds_uses_students_t() -> None:
    mean, low, high = interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert mean == 3.0 and mean - low == pytest.approx(high - mean)
    assert high - mean == pytest.approx(2.776 * (2.5**0.5) / 5**0.5, rel=1e-3)
    assert interval([2.0]) == (2.0, 2.0, 2.0)


@pytest.mark.slow
def test_simulate_warns_when_the_pps_floor_makes_pps_the_random_design(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 20 inspections a year among more than 200 eligible units: K/N is below the default floor 0.1 (as
    # 60 inspections among the default world's 770-900 eligible units are)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "250")
    # When the simulation runs pps (default floor) next to random
    result = runner.invoke(
        app, ["simulate", "--units", "300", "--years", "1", "--seeds", "5", "--capacity", "20",
              "--designs", "pps,random", "--out", str(tmp_path / "report.html")],
    )  # fmt: skip
    # Then it says pps is the random design there and names the largest floor that still follows risk
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "the pps floor 0.1 is at or above capacity / eligible units" in output, output
    assert "the largest useful floor is" in output


def test_the_random_floor_advice_counts_the_years_where_pps_was_random() -> None:
    from cli.simulate_cmd import random_floor_advice

    # Given pps with 800 and 900 eligible units in two years (K/N = 0.075 and 0.0667) and a top arm
    metrics = pl.DataFrame({"design": ["pps", "pps", "top"], "eligible": [800, 900, 10]})
    # Then a floor below both is silent, and one between them is random in one year of two
    assert random_floor_advice(metrics, 0.05, 60) is None
    advice = random_floor_advice(metrics, 0.07, 60)
    assert advice is not None and "in 1 of 2 simulated years" in advice, advice
    assert advice.endswith("the largest useful floor is 0.066"), advice
