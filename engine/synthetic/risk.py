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

``p_deficiency = sigmoid(latent)``; ``p_serious = p_deficiency * sigmoid(beta0 + serious_risk_slope *
deviation)`` with ``beta0`` solved so that serious findings are ``serious_share_of_deficiencies`` of all
deficiencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.synthetic.numeric import BoolArray, FloatArray, correlated_normals, sigmoid, solve_intercepts
from engine.synthetic.params import AREAS, WorldParams
from engine.synthetic.structure import Structure


@dataclass(frozen=True)
class Risk:
    """Latent risk arrays of shape (units, months, areas)."""

    deviation: FloatArray  # latent minus the area intercept (what observations respond to)
    latent: FloatArray
    p_deficiency: FloatArray
    p_serious: FloatArray
    crisis: BoolArray  # (units, months)
    intercepts: FloatArray  # alpha per area


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
    alpha = solve_intercepts(deviation[active].ravel(), areas_grid.ravel(), targets)
    latent = deviation + alpha[None, None, :]
    p_deficiency = sigmoid(latent)
    p_serious = p_deficiency * _serious_given_deficiency(deviation, p_deficiency, active, params)
    return Risk(deviation, latent, p_deficiency, p_serious, crisis, alpha)


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


def _serious_given_deficiency(
    deviation: FloatArray, p_deficiency: FloatArray, active: BoolArray, params: WorldParams
) -> FloatArray:
    offsets = params.serious_risk_slope * deviation[active].ravel()
    weights = p_deficiency[active].ravel()
    beta0 = solve_intercepts(
        offsets,
        np.zeros(len(offsets), dtype=np.int64),
        np.array([params.serious_share_of_deficiencies]),
        weights,
    )
    return sigmoid(beta0[0] + params.serious_risk_slope * deviation)


def risk_truth_frame(structure: Structure, risk: Risk) -> pl.DataFrame:
    """truth/risk.parquet: one row per unit, risk area and active month."""
    unit_idx, month_idx = np.nonzero(structure.active)
    n_rows = len(unit_idx)
    frames = []
    for a, area in enumerate(AREAS):
        frames.append(
            pl.DataFrame(
                {
                    "unit": unit_idx,
                    "area": np.full(n_rows, a, dtype=np.int8),
                    "month": structure.month_starts[month_idx],
                    "latent": risk.latent[unit_idx, month_idx, a],
                    "p_deficiency": risk.p_deficiency[unit_idx, month_idx, a],
                    "p_serious": risk.p_serious[unit_idx, month_idx, a],
                }
            ).with_columns(risk_area=pl.lit(area))
        )
    ordered = pl.concat(frames).sort("unit", "area", "month")
    return ordered.select(
        unit_id=pl.Series(structure.unit_ids).gather(ordered["unit"]),
        risk_area=pl.col("risk_area"),
        month=pl.col("month").cast(pl.Date),
        latent=pl.col("latent"),
        p_deficiency=pl.col("p_deficiency"),
        p_serious=pl.col("p_serious"),
    )
