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

The ``top`` design above is the default. Two more designs (``PlanParameters.design``) trade findings for
an estimate of how common deficiencies are (docs/planning.md):

- ``pps``: every eligible unit (not in cooldown) gets an inclusion probability proportional to its
  ``p_deficiency``, at least ``floor`` (π_min) and at most 1, summing to ``K``; drawn by systematic πps
  sampling in random order (:mod:`serving.sampling`), so every unit's probability is exact. Caps are
  honoured through the probabilities: a region's (provider's) probabilities are scaled down until they
  sum to at most ``per_region`` (``max_per_provider``), and the units are laid out region by region,
  provider by provider, so a region never gets more than its cap (systematic sampling gives a
  contiguous block ⌊mass⌋ or ⌈mass⌉ units). A provider that spans regions has one block per region
  and could exceed its cap; the plan warns when it does.
- ``stratified``: IVO's stratified random sampling: all ``K`` units drawn at random, stratified by
  region × ownership with proportional allocation (the exploration method above, for the whole plan).
  Caps are not applied (they would change the inclusion probabilities); the plan warns if given.

A plan may be limited to some regions or kommuner (``PlanParameters.regions``, ``municipalities``): the
units outside them are dropped before anything else, so every design's frame, and every inclusion
probability, is the area's. A pps floor at or above ``K/N`` makes every probability ``K/N`` (a random
plan); the plan warns and names :func:`largest_useful_floor`.

Every design returns, for every unit of the frame, its inclusion probability (``frame``), from which
the plan reports the anticipated standard error of the prevalence estimate per risk area
(:func:`serving.estimation.anticipated_standard_error`).

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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from engine.config import PlanningSettings
from engine.contract import REGIONS
from engine.places import municipality_names
from engine.scores import OVERALL, UNIT_CONTEXT_COLUMNS
from serving.estimation import anticipated_standard_error
from serving.sampling import (
    InfeasibleDesignError,
    cap_limited_total,
    pps_probabilities,
    random_block_order,
    systematic_sample,
)

RISK_RANK = "risk_rank"
RANDOM = "random"
PPS = "pps"
TOP = "top"
STRATIFIED = "stratified"
DESIGNS = (TOP, PPS, STRATIFIED)
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# A pps pick is a probability sample with a known (unequal) π: in inspections.csv it is "random", which the
# contract requires to carry its inclusion probability and the evaluation weights by 1/π.
SELECTION_FOR_REASON = {RISK_RANK: "risk_based", RANDOM: "random", PPS: "random"}
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
    """What a plan is asked for; with the score id and inspections snapshot it reproduces the plan.

    Every parameter with a configured default (``[planning]``) is given here: :func:`plan_parameters`
    fills the ones a caller left out, so no plan silently takes another default than the deployment's.
    """

    capacity: int
    seed: int
    design: str
    exploration: float
    floor: float  # pps only: π_min of every eligible unit (ignored, and stored as 0, otherwise)
    cooldown_months: int
    risk_area: str = OVERALL
    per_region: int | None = None
    max_per_provider: int | None = None
    # The plan's area: units in one of these regions or kommuner (SCB codes); both empty: the whole country.
    regions: tuple[str, ...] = ()
    municipalities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", known_places(self.regions, set(REGIONS), "region"))
        object.__setattr__(
            self, "municipalities", known_places(self.municipalities, set(municipality_names()), "kommun")
        )
        if self.design not in DESIGNS:
            raise ValueError(f"unknown design {self.design!r}; allowed: {list(DESIGNS)}")
        if not 0.0 <= self.floor <= 1.0:
            raise ValueError(f"floor must be a probability between 0 and 1, got {self.floor}")
        if self.design != PPS:
            object.__setattr__(self, "floor", 0.0)  # π_min means nothing to the other designs
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
        """The parameters as stored and hashed into the plan id.

        ``design`` and ``floor`` are left out for the default ``top`` design, so ``top`` plans keep the
        ids they had before designs existed; every other design's parameters are part of the id.
        """
        values = asdict(self)
        if self.design == TOP:
            values.pop("design")
            values.pop("floor")
        # Left out when not restricted, so a national plan keeps the id it had before plans had areas.
        for name in ("regions", "municipalities"):
            if values[name]:
                values[name] = list(values[name])
            else:
                values.pop(name)
        return values

    @property
    def restricted(self) -> bool:
        """Whether the plan is limited to some regions or kommuner."""
        return bool(self.regions or self.municipalities)


def known_places(codes: Sequence[str], known: set[str], kind: str) -> tuple[str, ...]:
    """``codes`` sorted and without repeats; ``ValueError`` naming any code that is not an SCB code."""
    unknown = sorted({str(code) for code in codes} - known)
    if unknown:
        raise ValueError(f"unknown {kind} codes {unknown[:10]}; use SCB's codes (engine/data/kommuner.csv)")
    return tuple(sorted(set(codes)))


def in_plan_area(parameters: PlanParameters) -> pl.Expr:
    """True for the units inside the plan's regions or kommuner (every unit when it is not restricted)."""
    if not parameters.restricted:
        return pl.lit(True)
    return pl.col("region_code").is_in(list(parameters.regions)) | pl.col("municipality_code").is_in(
        list(parameters.municipalities)
    )


def equal_probability(capacity: int, eligible: int) -> float:
    """``K/N``: every eligible unit's inclusion probability when all are equally likely (1 if N ≤ K)."""
    return min(1.0, capacity / eligible) if eligible else 0.0


def floor_makes_random(floor: float, capacity: int, eligible: int) -> bool:
    """Whether a pps floor leaves no room for risk: at or above ``K/N`` every probability is equal."""
    return eligible > 0 and floor > 0 and floor >= equal_probability(capacity, eligible) - 1e-12


def largest_useful_floor(capacity: int, eligible: int) -> float:
    """The largest floor (in steps of 0.1 percentage points) still below ``K/N``: risk still matters."""
    return max(0.0, math.ceil(equal_probability(capacity, eligible) * 1000 - 1) / 1000)


def plan_parameters(
    defaults: PlanningSettings,
    *,
    capacity: int,
    seed: int,
    risk_area: str = OVERALL,
    per_region: int | None = None,
    max_per_provider: int | None = None,
    design: str | None = None,
    exploration: float | None = None,
    floor: float | None = None,
    cooldown_months: int | None = None,
    regions: Sequence[str] | None = None,
    municipalities: Sequence[str] | None = None,
) -> PlanParameters:
    """The parameters of a plan: what the caller gave, and the configured default for each one left None.

    Parameters
    ----------
    defaults
        The configuration's ``[planning]`` section.
    capacity, seed, risk_area, per_region, max_per_provider
        As given (no configured default: a missing cap means no cap).
    regions, municipalities
        SCB codes of the regions and kommuner the plan is limited to (None or empty: the whole country).
    design, exploration, floor, cooldown_months
        As given, or ``defaults``' value when None.

    Returns
    -------
    PlanParameters
        Validated parameters (a bad value raises ``ValueError``).

    Examples
    --------
    >>> from engine.config import PlanningSettings
    >>> given = plan_parameters(PlanningSettings(cooldown_months=6), capacity=20, seed=1, exploration=0.2)
    >>> given.exploration, given.cooldown_months
    (0.2, 6)
    """
    return PlanParameters(
        capacity=capacity,
        seed=seed,
        risk_area=risk_area,
        per_region=per_region,
        max_per_provider=max_per_provider,
        design=defaults.design if design is None else design,
        exploration=defaults.exploration if exploration is None else exploration,
        floor=defaults.floor if floor is None else floor,
        cooldown_months=defaults.cooldown_months if cooldown_months is None else cooldown_months,
        regions=tuple(regions or ()),
        municipalities=tuple(municipalities or ()),
    )


@dataclass(frozen=True)
class PlanSelection:
    """The outcome of :func:`plan_selection`."""

    chosen: pl.DataFrame
    skipped: pl.DataFrame
    strata: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    frame: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"unit_id": pl.String, "inclusion_probability": pl.Float64}
        )
    )
    expected_standard_errors: dict[str, float | None] = field(default_factory=dict)
    # pps only: set when the asked floor made every probability equal (a random plan), to suggest instead.
    largest_useful_floor: float | None = None

    @property
    def expected_findings(self) -> float:
        """Sum of ``p_deficiency`` over the chosen units."""
        return float(self.chosen["p_deficiency"].sum()) if self.chosen.height else 0.0

    @property
    def expected_serious_findings(self) -> float:
        """Sum of ``p_serious`` over the chosen units."""
        return float(self.chosen["p_serious"].sum()) if self.chosen.height else 0.0

    @property
    def zero_probability_units(self) -> int:
        """Eligible units the design could not have chosen (a prevalence estimate would miss them)."""
        return int((self.frame["inclusion_probability"] <= 0).sum())


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


def inspection_status(
    inspections: pl.LazyFrame, reference_date: dt.date, cooldown_months: int
) -> pl.DataFrame:
    """Per inspected unit: its last inspection in each risk area and its cooldown (karenstid) at a date.

    Columns: ``unit_id``; ``last_inspections`` (a list, by risk area, of ``risk_area``,
    ``decision_date`` and ``finding`` of the unit's latest decided inspection in that area);
    ``last_inspected`` (the latest date of any of its inspections, as :func:`cooldown_units` reads
    it); ``in_cooldown`` (a plan made at ``reference_date`` with ``cooldown_months`` skips the unit,
    exactly as :func:`cooldown_units` decides; never with 0 months, as a plan applies none) and
    ``cooldown_ends`` (``last_inspected`` plus ``cooldown_months``, for units in cooldown).
    """
    latest = pl.max_horizontal("start_date", "decision_date")
    per_area = (
        inspections.sort("unit_id", "risk_area", "decision_date", "inspection_id")
        .group_by("unit_id", "risk_area")
        .agg(pl.col("decision_date").last(), pl.col("finding").last(), latest=latest.max())
    )
    units = per_area.group_by("unit_id").agg(
        last_inspections=pl.struct("risk_area", "decision_date", "finding").sort_by("risk_area"),
        last_inspected=pl.col("latest").max(),
    )
    if cooldown_months > 0:
        cooling = cooldown_units(inspections, reference_date, cooldown_months).select(
            "unit_id", in_cooldown=pl.lit(True)
        )
    else:
        cooling = pl.LazyFrame(schema={"unit_id": pl.String, "in_cooldown": pl.Boolean})
    return (
        units.join(cooling, on="unit_id", how="left")
        .with_columns(pl.col("in_cooldown").fill_null(False))
        .with_columns(
            cooldown_ends=pl.when(pl.col("in_cooldown")).then(
                pl.col("last_inspected").dt.offset_by(f"{cooldown_months}mo")
            )
        )
        .sort("unit_id")
        .collect()
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
    # The area restriction comes first: every design's frame, and so every π, is within the plan's area.
    candidates = (
        area_candidates(scores.lazy(), parameters.risk_area).filter(in_plan_area(parameters)).collect()
    )
    cooling = dict(
        zip(
            recent_inspections["unit_id"].to_list(),
            recent_inspections["last_inspected"].to_list(),
            strict=True,
        )
    )
    if parameters.design == PPS:
        selection = _pps_selection(candidates, cooling, parameters)
    elif parameters.design == STRATIFIED:
        selection = _stratified_selection(candidates, cooling, parameters)
    else:
        selection = _top_selection(candidates, cooling, parameters)
    return _with_expected_errors(selection, scores)


def _with_expected_errors(selection: PlanSelection, scores: pl.DataFrame) -> PlanSelection:
    """The selection with the anticipated standard error of the share estimate per risk area."""
    errors: dict[str, float | None] = {}
    frame = selection.frame
    for (area,), rows in scores.filter(pl.col("risk_area") != OVERALL).group_by(
        "risk_area", maintain_order=True
    ):
        joined = frame.join(rows.select("unit_id", "p_deficiency"), on="unit_id", how="inner")
        error = anticipated_standard_error(
            joined["p_deficiency"].to_numpy(), joined["inclusion_probability"].to_numpy()
        )
        errors[str(area)] = None if error is None else round(error, 6)
    return PlanSelection(
        chosen=selection.chosen,
        skipped=selection.skipped,
        strata=selection.strata,
        warnings=selection.warnings,
        frame=frame,
        expected_standard_errors=dict(sorted(errors.items())),
        largest_useful_floor=selection.largest_useful_floor,
    )


def _frame_probabilities(
    eligible: pl.DataFrame, chosen: list[dict[str, Any]], default: float
) -> pl.DataFrame:
    known = {row["unit_id"]: row["inclusion_probability"] for row in chosen}
    return pl.DataFrame(
        {
            "unit_id": eligible["unit_id"],
            "inclusion_probability": [known.get(u, default) for u in eligible["unit_id"].to_list()],
        },
        schema={"unit_id": pl.String, "inclusion_probability": pl.Float64},
    )


def _top_selection(
    candidates: pl.DataFrame, cooling: dict[str, dt.date], parameters: PlanParameters
) -> PlanSelection:
    risk_rows, skipped_rows, caps_hit = _greedy_risk_picks(
        candidates, cooling, parameters, parameters.capacity - parameters.random_count
    )
    chosen_ids = {row["unit_id"] for row in risk_rows}
    pool = candidates.filter(
        ~pl.col("unit_id").is_in(list(chosen_ids | set(cooling))),
    ).sort("unit_id")
    random_rows, strata = _stratified_random_picks(pool, parameters, parameters.random_count)

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
    eligible = candidates.filter(~pl.col("unit_id").is_in(list(cooling)))
    pool_probability = min(parameters.random_count, pool.height) / pool.height if pool.height else 0.0
    frame = _frame_probabilities(eligible, risk_rows + random_rows, pool_probability)
    return PlanSelection(chosen=chosen, skipped=skipped, strata=strata, warnings=warnings, frame=frame)


def _stratified_selection(
    candidates: pl.DataFrame, cooling: dict[str, dt.date], parameters: PlanParameters
) -> PlanSelection:
    """IVO's stratified random sample: all K units proportional to region × ownership, exact π."""
    eligible = candidates.filter(~pl.col("unit_id").is_in(list(cooling))).sort("unit_id")
    rows, strata = _stratified_random_picks(eligible, parameters, parameters.capacity)
    warnings: list[str] = []
    if parameters.per_region is not None or parameters.max_per_provider is not None:
        warnings.append(
            "the stratified design does not apply the region and provider caps "
            "(they would change the inclusion probabilities)"
        )
    if len(rows) < parameters.capacity:
        warnings.append(
            f"only {len(rows)} of capacity {parameters.capacity} units could be chosen: "
            f"{len(cooling)} units are in cooldown"
        )
    chosen = pl.DataFrame(rows, schema=_chosen_schema(candidates)).with_row_index("plan_position", offset=1)
    probability = min(parameters.capacity, eligible.height) / eligible.height if eligible.height else 0.0
    frame = _frame_probabilities(eligible, rows, probability)
    return PlanSelection(
        chosen=chosen,
        skipped=pl.DataFrame(schema=_skipped_schema()),
        strata=strata,
        warnings=warnings,
        frame=frame,
    )


def pps_design_probabilities(
    eligible: pl.DataFrame, parameters: PlanParameters, warnings: list[str] | None = None
) -> FloatArray:
    """Inclusion probabilities of the pps design over ``eligible`` (in its row order).

    Proportional to ``p_deficiency``, at least the floor, at most 1, summing to the capacity, with region
    and provider probabilities summing to at most their caps. A request that cannot be met is met as
    closely as possible, with a warning: the floor is lowered to ``K/N`` (every unit equally likely)
    or to what the caps allow, and the capacity to what the caps allow.
    """
    notes = warnings if warnings is not None else []
    groups: list[tuple[IntArray, int]] = []
    for column, cap in (("region_code", parameters.per_region), ("provider_id", parameters.max_per_provider)):
        if cap is None:
            continue
        members: dict[str, list[int]] = {}
        for index, code in enumerate(eligible[column].to_list()):
            members.setdefault(code, []).append(index)
        groups.extend((np.asarray(m, dtype=np.int64), cap) for m in members.values() if len(m) > cap)
    n = min(parameters.capacity, eligible.height, cap_limited_total(eligible.height, groups))
    if n < parameters.capacity:
        notes.append(f"only {n} of capacity {parameters.capacity} units are eligible under the caps")
    floor = parameters.floor
    limits = [equal_probability(n, eligible.height)] + [cap / len(m) for m, cap in groups]
    if floor_makes_random(floor, n, eligible.height) and min(limits) >= limits[0]:
        floor = limits[0]
        notes.append(random_plan_warning(parameters.floor, n, eligible.height))
    elif floor > min(limits):
        floor = min(limits)
        notes.append(
            f"the floor {parameters.floor} is more than {n} inspections (or the caps) allow on "
            f"{eligible.height} eligible units; used {floor:.4f}"
        )
    try:
        return pps_probabilities(eligible["p_deficiency"].to_numpy(), n, floor=floor, groups=groups)
    except InfeasibleDesignError as error:
        raise ValueError(f"the pps design cannot be drawn: {error}") from error


def random_plan_warning(floor: float, capacity: int, eligible: int) -> str:
    """The warning of a pps plan whose floor made every inclusion probability equal."""
    return (
        f"the floor {floor:g} is at or above {capacity} inspections / {eligible} eligible units = "
        f"{equal_probability(capacity, eligible):.4f}: every unit has the same inclusion probability, so the "
        f"plan is a random plan; the largest useful floor is {largest_useful_floor(capacity, eligible):g}"
    )


def _pps_selection(
    candidates: pl.DataFrame, cooling: dict[str, dt.date], parameters: PlanParameters
) -> PlanSelection:
    """Systematic πps in random order over the eligible units (see module docstring)."""
    eligible = candidates.filter(~pl.col("unit_id").is_in(list(cooling))).sort("unit_id")
    notes: list[str] = []
    probabilities = pps_design_probabilities(eligible, parameters, notes)
    rng = np.random.default_rng(parameters.seed)
    blocks: dict[tuple[str, str], list[int]] = {}
    regions = eligible["region_code"].to_list()
    providers = eligible["provider_id"].to_list()
    for index, key in enumerate(zip(regions, providers, strict=True)):
        blocks.setdefault(key, []).append(index)
    by_region: dict[str, list[list[int]]] = {}
    for (region, _), members in blocks.items():
        by_region.setdefault(region, []).append(members)
    region_order = random_block_order([[i] for i in range(len(by_region))], rng).tolist()
    region_blocks = list(by_region.values())
    order = np.concatenate(
        [random_block_order(region_blocks[r], rng) for r in region_order] or [np.array([], dtype=np.int64)]
    )
    picked = systematic_sample(probabilities, order, rng)
    rows = [
        eligible.row(int(i), named=True)
        | {
            "reason": PPS,
            "selection": SELECTION_FOR_REASON[PPS],
            "inclusion_probability": float(probabilities[i]),
            "stratum": eligible["region_code"][int(i)],
        }
        for i in picked
    ]
    rows.sort(key=lambda row: row["rank"])
    warnings = notes + _pps_warnings(rows, parameters, len(cooling))
    chosen = pl.DataFrame(rows, schema=_chosen_schema(candidates)).with_row_index("plan_position", offset=1)
    frame = pl.DataFrame(
        {"unit_id": eligible["unit_id"], "inclusion_probability": probabilities},
        schema={"unit_id": pl.String, "inclusion_probability": pl.Float64},
    )
    strata = (
        eligible.select("region_code")
        .with_columns(
            pl.Series("inclusion_probability", probabilities),
            pl.Series("chosen", np.isin(np.arange(eligible.height), picked)),
        )
        .group_by(pl.col("region_code").alias("stratum"))
        .agg(
            eligible=pl.len().cast(pl.Int64),
            expected=pl.col("inclusion_probability").sum(),
            drawn=pl.col("chosen").sum().cast(pl.Int64),
            inclusion_probability=pl.col("inclusion_probability").mean(),
        )
        .sort("stratum")
    )
    drawn = round(float(probabilities.sum()))  # the capacity the caps allow
    random_plan = floor_makes_random(parameters.floor, drawn, eligible.height) and bool(
        np.ptp(probabilities) < 1e-9 if eligible.height else False
    )
    return PlanSelection(
        chosen=chosen,
        skipped=pl.DataFrame(schema=_skipped_schema()),
        strata=strata,
        warnings=warnings,
        frame=frame,
        largest_useful_floor=largest_useful_floor(drawn, eligible.height) if random_plan else None,
    )


def _pps_warnings(rows: list[dict[str, Any]], parameters: PlanParameters, cooling: int) -> list[str]:
    warnings: list[str] = []
    if len(rows) < parameters.capacity:
        warnings.append(
            f"only {len(rows)} of capacity {parameters.capacity} units could be chosen: "
            f"{cooling} units are in cooldown"
        )
    cap = parameters.max_per_provider
    if cap is not None:
        counts = Counter(row["provider_id"] for row in rows)
        over = sorted(p for p, c in counts.items() if c > cap)
        if over:
            warnings.append(
                f"providers {over} spanning several regions got more than {cap} units: the pps design "
                "holds the provider cap in expectation, and exactly only within a region"
            )
    return warnings


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
    pool: pl.DataFrame, parameters: PlanParameters, count: int
) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """Proportional stratified sample of ``count`` units with exact inclusion probabilities."""
    rng = np.random.default_rng(parameters.seed)
    total = pool.height
    wanted = min(count, total)
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
