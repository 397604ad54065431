"""Inspections that change the later risk: a joint month-by-month simulation (the ``realistic`` worlds).

With ``enforcement_effect`` or ``deficiency_effect`` non-zero the world is no longer drawn as risk, then
observations, then inspections. The risk and the observations are first drawn from the risk *without*
interventions (the base risk); the inspections are then picked month by month as before, and every
month's inspections are drawn (dates, team, findings) as they are picked, from the risk as it is by then.
An inspection with a serious finding (föreläggande) in area ``a`` lowers the unit's deviation in ``a`` by
``enforcement_effect`` from ``enforcement_delay_months`` after its decision month, decaying by
``effect_persistence`` a month; a (non-serious) deficiency by ``deficiency_effect`` (small: the risk
behind a finding mostly persists). Whenever a unit's risk changes from month ``m`` on, everything the
selection can still see is redrawn from ``m`` on from the changed risk: the unit's complaints (counts,
dates, received dates) and its same-day phone share. Since ``m`` is always after the month of the
inspection that caused it, no pick already made depended on a redrawn observation: the selection saw
exactly the observations that end up in the tables.

After the last month the other observations of the changed unit-months are redrawn from the final risk
(lex Maria reports, the other indicator measures' numerators), and everything drawn later (attributes,
value and core indicators, visits) is drawn from the final risk. ``truth/risk.parquet`` holds the final
risk: every observation is drawn from the risk the truth records.

The area intercepts are solved on the base risk, so the interventions lower the mean deficiency
probability a little below its calibrated level (measured in docs/synthetic-world.md); the indicator
intercepts likewise. All redraws come from the world's ``feedback`` random stream.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synthetic.events import EventDraws, EventModel, draw_events, kept, received_by_month
from synthetic.indicators import MeasureSeries
from synthetic.inspections import VisitDraws, draw_visits, expected_team_centre
from synthetic.numeric import BoolArray, FloatArray, IntArray, logit, sigmoid
from synthetic.params import AREAS, WorldParams
from synthetic.risk import Risk
from synthetic.structure import Structure

_PHONE_AREA = AREAS.index("tillganglighet")


class Feedback:
    """The mutable state of the joint simulation: the live risk and what the selection can see."""

    def __init__(
        self,
        structure: Structure,
        base: Risk,
        *,
        complaints: EventModel,
        complaint_draws: EventDraws,
        phone: MeasureSeries,
        phone_reported: BoolArray,
        params: WorldParams,
        rng: np.random.Generator,
        phone_tracking: FloatArray | None = None,
    ) -> None:
        self.structure, self.base, self.params, self.rng = structure, base, params, rng
        self._phone_tracking = phone_tracking  # factor on the phone share's risk slope (reporting change)
        self.risk = dataclasses.replace(base, deviation=base.deviation.copy())
        self.complaints = complaints
        self._complaint_draws = complaint_draws
        bounds = np.searchsorted(complaint_draws.unit, np.arange(structure.n_units + 1))
        self._unit_bounds = bounds
        self._overrides: dict[int, EventDraws] = {}
        self.received = received_by_month(complaint_draws, structure)
        self.phone = MeasureSeries(phone.true_share.copy(), phone.numerator.copy(), phone.denominator)
        self._phone_reported = phone_reported
        self.phone_share = _observed(self.phone, phone_reported)
        self.first_changed = np.full(structure.n_units, structure.n_months, dtype=np.int64)
        self._centre = expected_team_centre(structure, params)
        self._visits: list[VisitDraws] = []

    # --- the hook the inspection selection calls after every month ---------------------------------
    def after_month(self, month: int, picks: list[tuple[int, int, int, float]]) -> IntArray:
        """Draw the month's inspections from the live risk and apply their effects to later months."""
        unit = np.array([pick[0] for pick in picks], dtype=np.int64)
        months = np.full(len(unit), month, dtype=np.int64)
        drawn = draw_visits(
            self.structure,
            self.risk,
            unit,
            months,
            params=self.params,
            rng=self.rng,
            covariate_rng=self.rng,
            centre=self._centre,
        )
        self._visits.append(drawn)
        decision_month = (drawn.decision.astype("datetime64[M]") - self.structure.months[0]).astype(np.int64)
        effect = self._effects(drawn.finding)
        changed = []
        for u, m, area_effect in zip(
            unit, decision_month + self.params.enforcement_delay_months, effect, strict=True
        ):
            if m >= self.structure.n_months or not area_effect.any():
                continue
            self._lower(int(u), int(m), area_effect)
            changed.append(int(u))
        return np.unique(np.array(changed, dtype=np.int64))

    def visits(self) -> VisitDraws:
        """Every inspection drawn, in the order of the picks."""
        return VisitDraws.concat(self._visits, len(AREAS))

    def complaint_draws(self) -> EventDraws:
        """The complaints as they end: the base draws with every changed unit's own events."""
        if not self._overrides:
            return self._complaint_draws
        untouched = ~np.isin(self._complaint_draws.unit, np.array(sorted(self._overrides)))
        parts = [self._complaint_draws.select(untouched), *self._overrides.values()]
        return EventDraws.concat(parts)

    # --- effects and redraws ------------------------------------------------------------------------
    def _effects(self, finding: np.ndarray) -> FloatArray:
        """Logit change per inspection and area: enforcement for serious, deficiency for deficiency."""
        return np.where(
            finding == "serious",
            self.params.enforcement_effect,
            np.where(finding == "deficiency", self.params.deficiency_effect, 0.0),
        )

    def _lower(self, unit: int, month: int, area_effect: FloatArray) -> None:
        decay = self.params.effect_persistence ** np.arange(self.structure.n_months - month)
        self.risk.deviation[unit, month:, :] += decay[:, None] * area_effect[None, :]
        self.first_changed[unit] = min(self.first_changed[unit], month)
        self._redraw_complaints(unit, month)
        self._redraw_phone(unit, month)

    def _unit_complaints(self, unit: int) -> EventDraws:
        if unit in self._overrides:
            return self._overrides[unit]
        lo, hi = self._unit_bounds[unit], self._unit_bounds[unit + 1]
        return self._complaint_draws.select(slice(lo, hi))

    def _redraw_complaints(self, unit: int, month: int) -> None:
        current = self._unit_complaints(unit)
        fresh = draw_events(
            self.complaints,
            self.structure,
            self.risk.deviation,
            params=self.params,
            rng=self.rng,
            units=np.array([unit]),
            from_month=np.array([month]),
        )
        events = EventDraws.concat([current.select(current.month < month), fresh])
        self._overrides[unit] = events
        self.received[unit] = _received_row(events, self.structure)

    def _redraw_phone(self, unit: int, month: int) -> None:
        cells = (unit, slice(month, None))
        share, numerator = shifted_draws(
            self.phone,
            self.base.deviation[unit, month:, _PHONE_AREA],
            self.risk.deviation[unit, month:, _PHONE_AREA],
            slope=_slope(self.params.availability_risk_slope, self._phone_tracking, cells),
            cells=cells,
            rng=self.rng,
        )
        self.phone.true_share[unit, month:] = share
        self.phone.numerator[unit, month:] = numerator
        reported = self._phone_reported[unit, month:]
        denominator = self.phone.denominator[unit, month:]
        self.phone_share[unit, month:] = np.where(
            reported & (denominator > 0), numerator / np.maximum(denominator, 1), np.nan
        )


def shifted_draws(
    series: MeasureSeries,
    base_deviation: FloatArray,
    deviation: FloatArray,
    *,
    slope: float | FloatArray,
    cells: tuple[object, ...] | np.ndarray,
    rng: np.random.Generator,
) -> tuple[FloatArray, IntArray]:
    """A measure's true share moved by ``-slope * (deviation - base)`` on the logit and fresh numerators."""
    true_share = series.true_share[cells]  # type: ignore[index]
    inside = true_share > 0
    clipped = np.clip(true_share, 1e-12, 1 - 1e-12)
    share = np.where(inside, sigmoid(logit(clipped) - slope * (deviation - base_deviation)), 0.0)
    numerator = rng.binomial(series.denominator[cells], share).astype(np.int64)  # type: ignore[index]
    return share, numerator


def redraw_measure(
    series: MeasureSeries,
    area: int,
    *,
    slope: float,
    base: Risk,
    final: Risk,
    rng: np.random.Generator,
    tracking: FloatArray | None = None,
) -> MeasureSeries:
    """``series`` with every unit-month whose risk in ``area`` changed redrawn from the final risk
    (``tracking``: the factor on ``slope`` per unit and month after a reporting change; None for 1)."""
    changed = final.deviation[:, :, area] != base.deviation[:, :, area]
    if not changed.any():
        return series
    share, numerator = shifted_draws(
        series,
        base.deviation[:, :, area][changed],
        final.deviation[:, :, area][changed],
        slope=_slope(slope, tracking, changed),
        cells=changed,
        rng=rng,
    )
    true_share, numerators = series.true_share.copy(), series.numerator.copy()
    true_share[changed], numerators[changed] = share, numerator
    return MeasureSeries(true_share, numerators, series.denominator)


def redraw_events(
    draws: EventDraws,
    model: EventModel,
    structure: Structure,
    *,
    final: Risk,
    first_changed: IntArray,
    params: WorldParams,
    rng: np.random.Generator,
) -> EventDraws:
    """``draws`` with every changed unit's events from its first changed month redrawn from the final risk."""
    units = np.flatnonzero(first_changed < structure.n_months)
    if len(units) == 0:
        return draws
    stays = draws.month < first_changed[draws.unit]
    fresh = draw_events(
        model,
        structure,
        final.deviation,
        params=params,
        rng=rng,
        units=units,
        from_month=first_changed[units],
    )
    return EventDraws.concat([draws.select(stays), fresh])


def _received_row(draws: EventDraws, structure: Structure) -> IntArray:
    keep = kept(draws, structure)
    months = (draws.received_date[keep].astype("datetime64[M]") - structure.months[0]).astype(np.int64)
    return np.bincount(months, minlength=structure.n_months).astype(np.int64)


def _observed(series: MeasureSeries, reported: BoolArray) -> FloatArray:
    shown = reported & (series.denominator > 0)
    return np.where(shown, series.numerator / np.maximum(series.denominator, 1), np.nan)


def _slope(
    slope: float, tracking: FloatArray | None, cells: tuple[object, ...] | np.ndarray
) -> float | FloatArray:
    """The risk slope of the ``cells``: ``slope`` itself without a reporting change."""
    return slope if tracking is None else slope * tracking[cells]  # type: ignore[index]
