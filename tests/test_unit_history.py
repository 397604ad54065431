"""serving.unit_history: a unit's indicator series against its region's median, event counts per quarter."""

from __future__ import annotations

import datetime as dt

import polars as pl

from serving.unit_history import indicator_rows, indicators_with_regional_median, quarterly_event_counts

UNITS = pl.LazyFrame({"unit_id": ["a", "b", "c", "d"], "region_code": ["01", "01", "01", "12"]})


def series_by_unit(table: pl.LazyFrame) -> dict[str, dict[str, object]]:
    series = indicators_with_regional_median(indicator_rows(table), UNITS).collect()
    return {row["unit_id"]: row for row in series.iter_rows(named=True)}


def test_a_share_measure_is_numerator_over_denominator_against_the_regional_median() -> None:
    # Given three units in region 01 and one in region 12, one month of a share measure (no value column)
    month = dt.date(2025, 1, 1)
    shares = pl.LazyFrame(
        {
            "unit_id": ["a", "b", "c", "d"],
            "period": [month] * 4,
            "measure": ["phone"] * 4,
            "numerator": [50, 80, 90, 10],
            "denominator": [100, 100, 100, 0],
        }
    )

    # When the series are built
    by_unit = series_by_unit(shares)

    # Then each unit's share stands next to its own region's median (a zero denominator is no value)
    assert by_unit["a"]["value"] == 0.5 and by_unit["a"]["region_median"] == 0.8
    assert by_unit["d"]["value"] is None and by_unit["d"]["region_median"] is None


def test_a_value_measure_reports_its_value_without_counts() -> None:
    # Given a yearly core indicator exported with `value` only (no numerator/denominator columns)
    year_end = dt.date(2025, 12, 1)
    values = pl.LazyFrame(
        {
            "unit_id": ["a", "b", "c"],
            "period": [year_end] * 3,
            "measure": ["readmissions_30d_65plus"] * 3,
            "value": [92.0, 118.5, 131.0],
        }
    )

    # When the series are built, then the reported values and their median are there
    by_unit = series_by_unit(values)
    assert [by_unit[unit]["value"] for unit in "abc"] == [92.0, 118.5, 131.0], "values were dropped"
    assert by_unit["a"]["region_median"] == 118.5


def test_a_survey_source_with_both_kinds_keeps_each_rows_own_figure() -> None:
    # Given a source of shares and survey indices in one table (counts on share rows, value on the others)
    month = dt.date(2024, 10, 1)
    mixed = pl.LazyFrame(
        {
            "unit_id": ["a", "a"],
            "period": [month, month],
            "measure": ["answered_share", "participation_index"],
            "numerator": [30, None],
            "denominator": [40, None],
            "value": [None, 72.4],
        },
        schema_overrides={"numerator": pl.Int64, "denominator": pl.Int64, "value": pl.Float64},
    )

    # When the series are built
    series = indicators_with_regional_median(indicator_rows(mixed), UNITS).collect()

    # Then the share is 30/40 and the index is its reported 72,4
    figures = dict(zip(series["measure"].to_list(), series["value"].to_list(), strict=True))
    assert figures == {"answered_share": 0.75, "participation_index": 72.4}


def test_events_are_counted_per_calendar_quarter_without_reading_free_text() -> None:
    events = pl.LazyFrame(
        {
            "event_id": ["1", "2", "3"],
            "unit_id": ["a", "a", "a"],
            "event_date": [dt.date(2025, 1, 5), dt.date(2025, 3, 31), dt.date(2025, 4, 1)],
            "summary": ["fritext 1", "fritext 2", "fritext 3"],
        }
    )
    counts = quarterly_event_counts(events, "complaints").collect()
    assert counts.columns == ["unit_id", "source", "quarter_start", "events"]
    assert counts["quarter_start"].to_list() == [dt.date(2025, 1, 1), dt.date(2025, 4, 1)]
    assert counts["events"].to_list() == [2, 1]
