"""Latent risk per unit, risk area and month: the hidden state every observation derives from.

``latent[u, t, a] = alpha[a] + region[r(u), a] + provider[p(u), a] + unit[u, a] + drift[u, t, a]
+ crisis[u, t] * crisis_effect[a]`` on the logit scale, with

- region, provider (private companies only; a region is its own public units' provider) and unit
  effects: normal with standard deviations ``sigma_region``, ``sigma_provider``, ``sigma_unit``;
- ``drift``: a stationary AR(1) per unit and area (mean reversion ``1 - drift_persistence`` per month,
  stationary standard deviation ``sigma_drift``);
- ``crisis``: a staffing crisis (bemanningskris) that starts with ``crisis_hazard_per_month`` and lasts
  geometrically ``crisis_mean_months`` on average, raising several areas at once;
- every component correlated across areas through one common factor with loading ``area_loading``;
- ``alpha[a]`` solved so that the mean true deficiency probability over active unit-months equals
  ``deficiency_rate[a]``.

``p_deficiency = sigmoid(latent)``; ``p_serious = p_deficiency * sigmoid(beta0[a] + serious_risk_slope *
deviation)`` with ``beta0[a]`` solved per area so that serious findings are
``serious_share_of_deficiencies[a]`` of the area's deficiencies (an assumption: no serious rate is
published, docs/synthetic-world.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from synthetic.numeric import (
    BoolArray,
    FloatArray,
    IntArray,
    correlated_normals,
    sigmoid,
    solve_intercepts,
)
from synthetic.params import AREAS, WorldParams
from synthetic.structure import Structure


@dataclass(frozen=True)
class Risk:
    """Latent risk: the deviation array of shape (units, months, areas) and the links to probabilities.

    Only ``deviation`` is stored (memory at national scale); latent and probabilities are derived on
    the rows asked for.
    """

    deviation: FloatArray  # latent minus the area intercept (what observations respond to)
    crisis: BoolArray  # (units, months)
    intercepts: FloatArray  # alpha per area
    serious_intercepts: FloatArray  # beta0 per area
    serious_slope: float

    def latent(self, unit: IntArray, month: IntArray, area: IntArray) -> FloatArray:
        """Latent risk (logit of the true deficiency probability) at the given index arrays."""
        return np.asarray(self.deviation[unit, month, area] + self.intercepts[area])

    def probabilities(self, unit: IntArray, month: IntArray, area: IntArray) -> tuple[FloatArray, FloatArray]:
        """True (p_deficiency, p_serious) at the given index arrays."""
        deviation = self.deviation[unit, month, area]
        p_deficiency = sigmoid(deviation + self.intercepts[area])
        serious = sigmoid(self.serious_intercepts[area] + self.serious_slope * deviation)
        return p_deficiency, p_deficiency * serious


def simulate_risk(structure: Structure, params: WorldParams, rng: np.random.Generator) -> Risk:
    """Draw the latent risk process for every unit, month and area."""
    n_units, n_months, n_areas = structure.n_units, structure.n_months, len(AREAS)
    loading = params.area_loading
    region = params.sigma_region * correlated_normals(rng, (len(structure.regions),), n_areas, loading)
    provider = params.sigma_provider * correlated_normals(
        rng, (structure.providers.height,), n_areas, loading
    )
    provider[: len(structure.regions)] = 0.0
    unit = params.sigma_unit * correlated_normals(rng, (n_units,), n_areas, loading)
    static = region[structure.region_index] + provider[structure.provider_index] + unit
    drift = _drift(rng, n_units, n_months, n_areas, params)
    crisis = _crises(rng, n_units, n_months, params)
    effect = np.array([params.crisis_effect[a] for a in AREAS])
    deviation = static[:, None, :] + drift + crisis[:, :, None] * effect[None, None, :]

    active = structure.active
    areas_grid = np.broadcast_to(np.arange(n_areas), deviation.shape)[active]
    targets = np.array([params.deficiency_rate[a] for a in AREAS])
    active_deviation = deviation[active].ravel()
    alpha = solve_intercepts(active_deviation, areas_grid.ravel(), targets)
    p_deficiency = sigmoid(active_deviation + alpha[areas_grid.ravel()])
    beta0 = _serious_intercepts(active_deviation, areas_grid.ravel(), p_deficiency, params)
    return Risk(deviation, crisis, alpha, beta0, params.serious_risk_slope)


def _drift(
    rng: np.random.Generator, n_units: int, n_months: int, n_areas: int, params: WorldParams
) -> FloatArray:
    phi = params.drift_persistence
    innovation_scale = params.sigma_drift * np.sqrt(1.0 - phi**2)
    drift = np.empty((n_units, n_months, n_areas))
    state = params.sigma_drift * correlated_normals(rng, (n_units,), n_areas, params.area_loading)
    for t in range(n_months):
        shock = correlated_normals(rng, (n_units,), n_areas, params.area_loading)
        state = phi * state + innovation_scale * shock
        drift[:, t, :] = state
    return drift


def _crises(rng: np.random.Generator, n_units: int, n_months: int, params: WorldParams) -> BoolArray:
    crisis = np.zeros((n_units, n_months), dtype=bool)
    state = rng.random(n_units) < params.crisis_hazard_per_month * params.crisis_mean_months
    end_probability = 1.0 / params.crisis_mean_months
    for t in range(n_months):
        draws = rng.random(n_units)
        state = np.where(state, draws >= end_probability, draws < params.crisis_hazard_per_month)
        crisis[:, t] = state
    return crisis


def _serious_intercepts(
    active_deviation: FloatArray, areas: IntArray, p_deficiency: FloatArray, params: WorldParams
) -> FloatArray:
    """beta0 per area: serious findings ``serious_share_of_deficiencies[a]`` of area a's deficiencies."""
    return solve_intercepts(
        params.serious_risk_slope * active_deviation,
        areas,
        np.array([params.serious_share_of_deficiencies[a] for a in AREAS]),
        p_deficiency,
    )


def risk_truth_frame(structure: Structure, risk: Risk) -> pl.DataFrame:
    """truth/risk.parquet: one row per unit, risk area and active month (sorted in that order)."""
    unit, area, month = _unit_area_month_rows(structure.active, len(AREAS))
    p_deficiency, p_serious = risk.probabilities(unit, month, area)
    return pl.DataFrame(
        {
            "unit_id": pl.Series(structure.unit_ids).gather(pl.Series(unit)),
            "risk_area": pl.Series(AREAS, dtype=pl.Utf8).gather(pl.Series(area)),
            "month": pl.Series(structure.month_starts[month]).cast(pl.Date),
            "latent": risk.latent(unit, month, area),
            "p_deficiency": p_deficiency,
            "p_serious": p_serious,
        }
    )


def _unit_area_month_rows(active: BoolArray, n_areas: int) -> tuple[IntArray, IntArray, IntArray]:
    """Index arrays ordered by unit, then area, then month, over the active months (no sort needed)."""
    unit_idx, month_idx = np.nonzero(active)  # ordered by unit, then month
    per_unit = active.sum(axis=1)
    first = np.concatenate([[0], np.cumsum(per_unit)[:-1]])
    block = np.repeat(per_unit, n_areas * per_unit)
    block_unit = np.repeat(np.arange(len(per_unit)), n_areas * per_unit)
    within = np.arange(int(n_areas * per_unit.sum())) - np.repeat(first * n_areas, n_areas * per_unit)
    source = first[block_unit] + within % np.maximum(block, 1)
    return unit_idx[source], within // np.maximum(block, 1), month_idx[source]
