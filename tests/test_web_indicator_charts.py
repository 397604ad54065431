"""The Enhet page's indicator charts: every source kind drawn on its own scale, its table filled."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import polars as pl
import pytest

from api.web.charts import MIN_LABEL_GAP, x_tick_labels
from api.web.data import snapshot_history
from api.web.indicator_charts import indicator_charts
from engine.config import load_config
from engine.snapshots import SnapshotStore
from tests.web_support import AS_OF, WebHome

CONFIG = load_config()
UNIT_COLOUR = "#1f4e79"  # the first series (the unit's own)


def month(year: int, month: int) -> dt.date:
    return dt.date(year, month, 1)


def unit_rows(measure: str, points: list[tuple[dt.date, float | None]], median: float) -> pl.DataFrame:
    """One unit's rows of ``measure`` as the history index gives them."""
    return pl.DataFrame(
        {
            "measure": [measure] * len(points),
            "period": [day for day, _ in points],
            "value": [value for _, value in points],
            "region_median": [median] * len(points),
        },
        schema={"measure": pl.String, "period": pl.Date, "value": pl.Float64, "region_median": pl.Float64},
    )


def chart_of(frame: pl.DataFrame, measure: str) -> dict[str, object]:
    charts = {item["measure"]: item for item in indicator_charts(frame, "Stockholm", CONFIG)}
    assert measure in charts, f"no chart for {measure}: only {sorted(charts)}"
    return charts[measure]


def plotted(chart: object) -> str:
    """The drawing of a chart without its legend."""
    return str(chart).split("<figcaption>")[0]


def y_tick_labels(chart: object) -> list[str]:
    return re.findall(r'text-anchor="end" font-size="11" fill="#333">([^<]*)</text>', plotted(chart))


def test_a_share_measure_is_drawn_in_percent_on_a_0_to_100_axis() -> None:
    # Given a monthly availability share around 80 %, threshold 85 %
    points = [(month(2025, m), 0.78 + m / 100) for m in range(1, 13)]
    item = chart_of(unit_rows("phone_same_day_share", points, 0.86), "phone_same_day_share")

    # Then the axis runs 0–100 %, the threshold reads 85 %, the table is in percent
    # and the summary counts months
    assert y_tick_labels(item["chart"]) == ["0\u00a0%", "25\u00a0%", "50\u00a0%", "75\u00a0%", "100\u00a0%"]
    assert "Gränsvärde 85,0\u00a0%" in str(item["chart"]), "the threshold label is the configured 85 %"
    assert item["rows"][-1] == {"period": "2025-12", "value": "90,0\u00a0%", "region_median": "86,0\u00a0%"}
    assert item["summary"] == (
        "6 av de 12 senaste månaderna med rapporterat värde låg under gränsvärdet 85,0\u00a0%."
    )


def test_a_value_measure_is_drawn_in_its_own_unit_with_its_threshold() -> None:
    # Given yearly readmissions per 1 000 discharges (threshold 100, lower is better)
    points = [(month(2023, 12), 92.0), (month(2024, 12), 118.5), (month(2025, 12), 131.0)]
    item = chart_of(unit_rows("readmissions_30d_65plus", points, 104.0), "readmissions_30d_65plus")
    chart = str(item["chart"])

    # Then the unit's values are drawn, on an axis in the measure's unit, not in percent
    assert f'fill="{UNIT_COLOUR}"' in plotted(chart) or f'stroke="{UNIT_COLOUR}"' in plotted(chart), "no line"
    assert not any("%" in label for label in y_tick_labels(chart)), y_tick_labels(chart)
    assert y_tick_labels(chart)[-1] == "160", (
        f"the axis ends at a round number above 131: {y_tick_labels(chart)}"
    )
    assert "Gränsvärde 100,0\u00a0per 1 000 vårdtillfällen" in chart, "threshold in its own unit"
    assert "%" not in chart.split("Gränsvärde")[1].split("<", maxsplit=1)[0], "no 10 000 % guarantee level"
    assert item["unit_sv"] == "per 1 000 vårdtillfällen"
    # And the table is filled and the summary counts yearly measurements, not months
    assert [row["value"] for row in item["rows"]] == [
        "92,0\u00a0per 1 000 vårdtillfällen",
        "118,5\u00a0per 1 000 vårdtillfällen",
        "131,0\u00a0per 1 000 vårdtillfällen",
    ]
    assert item["summary"].startswith("2 av de 3 senaste mätningarna (2023-12, 2024-12, 2025-12) låg över")
    assert item["summary"].endswith("en mätning per år."), item["summary"]
    assert item["period_heading"] == "Period"


def test_a_value_measure_reported_as_a_share_is_shown_in_percent() -> None:
    # Given the share of older patients with medicines to avoid, reported as a value in [0, 1]
    points = [(month(2024, 12), 0.226), (month(2025, 12), 0.18)]
    item = chart_of(
        unit_rows("avoidable_medicines_65plus_share", points, 0.2), "avoidable_medicines_65plus_share"
    )

    # Then it reads as percent with a 10 % threshold (not 0,1 andel)
    assert item["rows"][0]["value"] == "22,6\u00a0%"
    assert "Gränsvärde 10,0\u00a0%" in str(item["chart"])
    assert y_tick_labels(item["chart"])[-1] == "100\u00a0%"


def test_a_biennial_survey_with_one_measurement_says_so() -> None:
    # Given one national patient survey index (index 0–100) in three years
    item = chart_of(
        unit_rows("npe_participation_index", [(month(2024, 10), 72.4)], 70.1), "npe_participation_index"
    )

    # Then its single point is drawn and the summary names the measurement, not "0 av de senaste 1 månaderna"
    assert f'fill="{UNIT_COLOUR}"' in plotted(item["chart"]), "the one measurement is drawn as a point"
    assert item["summary"] == (
        "Enheten har en mätning (2024-10): 72,4\u00a0indexpoäng, över gränsvärdet 70,0\u00a0indexpoäng."
    )
    assert "2024-10" in plotted(item["chart"]), "the one period is labelled under its point"
    assert item["rows"] == [
        {"period": "2024-10", "value": "72,4\u00a0indexpoäng", "region_median": "70,1\u00a0indexpoäng"}
    ]


def test_a_quarterly_survey_counts_measurements() -> None:
    points = [(month(2025, m), 60.0 + m) for m in (3, 6, 9, 12)]
    item = chart_of(unit_rows("participation_index", points, 70.0), "participation_index")
    assert item["summary"] == (
        "2 av de 3 senaste mätningarna (2025-06, 2025-09, 2025-12) låg under gränsvärdet "
        "70,0\u00a0indexpoäng; en mätning per kvartal."
    )


@pytest.mark.parametrize(
    "dates",
    [
        [month(2023, 12)] + [month(2024, m) for m in range(1, 13)] + [month(2025, m) for m in range(1, 13)],
        [month(2023, 12), month(2024, 1), month(2024, 2)],
        [month(year, 12) for year in range(2016, 2026)],
    ],
    ids=["monthly-from-december", "three-months", "ten-yearly"],
)
def test_date_labels_never_overlap(dates: list[dt.date]) -> None:
    # Given a time axis 568 px wide
    first, last = min(dates), max(dates)

    def x_of(day: dt.date) -> float:
        return 56 + 568 * (day - first).days / max((last - first).days, 1)

    # When its labels are placed, then no two are closer than a label's width
    labels = x_tick_labels(dates, x_of)
    assert labels, "an axis without labels"
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(labels)]
    assert all(gap >= MIN_LABEL_GAP for gap in gaps), f"overlapping labels: {labels}"


def test_every_unit_of_a_small_world_has_a_filled_chart_for_every_measure_it_reports(
    web_home: WebHome,
) -> None:
    # Given the ingested 60-unit world of the web tests (every source kind: monthly shares, a quarterly
    # survey, a biennial national survey and yearly core indicators)
    settings = web_home.settings
    config = settings.load_config()
    tables = SnapshotStore(settings.snapshots_dir).open().tables()
    history = snapshot_history(tables, "snapshot", config, AS_OF)
    reported = pl.concat(
        [
            tables[source.file].select("unit_id", "measure").unique().collect()
            for source in config.indicator_sources.values()
            if source.file in tables
        ]
    )
    assert reported["measure"].n_unique() == sum(len(s.measures) for s in config.indicator_sources.values())
    units = pl.concat([tables["units"].select("unit_id").collect()])["unit_id"].to_list()

    # When each unit's charts are built
    empty = []
    for unit_id in units:
        region = "regionen"
        charts = {
            item["measure"]: item
            for item in indicator_charts(history.indicators.get(unit_id), region, config)
        }
        for measure in reported.filter(pl.col("unit_id") == unit_id)["measure"].to_list():
            item = charts.get(measure)
            drawn = item is not None and (
                f'fill="{UNIT_COLOUR}"' in plotted(item["chart"]) or "<polyline" in plotted(item["chart"])
            )
            filled = item is not None and any(row["value"] != "–" for row in item["rows"])
            if not (drawn and filled):
                empty.append((unit_id, measure))

    # Then no unit has an empty chart or an all-"–" table for a measure it reports
    assert not empty, f"{len(empty)} empty charts, e.g. {empty[:5]}"
