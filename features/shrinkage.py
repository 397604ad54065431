"""Empirical-Bayes shrinkage of event rates (Poisson–gamma, method of moments).

A unit's count ``y`` over exposure ``e`` (listed patients / 10,000 over 12 months) is Poisson with
rate ``λ``; ``λ`` varies between units as a gamma distribution with mean ``m`` and variance ``τ²``
within a peer group (region × unit type at one planning date). The posterior mean is

    shrunk = (y + α·m) / (e + α),   α = m / τ²   (prior strength, in exposure units)

so a unit with little exposure stays close to its peers and a large unit close to its own rate.
``m`` and ``τ²`` come from the method of moments (Clayton & Kaldor 1987; Marshall 1991):

    m  = Σy / Σe
    s² = Σ e·(y/e − m)² / Σe = (Σ y²/e) / Σe − m²      (exposure-weighted variance of raw rates)
    τ² = s² − m / ē,   ē = Σe / n                       (minus the expected Poisson noise)

When ``τ² <= 0`` the data show no between-unit variation beyond noise and every unit gets ``m``.
A peer group with fewer than ``min_cell_units`` units with exposure borrows the population's prior.
Everything is expressed with window expressions, so it works inside any ``with_columns``.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl


def _prior_moments(count: pl.Expr, exposure: pl.Expr, group: Sequence[str]) -> tuple[pl.Expr, pl.Expr]:
    """Prior mean ``m`` and between-unit variance ``τ²`` over ``group`` (units with exposure only)."""
    valid = exposure > 0
    y = pl.when(valid).then(count)
    e = pl.when(valid).then(exposure)
    sum_y = y.sum().over(group)
    sum_e = e.sum().over(group)
    n = valid.sum().over(group)
    mean = sum_y / sum_e
    weighted_variance = (y * y / e).sum().over(group) / sum_e - mean * mean
    between_variance = weighted_variance - mean / (sum_e / n)
    return mean, between_variance


def shrunk_rate(
    count: pl.Expr,
    exposure: pl.Expr,
    *,
    cell: Sequence[str],
    population: Sequence[str],
    min_cell_units: int,
) -> pl.Expr:
    """Posterior-mean rate per unit of exposure, shrunk toward the cell (or population) mean.

    Parameters
    ----------
    count
        Events per unit (non-negative).
    exposure
        Exposure per unit in the rate's denominator unit (e.g. listed patients / 10,000).
    cell
        Columns of the peer group whose mean the rate shrinks toward (e.g. as_of, region, type).
    population
        Columns of the fallback group used when a cell has fewer than ``min_cell_units`` units.
    min_cell_units
        Smallest number of units with positive exposure for a cell to carry its own prior.

    Returns
    -------
    pl.Expr
        The shrunk rate; equals the prior mean when the prior has no between-unit variance.
    """
    cell_mean, cell_variance = _prior_moments(count, exposure, cell)
    population_mean, population_variance = _prior_moments(count, exposure, population)
    use_cell = (exposure > 0).sum().over(cell) >= min_cell_units
    mean = pl.when(use_cell).then(cell_mean).otherwise(population_mean)
    variance = pl.when(use_cell).then(cell_variance).otherwise(population_variance)
    strength = mean / variance
    return (
        pl.when(variance > 0)
        .then((count + strength * mean) / (exposure + strength))
        .otherwise(mean)
        .cast(pl.Float64)
    )
