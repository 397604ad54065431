"""The Enhet page's indicator charts: each measure against its region's median, on its own scale.

A share (numerator ÷ denominator, or a value measure reported as an ``andel``) is drawn on a 0–100 %
axis; any other value measure (a survey index, readmissions per 1 000) on an axis in its own unit from
its configured minimum to a round number above the largest value shown. The summary sentence follows
how often the measure is reported: a monthly share is counted in months, a yearly or biennial figure in
measurements, each with its period.
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from dataclasses import dataclass
from typing import Any

import polars as pl

from api.web.charts import Series, line_chart, nice_top
from api.web.format import number_sv, percent_sv
from engine.config import Config, Measure

RECENT_MONTHS = 12  # a monthly measure's summary counts the last year
RECENT_MEASUREMENTS = 3  # a sparser measure's summary counts its last three measurements
CADENCE_SV = {3: "en mätning per kvartal", 6: "en mätning per halvår", 12: "en mätning per år"}


@dataclass(frozen=True)
class Scale:
    """How one measure's values are written and where its axis runs."""

    as_percent: bool
    unit_sv: str
    low: float
    high: float

    def text(self, value: float | None) -> str:
        """A value as the page writes it: ``85,3 %`` or ``72,4 indexpoäng`` (``–`` when missing)."""
        if value is None:
            return "–"
        if self.as_percent:
            return percent_sv(value, 1)
        return f"{number_sv(value, 1)}\u00a0{self.unit_sv}".rstrip()

    def tick(self, value: float) -> str:
        """An axis label: no unit (the chart says it once), no more decimals than the steps need."""
        if self.as_percent:
            return percent_sv(value)
        step = (self.high - self.low) / 4
        return number_sv(value, 0 if step >= 1 else 1 if step >= 0.1 else 2)


def is_share(measure: Measure) -> bool:
    """A share: reported as numerator ÷ denominator, or as a value whose unit is an ``andel`` in [0, 1]."""
    return measure.kind == "share" or (
        measure.unit_sv.strip().lower() == "andel" and (measure.value_max or 0.0) <= 1.0
    )


def measure_scale(measure: Measure, shown: list[float]) -> Scale:
    """The axis and unit of ``measure`` for the values ``shown`` (the unit's, the median and threshold)."""
    if is_share(measure):
        return Scale(as_percent=True, unit_sv="%", low=0.0, high=1.0)
    low = measure.value_min if measure.value_min is not None else min([0.0, *shown])
    top = nice_top(max(shown, default=1.0) * 1.05 - low) + low
    high = min(top, measure.value_max) if measure.value_max is not None else top
    return Scale(as_percent=False, unit_sv=measure.unit_sv, low=low, high=max(high, low + 1e-9))


def months_between(first: dt.date, later: dt.date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def cadence_months(periods: list[dt.date]) -> int | None:
    """The typical number of months between a unit's measurements (None for fewer than two)."""
    distinct = sorted(set(periods))
    gaps = [months_between(a, b) for a, b in itertools.pairwise(distinct)]
    return round(statistics.median(gaps)) if gaps else None


def _side(value: float, threshold: float) -> str:
    return "under" if value < threshold else "över" if value > threshold else "på"


def summary_sentence(measure: Measure, points: list[tuple[dt.date, float]], scale: Scale) -> str:
    """What the recent values say against the threshold, in the measure's own rhythm.

    ``points``: the unit's reported (period, value), oldest first, missing values left out.
    """
    threshold = measure.threshold
    if threshold is None or not points:
        return "" if threshold is None else "Inga värden rapporterade."
    bad_side = "under" if measure.higher_is_better else "över"
    limit = f"gränsvärdet {scale.text(threshold)}"

    def is_bad(value: float) -> bool:
        return value < threshold if measure.higher_is_better else value > threshold

    cadence = cadence_months([day for day, _ in points])
    if cadence == 1:
        last = points[-1][0]
        recent = [value for day, value in points if months_between(day, last) < RECENT_MONTHS]
        bad = sum(1 for value in recent if is_bad(value))
        return f"{bad} av de {len(recent)} senaste månaderna med rapporterat värde låg {bad_side} {limit}."
    if cadence is None:
        day, value = points[-1]
        return (
            f"Enheten har en mätning ({day:%Y-%m}): {scale.text(value)}, {_side(value, threshold)} {limit}."
        )
    recent_points = points[-RECENT_MEASUREMENTS:]
    bad = sum(1 for _, value in recent_points if is_bad(value))
    periods = ", ".join(f"{day:%Y-%m}" for day, _ in recent_points)
    rhythm = CADENCE_SV.get(cadence, "en mätning vartannat år" if cadence == 24 else "")
    return f"{bad} av de {len(recent_points)} senaste mätningarna ({periods}) låg {bad_side} {limit}" + (
        f"; {rhythm}." if rhythm else "."
    )


def measure_chart(
    measure_id: str, measure: Measure, rows: list[dict[str, Any]], region_name: str
) -> dict[str, Any]:
    """One measure's chart, summary and table rows for the unit page (``rows``: oldest period first)."""
    unit_points = [(row["period"], row["value"]) for row in rows]
    median_points = [(row["period"], row["region_median"]) for row in rows]
    shown = [y for _, y in unit_points + median_points if y is not None]
    scale = measure_scale(measure, shown + ([measure.threshold] if measure.threshold is not None else []))
    threshold = measure.threshold
    monthly = cadence_months([row["period"] for row in rows]) == 1
    last_period, last_value = unit_points[-1]
    description = (
        f"{measure.name_sv} {rows[0]['period']:%Y-%m}–{last_period:%Y-%m} för enheten och medianen i "
        f"region {region_name}, i {'procent' if scale.as_percent else scale.unit_sv}. "
        f"Senaste värdet ({last_period:%Y-%m}): enheten {scale.text(last_value)}, "
        f"regionens median {scale.text(median_points[-1][1])}"
        + (f", gränsvärdet {scale.text(threshold)}." if threshold is not None else ".")
    )
    return {
        "title": measure.name_sv,
        "measure": measure_id,
        "unit_sv": "procent" if scale.as_percent else scale.unit_sv,
        "period_heading": "Månad" if monthly else "Period",
        "chart": line_chart(
            measure.name_sv,
            description,
            [Series("Enheten", unit_points), Series(f"Median i region {region_name}", median_points)],
            threshold=threshold,
            threshold_label=f"Gränsvärde {scale.text(threshold)}" if threshold is not None else "",
            y_range=(scale.low, scale.high),
            y_format=scale.tick,
        ),
        "summary": summary_sentence(measure, [(day, y) for day, y in unit_points if y is not None], scale),
        "rows": [
            {
                "period": f"{row['period']:%Y-%m}",
                "value": scale.text(row["value"]),
                "region_median": scale.text(row["region_median"]),
            }
            for row in rows
        ],
    }


def indicator_charts(frame: pl.DataFrame | None, region_name: str, config: Config) -> list[dict[str, Any]]:
    """Per configured measure the unit reports: its chart, summary sentence and table rows.

    ``frame``: the unit's rows of :func:`serving.unit_history.indicators_with_regional_median`
    (``measure, period, value, region_median``), or None when the unit has none.
    """
    if frame is None or frame.is_empty():
        return []
    charts = []
    for source in config.indicator_sources.values():
        for measure_id, measure in source.measures.items():
            rows = frame.filter(pl.col("measure") == measure_id).sort("period").to_dicts()
            if rows:
                charts.append(measure_chart(measure_id, measure, rows, region_name))
    return charts
