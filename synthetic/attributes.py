"""Contract version 2 observations: unit attributes and a value-measure indicator.

All are observations of the latent state (they never change it, so the calibration of findings is
untouched), drawn from their own random stream:

- ``ownership_change``: private units change owner with ``ownership_change_per_year``, times
  ``exp(ownership_change_risk_slope * mean deviation)`` (normalised to mean 1; the default slope 0 makes
  it a noise signal that says nothing about risk);
- ``manager_change``: a new verksamhetschef with ``manager_change_per_year``, ``manager_change_crisis_factor``
  times more often during a staffing crisis;
- ``temporary_doctor_share``: the share of hyrläkare, reported each January and July:
  ``sigmoid(temporary_doctor_intercept + temporary_doctor_risk_slope * deviation[kontinuitet]
  + temporary_doctor_crisis_effect * crisis + N(0, 0.3))``, two decimals;
- ``participation_index`` (patient survey, 0–100): reported each quarter (the period is the quarter's
  last month) as ``participation_index_level - participation_index_risk_slope *
  deviation[personcentrering] + unit noise + N(0, participation_index_noise)``, one decimal.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.config import AttributeSource, IndicatorSource
from synthetic.numeric import sigmoid
from synthetic.params import AREAS, WorldParams
from synthetic.risk import Risk
from synthetic.structure import Structure

KNOWN_ATTRIBUTES = ("ownership_change", "manager_change", "temporary_doctor_share")
KNOWN_VALUE_MEASURES = ("participation_index",)
_HALF_YEAR_MONTHS = (1, 7)
_QUARTER_END_MONTHS = (3, 6, 9, 12)
_ROWS_SCHEMA = {"unit_id": pl.String, "valid_from": pl.Date, "attribute": pl.String, "value": pl.String}


def _monthly_hazard(per_year: float) -> float:
    return 1.0 - (1.0 - per_year) ** (1.0 / 12.0)


def _change_rows(
    name: str, hazard: np.ndarray, structure: Structure, rng: np.random.Generator
) -> pl.DataFrame:
    """Dated changes: a change in month t with probability ``hazard[u, t]`` on a random day of it
    inside the unit's active period."""
    happens = structure.reporting & (rng.random(hazard.shape) < hazard)
    unit, month = np.nonzero(happens)
    starts = structure.month_starts[month]
    days = ((structure.months[month] + 1).astype("datetime64[D]") - starts).astype(np.int64)
    date = starts + (rng.random(len(unit)) * days).astype("timedelta64[D]")
    open_end = np.where(np.isnat(structure.active_to), structure.end_date, structure.active_to)
    date = np.minimum(date, open_end[unit])
    return pl.DataFrame(
        {
            "unit_id": structure.unit_ids[unit].astype(str),
            "valid_from": date,
            "attribute": [name] * len(unit),
            "value": [None] * len(unit),
        },
        schema=_ROWS_SCHEMA,
    )


def _temporary_doctor_rows(
    structure: Structure, risk: Risk, params: WorldParams, rng: np.random.Generator
) -> pl.DataFrame:
    month_number = structure.months.astype(np.int64) % 12 + 1
    reported_month = np.isin(month_number, _HALF_YEAR_MONTHS)
    unit, month = np.nonzero(structure.reporting & reported_month[None, :])
    deviation = risk.deviation[unit, month, AREAS.index("kontinuitet")]
    share = sigmoid(
        params.temporary_doctor_intercept
        + params.temporary_doctor_risk_slope * deviation
        + params.temporary_doctor_crisis_effect * risk.crisis[unit, month]
        + rng.normal(0.0, 0.3, len(unit))
    )
    return pl.DataFrame(
        {
            "unit_id": structure.unit_ids[unit].astype(str),
            "valid_from": structure.month_starts[month],
            "attribute": ["temporary_doctor_share"] * len(unit),
            "value": [f"{value:.2f}".replace(".", ",") for value in share],
        },
        schema=_ROWS_SCHEMA,
    )


def _risk_factor(risk: Risk, structure: Structure, slope: float) -> np.ndarray:
    """exp(slope * mean deviation over the areas), mean 1 over active unit-months, shape (units, months)."""
    factor = np.exp(slope * risk.deviation.mean(axis=2))
    return np.asarray(factor / factor[structure.active].mean())


def attribute_table(
    source: AttributeSource, structure: Structure, risk: Risk, params: WorldParams, rng: np.random.Generator
) -> pl.DataFrame:
    """One attribute table of the contract (sorted by unit, attribute, valid_from)."""
    unknown = sorted(set(source.attributes) - set(KNOWN_ATTRIBUTES))
    if unknown:
        raise ValueError(
            f"the generator has no model for attributes {unknown}; known: {list(KNOWN_ATTRIBUTES)}"
        )
    parts = []
    shape = structure.reporting.shape
    if "ownership_change" in source.attributes:
        hazard = np.where(structure.private[:, None], _monthly_hazard(params.ownership_change_per_year), 0.0)
        if params.ownership_change_risk_slope > 0:
            hazard = hazard * _risk_factor(risk, structure, params.ownership_change_risk_slope)
        parts.append(_change_rows("ownership_change", np.broadcast_to(hazard, shape), structure, rng))
    if "manager_change" in source.attributes:
        base = _monthly_hazard(params.manager_change_per_year)
        hazard = np.where(risk.crisis, base * params.manager_change_crisis_factor, base)
        parts.append(_change_rows("manager_change", hazard, structure, rng))
    if "temporary_doctor_share" in source.attributes:
        parts.append(_temporary_doctor_rows(structure, risk, params, rng))
    return (
        pl.concat(parts)
        .unique(["unit_id", "attribute", "valid_from"], keep="first", maintain_order=True)
        .sort("unit_id", "attribute", "valid_from")
    )


def value_indicator_table(
    source: IndicatorSource, structure: Structure, risk: Risk, params: WorldParams, rng: np.random.Generator
) -> pl.DataFrame:
    """An indicator table of value measures only (unit_id, period, measure, value), sorted."""
    unknown = sorted(set(source.measures) - set(KNOWN_VALUE_MEASURES))
    if unknown or source.share_measures:
        raise ValueError(
            f"the generator simulates value-measure sources with {list(KNOWN_VALUE_MEASURES)} only; "
            f"got {sorted(source.measures)}"
        )
    month_number = structure.months.astype(np.int64) % 12 + 1
    reported = structure.reporting & np.isin(month_number, _QUARTER_END_MONTHS)[None, :]
    reported &= rng.random(reported.shape) >= params.missing_month_share
    # as for the share indicators, random gaps never hide a unit's last quarter (that would look like
    # a unit that stopped reporting, which the ingest flags)
    reported[:, -3:] = structure.reporting[:, -3:] & np.isin(month_number[-3:], _QUARTER_END_MONTHS)[None, :]
    unit_noise = rng.normal(0.0, params.participation_index_noise, structure.n_units)
    unit, month = np.nonzero(reported)
    deviation = risk.deviation[unit, month, AREAS.index("personcentrering")]
    value = (
        params.participation_index_level
        - params.participation_index_risk_slope * deviation
        + unit_noise[unit]
        + rng.normal(0.0, params.participation_index_noise, len(unit))
    )
    return pl.DataFrame(
        {
            "unit_id": structure.unit_ids[unit].astype(str),
            "period": structure.month_starts[month],
            "measure": ["participation_index"] * len(unit),
            "value": np.round(np.clip(value, 0.0, 100.0), 1),
        },
        schema={"unit_id": pl.String, "period": pl.Date, "measure": pl.String, "value": pl.Float64},
    ).sort("unit_id", "period", "measure")
