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
The moment sums come from one group-by per peer level, joined back (no per-rate window passes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from engine.order_free import order_free_sum


def _moment_sums(counts: Mapping[str, pl.Expr], exposure: pl.Expr) -> list[pl.Expr]:
    """Per peer group: Σy, Σy²/e per rate, Σe and the number of units with exposure.

    Counts are whole numbers, so Σy is exact in any order and needs no sort (the fractional sums
    do: see :func:`engine.order_free.order_free_sum`)."""
    valid = exposure > 0
    e = pl.when(valid).then(exposure)
    sums = [order_free_sum(e).alias("_sum_e"), valid.sum().alias("_n")]
    for name, count in counts.items():
        y = pl.when(valid).then(count)
        sums += [
            y.sum().alias(f"_sum_y:{name}"),
            order_free_sum(y * y / e).alias(f"_sum_yy:{name}"),
        ]
    return sums


def _prior(name: str, prefix: str) -> tuple[pl.Expr, pl.Expr]:
    """Prior mean ``m`` and between-unit variance ``τ²`` from a group's moment sums."""
    sum_e, n = pl.col(f"{prefix}_sum_e"), pl.col(f"{prefix}_n")
    mean = pl.col(f"{prefix}_sum_y:{name}") / sum_e
    weighted_variance = pl.col(f"{prefix}_sum_yy:{name}") / sum_e - mean * mean
    return mean, weighted_variance - mean / (sum_e / n)


def prior_columns(name: str) -> tuple[str, str]:
    """Names of the prior mean and variance of rate ``name`` in :func:`shrinkage_priors`' frame."""
    return f"{name}:prior_mean", f"{name}:prior_variance"


def cell_keys(cell: Sequence[str], population: Sequence[str]) -> list[str]:
    """The columns :func:`shrinkage_priors` groups by: the cell's, then the population's others."""
    return [*cell, *(column for column in population if column not in cell)]


def shrinkage_priors(
    frame: pl.LazyFrame,
    counts: Mapping[str, pl.Expr],
    exposure: pl.Expr,
    *,
    cell: Sequence[str],
    population: Sequence[str],
    min_cell_units: int,
) -> pl.LazyFrame:
    """Per peer cell: the prior mean and between-unit variance of each rate (:func:`prior_columns`).

    A cell's prior comes from its own units, or from its population's when it has fewer than
    ``min_cell_units`` units with exposure. Every cell lies in one population (a coarser grouping);
    the frame has one row per cell, keyed by :func:`cell_keys`. Arguments as in
    :func:`with_shrunk_rates`.
    """
    keys, population = cell_keys(cell, population), list(population)
    sums = _moment_sums(counts, exposure)
    cell_sums = frame.group_by(keys).agg(sums).rename(lambda c: c if c in keys else f"cell{c}")
    # A population's prior is read only by its small cells: its sums (sorted, so costly) are taken
    # only for the populations that have one.
    borrowing = cell_sums.filter(pl.col("cell_n") < min_cell_units).select(population).unique()
    population_sums = (
        frame.join(borrowing, on=population, how="semi", nulls_equal=True)
        .group_by(population)
        .agg(sums)
        .rename(lambda c: c if c in population else f"pop{c}")
    )
    use_cell = pl.col("cell_n") >= min_cell_units
    priors: list[pl.Expr] = []
    for name in counts:
        cell_mean, cell_variance = _prior(name, "cell")
        population_mean, population_variance = _prior(name, "pop")
        mean_column, variance_column = prior_columns(name)
        priors.append(pl.when(use_cell).then(cell_mean).otherwise(population_mean).alias(mean_column))
        priors.append(
            pl.when(use_cell).then(cell_variance).otherwise(population_variance).alias(variance_column)
        )
    return cell_sums.join(population_sums, on=population, how="left", nulls_equal=True).select(*keys, *priors)


def shrunk_rate(name: str, count: pl.Expr, exposure: pl.Expr) -> pl.Expr:
    """The posterior mean of rate ``name`` from its prior's columns (:func:`prior_columns`)."""
    mean_column, variance_column = prior_columns(name)
    mean, variance = pl.col(mean_column), pl.col(variance_column)
    strength = mean / variance
    return (
        pl.when(variance > 0)
        .then((count + strength * mean) / (exposure + strength))
        .otherwise(mean)
        .cast(pl.Float64)
        .alias(name)
    )


def with_shrunk_rates(
    frame: pl.LazyFrame,
    counts: Mapping[str, pl.Expr],
    exposure: pl.Expr,
    *,
    cell: Sequence[str],
    population: Sequence[str],
    min_cell_units: int,
) -> pl.LazyFrame:
    """Add one shrunk rate column per entry of ``counts`` (posterior mean per unit of exposure).

    Parameters
    ----------
    frame
        One row per unit (and planning date) with the columns ``counts`` and ``exposure`` use.
    counts
        Output column name → events per unit (non-negative whole numbers).
    exposure
        Exposure per unit in the rate's denominator unit (e.g. listed patients / 10,000).
    cell
        Columns of the peer group whose mean a rate shrinks toward (e.g. as_of, region, type).
    population
        Columns of the fallback group used when a cell has fewer than ``min_cell_units`` units
        (coarser than the cell: every cell lies in one population).
    min_cell_units
        Smallest number of units with positive exposure for a cell to carry its own prior.

    Returns
    -------
    pl.LazyFrame
        ``frame`` with the shrunk rates added; a rate equals the prior mean when the prior has no
        between-unit variance (and 0 when no unit in the group has any event).
    """
    priors = shrinkage_priors(
        frame, counts, exposure, cell=cell, population=population, min_cell_units=min_cell_units
    )
    keys = cell_keys(cell, population)
    return (
        frame.join(priors, on=keys, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(shrunk_rate(name, count, exposure) for name, count in counts.items())
        .drop(*(column for name in counts for column in prior_columns(name)))
    )
