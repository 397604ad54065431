"""Fixed-size unequal-probability sampling with exact first-order inclusion probabilities (pure).

The ``pps`` plan design draws ``n`` units with inclusion probability proportional to risk, floored at
``π_min`` and capped at 1, by **systematic πps sampling in random order**:

1. :func:`pps_probabilities` turns the sizes ``p_i`` (predicted deficiency probabilities) into
   ``π_i = min(1, max(π_min, c · m_g(i) · p_i))`` with ``Σ π_i = n``. ``c`` is found by bisection; the
   group multipliers ``m_g ≤ 1`` are lowered (again by bisection) for every group (region, provider)
   whose mass ``Σ_{i∈g} π_i`` would exceed its cap, so that no group *expects* more units than its cap.
2. :func:`systematic_sample` lays the units on a line in a random order (groups kept contiguous), each
   taking a segment of length ``π_i``, and selects the units hit by the points ``u, u+1, …, u+n-1`` for
   one uniform ``u ∈ [0, 1)``. Unit ``i`` is selected exactly when a point falls in its segment, which
   happens with probability exactly ``π_i`` (the segment is shorter than 1 and ``u`` is uniform), for
   *any* order. Exactly ``n`` units are drawn. A contiguous block of mass ``m`` receives ``⌊m⌋`` or
   ``⌈m⌉`` points, so a group whose mass is at most its cap never gets more than its cap.

Second-order probabilities of systematic sampling can be zero, so no unbiased variance estimator
exists; the random order makes the design close to maximum entropy (conditional Poisson), for which
Hájek's variance approximation (:mod:`serving.estimation`) is the standard choice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_BISECTION_STEPS = 64
_CAP_SLACK = 1e-9


class InfeasibleDesignError(ValueError):
    """The floor, the caps and the sample size cannot all be met."""


def _clipped(scaled: FloatArray, floor: float) -> FloatArray:
    return np.minimum(1.0, np.maximum(floor, scaled))


def _solve_scale(sizes: FloatArray, floor: float, target: float) -> float:
    """The ``c`` with ``Σ min(1, max(floor, c·sizes)) = target`` (monotone in c; bisection)."""
    low, high = 0.0, 1.0
    while _clipped(high * sizes, floor).sum() < target and high < 1e300:
        high *= 2.0
    for _ in range(_BISECTION_STEPS):
        middle = (low + high) / 2.0
        if _clipped(middle * sizes, floor).sum() < target:
            low = middle
        else:
            high = middle
    return high


def pps_probabilities(
    sizes: Sequence[float] | FloatArray,
    n: int,
    *,
    floor: float = 0.0,
    groups: Sequence[tuple[IntArray, int]] = (),
    max_rounds: int = 100,
) -> FloatArray:
    """Inclusion probabilities proportional to ``sizes``, at least ``floor``, at most 1, summing to ``n``.

    Parameters
    ----------
    sizes
        Non-negative size measure per unit (the predicted deficiency probability).
    n
        Sample size; ``0 ≤ n ≤ len(sizes)``.
    floor
        ``π_min``: every unit's probability is at least this (``floor · N ≤ n`` is required).
    groups
        ``(member indices, cap)`` pairs: the expected number drawn from the members is at most ``cap``
        (``floor · |members| ≤ cap`` is required).
    max_rounds
        Rounds of lowering over-cap group multipliers before giving up.

    Raises
    ------
    InfeasibleDesignError
        When the floor, the caps and ``n`` cannot all hold.
    """
    weights = np.asarray(sizes, dtype=np.float64)
    total = len(weights)
    if not 0 <= n <= total:
        raise InfeasibleDesignError(f"cannot draw {n} of {total} units")
    if np.any(~np.isfinite(weights)) or np.any(weights < 0):
        raise InfeasibleDesignError("sizes must be finite and non-negative")
    if not 0.0 <= floor <= 1.0:
        raise InfeasibleDesignError(f"the floor must be a probability, got {floor}")
    if n == 0:
        return np.zeros(total)
    if floor * total > n + 1e-12:
        raise InfeasibleDesignError(
            f"a floor of {floor} on {total} eligible units expects {floor * total:.1f} inspections, "
            f"more than the {n} planned; lower the floor to at most {n / total:.4f}"
        )
    for members, cap in groups:
        if floor * len(members) > cap + 1e-12:
            raise InfeasibleDesignError(
                f"a floor of {floor} on a group of {len(members)} units expects more than its cap of {cap}"
            )
    capped_total = cap_limited_total(total, groups)
    if capped_total < n:
        raise InfeasibleDesignError(f"the caps allow at most {capped_total} units, fewer than {n}")
    weights = np.where(weights > 0, weights, 1e-12)
    multiplier = np.ones(total)
    probabilities = _clipped(_solve_scale(weights, floor, n) * weights, floor)
    for _ in range(max_rounds):
        over = False
        for members, cap in groups:
            mass = probabilities[members].sum()
            if mass > cap + _CAP_SLACK:
                over = True
                scaled = weights[members] * multiplier[members]
                factor = _solve_scale(scaled, floor, cap - _CAP_SLACK)
                current = _solve_scale(scaled, floor, mass)
                multiplier[members] *= min(1.0, factor / current)
        sized = weights * multiplier
        probabilities = _clipped(_solve_scale(sized, floor, n) * sized, floor)
        if not over and all(probabilities[m].sum() <= cap + _CAP_SLACK for m, cap in groups):
            break
    else:
        raise InfeasibleDesignError(f"could not meet the caps with {n} units after {max_rounds} rounds")
    # Remove bisection residue so that the segments add up to exactly n points.
    free = probabilities < 1.0
    residue = n - probabilities.sum()
    if free.any() and abs(residue) > 0:
        probabilities[free] += residue * probabilities[free] / probabilities[free].sum()
    return np.minimum(probabilities, 1.0)


def cap_limited_total(total: int, groups: Sequence[tuple[IntArray, int]]) -> int:
    """An upper bound on how many units the caps allow (each group bounded separately)."""
    covered = np.zeros(total, dtype=bool)
    allowed = 0
    for members, cap in groups:
        fresh = np.asarray(members)[~covered[members]]
        allowed += min(cap, len(fresh))
        covered[fresh] = True
    return allowed + int((~covered).sum())


def random_block_order(blocks: Sequence[Sequence[int]], rng: np.random.Generator) -> IntArray:
    """Unit indices in random order, keeping each block (a list of indices) contiguous.

    Blocks come in random order, and the units within each block in random order.
    """
    order = rng.permutation(len(blocks))
    parts = [np.asarray(blocks[b], dtype=np.int64)[rng.permutation(len(blocks[b]))] for b in order]
    return np.concatenate(parts) if parts else np.array([], dtype=np.int64)


def systematic_sample(probabilities: FloatArray, order: IntArray, rng: np.random.Generator) -> IntArray:
    """Systematic πps: the indices (sorted) hit by ``u, u+1, …`` on the segments laid out in ``order``.

    ``probabilities`` must sum to an integer ``n`` (within 1e-6); exactly ``n`` units are returned and
    unit ``i`` is among them with probability ``probabilities[i]``.
    """
    n = round(float(probabilities.sum()))
    if abs(probabilities.sum() - n) > 1e-6:
        raise ValueError(f"inclusion probabilities must sum to a whole number, got {probabilities.sum()}")
    if n == 0:
        return np.array([], dtype=np.int64)
    laid = probabilities[order]
    upper = np.cumsum(laid)
    upper[-1] = float(n)  # exact end of the line (removes rounding residue)
    lower = np.concatenate([[0.0], upper[:-1]])
    start = rng.random()
    # Points strictly inside [lower, upper): unit hit iff ceil(lower - u) < ceil(upper - u).
    hits = np.ceil(upper - start) - np.ceil(lower - start) > 0
    return np.sort(order[hits]).astype(np.int64)
