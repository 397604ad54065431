"""The optional visits table agrees with the continuity truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.config import load_config
from engine.contract import table_schemas
from synthetic import World, WorldParams, generate_world


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(WorldParams(seed=9, n_units=150, years=2, with_visits=True), load_config())


def test_visits_validate_and_stay_inside_the_active_period(world: World) -> None:
    visits = world.tables["visits"]
    table_schemas(load_config())["visits"].schema.validate(visits)
    span = world.tables["units"].select(
        "unit_id", "active_from", active_to=pl.col("active_to").fill_null(dt.date(2100, 1, 1))
    )
    outside = visits.join(span, on="unit_id").filter(
        (pl.col("visit_date") < pl.col("active_from")) | (pl.col("visit_date") > pl.col("active_to"))
    )
    assert outside.is_empty(), f"{outside.height} visits outside the unit's active period"


def test_pseudonyms_never_look_like_personal_numbers(world: World) -> None:
    visits = world.tables["visits"]
    for column in ("patient_pseudonym", "clinician_pseudonym"):
        suspicious = visits.filter(pl.col(column).str.contains(r"\d{8}|\d{6}[-+]?\d{4}"))
        assert suspicious.is_empty(), f"{column} holds identifier-like digit runs: {suspicious.head(3)}"


def test_usual_provider_continuity_follows_the_true_regular_doctor_share(world: World) -> None:
    # UPC: share of a patient's doctor visits with the doctor they saw most, averaged per unit
    doctor_visits = world.tables["visits"].filter(pl.col("profession") == "lakare")
    upc = (
        doctor_visits.group_by("unit_id", "patient_pseudonym", "clinician_pseudonym")
        .len()
        .group_by("unit_id", "patient_pseudonym")
        .agg(top=pl.col("len").max(), total=pl.col("len").sum())
        .filter(pl.col("total") >= 3)
        .group_by("unit_id")
        .agg(upc=(pl.col("top") / pl.col("total")).mean())
    )
    truth = (
        world.truth["continuity"]
        .group_by("unit_id")
        .agg(truth=(pl.col("named_doctor_share") * pl.col("regular_doctor_probability")).mean())
    )
    both = upc.join(truth, on="unit_id")
    assert both.height > 100, f"too few units with repeat visitors: {both.height}"
    correlation = np.corrcoef(both["upc"].to_numpy(), both["truth"].to_numpy())[0, 1]
    assert correlation > 0.6, f"UPC correlates only {correlation:.2f} with the true regular-doctor share"
    low = both.filter(pl.col("truth") < pl.col("truth").quantile(0.25))["upc"].mean()
    high = both.filter(pl.col("truth") > pl.col("truth").quantile(0.75))["upc"].mean()
    assert low < high, f"low-continuity units should see more doctors: UPC {low} vs {high}"  # type: ignore[operator]
