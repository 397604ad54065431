"""serving.unit_history: a unit's indicator series against its region's median, event counts per quarter."""

from __future__ import annotations

import datetime as dt

import polars as pl

from serving.unit_history import indicators_with_regional_median, quarterly_event_counts


def test_regional_median_is_taken_over_the_units_of_the_same_region_and_month() -> None:
    # Given three units in region 01 and one in region 12, one month of one measure
    units = pl.LazyFrame({"unit_id": ["a", "b", "c", "d"], "region_code": ["01", "01", "01", "12"]})
    month = dt.date(2025, 1, 1)
    indicators = pl.LazyFrame(
        {
            "unit_id": ["a", "b", "c", "d"],
            "period": [month] * 4,
            "measure": ["phone"] * 4,
            "numerator": [50, 80, 90, 10],
            "denominator": [100, 100, 100, 0],
        }
    )

    # When the series are built
    series = indicators_with_regional_median(indicators, units).collect()

    # Then each unit's share stands next to its own region's median (a zero denominator is no value)
    by_unit = {row["unit_id"]: row for row in series.iter_rows(named=True)}
    assert by_unit["a"]["share"] == 0.5 and by_unit["a"]["region_median"] == 0.8
    assert by_unit["d"]["share"] is None and by_unit["d"]["region_median"] is None


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
