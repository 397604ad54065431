"""Historical inspections (the labels), selected the way IVO's history was, with known selection bias.

Per 12-month block ending at the world's last month:

- ``random``: stratified random sampling by region × ownership among units active the whole block,
  proportional allocation (largest remainder) of ``random_inspections_per_year``; the inclusion
  probability ``n_h / N_h`` is recorded.
- ``complaint_triggered``: every month, ``complaint_inspections_per_year / 12`` units drawn without
  replacement with weight ``complaints²`` over the complaints IVO *received* in the previous
  ``complaint_window_months`` (at least 2); recorded probability ``min(1, quota * w / Σw)``.
- ``risk_based``: every month, the units with the lowest observed same-day phone share over the previous
  6 reported months (what IVO could see); no inclusion probability (a deterministic rule).

Complaint-triggered and risk-based picks skip units inspected within ``inspection_cooldown_months``.
Counts scale with ``n_units``. Each inspection covers every risk area (one row per area): finding
``deficiency`` with probability ``p_deficiency`` at the start month, ``serious`` (föreläggande) for a
``p_serious / p_deficiency`` subset. Inspections decided after the extract date are not in the extract.

Contract version 2 covariates (drawn from their own random stream, so every selection, date and
uniform draw above is unchanged): the inspecting ``team`` is the region's IVO department with
probability ``home_team_share`` and another department otherwise; the ``method`` follows
``method_shares``. The team shifts the logit of every area's deficiency probability by its
``team_effects`` value, centred so the mean shift over the world's inspections is zero (the serious
probability keeps its share of it); ``truth/inspections`` records the shifted probabilities and the
``team_effect``. ``deficiency_count`` and ``serious_count`` follow the finding: 0/0 for none,
1 + Poisson(``extra_deficiencies_mean``) deficiencies for a deficiency, 1 + Poisson(``extra_serious_mean``)
serious ones (plus Poisson(``extra_deficiencies_mean``) other deficiencies) for a serious finding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np
import polars as pl

from synthetic.numeric import FloatArray, IntArray, shift_log_odds
from synthetic.params import AREAS, WorldParams
from synthetic.regions import IVO_DEPARTMENT_OF_REGION
from synthetic.risk import Risk
from synthetic.structure import Structure

_SELECTIONS = ("random", "complaint_triggered", "risk_based")


@dataclass(frozen=True)
class VisitDraws:
    """Per inspection: dates, covariates, true probabilities (team effect included) and findings."""

    start: np.ndarray
    decision: np.ndarray
    team: np.ndarray
    method: np.ndarray
    effect: FloatArray
    p_deficiency: FloatArray  # (inspections, areas)
    p_serious: FloatArray
    finding: np.ndarray

    @staticmethod
    def concat(parts: list[VisitDraws], n_areas: int) -> VisitDraws:
        """The inspections of every part, in order (an empty list gives no inspections)."""
        if not parts:
            empty_dates = np.array([], dtype="datetime64[D]")
            empty_areas = np.zeros((0, n_areas))
            return VisitDraws(
                empty_dates, empty_dates, np.array([], dtype=str), np.array([], dtype=str),
                np.array([]), empty_areas, empty_areas, np.zeros((0, n_areas), dtype="<U10"),
            )  # fmt: skip
        return VisitDraws(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(VisitDraws)))


class InspectionFeedback(Protocol):
    """A joint simulation in which inspection outcomes change the later risk (synthetic.feedback)."""

    def after_month(self, month: int, picks: list[tuple[int, int, int, float]]) -> IntArray:
        """Draw the month's inspections, apply their effects; the units whose observations changed."""
        ...

    def visits(self) -> VisitDraws:
        """Every inspection drawn so far, in the order of the picks."""
        ...


def simulate_inspections(
    structure: Structure,
    risk: Risk,
    complaints_received: IntArray,
    phone_share: FloatArray,
    *,
    params: WorldParams,
    rng: np.random.Generator,
    covariate_rng: np.random.Generator,
    feedback: InspectionFeedback | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The inspections table of the contract and truth/inspections (true probabilities per row).

    With ``feedback`` each month's inspections are drawn as they are picked and may change the later
    risk and observations (``complaints_received`` and ``phone_share`` are then updated in place).
    """
    on_month = feedback.after_month if feedback is not None else None
    picks = _select(structure, complaints_received, phone_share, params, rng, on_month=on_month)
    unit, month, selection, probability = (
        (np.array(column) for column in zip(*picks, strict=True))
        if picks
        else (
            np.array([], dtype=np.int64),
            np.array([], dtype=np.int64),
            np.array([], dtype=np.int64),
            np.array([], dtype=np.float64),
        )
    )
    if feedback is None:
        drawn = draw_visits(structure, risk, unit, month, params=params, rng=rng, covariate_rng=covariate_rng)
    else:
        drawn = feedback.visits()
    start, decision, team, method, effect = (
        drawn.start,
        drawn.decision,
        drawn.team,
        drawn.method,
        drawn.effect,
    )
    p_def, p_ser, finding = drawn.p_deficiency, drawn.p_serious, drawn.finding
    deficiency_count, serious_count = _finding_counts(finding, params, covariate_rng)
    keep = decision <= structure.end_date
    visits = (
        pl.DataFrame(
            {
                "unit": unit[keep],
                "start_date": start[keep],
                "decision_date": decision[keep],
                "selection": np.array(_SELECTIONS)[selection[keep]]
                if keep.any()
                else np.array([], dtype=str),
                "inclusion_probability": probability[keep].astype(np.float64),
                "team": team[keep].astype(str),
                "method": method[keep].astype(str),
                "team_effect": effect[keep],
                "row": np.flatnonzero(keep),
            },
            schema_overrides={
                "start_date": pl.Date,
                "decision_date": pl.Date,
                "inclusion_probability": pl.Float64,
            },
        )
        .with_columns(pl.col("inclusion_probability").fill_nan(None))
        .sort("start_date", "unit")
    )
    visits = visits.with_columns(
        inspection_id=pl.format(
            "IVO-{}-{}",
            pl.col("start_date").dt.year(),
            (pl.int_range(pl.len()).over(pl.col("start_date").dt.year()) + 1).cast(pl.Utf8).str.zfill(5),
        ),
        unit_id=pl.Series(structure.unit_ids).gather(visits["unit"]),
    )
    rows = visits["row"].to_numpy()
    per_area = pl.concat(
        [
            visits.with_columns(
                area=pl.lit(a),
                risk_area=pl.lit(area),
                finding=pl.Series(finding[rows, a]),
                p_deficiency=pl.Series(p_def[rows, a]),
                p_serious=pl.Series(p_ser[rows, a]),
                deficiency_count=pl.Series(deficiency_count[rows, a], dtype=pl.Int64),
                serious_count=pl.Series(serious_count[rows, a], dtype=pl.Int64),
            )
            for a, area in enumerate(AREAS)
        ]
    ).sort("start_date", "unit", "area")
    table = per_area.select(
        "inspection_id", "unit_id", "start_date", "decision_date", "risk_area", "finding", "selection",
        "inclusion_probability", "team", "method", "deficiency_count", "serious_count",
    )  # fmt: skip
    truth = per_area.select("inspection_id", "risk_area", "p_deficiency", "p_serious", "team_effect")
    return table, truth


def draw_visits(
    structure: Structure,
    risk: Risk,
    unit: IntArray,
    month: IntArray,
    *,
    params: WorldParams,
    rng: np.random.Generator,
    covariate_rng: np.random.Generator,
    centre: float | None = None,
) -> VisitDraws:
    """Start and decision dates, team, method and findings of the inspections of ``unit`` in ``month``.

    The team effect is centred on these inspections' mean, or on ``centre`` when given.
    """
    days_in_month = (
        (structure.months[month] + 1).astype("datetime64[D]") - structure.month_starts[month]
    ).astype(np.int64)
    start = structure.month_starts[month] + (rng.random(len(unit)) * days_in_month).astype("timedelta64[D]")
    open_end = np.where(np.isnat(structure.active_to), structure.end_date, structure.active_to)
    start = np.minimum(np.maximum(start, structure.active_from[unit]), open_end[unit])
    duration = np.maximum(np.round(rng.lognormal(np.log(params.decision_median_days), 0.4, len(unit))), 14)
    decision = start + duration.astype("timedelta64[D]")
    n_areas = len(AREAS)
    p_def, p_ser = (
        values.reshape(len(unit), n_areas)
        for values in risk.probabilities(
            np.repeat(unit, n_areas), np.repeat(month, n_areas), np.tile(np.arange(n_areas), len(unit))
        )
    )
    team, method, effect = _covariates(structure, unit, params, covariate_rng, centre)
    shifted = shift_log_odds(p_def, effect[:, None])
    p_ser = np.minimum(p_ser * shifted / np.maximum(p_def, 1e-12), shifted)
    p_def = shifted
    draws = rng.random(p_def.shape)
    finding = np.where(draws < p_ser, "serious", np.where(draws < p_def, "deficiency", "none"))
    return VisitDraws(start, decision, team, method, effect, p_def, p_ser, finding)


def expected_team_centre(structure: Structure, params: WorldParams) -> float:
    """The mean raw team effect expected over the units (home team with ``home_team_share``)."""
    raw = np.array(list(params.team_effects.values()))
    home = _home_team(structure, params)[structure.region_index]
    others = (raw.sum() - raw[home]) / max(len(raw) - 1, 1)
    share = params.home_team_share if len(raw) > 1 else 1.0
    return float(np.mean(share * raw[home] + (1.0 - share) * others))


def _home_team(structure: Structure, params: WorldParams) -> IntArray:
    position = {team: index for index, team in enumerate(params.team_effects)}
    return np.array(
        [position.get(IVO_DEPARTMENT_OF_REGION.get(region.code, ""), 0) for region in structure.regions],
        dtype=np.int64,
    )


def _covariates(
    structure: Structure,
    unit: IntArray,
    params: WorldParams,
    rng: np.random.Generator,
    centre: float | None = None,
) -> tuple[np.ndarray, np.ndarray, FloatArray]:
    """Team, method and the team's centred logit effect per inspection."""
    teams = np.array(list(params.team_effects))
    home_of_region = _home_team(structure, params)
    home = home_of_region[structure.region_index[unit]] if len(unit) else np.array([], dtype=np.int64)
    away = rng.random(len(unit)) >= params.home_team_share
    other = (home + rng.integers(1, len(teams), len(unit))) % len(teams) if len(teams) > 1 else home
    team_index = np.where(away, other, home)
    methods = np.array(list(params.method_shares))
    method = methods[rng.choice(len(methods), size=len(unit), p=list(params.method_shares.values()))]
    raw = np.array(list(params.team_effects.values()))[team_index]
    if centre is not None:
        return teams[team_index], method, raw - centre
    effect = raw - raw.mean() if len(raw) else raw
    return teams[team_index], method, effect


def _finding_counts(
    finding: np.ndarray, params: WorldParams, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """deficiency_count and serious_count per inspection row and area, consistent with ``finding``."""
    extra_deficiencies = rng.poisson(params.extra_deficiencies_mean, finding.shape)
    extra_serious = rng.poisson(params.extra_serious_mean, finding.shape)
    serious = np.where(finding == "serious", 1 + extra_serious, 0)
    deficiencies = np.where(
        finding == "none", 0, np.where(finding == "serious", serious, 1) + extra_deficiencies
    )
    return deficiencies.astype(np.int64), serious.astype(np.int64)


def _select(
    structure: Structure,
    complaints_received: IntArray,
    phone_share: FloatArray,
    params: WorldParams,
    rng: np.random.Generator,
    *,
    on_month: Callable[[int, list[tuple[int, int, int, float]]], IntArray] | None = None,
) -> list[tuple[int, int, int, float]]:
    n_months = structure.n_months
    last_inspected = np.full(structure.n_units, -10_000, dtype=np.int64)
    picks: list[tuple[int, int, int, float]] = []
    window = params.complaint_window_months
    trailing = np.cumsum(np.pad(complaints_received, ((0, 0), (1, 0))), axis=1)
    for block_end in range(n_months, 0, -12)[::-1]:
        block = np.arange(max(block_end - 12, 0), block_end)
        fraction = len(block) / 12.0
        random_by_month = _stratified_sample(
            structure, block, round(params.random_inspections_per_year * params.scale * fraction), rng
        )
        complaint_quota = _spread(
            round(params.complaint_inspections_per_year * params.scale * fraction), len(block)
        )
        risk_quota = _spread(
            round(params.risk_based_inspections_per_year * params.scale * fraction), len(block)
        )
        for k, t in enumerate(block.tolist()):
            first_pick = len(picks)
            for unit, probability in random_by_month.get(int(t), []):
                picks.append((unit, int(t), 0, probability))
                last_inspected[unit] = t
            eligible = structure.reporting[:, t] & (
                t - last_inspected >= max(params.inspection_cooldown_months, 1)
            )
            counts = trailing[:, t] - trailing[:, max(t - window, 0)]
            candidates = np.flatnonzero(eligible & (counts >= 2))
            quota = min(int(complaint_quota[k]), len(candidates))
            if quota > 0:
                weight = counts[candidates].astype(np.float64) ** 2
                chosen = rng.choice(candidates, size=quota, replace=False, p=weight / weight.sum())
                probability = np.minimum(1.0, quota * counts[chosen] ** 2 / weight.sum())
                for unit, p in zip(chosen, probability, strict=True):
                    picks.append((int(unit), int(t), 1, float(p)))
                    last_inspected[unit] = t
            eligible = structure.reporting[:, t] & (
                t - last_inspected >= max(params.inspection_cooldown_months, 1)
            )
            recent = phone_share[:, max(t - 6, 0) : t] if t > 0 else np.full((structure.n_units, 1), np.nan)
            seen = np.isfinite(recent).sum(axis=1) >= 3
            level = np.where(
                seen,
                np.nansum(np.nan_to_num(recent, nan=0.0), axis=1)
                / np.maximum(np.isfinite(recent).sum(axis=1), 1),
                np.inf,
            )
            candidates = np.flatnonzero(eligible & seen)
            quota = min(int(risk_quota[k]), len(candidates))
            if quota > 0:
                chosen = candidates[np.argsort(level[candidates], kind="stable")[:quota]]
                for unit in chosen:
                    picks.append((int(unit), int(t), 2, float("nan")))
                    last_inspected[unit] = t
            if on_month is not None and len(picks) > first_pick:
                changed = on_month(int(t), picks[first_pick:])
                trailing[changed] = np.cumsum(np.pad(complaints_received[changed], ((0, 0), (1, 0))), axis=1)
    return picks


def _spread(total: int, n_months: int) -> IntArray:
    base = np.full(n_months, total // n_months, dtype=np.int64)
    base[: total % n_months] += 1
    return base


def _stratified_sample(
    structure: Structure, block: IntArray, n_total: int, rng: np.random.Generator
) -> dict[int, list[tuple[int, float]]]:
    frame = np.flatnonzero(structure.reporting[:, block].all(axis=1))
    if n_total <= 0 or len(frame) == 0:
        return {}
    n_regions = len(structure.regions)
    stratum = structure.region_index[frame] * 2 + structure.private[frame].astype(np.int64)
    sizes = np.bincount(stratum, minlength=2 * n_regions)
    quotas = sizes * min(n_total, len(frame)) / len(frame)
    floors = np.floor(quotas).astype(np.int64)
    order = np.argsort(-(quotas - floors), kind="stable")
    floors[order[: min(n_total, len(frame)) - int(floors.sum())]] += 1
    allocation = np.minimum(floors, sizes)
    by_month: dict[int, list[tuple[int, float]]] = {}
    for h in np.flatnonzero(allocation):
        members = frame[stratum == h]
        chosen = rng.choice(members, size=int(allocation[h]), replace=False)
        months = rng.choice(block, size=len(chosen))
        for unit, t in zip(chosen, months, strict=True):
            by_month.setdefault(int(t), []).append((int(unit), float(allocation[h] / sizes[h])))
    return by_month
