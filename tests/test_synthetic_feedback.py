"""Inspections that change the later risk: the joint month-by-month simulation of the realistic worlds."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

from engine.config import load_config
from synthetic import World, WorldParams, generate_world
from synthetic.scenarios import scenario_params

# Digests of the default world (seed 5, 120 units, 2 years, with visits) as the generator wrote it before
# the joint simulation existed: the default scenario must stay byte-identical to earlier versions. One
# deliberate change since: units carry SCB's real kommun codes (drawn in the same order, only the labels
# differ), so the units table has a new digest and every other table the old one. A second: the serious
# share of deficiencies is solved per area (the shares the single pooled 7 % gave each area), so the truth's
# p_serious moved by 1–3 % (the defaults are rounded; truth/risk, truth/inspections); every observed
# table kept its digest.
_DEFAULT_DIGESTS = {
    "providers": "f3811dac87a65816",
    "units": "55902d2f56a68ff6",
    "complaints": "d44a1234e9b0b239",
    "lex_maria": "3798aeae9a6a4d11",
    "availability": "345853c1732b30a0",
    "continuity": "523f768571d906bf",
    "patient_survey": "bf70beb5ada1eeb6",
    "national_patient_survey": "eb0947f00a83b91f",
    "core_indicators": "6b69c6395fbba38b",
    "inspections": "90e19861ddf44b04",
    "attributes": "8a0275e6e718dcdc",
    "visits": "5cd564226f04eba1",
    "truth/risk": "0e361ed9e180e60f",
    "truth/inspections": "2d7f8cae30e53fc2",
    "truth/continuity": "227b72d43133053d",
}


def _digest(frame: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    for column in frame.columns:
        digest.update(column.encode())
        digest.update(str(frame[column].to_list()).encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def worlds() -> tuple[World, World, World]:
    """The realistic world, the same with föreläggande effects only, and the same without any effect."""
    config = load_config()
    params = {"seed": 3, "n_units": 500, "years": 5}
    joint = generate_world(scenario_params("realistic", **params), config)
    orders_only = generate_world(scenario_params("realistic", **params, deficiency_effect=0.0), config)
    without = generate_world(
        scenario_params("realistic", **params, enforcement_effect=0.0, deficiency_effect=0.0), config
    )
    return joint, orders_only, without


def _first_orders(world: World) -> pl.DataFrame:
    """Per unit and area the decision month of its first föreläggande (serious finding)."""
    return (
        world.tables["inspections"]
        .filter(pl.col("finding") == "serious")
        .group_by("unit_id", "risk_area")
        .agg(decided=pl.col("decision_date").min().dt.truncate("1mo"))
    )


def test_risk_drops_after_an_order_and_is_unchanged_before_it(worlds: tuple[World, World, World]) -> None:
    # given the realistic world with föreläggande effects only and the same world without inspection
    # effects (the same base risk)
    _, joint, without = worlds
    orders = _first_orders(joint)
    assert orders.height > 20, orders
    paired = (
        joint.truth["risk"]
        .join(without.truth["risk"], on=["unit_id", "risk_area", "month"], suffix="_base")
        .join(orders, on=["unit_id", "risk_area"])
        .with_columns(
            months_after=(pl.col("month").dt.year() - pl.col("decided").dt.year()) * 12
            + pl.col("month").dt.month().cast(pl.Int32)
            - pl.col("decided").dt.month().cast(pl.Int32),
            change=pl.col("latent") - pl.col("latent_base"),
        )
    )
    before = paired.filter(pl.col("months_after") < 0)
    after = paired.filter(pl.col("months_after").is_between(3, 14))
    # then before the decision the risk is the base risk (findings come from it, nothing changes it)
    # and in the twelve months from three months after the decision it is lower, by about the
    # enforcement effect decayed over a year (−0.8 · mean of 0.95^k, k < 12 ≈ −0.61)
    assert before["change"].abs().max() < 1e-9  # type: ignore[operator]
    mean_change = after["change"].mean()
    assert -0.8 < mean_change < -0.45, mean_change  # type: ignore[operator]
    assert joint.truth["risk"]["latent"].mean() < without.truth["risk"]["latent"].mean()  # type: ignore[operator]


def test_the_selection_saw_the_complaints_the_tables_hold(worlds: tuple[World, World, World]) -> None:
    # given the realistic world, whose complaints were redrawn after every föreläggande
    joint, _, _ = worlds
    complaints = joint.tables["complaints"].with_columns(received=pl.col("received_date").dt.truncate("1mo"))
    triggered = (
        joint.tables["inspections"]
        .filter(pl.col("selection") == "complaint_triggered")
        .select("inspection_id", "unit_id", month=pl.col("start_date").dt.truncate("1mo"))
        .unique()
    )
    # when the complaints received in the three months before each complaint-triggered inspection are
    # counted from the complaints table
    window = (
        triggered.join(complaints, on="unit_id", how="left")
        .filter(
            (pl.col("received") < pl.col("month"))
            & (pl.col("received") >= pl.col("month").dt.offset_by("-3mo"))
        )
        .group_by("inspection_id")
        .len()
    )
    # then every one of them had the at least two complaints the rule needs
    counts = triggered.join(window, on="inspection_id", how="left").with_columns(pl.col("len").fill_null(0))
    assert counts.height > 50
    assert (counts["len"] >= 2).all(), counts.filter(pl.col("len") < 2)


def test_observations_before_the_first_change_are_the_base_worlds(
    worlds: tuple[World, World, World],
) -> None:
    # given the realistic world and the same without effects and, per unit, the first month its risk
    # changed
    joint, _, without = worlds
    changed = (
        joint.truth["risk"]
        .join(without.truth["risk"], on=["unit_id", "risk_area", "month"], suffix="_base")
        .filter((pl.col("latent") - pl.col("latent_base")).abs() > 0)
        .group_by("unit_id")
        .agg(first=pl.col("month").min())
    )
    assert changed.height > 20

    def before_change(frame: pl.DataFrame, date: str) -> pl.DataFrame:
        return (
            frame.join(changed, on="unit_id", how="left")
            .filter(pl.col("first").is_null() | (pl.col(date) < pl.col("first")))
            .drop("first")
        )

    # then complaints and availability rows before it are exactly those of the world without effects
    keys = ["unit_id", "event_date", "received_date", "category"]
    assert (
        before_change(joint.tables["complaints"], "event_date")
        .select(keys)
        .sort(keys)
        .equals(before_change(without.tables["complaints"], "event_date").select(keys).sort(keys))
    )
    assert before_change(joint.tables["availability"], "period").equals(
        before_change(without.tables["availability"], "period")
    )
    # while the changed units' later complaints differ (they were redrawn from the lowered risk)
    assert joint.tables["complaints"].height != without.tables["complaints"].height


def test_default_world_is_byte_identical_to_earlier_generator_versions() -> None:
    world = generate_world(WorldParams(seed=5, n_units=120, years=2, with_visits=True), load_config())
    frames = {**world.tables, **{f"truth/{name}": frame for name, frame in world.truth.items()}}
    digests = {name: _digest(frame) for name, frame in frames.items()}
    assert digests == _DEFAULT_DIGESTS
