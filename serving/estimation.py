"""Design-based prevalence estimates from probability-sampled inspections (pure; no I/O).

The estimand is the share of the plan's **frame** (the eligible units: active, not in cooldown) with a
deficiency in a risk area. Every inspected unit ``i`` carries its exact inclusion probability ``π_i``
(:mod:`serving.planning`); the estimators:

- **Hájek** (the ratio form of Horvitz–Thompson): ``R̂ = Σ y_i/π_i / Σ 1/π_i``. Approximately unbiased,
  and unlike HT it does not need the frame size and cannot leave [0, 1].
- **Variance**: Hájek's approximation for high-entropy fixed-size designs (systematic πps in random
  order, stratified and simple random sampling are close to it), applied to the linearised residuals
  ``z_i = (y_i − R̂)/π_i``: ``v = Σ c_i (z_i − z*)² / N̂²`` with ``c_i = (1 − π_i) n/(n − 1)``,
  ``z* = Σ c_i z_i / Σ c_i`` and ``N̂ = Σ 1/π_i``. Certainty units (``π_i = 1``) add no variance.
  For stratified samples it ignores the stratification gain (conservative).
- **Interval**: Wilson's score interval at the effective sample size ``n_eff = R̂(1 − R̂)/v`` (Korn and
  Graubard's approach), which stays inside [0, 1] and behaves at small shares where ``R̂ ± 1.96·se``
  undercovers.
- **Domains** (per region): the same formulas with ``y`` and the residuals set to 0 outside the domain;
  reported only when the domain holds at least ``min_domain_n`` inspected units.
- **Several plans** (independent samples of the same population, e.g. one per risk area or per
  planner): each plan's estimate is computed under its own design and the estimates are averaged with
  weights ``n_j / Σ n``, variances combined as ``Σ (n_j/n)² v_j``.

:func:`anticipated_standard_error` is the standard error a design *will* give, before any outcome is
known, from the model's probabilities ``p_i`` over the whole frame: under Poisson sampling with the
same ``π_i``, ``AV = Σ_{frame} (1 − π_i)/π_i · E[(y_i − P)²] / N²`` with
``E[(y_i − P)²] = p_i(1 − p_i) + (p_i − P)²`` and ``P`` the mean of ``p`` (fixed-size designs do a
little better). It is undefined (None) when some frame unit has ``π_i = 0``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]
Z_95 = 1.959963984540054
NATIONAL = "national"


@dataclass(frozen=True)
class Estimate:
    """One prevalence estimate with its design-based interval."""

    share: float
    standard_error: float
    lower: float
    upper: float
    n: int
    deficient: int


def hajek_estimate(
    y: FloatArray, probabilities: FloatArray, domain: npt.NDArray[np.bool_] | None = None, z: float = Z_95
) -> Estimate | None:
    """Hájek estimate of the share with ``y = 1`` (in ``domain`` if given); None with fewer than 2 units.

    Raises ``ValueError`` when a probability is missing, zero or above 1.
    """
    y = np.asarray(y, dtype=np.float64)
    pi = np.asarray(probabilities, dtype=np.float64)
    if np.any(~np.isfinite(pi)) or np.any(pi <= 0) or np.any(pi > 1 + 1e-9):
        raise ValueError("every inspected unit needs an inclusion probability in (0, 1]")
    inside = np.ones(len(y), dtype=bool) if domain is None else np.asarray(domain, dtype=bool)
    n_domain = int(inside.sum())
    n = len(y)
    if n_domain < 2 or n < 2:
        return None
    weights = np.where(inside, 1.0 / pi, 0.0)
    population = weights.sum()
    share = float((weights * y).sum() / population)
    residual = np.where(inside, (y - share) / pi, 0.0)
    c = (1.0 - np.minimum(pi, 1.0)) * n / (n - 1)
    if c.sum() > 0:
        centre = (c * residual).sum() / c.sum()
        variance = float((c * (residual - centre) ** 2).sum() / population**2)
    else:
        variance = 0.0  # a census of the domain
    lower, upper = wilson_interval(share, variance, n_domain, z)
    return Estimate(
        share=share,
        standard_error=math.sqrt(variance),
        lower=lower,
        upper=upper,
        n=n_domain,
        deficient=int(y[inside].sum()),
    )


def wilson_interval(share: float, variance: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson's score interval at the effective sample size ``share(1 − share)/variance`` (at most ``n``)."""
    if variance <= 0:
        if 0.0 < share < 1.0:
            return share, share  # a census: no sampling error
        n_eff = float(n)
    else:
        n_eff = min(float(n), max(1.0, share * (1.0 - share) / variance)) if 0 < share < 1 else float(n)
    denominator = 1.0 + z**2 / n_eff
    centre = (share + z**2 / (2 * n_eff)) / denominator
    half = z * math.sqrt(share * (1 - share) / n_eff + z**2 / (4 * n_eff**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def combine_estimates(estimates: list[Estimate], z: float = Z_95) -> Estimate | None:
    """Several independent plans' estimates of one share: averaged by sample size (see module doc)."""
    usable = [e for e in estimates if e is not None]
    if not usable:
        return None
    if len(usable) == 1:
        return usable[0]
    n = sum(e.n for e in usable)
    share = sum(e.n * e.share for e in usable) / n
    variance = sum((e.n / n) ** 2 * e.standard_error**2 for e in usable)
    lower, upper = wilson_interval(share, variance, n, z)
    return Estimate(share, math.sqrt(variance), lower, upper, n, sum(e.deficient for e in usable))


def prevalence_table(sample: pl.DataFrame, *, min_domain_n: int = 10, z: float = Z_95) -> pl.DataFrame:
    """Per risk area: the national share (and per region where ``min_domain_n`` units allow it).

    ``sample`` has one row per inspected unit × risk area of one or more plans: ``plan_id``,
    ``unit_id``, ``risk_area``, ``region_code``, ``deficiency`` (0/1) and ``inclusion_probability``.
    Returns ``risk_area``, ``domain`` (``national`` or a region code), ``share``, ``standard_error``,
    ``lower``, ``upper``, ``n``, ``deficient``, ``plans``.
    """
    missing = sample.filter(pl.col("inclusion_probability").is_null())
    if missing.height:
        raise ValueError(
            f"{missing.height} inspected rows have no inclusion probability; "
            "an estimate needs the design's probabilities for every unit"
        )
    rows: list[dict[str, object]] = []
    for (area,), by_area in sample.sort("risk_area").group_by("risk_area", maintain_order=True):
        plans = by_area.partition_by("plan_id", maintain_order=True)
        regions = sorted(set(by_area["region_code"].to_list()))
        for domain in [NATIONAL, *regions]:
            per_plan = []
            for plan in plans:
                y = plan["deficiency"].cast(pl.Float64).to_numpy()
                pi = plan["inclusion_probability"].cast(pl.Float64).to_numpy()
                mask = None if domain == NATIONAL else (plan["region_code"] == domain).to_numpy()
                if mask is not None and mask.sum() < min_domain_n:
                    continue
                estimate = hajek_estimate(y, pi, mask, z)
                if estimate is not None:
                    per_plan.append(estimate)
            combined = combine_estimates(per_plan, z)
            if combined is None or (domain != NATIONAL and combined.n < min_domain_n):
                continue
            rows.append(
                {
                    "risk_area": area,
                    "domain": domain,
                    "share": combined.share,
                    "standard_error": combined.standard_error,
                    "lower": combined.lower,
                    "upper": combined.upper,
                    "n": combined.n,
                    "deficient": combined.deficient,
                    "plans": len(per_plan),
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "risk_area": pl.String,
            "domain": pl.String,
            "share": pl.Float64,
            "standard_error": pl.Float64,
            "lower": pl.Float64,
            "upper": pl.Float64,
            "n": pl.Int64,
            "deficient": pl.Int64,
            "plans": pl.Int64,
        },
    )


def anticipated_standard_error(p: FloatArray, probabilities: FloatArray) -> float | None:
    """The standard error of the Hájek share a design will give (see module doc); None if some π = 0."""
    p = np.asarray(p, dtype=np.float64)
    pi = np.asarray(probabilities, dtype=np.float64)
    if len(p) == 0 or np.any(pi <= 0):
        return None
    mean = p.mean()
    spread = p * (1 - p) + (p - mean) ** 2
    variance = float(((1 - np.minimum(pi, 1.0)) / pi * spread).sum() / len(p) ** 2)
    return math.sqrt(max(variance, 0.0))


class UnknownProbabilitiesError(ValueError):
    """A plan whose design probabilities are unknown cannot support a design-based estimate."""


def check_estimable(plan: Mapping[str, Any]) -> None:
    """Raise :class:`UnknownProbabilitiesError` unless every eligible unit of ``plan`` had π > 0.

    Plans stored before designs existed do not record their frame, and a ``top`` plan without
    exploration gives probability 0 to every unit it did not rank high enough: both are refused.
    """
    plan_id = plan.get("plan_id", "?")
    if plan.get("eligible_units") is None or plan.get("zero_probability_units") is None:
        raise UnknownProbabilitiesError(
            f"{plan_id} does not record its design's inclusion probabilities (made before plan designs); "
            "make a new plan with --design pps, stratified or top with exploration > 0"
        )
    if plan["zero_probability_units"] > 0:
        raise UnknownProbabilitiesError(
            f"{plan_id} gave {plan['zero_probability_units']} of {plan['eligible_units']} eligible units "
            "inclusion probability 0: no design-based estimate can cover them (use exploration > 0, "
            "or the pps or stratified design)"
        )
    if any(unit.get("inclusion_probability") is None for unit in plan["chosen"]):
        raise UnknownProbabilitiesError(f"{plan_id} has chosen units without an inclusion probability")


def plan_sample(
    plan: Mapping[str, Any], inspections: pl.LazyFrame, *, window_months: int = 12
) -> pl.DataFrame:
    """The decided inspections of ``plan``'s chosen units, one row per unit × risk area.

    An inspection belongs to the plan when its ``inspection_id`` is one the plan exported
    (``<plan_id>-NNN``), or else when it is of a chosen unit and started within ``window_months`` of
    the plan's reference date. Rows without a finding (not yet decided) are left out; a unit with
    several matching inspections keeps its first. The inclusion probability and region come from the
    plan (the design), not from the inspection rows.
    """
    check_estimable(plan)
    plan_id = str(plan["plan_id"])
    reference = dt.date.fromisoformat(str(plan["reference_date"]))
    chosen = pl.DataFrame(
        {
            "unit_id": [u["unit_id"] for u in plan["chosen"]],
            "region_code": [u["region_code"] for u in plan["chosen"]],
            "inclusion_probability": [float(u["inclusion_probability"]) for u in plan["chosen"]],
        },
        schema={"unit_id": pl.String, "region_code": pl.String, "inclusion_probability": pl.Float64},
    )
    end = pl.lit(reference).dt.offset_by(f"{window_months}mo")
    exported = pl.col("inspection_id").str.starts_with(f"{plan_id}-")
    in_window = (pl.col("start_date") >= pl.lit(reference)) & (pl.col("start_date") < end)
    matched = (
        inspections.select("inspection_id", "unit_id", "start_date", "risk_area", "finding")
        .join(chosen.lazy().select("unit_id"), on="unit_id", how="inner")
        .filter((exported | in_window) & pl.col("finding").is_not_null())
        .sort("start_date", "inspection_id")
        .unique(["unit_id", "risk_area"], keep="first", maintain_order=True)
        .collect()
    )
    return (
        matched.join(chosen, on="unit_id", how="inner")
        .select(
            pl.lit(plan_id).alias("plan_id"),
            "unit_id",
            "risk_area",
            "region_code",
            pl.col("finding").is_in(["deficiency", "serious"]).cast(pl.Int8).alias("deficiency"),
            "inclusion_probability",
        )
        .sort("risk_area", "unit_id")
    )
