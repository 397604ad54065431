"""National core indicators in the synthetic world: levels, publication pattern and risk direction."""

from __future__ import annotations

import polars as pl
import pytest

from engine.config import load_config
from synthetic import World, WorldParams, generate_world
from synthetic.core_indicators import CORE_MEASURES


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(WorldParams(seed=3, n_units=400, years=6), load_config())


def test_every_configured_core_measure_is_emitted_inside_its_configured_range(world: World) -> None:
    config = load_config()
    for name in ("national_patient_survey", "core_indicators"):
        source = config.indicator_sources[name]
        table = world.tables[source.file]
        assert sorted(table["measure"].unique()) == sorted(source.measures)
        for measure, spec in source.measures.items():
            values = table.filter(pl.col("measure") == measure)["value"]
            assert spec.value_min is not None and spec.value_max is not None
            assert values.is_between(spec.value_min, spec.value_max).all(), measure


def test_survey_is_biennial_with_half_the_regions_and_core_indicators_yearly(world: World) -> None:
    survey = world.tables["national_patient_survey"]
    assert set(survey["period"].dt.month().unique()) == {10}
    assert set(survey["period"].dt.year().unique()) == {2020, 2022, 2024}
    regions_per_year = (
        survey.join(world.tables["units"].select("unit_id", "region_code"), on="unit_id")
        .group_by(pl.col("period").dt.year())
        .agg(pl.col("region_code").n_unique())["region_code"]
    )
    assert regions_per_year.is_between(4, 18).all(), regions_per_year  # about half of 21
    core = world.tables["core_indicators"]
    assert set(core["period"].dt.month().unique()) == {12}


def test_national_levels_follow_the_published_figures(world: World) -> None:
    core = world.tables["core_indicators"].filter(pl.col("period").dt.year() == 2024)
    means = dict(core.group_by("measure").agg(pl.col("value").median()).iter_rows())
    assert means["regular_doctor_65plus_share"] == pytest.approx(0.64, abs=0.04)
    assert means["readmissions_30d_65plus"] == pytest.approx(89.0, rel=0.1)


def test_a_riskier_unit_reports_worse_core_indicators(world: World) -> None:
    # given each unit's true risk in December 2024 and its core indicators for 2024
    risk = world.truth["risk"].filter(pl.col("month") == pl.date(2024, 12, 1))
    core = world.tables["core_indicators"].filter(pl.col("period") == pl.date(2024, 12, 1))
    for measure, spec in CORE_MEASURES.items():
        if spec.biennial:
            continue
        joined = core.filter(pl.col("measure") == measure).join(
            risk.filter(pl.col("risk_area") == spec.risk_area), on="unit_id"
        )
        correlation = joined.select(pl.corr("value", "latent", method="spearman")).item()
        # then the figure moves with risk: down where higher is better, up otherwise
        assert (correlation < -0.2) if spec.higher_is_better else (correlation > 0.2), (measure, correlation)
