"""Indicator features on hand-computed worlds: publication lag, windows, slope, thresholds, gaps."""

from __future__ import annotations

import datetime as dt
import tomllib

import numpy as np
import polars as pl
import pytest

from engine.config import Config, config_from_mapping, default_config_text, load_config
from features.pipeline import build_features
from tests.test_features_world import tiny_world, unit_row

PHONE = "phone_same_day_share"
PREFIX = f"availability_{PHONE}"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


def month(m: int, year: int = 2020) -> dt.date:
    return dt.date(year, m, 1)


def features_of(
    config: Config, rows: list[tuple[str, dt.date, str, int, int]], as_of: dt.date
) -> pl.DataFrame:
    units = [unit_row("U1"), unit_row("U2"), unit_row("U3"), unit_row("U4", region_code="03")]
    world = tiny_world(config, units, indicators={"availability": rows})
    return build_features(world, [as_of], config).collect().sort("unit_id")


def value(frame: pl.DataFrame, unit_id: str, column: str) -> object:
    return frame.filter(pl.col("unit_id") == unit_id)[column].item()


# U1 reports January..June 2020 with shares 0.81..0.86; U2 reports January..March at 0.90;
# U3 never reports; U4 (another region) reports May at 0.70.
ROWS = [
    *[("U1", month(m), PHONE, 80 + m, 100) for m in range(1, 7)],
    *[("U2", month(m), PHONE, 90, 100) for m in range(1, 4)],
    ("U4", month(5), PHONE, 70, 100),
]


@pytest.fixture(scope="module")
def mid_july(config: Config) -> pl.DataFrame:
    # availability has a 1-month publication lag: on 15 July 2020 the latest known month is May
    return features_of(config, ROWS, dt.date(2020, 7, 15))


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [
        ("latest", 0.85),  # May (June is not yet published)
        ("3m", (83 + 84 + 85) / 300),  # March..May, Σ numerator / Σ denominator
        ("12m", (81 + 82 + 83 + 84 + 85) / 500),
        ("slope_12m", 0.01),
        ("months_below_threshold_12m", 4.0),  # 0.81..0.84 are below the 0.85 guarantee
        ("gap_region_median", 0.0),  # U1 alone in region 01 in May
        ("gap_national", 0.85 - (85 + 70) / 200),
        ("months_since_report", 0.0),
    ],
    ids=str,
)
def test_indicator_statistics_for_a_steadily_improving_unit(
    mid_july: pl.DataFrame, statistic: str, expected: float
) -> None:
    assert value(mid_july, "U1", f"{PREFIX}_{statistic}") == pytest.approx(expected), statistic


def test_gap_uses_the_regional_median_of_the_units_latest_month(mid_july: pl.DataFrame) -> None:
    # U2's latest known month is March: region 01 shares that month are 0.83 (U1) and 0.90 (U2)
    assert value(mid_july, "U2", f"{PREFIX}_gap_region_median") == pytest.approx(0.90 - 0.865)
    assert value(mid_july, "U2", f"{PREFIX}_gap_national") == pytest.approx(0.90 - 173 / 200)
    assert value(mid_july, "U2", f"{PREFIX}_months_since_report") == 2.0
    assert value(mid_july, "U2", "availability_not_reporting") == 0.0


def test_trailing_share_is_ratio_of_sums_not_mean_of_shares(config: Config) -> None:
    # 10/10 in April and 0/90 in May: the mean of shares is 0.5, the share of all contacts is 0.1
    rows = [("U1", month(4), PHONE, 10, 10), ("U1", month(5), PHONE, 0, 90)]
    frame = features_of(config, rows, dt.date(2020, 7, 1))
    assert value(frame, "U1", f"{PREFIX}_3m") == pytest.approx(0.1)


def test_unit_that_never_reports_has_nulls_and_a_not_reporting_flag(mid_july: pl.DataFrame) -> None:
    values = {
        column: value(mid_july, "U3", column) for column in mid_july.columns if column.startswith(PREFIX)
    }
    assert all(v is None for v in values.values()), f"missing data must stay null, got {values}"
    assert value(mid_july, "U3", "availability_not_reporting") == 1.0


def test_unit_that_stopped_reporting_is_flagged_and_keeps_null_latest(config: Config) -> None:
    # U2 last reported March 2020; in January 2021 the latest known month is November 2020
    frame = features_of(config, ROWS, dt.date(2021, 1, 1))
    assert value(frame, "U2", "availability_not_reporting") == 1.0
    assert value(frame, "U2", f"{PREFIX}_months_since_report") == 8.0
    assert value(frame, "U2", f"{PREFIX}_3m") is None, "no reports in the window: null, not 0"
    assert value(frame, "U2", f"{PREFIX}_12m") == pytest.approx(0.90), "March is within the 12 months"
    assert value(frame, "U2", f"{PREFIX}_slope_12m") == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("as_of", "latest_known"),
    [
        (dt.date(2020, 6, 30), 0.84),  # May + 1 month + 1 month lag = 1 July
        (dt.date(2020, 7, 1), 0.85),
        (dt.date(2020, 7, 31), 0.85),
        (dt.date(2020, 8, 1), 0.86),
    ],
    ids=["june-30", "july-1", "july-31", "august-1"],
)
def test_month_becomes_known_one_month_plus_lag_after_it_starts(
    config: Config, as_of: dt.date, latest_known: float
) -> None:
    frame = features_of(config, ROWS, as_of)
    assert value(frame, "U1", f"{PREFIX}_latest") == pytest.approx(latest_known)


def test_zero_denominator_month_is_missing_not_a_zero_share(config: Config) -> None:
    rows = [("U1", month(4), PHONE, 80, 100), ("U1", month(5), PHONE, 0, 0)]
    frame = features_of(config, rows, dt.date(2020, 7, 1))
    assert value(frame, "U1", f"{PREFIX}_latest") == pytest.approx(0.80), "the empty May is skipped"
    assert value(frame, "U1", f"{PREFIX}_months_below_threshold_12m") == 1.0
    assert value(frame, "U1", f"{PREFIX}_months_since_report") == 1.0


def test_slope_matches_numpy_least_squares_with_missing_months(config: Config) -> None:
    shares = {1: 0.70, 2: 0.90, 4: 0.60, 7: 0.95, 8: 0.80}
    rows = [("U1", month(m), PHONE, int(s * 1000), 1000) for m, s in shares.items()]
    frame = features_of(config, rows, dt.date(2020, 10, 1))
    expected = np.polyfit(list(shares), list(shares.values()), 1)[0]
    assert value(frame, "U1", f"{PREFIX}_slope_12m") == pytest.approx(expected)


def test_lower_is_better_measure_counts_months_above_threshold() -> None:
    # given a configuration where the phone measure is a waiting share (lower is better, threshold 0.2)
    mapping = tomllib.loads(default_config_text())
    measure = mapping["sources"]["availability"]["measures"][PHONE]
    measure.update(higher_is_better=False, threshold=0.2)
    config = config_from_mapping(mapping)
    rows = [("U1", month(m), PHONE, share, 100) for m, share in [(1, 10), (2, 30), (3, 50), (4, 20)]]
    frame = features_of(config, rows, dt.date(2020, 6, 1))
    assert value(frame, "U1", f"{PREFIX}_months_below_threshold_12m") == 2.0, "0.3 and 0.5 exceed 0.2"


def test_the_one_pass_over_every_source_equals_each_source_built_alone(config: Config) -> None:
    # given a world with every indicator source; their publication lags differ (1, 2, 1 + 14 d, 5, 6 months)
    from features.context import active_units, unit_keys
    from features.indicators import indicator_features, indicator_sources_features
    from tests.test_features_world import small_world

    tables = {name: frame.collect().lazy() for name, frame in small_world(config).items()}
    dates = [dt.date(2019, 1, 1), dt.date(2019, 2, 15), dt.date(2019, 7, 1), dt.date(2020, 1, 1)]
    units_at = active_units(tables["units"], tables["providers"], dates)
    keys = unit_keys(tables["units"])
    stop = config.quality.stop_reporting_months
    # when all sources are built in one pass
    together = indicator_sources_features(
        {name: tables[source.file] for name, source in config.indicator_sources.items()},
        units_at,
        tables["units"],
        keys,
        sources=config.indicator_sources,
        stop_reporting_months=stop,
    ).collect(engine="in-memory")
    # then every source's columns equal that source built alone, row for row
    assert together.height == units_at.collect().height, "one row per active unit and date"
    for name, source in config.indicator_sources.items():
        alone = indicator_features(
            tables[source.file], units_at, tables["units"], keys, name=name, source=source,
            stop_reporting_months=stop,
        ).collect(engine="in-memory")  # fmt: skip
        columns = [c for c in alone.columns if c.startswith(f"{name}_")]
        assert columns, f"{name} built no columns"
        assert together.select("unit_key", "as_of", *columns).equals(
            alone.select("unit_key", "as_of", *columns), null_equal=True
        ), f"{name}: the one-pass build differs from the source built alone"


def test_windows_and_latest_hold_only_the_units_own_reports_after_another_units(config: Config) -> None:
    # given U1 reporting large counts all spring and U2 (the next unit) starting in May, with U3 silent
    rows = [
        *[("U1", month(m), PHONE, 900 + m, 1000) for m in range(1, 7)],
        ("U2", month(5), PHONE, 10, 100),
        ("U2", month(6), PHONE, 95, 100),
    ]
    # when the features are built with June known and the 3- and 12-month windows reaching before May
    frame = features_of(config, rows, dt.date(2020, 8, 1))
    # then U2's windows sum its own two months only, and U3 gets nothing of U2's
    assert value(frame, "U2", f"{PREFIX}_12m") == pytest.approx(105 / 200), "U1's months leaked into U2's"
    assert value(frame, "U2", f"{PREFIX}_3m") == pytest.approx(105 / 200), "U1's months leaked into U2's"
    assert value(frame, "U2", f"{PREFIX}_months_below_threshold_12m") == 1.0, "only May is below 0.85"
    assert value(frame, "U2", f"{PREFIX}_slope_12m") is None, "two months are too few for a slope"
    assert value(frame, "U1", f"{PREFIX}_12m") == pytest.approx(sum(range(901, 907)) / 6000)
    assert value(frame, "U3", f"{PREFIX}_latest") is None, "U3 never reported: U2's June is not its latest"
    assert value(frame, "U3", f"{PREFIX}_12m") is None, "U3 never reported: no window share"
