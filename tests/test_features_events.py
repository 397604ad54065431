"""Event-source features on hand-computed worlds: windows, areas, rates, trend, recency, severity."""

from __future__ import annotations

import datetime as dt
import math
import tomllib

import polars as pl
import pytest

from engine.config import Config, config_from_mapping, default_config_text, load_config
from features.pipeline import build_features
from tests.test_features_world import event_row, tiny_world, unit_row

AS_OF = dt.date(2021, 1, 1)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


def row_of(frame: pl.DataFrame, unit_id: str) -> dict[str, object]:
    rows = frame.filter(pl.col("unit_id") == unit_id).to_dicts()
    assert len(rows) == 1, f"expected exactly one row for {unit_id}, got {len(rows)}"
    return rows[0]


@pytest.fixture(scope="module")
def complaint_world(config: Config) -> pl.DataFrame:
    complaints = [
        event_row("U1", dt.date(2021, 1, 1), "vantetid"),  # on the planning date: not yet known
        event_row("U1", dt.date(2020, 12, 31), "vantetid"),  # 3 months
        event_row("U1", dt.date(2020, 10, 1), "bemotande"),  # first day of the 3-month window
        event_row("U1", dt.date(2020, 9, 30), "vantetid"),  # 6 months
        event_row("U1", dt.date(2020, 1, 1), "remiss"),  # first day of the 12-month window
        event_row("U1", dt.date(2019, 12, 31), "vantetid"),  # 24 months (previous 12)
        event_row("U1", dt.date(2018, 12, 31), "vantetid"),  # before every window
    ]
    lex_maria = [
        event_row("U1", dt.date(2020, 6, 1), "fordrojd_bedomning", "vardskada"),
        event_row("U1", dt.date(2020, 7, 1), "fordrojd_diagnos", "allvarlig_vardskada"),
        event_row("U1", dt.date(2019, 7, 1), "fordrojd_diagnos", "allvarlig_vardskada"),
    ]
    world = tiny_world(
        config,
        [unit_row("U1", 5_000), unit_row("U2", 2_000), unit_row("U0", 0)],
        events={"complaints": complaints, "lex_maria": lex_maria},
    )
    return build_features(world, [AS_OF], config).collect()


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("complaints_count_3m", 2.0),
        ("complaints_count_6m", 3.0),
        ("complaints_count_12m", 4.0),
        ("complaints_count_24m", 5.0),
        ("complaints_tillganglighet_count_3m", 1.0),
        ("complaints_tillganglighet_count_12m", 2.0),
        ("complaints_personcentrering_count_3m", 1.0),
        ("complaints_samverkan_count_12m", 1.0),
        ("complaints_samverkan_count_3m", 0.0),
        ("complaints_kontinuitet_count_24m", 0.0),
    ],
    ids=str,
)
def test_event_counts_cover_trailing_windows_strictly_before_as_of(
    complaint_world: pl.DataFrame, column: str, expected: float
) -> None:
    # given complaints on both sides of every window boundary, one received on the planning date
    # then each count includes the window's first day and excludes the planning date itself
    assert row_of(complaint_world, "U1")[column] == expected, f"{column} miscounted"


def test_event_rate_is_per_10k_listed_and_null_without_listed_patients(complaint_world: pl.DataFrame) -> None:
    # 4 complaints in 12 months for 5,000 listed patients -> 8 per 10,000
    assert row_of(complaint_world, "U1")["complaints_per_10k_12m"] == pytest.approx(8.0)
    assert row_of(complaint_world, "U2")["complaints_per_10k_12m"] == 0.0
    assert row_of(complaint_world, "U0")["complaints_per_10k_12m"] is None, (
        "a rate over 0 listed must be null"
    )


def test_event_trend_is_log_ratio_of_last_12_to_previous_12_months(complaint_world: pl.DataFrame) -> None:
    # 4 in the last 12 months, 1 in the 12 before -> log(5 / 2)
    assert row_of(complaint_world, "U1")["complaints_trend_12m"] == pytest.approx(math.log(5 / 2))
    assert row_of(complaint_world, "U2")["complaints_trend_12m"] == 0.0


def test_days_since_last_event_is_null_with_flag_when_none(complaint_world: pl.DataFrame) -> None:
    u1, u2 = row_of(complaint_world, "U1"), row_of(complaint_world, "U2")
    assert u1["complaints_days_since_last"] == 1.0, "last known complaint was received the day before"
    assert u1["complaints_has_any"] == 1.0
    assert u2["complaints_days_since_last"] is None, "no complaint ever: days since must be null, not 0"
    assert u2["complaints_has_any"] == 0.0


def test_severity_weighted_counts_use_configured_weights(complaint_world: pl.DataFrame) -> None:
    # lex Maria: vårdskada (1) + allvarlig vårdskada (3) within 12 months, one more serious before
    u1 = row_of(complaint_world, "U1")
    assert u1["lex_maria_severity_weighted_12m"] == pytest.approx(4.0)
    assert u1["lex_maria_severity_weighted_24m"] == pytest.approx(7.0)
    assert "complaints_severity_weighted_12m" not in complaint_world.columns, "complaints have no severities"


def test_event_features_are_exact_for_a_mid_month_planning_date(config: Config) -> None:
    # given complaints on 14 and 15 March; planning on 15 March counts only the first
    world = tiny_world(
        config,
        [unit_row("U1")],
        events={
            "complaints": [
                event_row("U1", dt.date(2021, 3, 14), "vantetid"),
                event_row("U1", dt.date(2021, 3, 15), "vantetid"),
                event_row("U1", dt.date(2020, 12, 15), "vantetid"),  # exactly 3 months before
                event_row("U1", dt.date(2020, 12, 14), "vantetid"),
            ]
        },
    )
    row = build_features(world, [dt.date(2021, 3, 15)], config).collect().row(0, named=True)
    assert row["complaints_count_3m"] == 2.0, "window [2020-12-15, 2021-03-15) holds two complaints"
    assert row["complaints_count_6m"] == 3.0


def test_event_source_publication_lag_delays_when_events_count() -> None:
    # given complaints that reach the analysis 10 days after they are received
    mapping = tomllib.loads(default_config_text())
    mapping["sources"]["complaints"]["publication_lag_days"] = 10
    config = config_from_mapping(mapping)
    complaints = [
        event_row("U1", dt.date(2020, 12, 21), "vantetid"),
        event_row("U1", dt.date(2020, 12, 22), "vantetid"),
    ]
    world = tiny_world(config, [unit_row("U1")], events={"complaints": complaints})
    # then on 1 January only the complaint received on 21 December (usable 31 December) counts
    row = build_features(world, [AS_OF], config).collect().row(0, named=True)
    assert row["complaints_count_3m"] == 1.0
