"""Socialstyrelsen's national core indicators for god och nära vård, per unit (value measures).

Each measure is an observation of one risk area's latent deviation (it never changes the risk, so the
calibration of findings is untouched), drawn from its own random stream (``core_indicators``), so
adding these sources leaves every other table of a world unchanged. For measure ``m`` with risk area
``a``, unit ``u`` and reporting period ``t``:

- shares (``kind = "share"`` below): ``sigmoid(logit(level[m, year]) + sign * slope * deviation[u, t, a]
  + unit noise + period noise)``;
- rates (``kind = "rate"``): ``level[m, year] * exp(sign * slope * deviation[u, t, a] + unit noise +
  period noise)``;
- indexes (``kind = "index"``, 0–100): ``level[m, year] + sign * slope * deviation[u, t, a] + unit
  noise + period noise``.

``sign`` is −1 for measures where higher is better and +1 otherwise, ``slope`` is
``core_indicator_risk_slope`` times the measure's own weight, and the noises are normal with the
measure's standard deviations times ``core_indicator_noise_factor``. Levels follow
../shared/CALIBRATION.md where it has figures (tillgodosett vårdbehov 75 % positive in 2024;
readmissions 8.9 % of discharges 65+ in 2024; ordinarie läkare 65+ 61 % 2017, 66 % 2021, 64 % 2024;
medicines that should be avoided 25 % lower in 2024 than 2017) and are stated assumptions otherwise.

Publication: the annual measures are reported once a year (the period is December); the patient survey
(Nationell patientenkät) every second year (even years, period October), and in each survey year only
about half of the regions take part (10 of 21 did in 2024) — their units have no row that year.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from engine.config import IndicatorSource
from synthetic.numeric import logit, sigmoid
from synthetic.params import AREAS, WorldParams
from synthetic.risk import Risk
from synthetic.structure import Structure


@dataclass(frozen=True)
class CoreMeasure:
    """How one core indicator is simulated."""

    risk_area: str
    kind: Literal["share", "rate", "index"]
    levels: dict[int, float]  # national level per year (interpolated between, flat outside)
    higher_is_better: bool
    weight: float  # times core_indicator_risk_slope
    unit_sd: float
    period_sd: float
    biennial: bool = False
    decimals: int = 1


CORE_MEASURES: dict[str, CoreMeasure] = {
    "npe_participation_index": CoreMeasure(
        "personcentrering", "index", {2016: 78.0, 2024: 78.0}, True, 3.0, 2.0, 2.5, biennial=True
    ),
    "npe_needs_met_index": CoreMeasure(
        "personcentrering", "index", {2016: 75.0, 2024: 75.0}, True, 2.5, 2.0, 2.5, biennial=True
    ),
    "readmissions_30d_65plus": CoreMeasure(
        "samverkan", "rate", {2013: 100.0, 2022: 89.0, 2024: 89.0}, False, 0.25, 0.12, 0.15
    ),
    "avoidable_inpatient_care": CoreMeasure(
        "samverkan", "rate", {2017: 7.5, 2024: 6.0}, False, 0.25, 0.15, 0.15, decimals=2
    ),
    "avoidable_medicines_65plus_share": CoreMeasure(
        "systematiskt_kvalitetsarbete", "share", {2017: 0.107, 2024: 0.08}, False, 0.3, 0.2, 0.1, decimals=3
    ),
    "regular_doctor_65plus_share": CoreMeasure(
        "kontinuitet", "share", {2017: 0.61, 2021: 0.66, 2024: 0.64}, True, 0.35, 0.25, 0.1, decimals=3
    ),
}
_SURVEY_MONTH, _ANNUAL_MONTH = 10, 12


def national_level(measure: CoreMeasure, years: np.ndarray) -> np.ndarray:
    """The calibrated national level of ``measure`` per year (linear between known years)."""
    known = sorted(measure.levels)
    return np.interp(years, known, [measure.levels[y] for y in known])


def is_core_source(source: IndicatorSource) -> bool:
    """Whether every measure of ``source`` is a core indicator this module simulates."""
    return bool(source.measures) and set(source.measures) <= set(CORE_MEASURES)


def core_indicator_table(
    source: IndicatorSource, structure: Structure, risk: Risk, params: WorldParams, rng: np.random.Generator
) -> pl.DataFrame:
    """An indicator table of core-indicator value measures (unit_id, period, measure, value), sorted."""
    unknown = sorted(set(source.measures) - set(CORE_MEASURES))
    if unknown or source.share_measures:
        raise ValueError(
            f"the generator simulates core indicators {sorted(CORE_MEASURES)} as value measures only; "
            f"got {sorted(source.measures)} (share measures: {source.share_measures})"
        )
    years = structure.year_of_month()
    month_number = structure.months.astype(np.int64) % 12 + 1
    frames = []
    for name in sorted(source.measures):
        spec = CORE_MEASURES[name]
        if spec.biennial:
            period = (month_number == _SURVEY_MONTH) & (years % 2 == 0)
        else:
            period = month_number == _ANNUAL_MONTH
        reported = structure.reporting & period[None, :]
        reported &= rng.random(reported.shape) >= params.missing_month_share
        if spec.biennial:  # about half the regions take part in a survey year
            year_index = years - years.min()
            n_years = int(year_index.max()) + 1
            taking_part = rng.random((len(structure.regions), n_years)) < params.survey_region_share
            reported &= taking_part[structure.region_index[:, None], year_index[None, :]]
        unit_noise = rng.normal(0.0, spec.unit_sd * params.core_indicator_noise_factor, structure.n_units)
        unit, month = np.nonzero(reported)
        deviation = risk.deviation[unit, month, AREAS.index(spec.risk_area)]
        sign = -1.0 if spec.higher_is_better else 1.0
        signal = sign * spec.weight * params.core_indicator_risk_slope * deviation
        noise = unit_noise[unit] + rng.normal(
            0.0, spec.period_sd * params.core_indicator_noise_factor, len(unit)
        )
        level = national_level(spec, years[month])
        if spec.kind == "share":
            value = sigmoid(logit(level) + signal + noise)
        elif spec.kind == "rate":
            value = level * np.exp(signal + noise)
        else:
            value = np.clip(level + signal + noise, 0.0, 100.0)
        frames.append(
            pl.DataFrame(
                {
                    "unit_id": structure.unit_ids[unit].astype(str),
                    "period": structure.month_starts[month],
                    "measure": [name] * len(unit),
                    "value": np.round(value, spec.decimals),
                },
                schema={"unit_id": pl.String, "period": pl.Date, "measure": pl.String, "value": pl.Float64},
            )
        )
    return pl.concat(frames).sort("unit_id", "period", "measure")
