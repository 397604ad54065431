"""Context, provider rollup and inspection history on hand-computed worlds."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from engine.config import Config, load_config
from features.pipeline import build_features
from tests.test_features_world import event_row, tiny_world, unit_row

AS_OF = dt.date(2021, 1, 1)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


def by_unit(frame: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {str(row["unit_id"]): row for row in frame.to_dicts()}


def test_only_units_active_at_as_of_get_a_row(config: Config) -> None:
    units = [
        unit_row("OPEN", active_from=dt.date(2020, 1, 1)),
        unit_row("LATER", active_from=dt.date(2021, 1, 2)),
        unit_row("CLOSED", active_from=dt.date(2015, 1, 1), active_to=dt.date(2020, 12, 31)),
        unit_row("LAST_DAY", active_from=dt.date(2015, 1, 1), active_to=AS_OF),
    ]
    frame = build_features(tiny_world(config, units), [AS_OF], config).collect()
    assert frame["unit_id"].to_list() == ["LAST_DAY", "OPEN"]
    assert by_unit(frame)["OPEN"]["unit_age_months"] == 12.0


def test_provider_rollup_excludes_the_unit_itself(config: Config) -> None:
    # given provider P1 with units A (2 complaints), B (0) and C (lone unit of P2)
    units = [
        unit_row("A", 10_000, provider_id="P1"),
        unit_row("B", 10_000, provider_id="P1"),
        unit_row("C", 10_000, provider_id="P2"),
    ]
    complaints = [event_row("A", dt.date(2020, 5, 1), "vantetid", event_id="a1"),
                  event_row("A", dt.date(2020, 6, 1), "vantetid", event_id="a2")]  # fmt: skip
    inspections = [
        ("I1", "A", dt.date(2019, 1, 1), dt.date(2019, 2, 1), "tillganglighet", "deficiency"),
        ("I1", "A", dt.date(2019, 1, 1), dt.date(2019, 2, 1), "samverkan", "none"),
    ]
    world = tiny_world(config, units, events={"complaints": complaints}, inspections=inspections)
    rows = by_unit(build_features(world, [AS_OF], config).collect())
    rate = "provider_other_units_complaints_shrunk_per_10k_12m"
    # then A sees only B's signal and B only A's; C has no other units
    assert rows["A"]["provider_other_units"] == 1.0
    assert rows["A"][rate] == pytest.approx(rows["B"]["complaints_shrunk_per_10k_12m"])
    assert rows["B"][rate] == pytest.approx(rows["A"]["complaints_shrunk_per_10k_12m"])
    assert rows["A"][rate] != rows["B"][rate], "own signal leaked into the rollup"
    assert rows["C"]["provider_other_units"] == 0.0
    assert rows["C"][rate] is None, "a lone unit has no other units: null, not 0"
    assert rows["B"]["provider_other_units_deficiency_share"] == pytest.approx(0.5)
    assert rows["A"]["provider_other_units_deficiency_share"] is None, "B was never inspected"


@pytest.fixture(scope="module")
def history(config: Config) -> dict[str, dict[str, object]]:
    inspections = [
        ("I1", "A", dt.date(2018, 3, 1), dt.date(2018, 5, 1), "tillganglighet", "deficiency"),
        ("I1", "A", dt.date(2018, 3, 1), dt.date(2018, 5, 1), "kontinuitet", "none"),
        ("I2", "A", dt.date(2020, 9, 1), dt.date(2020, 12, 1), "tillganglighet", "none"),
        ("I2", "A", dt.date(2020, 9, 1), dt.date(2020, 12, 1), "samverkan", "serious"),
        ("I3", "A", dt.date(2020, 12, 1), dt.date(2021, 1, 1), "kontinuitet", "serious"),  # decided on as_of
    ]
    world = tiny_world(config, [unit_row("A"), unit_row("B")], inspections=inspections)
    return by_unit(build_features(world, [AS_OF], config).collect())


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("history_inspections", 2.0),
        ("history_deficiency_share", 0.5),  # 2 of 4 assessed areas
        ("history_days_since_inspection", 31.0),  # decided 1 December 2020
        ("history_tillganglighet_inspections", 2.0),
        ("history_tillganglighet_deficiency_share", 0.5),
        ("history_tillganglighet_last_deficiency", 0.0),  # the later decision found none
        ("history_samverkan_last_deficiency", 1.0),  # serious counts as a deficiency
        ("history_kontinuitet_inspections", 1.0),  # I3 is decided on the planning date: unknown
        ("history_kontinuitet_last_deficiency", 0.0),
        ("history_personcentrering_inspections", 0.0),
        ("history_personcentrering_deficiency_share", None),
    ],
    ids=str,
)
def test_history_counts_only_decisions_before_as_of(
    history: dict[str, dict[str, object]], column: str, expected: float | None
) -> None:
    assert history["A"][column] == (pytest.approx(expected) if expected is not None else None), column


def test_never_inspected_unit_has_zero_count_and_null_history(history: dict[str, dict[str, object]]) -> None:
    b = history["B"]
    assert b["history_inspections"] == 0.0
    assert b["history_days_since_inspection"] is None
    assert b["history_deficiency_share"] is None
    assert b["history_tillganglighet_last_deficiency"] is None
