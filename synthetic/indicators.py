"""Indicator sources (Väntetidsdatabasen, continuity): monthly numerator/denominator per unit.

Each measure's true share is ``sigmoid(c[r, y] + unit_noise[u] + month_noise[u, t] - summer[m]
- slope * deviation[u, t, area])``: risk in the measure's risk area lowers it. ``c[r, y]`` is solved per
region and year so the denominator-weighted level equals the region's calibrated target for that year
(published national levels and regional figures, see :mod:`synthetic.regions`). Denominators
scale with listed patients (calls, assessments, doctor visits; the listed population itself for the
named-regular-doctor share) and numerators are binomial. Reported rows follow real reporting gaps:
random missing months, regions that report availability only for their own public units, and one
region missing a whole year while switching record systems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.config import IndicatorSource
from synthetic.numeric import BoolArray, FloatArray, IntArray, logit, sigmoid, solve_intercepts
from synthetic.params import AREAS, WorldParams
from synthetic.regions import named_doctor_target
from synthetic.reporting import AvailabilityReporting
from synthetic.risk import Risk
from synthetic.structure import Structure

KNOWN_MEASURES = (
    "phone_same_day_share",
    "assessment_3d_share",
    "named_doctor_share",
    "same_doctor_visit_share",
)


@dataclass(frozen=True)
class MeasureSeries:
    """A measure's true share and draws for every unit and month, shape (units, months)."""

    true_share: FloatArray
    numerator: IntArray
    denominator: IntArray


def region_year_targets(measure: str, structure: Structure, params: WorldParams) -> FloatArray:
    """The calibrated level of ``measure`` per region and year, shape (regions, years)."""
    years = np.unique(structure.year_of_month())
    regions = structure.regions
    if measure == "phone_same_day_share":
        national = np.array([_level(params.phone_national, y) for y in years])
        base = np.array([r.phone_2024 for r in regions])
        return sigmoid(
            logit(base)[:, None] + (logit(national) - logit(_level(params.phone_national, 2024)))[None, :]
        )
    if measure == "assessment_3d_share":
        national = np.array([_level(params.assessment_national, y) for y in years])
        trend = logit(national) - logit(_level(params.assessment_national, 2024))
        sign = np.array([-0.6 if r.assessment_trend_reversed else 1.0 for r in regions])
        base = np.array([r.assessment_2024 for r in regions])
        return sigmoid(logit(base)[:, None] + sign[:, None] * trend[None, :])
    named = np.array([named_doctor_target(r) for r in regions])
    if measure == "named_doctor_share":
        return np.repeat(named[:, None], len(years), axis=1)
    if measure == "same_doctor_visit_share":
        level = logit(params.same_doctor_visit_national) + 0.5 * (logit(named) - logit(0.59))
        return np.repeat(sigmoid(level)[:, None], len(years), axis=1)
    raise ValueError(f"the generator has no model for measure {measure!r}; known: {list(KNOWN_MEASURES)}")


def _level(levels: dict[int, float], year: int) -> float:
    nearest = min(levels, key=lambda known: (abs(known - year), -known))
    return levels[nearest]


def simulate_measure(
    measure: str,
    risk_area: str,
    structure: Structure,
    risk: Risk,
    *,
    params: WorldParams,
    rng: np.random.Generator,
    reporting: AvailabilityReporting | None = None,
) -> MeasureSeries:
    """Draw one measure for every unit and month (reporting gaps are applied later).

    ``reporting`` (availability measures of the ``shifted`` scenario) scales the risk slope and adds its
    offset before the region-year intercepts are solved, so the reported levels stay calibrated.
    """
    listed = structure.listed.astype(np.float64)
    expected_denominator, slope = _denominator_and_slope(measure, listed, params)
    month_number = structure.months.astype(np.int64) % 12 + 1
    summer = np.array([params.summer_dip.get(int(m), 0.0) for m in month_number])
    is_availability = measure in ("phone_same_day_share", "assessment_3d_share")
    offsets = (
        rng.normal(0.0, params.unit_reporting_noise, size=(structure.n_units, 1))
        + rng.normal(0.0, params.monthly_noise, size=listed.shape)
        - (summer[None, :] if is_availability else 0.0)
        - slope * risk.deviation[:, :, AREAS.index(risk_area)]
    )
    if reporting is not None:
        deviation = risk.deviation[:, :, AREAS.index(risk_area)]
        offsets = offsets + slope * (1.0 - reporting.tracking) * deviation + reporting.offset
    years = structure.year_of_month()
    year_index = years - years.min()
    n_years = int(year_index.max()) + 1
    group = structure.region_index[:, None] * n_years + year_index[None, :]
    targets = region_year_targets(measure, structure, params).ravel()
    active = structure.active
    intercepts = solve_intercepts(offsets[active], group[active], targets, expected_denominator[active])
    if measure == "phone_same_day_share":
        offsets = offsets + _reporting_change(structure, params)
    true_share = np.where(active, sigmoid(intercepts[group] + offsets), 0.0)
    if measure == "named_doctor_share":
        denominator = structure.listed.astype(np.int64)
    else:
        denominator = rng.poisson(expected_denominator).astype(np.int64)
    numerator = rng.binomial(denominator, true_share).astype(np.int64)
    return MeasureSeries(true_share, numerator, denominator)


def _reporting_change(structure: Structure, params: WorldParams) -> FloatArray | float:
    """The logit shift of a region's reported phone share after its reporting changed (after the
    intercepts are solved, so the region's level moves away from its calibrated one), or 0."""
    if params.region_reporting_region is None or params.region_reporting_month is None:
        return 0.0
    codes = np.array([region.code for region in structure.regions])
    in_region = codes[structure.region_index] == params.region_reporting_region
    after = structure.months >= np.datetime64(params.region_reporting_month, "M")
    return np.asarray(
        params.region_reporting_effect * (in_region[:, None] & after[None, :]), dtype=np.float64
    )


def risk_slope(measure: str, params: WorldParams) -> float:
    """How strongly risk in the measure's area lowers its logit."""
    return _denominator_and_slope(measure, np.zeros(1), params)[1]


def _denominator_and_slope(measure: str, listed: FloatArray, params: WorldParams) -> tuple[FloatArray, float]:
    if measure == "phone_same_day_share":
        return listed * params.calls_per_listed_month, params.availability_risk_slope
    if measure == "assessment_3d_share":
        return listed * params.assessments_per_listed_month, params.availability_risk_slope
    if measure == "named_doctor_share":
        return listed, params.continuity_risk_slope
    if measure == "same_doctor_visit_share":
        return listed * params.doctor_visits_per_listed_month, params.continuity_risk_slope * 1.2
    raise ValueError(f"the generator has no model for measure {measure!r}; known: {list(KNOWN_MEASURES)}")


def reported_months(
    source_file: str, structure: Structure, params: WorldParams, rng: np.random.Generator
) -> BoolArray:
    """Which unit-months appear in the source's export, shape (units, months)."""
    reported = structure.reporting & (rng.random(structure.reporting.shape) >= params.missing_month_share)
    # random gaps never hide a unit's trailing months: a trailing gap is the stopped_reporting fault
    reported[:, -4:] = structure.reporting[:, -4:]
    if source_file == "availability":
        public_only = np.isin(
            [structure.regions[r].code for r in structure.region_index], params.public_only_regions
        )
        reported[public_only & structure.private, :] = False
    if params.record_switch_region is not None:
        in_region = np.array(
            [structure.regions[r].code == params.record_switch_region for r in structure.region_index]
        )
        in_year = structure.year_of_month() == params.record_switch_year
        reported[np.ix_(in_region, in_year)] = False
    return reported


def indicator_frame(
    source: IndicatorSource, series: dict[str, MeasureSeries], reported: BoolArray, structure: Structure
) -> pl.DataFrame:
    """One indicator table of the contract (sorted by unit, period, measure), with the reported share."""
    measures = sorted(source.measures)
    unit_pairs, month_pairs = np.nonzero(reported)  # ordered by unit, then month
    unit_idx, month_idx = np.repeat(unit_pairs, len(measures)), np.repeat(month_pairs, len(measures))
    measure_idx = np.tile(np.arange(len(measures)), len(unit_pairs))
    numerator = np.zeros(len(unit_idx), dtype=np.int64)
    denominator = np.zeros(len(unit_idx), dtype=np.int64)
    for k, measure in enumerate(measures):
        rows = measure_idx == k
        numerator[rows] = series[measure].numerator[unit_idx[rows], month_idx[rows]]
        denominator[rows] = series[measure].denominator[unit_idx[rows], month_idx[rows]]
    ordered = pl.DataFrame(
        {
            "period": pl.Series(structure.month_starts[month_idx]).cast(pl.Date),
            "measure": pl.Series(measures, dtype=pl.Utf8).gather(pl.Series(measure_idx)),
            "numerator": numerator,
            "denominator": denominator,
        }
    )
    return ordered.select(
        unit_id=pl.Series(structure.unit_ids).gather(pl.Series(unit_idx)),
        period=pl.col("period"),
        measure=pl.col("measure"),
        numerator=pl.col("numerator"),
        denominator=pl.col("denominator"),
        share=pl.when(pl.col("denominator") > 0).then((pl.col("numerator") / pl.col("denominator")).round(2)),
    )
