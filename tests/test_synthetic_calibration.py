"""Calibration: the generated world reproduces the published figures within stated tolerances."""

from __future__ import annotations

import polars as pl
import pytest

from engine.config import load_config
from synthetic import World, generate_world
from synthetic.calibration import (
    PROVIDER_DEFICIENCY_TARGETS,
    PROVIDER_SHARE_TOLERANCE,
    calibration_report,
    ivo_design_shares,
)
from synthetic.scenarios import SCENARIOS, scenario_params


@pytest.fixture(scope="module", params=list(SCENARIOS))
def small_world(request: pytest.FixtureRequest) -> World:
    # every scenario is a parameter set over the same calibrated generator: each must hit the figures
    return generate_world(scenario_params(request.param, seed=2, n_units=300, years=6), load_config())


@pytest.fixture(scope="module")
def small_report(small_world: World) -> pl.DataFrame:
    return calibration_report(small_world)


def _report_row(report: pl.DataFrame, metric: str) -> dict[str, object]:
    rows = report.filter(pl.col("metric") == metric)
    assert rows.height == 1, f"calibration report has no metric {metric!r}: {report['metric'].to_list()}"
    return rows.row(0, named=True)


@pytest.mark.parametrize(
    "metric",
    [
        "active vårdcentraler at end",
        "private share of active units",
        "listed patients at end",
        "phone_same_day_share national 2024",
        "phone_same_day_share national 2021",
        "assessment_3d_share national 2020",
        "assessment_3d_share national 2024",
        "assessment_3d_share Stockholm 2024",
        "named_doctor_share 2024, mean of regions",
        "named_doctor_share 2024, worst region error",
    ],
    ids=lambda metric: metric.replace(" ", "-"),
)
def test_structure_and_indicator_levels_match_published_figures(
    small_report: pl.DataFrame, metric: str
) -> None:
    row = _report_row(small_report, metric)
    assert row["within"], (
        f"{metric}: achieved {row['achieved']} vs target {row['target']} ± {row['tolerance']}"
    )


def test_listing_is_skewed_with_some_large_urban_units(small_world: World) -> None:
    listed = small_world.tables["units"]["listed_patients"]
    assert listed.median() < listed.mean(), "listing should be right-skewed"  # type: ignore[operator]
    large = (listed >= 15_000).mean()
    assert 0.02 <= large <= 0.2, f"share of units listing 15–25k is {large:.2%}"  # type: ignore[operator]
    assert listed.max() <= 25_000


def test_providers_are_regions_and_heavy_tailed_companies(small_world: World) -> None:
    providers = small_world.tables["providers"]
    regions = providers.filter(pl.col("ownership") == "public")
    assert regions.height == 21 and regions["provider_id"].str.starts_with("232100").all()
    sizes = (
        small_world.tables["units"].join(providers, on="provider_id").filter(pl.col("ownership") == "private")
    )
    per_company = sizes.group_by("provider_id").len()["len"]
    assert per_company.min() == 1 and per_company.max() > 5, f"company sizes {per_company.describe()}"  # type: ignore[operator]


def test_ivo_design_gives_one_share_per_area_and_the_joint_share(small_world: World) -> None:
    shares = ivo_design_shares(small_world, replicates=20)
    assert shares["risk_area"].to_list()[:-1] == list(PROVIDER_DEFICIENCY_TARGETS)
    assert shares["provider_share"].is_between(0, 1).all()
    ordered = (
        shares.filter(pl.col("risk_area") != "all_five_areas").sort("target")["provider_share"].to_list()
    )
    assert ordered == sorted(ordered), f"provider shares should follow the published order: {shares}"


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_default_world_reproduces_every_calibration_target(scenario: str) -> None:
    # given a default-scale world (1,200 units, 6 years) of every scenario, when the full calibration
    # report is computed
    world = generate_world(scenario_params(scenario, seed=42), load_config())
    report = calibration_report(world)
    # then every published figure is reproduced within its tolerance, including IVO's provider table
    failing = report.filter(~pl.col("within"))
    assert failing.is_empty(), f"calibration targets missed:\n{failing}"
    provider_rows = report.filter(pl.col("metric").str.starts_with("providers with deficiency"))
    assert provider_rows.height == 5
    assert (provider_rows["tolerance"] == PROVIDER_SHARE_TOLERANCE).all()
