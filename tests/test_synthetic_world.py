"""The synthetic world: contract-valid tables, determinism, and truth that the observations follow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandera.errors
import polars as pl
import pytest
from typer.testing import CliRunner

from cli import app
from engine.config import Config, load_config
from engine.contract import table_schemas
from synthetic import World, WorldParams, generate_world
from synthetic.writer import swedish_csv_text

SMALL = {"n_units": 150, "years": 3}


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def world(config: Config) -> World:
    return generate_world(WorldParams(seed=5, **SMALL), config)


def test_every_table_validates_against_the_contract(world: World, config: Config) -> None:
    specs = table_schemas(config)
    for name, frame in world.tables.items():
        try:
            specs[name].schema.validate(frame, lazy=True)
        except pandera.errors.SchemaErrors as error:
            pytest.fail(f"generated table {name!r} breaks the contract: {error}")
    required = {name for name, spec in specs.items() if spec.required}
    assert required <= set(world.tables), f"missing tables: {required - set(world.tables)}"


def test_same_seed_gives_identical_csv_and_other_seed_differs(world: World, config: Config) -> None:
    again = generate_world(WorldParams(seed=5, **SMALL), config)
    other = generate_world(WorldParams(seed=6, **SMALL), config)
    for name, frame in world.tables.items():
        assert swedish_csv_text(frame) == swedish_csv_text(again.tables[name]), f"{name} differs for one seed"
    assert swedish_csv_text(world.tables["complaints"]) != swedish_csv_text(other.tables["complaints"]), (
        "a different seed should give a different world"
    )


def test_cli_writes_byte_identical_files_per_seed(tmp_path: Path) -> None:
    args = ["generate", "--seed", "3", "--units", "60", "--years", "2"]
    first = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a")])
    second = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b")])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    names = sorted(p.name for p in (tmp_path / "a").glob("*.csv"))
    assert "availability.csv" in names and "inspections.csv" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), f"{name} differs"
    head = (tmp_path / "a" / "availability.csv").read_bytes()[:60]
    assert head.startswith(b"\xef\xbb\xbfunit_id;period;"), f"not a Swedish export (BOM, ';'): {head!r}"
    assert (tmp_path / "a" / "truth" / "risk.parquet").exists()
    assert not (tmp_path / "a" / "truth" / "faults.json").exists(), "faults.json written without --faults"


def test_csv_uses_decimal_comma_and_month_periods(world: World) -> None:
    text = swedish_csv_text(world.tables["availability"].head(3))
    first_row = text.splitlines()[1].split(";")
    assert len(first_row[1]) == 7 and first_row[1][4] == "-", (
        f"period should be YYYY-MM, got {first_row[1]!r}"
    )
    assert "," in first_row[5] and "." not in first_row[5], (
        f"share should use a decimal comma: {first_row[5]!r}"
    )


@pytest.mark.parametrize(
    "bad", [{"end": "2025-13"}, {"n_units": 5}, {"deficiency_rate": {"personcentrering": 0.1}}],
    ids=["bad-month", "too-few-units", "missing-areas"],
)  # fmt: skip
def test_invalid_parameters_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"end must be YYYY-MM|greater than or equal|must cover exactly"):
        WorldParams(**bad)  # type: ignore[arg-type]


def test_cli_rejects_an_unknown_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "--seed", "1", "--out", str(tmp_path), "--format", "xlsx"])
    assert result.exit_code == 1
    assert "xlsx" in result.output and "parquet" in result.output


def _active_span(world: World) -> pl.DataFrame:
    return world.tables["units"].select(
        "unit_id", "active_from", active_to=pl.col("active_to").fill_null(dt.date(2100, 1, 1))
    )


@pytest.mark.parametrize("table", ["complaints", "lex_maria"], ids=["complaints", "lex-maria"])
def test_no_event_outside_the_unit_active_period(world: World, table: str) -> None:
    events = world.tables[table].join(_active_span(world), on="unit_id")
    outside = events.filter(
        (pl.col("event_date") < pl.col("active_from")) | (pl.col("event_date") > pl.col("active_to"))
    )
    assert events.height == world.tables[table].height, "events for unknown units"
    assert outside.is_empty(), f"{outside.height} {table} events outside the active period"


@pytest.mark.parametrize("table", ["availability", "continuity"], ids=["availability", "continuity"])
def test_no_indicator_row_outside_the_unit_active_period(world: World, table: str) -> None:
    rows = world.tables[table].join(_active_span(world), on="unit_id")
    outside = rows.filter(
        (pl.col("period") < pl.col("active_from")) | (pl.col("period") > pl.col("active_to"))
    )
    assert outside.is_empty(), f"{outside.height} {table} rows outside the active period"


def test_units_open_and_close_during_the_period(world: World) -> None:
    units = world.tables["units"]
    start = world.params.start_month
    assert units.filter(pl.col("active_from") >= start).height > 0, "no unit opens during the period"
    assert units.filter(pl.col("active_to").is_not_null()).height > 0, "no unit closes during the period"


def test_lex_maria_is_received_weeks_to_months_after_the_event(world: World) -> None:
    lag = world.tables["lex_maria"].select(
        days=(pl.col("received_date") - pl.col("event_date")).dt.total_days()
    )
    assert lag["days"].min() >= 0, "a lex Maria report received before its event"
    assert 21 <= lag["days"].median() <= 120, f"median lex Maria lag {lag['days'].median()} days"
    complaint_lag = world.tables["complaints"].select(
        days=(pl.col("received_date") - pl.col("event_date")).dt.total_days()
    )["days"]
    assert 2 <= complaint_lag.median() <= 21, f"median complaint lag {complaint_lag.median()} days"


def test_inspection_outcomes_track_the_true_probability(config: Config) -> None:
    # a larger world, so each probability bin holds enough inspections
    world = generate_world(WorldParams(seed=8, n_units=400, years=4), config)
    rows = world.tables["inspections"].join(world.truth["inspections"], on=["inspection_id", "risk_area"])
    assert rows.height == world.tables["inspections"].height, "every inspection row needs its truth"
    binned = (
        rows.with_columns(deficient=(pl.col("finding") != "none").cast(pl.Float64))
        .group_by(bin=(pl.col("p_deficiency") * 5).floor().clip(0, 4))
        .agg(observed=pl.col("deficient").mean(), expected=pl.col("p_deficiency").mean(), n=pl.len())
        .filter(pl.col("n") >= 100)
    )
    assert binned.height >= 3, f"too few populated probability bins: {binned}"
    # within 3.5 binomial standard errors in every bin
    z = binned.select(
        (
            (pl.col("observed") - pl.col("expected")).abs()
            / (pl.col("expected") * (1 - pl.col("expected")) / pl.col("n")).sqrt()
        ).max()
    ).item()
    assert z < 3.5, f"observed deficiency rates drift from the truth (max z = {z:.1f}): {binned.sort('bin')}"
    serious = (
        rows.filter(pl.col("finding") == "serious").height / rows.filter(pl.col("finding") != "none").height
    )
    assert 0.03 <= serious <= 0.12, (
        f"serious share of deficiencies {serious:.3f} outside the stated 5-10 % band"
    )


def test_complaint_driven_inspections_find_more_than_random_ones(world: World) -> None:
    # selection bias: the complaint rule picks riskier units than the stratified sample does
    rows = world.tables["inspections"].join(world.truth["inspections"], on=["inspection_id", "risk_area"])
    by_selection = dict(rows.group_by("selection").agg(pl.col("p_deficiency").mean()).iter_rows())
    assert by_selection["complaint_triggered"] > by_selection["random"] + 0.03, by_selection
    random_rows = world.tables["inspections"].filter(pl.col("selection") == "random")
    assert random_rows["inclusion_probability"].is_not_null().all(), (
        "random inspections need their probability"
    )


def test_observations_worsen_with_latent_risk(world: World) -> None:
    # units in the riskiest fifth (true tillgänglighet risk) report lower phone accessibility
    risk = world.truth["risk"].filter(pl.col("risk_area") == "tillganglighet")
    phone = world.tables["availability"].filter(pl.col("measure") == "phone_same_day_share")
    joined = phone.join(risk, left_on=["unit_id", "period"], right_on=["unit_id", "month"])
    ranked = joined.with_columns(high=pl.col("latent") > pl.col("latent").quantile(0.8))
    shares = dict(
        ranked.group_by("high").agg(pl.col("numerator").sum() / pl.col("denominator").sum()).iter_rows()
    )
    assert shares[True] < shares[False] - 0.03, f"phone share barely responds to risk: {shares}"
    counts = world.tables["complaints"].group_by("unit_id").len()
    mean_risk = world.truth["risk"].group_by("unit_id").agg(pl.col("latent").mean())
    units = world.tables["units"].join(mean_risk, on="unit_id").join(counts, on="unit_id", how="left")
    per_10k = units.select(
        rate=pl.col("len").fill_null(0) / pl.col("listed_patients"), latent=pl.col("latent")
    )
    correlation = np.corrcoef(np.log1p(per_10k["rate"].to_numpy() * 1e4), per_10k["latent"].to_numpy())[0, 1]
    assert correlation > 0.4, f"complaint rate barely follows latent risk (r = {correlation:.2f})"


def test_latent_risk_is_persistent(world: World) -> None:
    risk = world.truth["risk"].filter(pl.col("risk_area") == "personcentrering")
    first = risk.filter(pl.col("month") == pl.col("month").min()).select("unit_id", a="latent")
    later = risk.filter(pl.col("month") == pl.col("month").max()).select("unit_id", b="latent")
    both = first.join(later, on="unit_id")
    correlation = np.corrcoef(both["a"].to_numpy(), both["b"].to_numpy())[0, 1]
    assert 0.6 < correlation < 0.99, (
        f"latent risk over {world.params.years} years correlates {correlation:.2f}"
    )


def test_truth_covers_every_unit_area_and_active_month(world: World, config: Config) -> None:
    risk = world.truth["risk"]
    assert set(risk["risk_area"].unique()) == set(config.risk_area_ids)
    assert risk.select(pl.col("p_serious") <= pl.col("p_deficiency")).to_series().all()
    per_unit = risk.group_by("unit_id").agg(pl.col("month").n_unique())
    assert per_unit.height == world.tables["units"].height, "every unit needs latent risk"


def test_every_parameter_is_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "synthetic-world.md").read_text(encoding="utf-8")
    undocumented = [name for name in WorldParams.model_fields if f"`{name}`" not in doc]
    assert undocumented == [], f"parameters missing from docs/synthetic-world.md: {undocumented}"


def test_serious_share_is_a_per_area_assumption_the_world_reproduces(config: Config) -> None:
    # given a world whose personcentrering deficiencies are serious four times as often as the others'
    shares = {"personcentrering": 0.28, "tillganglighet": 0.07, "samverkan": 0.07, "kontinuitet": 0.07,
              "systematiskt_kvalitetsarbete": 0.07}  # fmt: skip
    world = generate_world(
        WorldParams(seed=8, n_units=400, years=4, serious_share_of_deficiencies=shares), config
    )
    # when the truth's serious share of deficiencies is measured per area over every active unit-month
    # (inspections are chosen towards risky units, where serious findings are a larger share)
    truth = world.truth["risk"]
    measured = dict(
        truth.group_by("risk_area")
        .agg((pl.col("p_serious").sum() / pl.col("p_deficiency").sum()).alias("share"))
        .iter_rows()
    )
    # then each area's share is its own stated assumption, not one pooled share
    for area, share in shares.items():
        assert abs(measured[area] - share) < 0.01, (
            f"{area}: serious share {measured[area]:.3f}, stated {share}"
        )


def test_a_single_serious_share_applies_to_every_area() -> None:
    # given a world parameter file from before the share was per area (one number)
    params = WorldParams(serious_share_of_deficiencies=0.1)  # type: ignore[arg-type]
    # then every area gets it
    assert set(params.serious_share_of_deficiencies.values()) == {0.1}
