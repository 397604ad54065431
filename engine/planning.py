"""Inspection plans: which units to inspect next, from a scoring snapshot (pure; no I/O).

A plan of capacity ``K`` has two parts:

1. **Risk-ranked picks** (``reason="risk_rank"``, ``selection="risk_based"``, inclusion probability 1):
   ``K - round(K · exploration)`` units taken greedily in rank order (highest ``p_deficiency`` for the
   risk area first), skipping units in cooldown (inspected, by start or decision date, within the last
   ``cooldown_months`` before the reference date), units whose provider already has
   ``max_per_provider`` units in the plan, and units whose region already has ``per_region`` units.
   Every unit ranked above the last risk pick that was passed over is reported as skipped with the
   first reason that applied (``cooldown``, ``provider_cap``, ``region_cap``).
2. **Exploration picks** (``reason="random"``, ``selection="random"``): ``round(K · exploration)`` units
   drawn at random from the eligible units not already chosen (not in cooldown), stratified by
   region × ownership. The draw is proportional: stratum ``h`` with ``N_h`` of the ``N`` eligible units
   has an expected allocation ``a_h = n · N_h / N``, rounded up or down at random by systematic sampling
   on the fractional parts (so ``E[n_h] = a_h`` exactly and the total is exactly ``n``), then ``n_h``
   units are drawn without replacement within the stratum. Every eligible unit therefore has the exact
   inclusion probability ``a_h / N_h = n / N`` — no stratum is left with probability zero, which is what
   later model evaluation (inverse-probability weighting) needs. The exploration share is not subject to
   the provider and region caps: capping it would make the inclusion probabilities depend on the risk
   picks in ways that are no longer exact.

Optimality of the greedy part: the objective (expected findings, the sum of ``p_deficiency`` over
the chosen units) is separable. Under a cardinality limit plus *one* family of caps (only
``per_region`` or only ``max_per_provider``) the feasible sets form a matroid, and greedy selection in
rank order is optimal. With *both* caps and providers that span regions it is the intersection of two
matroids and greedy is guaranteed only half the optimum (in practice close to it; public providers
are regions, so their units never span regions). Greedy is kept because each skip has a reason an
inspector can check; :attr:`PlanSelection.warnings` says when both caps were binding.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl

from engine.scores import OVERALL, UNIT_CONTEXT_COLUMNS

RISK_RANK = "risk_rank"
RANDOM = "random"
SKIP_REASONS = ("cooldown", "provider_cap", "region_cap")
SELECTION_FOR_REASON = {RISK_RANK: "risk_based", RANDOM: "random"}
UNIT_COLUMNS = (
    *UNIT_CONTEXT_COLUMNS,
    "risk_area",
    "rank",
    "percentile",
    "p_deficiency",
    "p_serious",
)


@dataclass(frozen=True)
class PlanParameters:
    """What a plan is asked for; with the score id and inspections snapshot it reproduces the plan."""

    capacity: int
    seed: int
    risk_area: str = OVERALL
    per_region: int | None = None
    max_per_provider: int | None = None
    exploration: float = 0.15
    cooldown_months: int = 12

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {self.capacity}")
        if not 0.0 <= self.exploration <= 1.0:
            raise ValueError(f"exploration must be a share between 0 and 1, got {self.exploration}")
        if self.cooldown_months < 0:
            raise ValueError(f"cooldown_months must be 0 or more, got {self.cooldown_months}")
        for name in ("per_region", "max_per_provider"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or unset for no cap), got {value}")

    @property
    def random_count(self) -> int:
        """round(K · exploration), rounding halves up (not to even) so the count is predictable."""
        return math.floor(self.capacity * self.exploration + 0.5)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PlanSelection:
    """The outcome of :func:`plan_selection`."""

    chosen: pl.DataFrame
    skipped: pl.DataFrame
    strata: pl.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def expected_findings(self) -> float:
        """Sum of ``p_deficiency`` over the chosen units."""
        return float(self.chosen["p_deficiency"].sum()) if self.chosen.height else 0.0


def cooldown_units(inspections: pl.LazyFrame, reference_date: dt.date, months: int) -> pl.LazyFrame:
    """Units inspected (start or decision date) on or after ``reference_date`` minus ``months``.

    Returns one row per unit: ``unit_id``, ``last_inspected`` (the latest of those dates).
    """
    cutoff = pl.lit(reference_date).dt.offset_by(f"-{months}mo")
    latest = pl.max_horizontal("start_date", "decision_date")
    return (
        inspections.filter(latest >= cutoff)
        .group_by("unit_id")
        .agg(last_inspected=latest.max())
        .sort("unit_id")
    )


def area_candidates(scores: pl.LazyFrame, risk_area: str) -> pl.LazyFrame:
    """The scores of one risk area (or ``overall``) in rank order, with the planner's columns."""
    return scores.filter(pl.col("risk_area") == risk_area).select(UNIT_COLUMNS).sort("rank")


def plan_selection(
    scores: pl.DataFrame, recent_inspections: pl.DataFrame, parameters: PlanParameters
) -> PlanSelection:
    """Choose the units of an inspection plan (see the module docstring for the method).

    Parameters
    ----------
    scores
        A scoring snapshot frame (:class:`engine.scores.ScoresModel`).
    recent_inspections
        ``unit_id`` and ``last_inspected`` of units in cooldown (:func:`cooldown_units`).
    parameters
        Capacity, risk area, caps, exploration share, seed.

    Returns
    -------
    PlanSelection
        ``chosen`` (plan order, with ``reason``, ``selection``, ``inclusion_probability``),
        ``skipped`` (higher-ranked units passed over, with ``reason`` and ``detail``), ``strata``.
    """
    areas = set(scores["risk_area"].unique().to_list())
    if parameters.risk_area not in areas:
        raise ValueError(f"unknown risk area {parameters.risk_area!r}; the scores have {sorted(areas)}")
    candidates = area_candidates(scores.lazy(), parameters.risk_area).collect()
    cooling = dict(
        zip(
            recent_inspections["unit_id"].to_list(),
            recent_inspections["last_inspected"].to_list(),
            strict=True,
        )
    )
    risk_rows, skipped_rows, caps_hit = _greedy_risk_picks(
        candidates, cooling, parameters, parameters.capacity - parameters.random_count
    )
    chosen_ids = {row["unit_id"] for row in risk_rows}
    pool = candidates.filter(
        ~pl.col("unit_id").is_in(list(chosen_ids | set(cooling))),
    ).sort("unit_id")
    random_rows, strata = _stratified_random_picks(pool, parameters)

    warnings: list[str] = []
    shortfall = parameters.capacity - len(risk_rows) - len(random_rows)
    if shortfall > 0:
        warnings.append(
            f"only {len(risk_rows) + len(random_rows)} of capacity {parameters.capacity} units could be "
            f"chosen: {len(cooling)} units are in cooldown and the caps exclude others"
        )
    if caps_hit == {"provider_cap", "region_cap"}:
        warnings.append(
            "both the provider and the region cap were binding: greedy selection is then not guaranteed "
            "to maximise expected findings (it is within a factor 2 of the optimum)"
        )
    chosen = pl.DataFrame(risk_rows + random_rows, schema=_chosen_schema(candidates)).with_row_index(
        "plan_position", offset=1
    )
    skipped = pl.DataFrame(skipped_rows, schema=_skipped_schema())
    return PlanSelection(chosen=chosen, skipped=skipped, strata=strata, warnings=warnings)


def _greedy_risk_picks(
    candidates: pl.DataFrame, cooling: dict[str, dt.date], parameters: PlanParameters, wanted: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    chosen: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    per_provider: Counter[str] = Counter()
    per_region: Counter[str] = Counter()
    caps_hit: set[str] = set()
    if wanted <= 0:
        return chosen, skipped, caps_hit
    for row in candidates.iter_rows(named=True):
        if len(chosen) >= wanted:
            break
        reason, detail = _skip_reason(row, cooling, per_provider, per_region, parameters)
        if reason is not None:
            caps_hit.add(reason)
            skipped.append(
                {key: row[key] for key in ("unit_id", "unit_name", "provider_id", "region_code")}
                | {
                    "rank": row["rank"],
                    "p_deficiency": row["p_deficiency"],
                    "reason": reason,
                    "detail": detail,
                }
            )
            continue
        per_provider[row["provider_id"]] += 1
        per_region[row["region_code"]] += 1
        chosen.append(
            row
            | {
                "reason": RISK_RANK,
                "selection": "risk_based",
                "inclusion_probability": 1.0,
                "stratum": _stratum(row),
            }
        )
    return chosen, skipped, caps_hit


def _skip_reason(
    row: dict[str, Any],
    cooling: dict[str, dt.date],
    per_provider: Counter[str],
    per_region: Counter[str],
    parameters: PlanParameters,
) -> tuple[str | None, str]:
    if row["unit_id"] in cooling:
        return "cooldown", (
            f"inspected {cooling[row['unit_id']].isoformat()}, within the last "
            f"{parameters.cooldown_months} months"
        )
    cap = parameters.max_per_provider
    if cap is not None and per_provider[row["provider_id"]] >= cap:
        return (
            "provider_cap",
            f"provider {row['provider_id']} already has {cap} units in the plan (max {cap})",
        )
    cap = parameters.per_region
    if cap is not None and per_region[row["region_code"]] >= cap:
        return "region_cap", f"region {row['region_code']} already has {cap} units in the plan (max {cap})"
    return None, ""


def _stratum(row: dict[str, Any]) -> str:
    return f"{row['region_code']}/{row['ownership']}"


def _stratified_random_picks(
    pool: pl.DataFrame, parameters: PlanParameters
) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """Proportional stratified sample with exact inclusion probabilities (see module docstring)."""
    rng = np.random.default_rng(parameters.seed)
    total = pool.height
    wanted = min(parameters.random_count, total)
    groups = pool.with_columns(stratum=pl.col("region_code") + "/" + pl.col("ownership")).partition_by(
        "stratum", as_dict=False, maintain_order=True
    )
    groups.sort(key=lambda group: group["stratum"][0])
    expected = [Fraction(wanted * group.height, total) if total else Fraction(0) for group in groups]
    allocation = _systematic_rounding(expected, rng)
    rows: list[dict[str, Any]] = []
    strata_rows: list[dict[str, Any]] = []
    for group, share, drawn in zip(groups, expected, allocation, strict=True):
        probability = share / group.height
        picks = sorted(rng.choice(group.height, size=drawn, replace=False).tolist()) if drawn else []
        for index in picks:
            row = group.row(index, named=True)
            rows.append(
                row | {"reason": RANDOM, "selection": "random", "inclusion_probability": float(probability)}
            )
        strata_rows.append(
            {
                "stratum": group["stratum"][0],
                "eligible": group.height,
                "expected": float(share),
                "drawn": drawn,
                "inclusion_probability": float(probability),
            }
        )
    rows.sort(key=lambda row: row["rank"])
    strata = pl.DataFrame(
        strata_rows,
        schema={
            "stratum": pl.String,
            "eligible": pl.Int64,
            "expected": pl.Float64,
            "drawn": pl.Int64,
            "inclusion_probability": pl.Float64,
        },
    )
    return rows, strata


def _systematic_rounding(expected: list[Fraction], rng: np.random.Generator) -> list[int]:
    """Round each expected count down or up so that ``E[result_h] = expected_h`` and the sum is kept.

    Systematic sampling on the fractional parts: one uniform start ``u`` and the points
    ``u, u+1, ...``; stratum ``h`` rounds up iff a point falls in its slice of the cumulative fractions,
    which happens with probability equal to its fractional part (each part is < 1).
    """
    floors = [math.floor(value) for value in expected]
    start = Fraction(rng.random())
    result: list[int] = []
    cumulative = Fraction(0)
    for value, floor in zip(expected, floors, strict=True):
        low, cumulative = cumulative, cumulative + (value - floor)
        points = math.ceil(cumulative - start) - math.ceil(low - start)
        result.append(floor + points)
    return result


def _chosen_schema(candidates: pl.DataFrame) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = dict(candidates.schema)
    schema.update(
        reason=pl.String(), selection=pl.String(), inclusion_probability=pl.Float64(), stratum=pl.String()
    )
    return schema


def _skipped_schema() -> dict[str, pl.DataType]:
    return {
        "unit_id": pl.String(),
        "unit_name": pl.String(),
        "provider_id": pl.String(),
        "region_code": pl.String(),
        "rank": pl.Int64(),
        "p_deficiency": pl.Float64(),
        "reason": pl.String(),
        "detail": pl.String(),
    }


def inspections_template(chosen: pl.DataFrame, plan_id: str, risk_areas: list[str]) -> pl.DataFrame:
    """Rows for ``inspections.csv``, one per chosen unit × inspected risk area, outcome columns empty.

    ``selection`` and ``inclusion_probability`` carry the plan's design so that, once the dates and
    ``finding`` are filled in after the inspection, training and evaluation can correct for selection.
    """
    return (
        chosen.select(
            inspection_id=pl.format(
                "{}-{}", pl.lit(plan_id), pl.col("plan_position").cast(pl.String).str.zfill(3)
            ),
            unit_id="unit_id",
            selection="selection",
            inclusion_probability="inclusion_probability",
        )
        .join(pl.DataFrame({"risk_area": risk_areas}), how="cross")
        .select(
            "inspection_id",
            "unit_id",
            start_date=pl.lit(None, dtype=pl.Date),
            decision_date=pl.lit(None, dtype=pl.Date),
            risk_area="risk_area",
            finding=pl.lit(None, dtype=pl.String),
            selection="selection",
            inclusion_probability="inclusion_probability",
        )
        .sort("inspection_id", "risk_area")
    )
